"""A live input: opened with PyAV, decoded on a reader thread of its own, each frame stamped with
the moment it arrived.

The reader never waits for the session: a network input must be read as it comes (an RTSP server
drops a client that stops reading, and TCP would push the delay back to the camera). Frames go
into a queue; when the session falls so far behind that the queue holds more than a few delay
budgets of frames, the newest are dropped and counted (they could only have left fully masked).

Timestamps are the source's own (RTP time for RTSP), made strictly increasing as in
``media.decode``; a file played with ``--realtime`` is paced by them, and with ``--loop`` starts
again at its end with its timestamps continued. Decode errors before the first picture (a stream
joined between keyframes) are skipped; after it, a frame that fails to decode arrives without
pixels and leaves fully masked.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from gamyeon.live.config import SourceSpec
from gamyeon.media.decode import DecodedFrame

log = logging.getLogger(__name__)

#: RTSP: the session description states the codec, so FFmpeg need not read ahead to probe the
#: stream (its default reads 5 s, which would arrive as one late burst)
RTSP_OPTIONS = {"analyzeduration": "0", "probesize": "32"}
#: other network inputs (MPEG-TS over UDP/SRT, HLS) must be probed, briefly
NETWORK_OPTIONS = {"analyzeduration": "500000", "fflags": "nobuffer"}
DEFAULT_RATE = Fraction(25)
#: frame rates a camera may have; a stream that states another (RTSP's 90 kHz clock as a "rate")
#: would make detection run once every thousands of frames
PLAUSIBLE_RATES = (Fraction(1, 10), Fraction(240))


def _stated_rate(stream: Any) -> Fraction | None:
    """The stream's frame rate, if it states a plausible one (average, guessed, then base rate)."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            value = Fraction(rate.numerator, rate.denominator)
            if PLAUSIBLE_RATES[0] <= value <= PLAUSIBLE_RATES[1]:
                return value
    return None


@dataclass(frozen=True, slots=True)
class Arrival:
    """One decoded frame (``index`` from 0 per connection, ``pts`` in the source's time base) and
    when it arrived (``time.monotonic()``; for a file played in real time, when it was due)."""

    item: DecodedFrame
    arrived: float


@dataclass(frozen=True, slots=True)
class Ended:
    """The source stopped: ``lost`` (an error or a timeout; reconnect) or, for a file, its end."""

    reason: str
    lost: bool


@dataclass(frozen=True, slots=True)
class Opened:
    """The input is open: its time base, nominal frame rate and codec."""

    time_base: Fraction
    rate: Fraction
    codec: str


def input_options(spec: SourceSpec) -> tuple[str | None, dict[str, str]]:
    """(FFmpeg demuxer, options) for ``spec``: low-latency reading, then the user's own options."""
    options: dict[str, str] = {}
    fmt = spec.input_format
    if spec.scheme in {"rtsp", "rtsps"}:
        options.update(RTSP_OPTIONS, rtsp_transport=spec.rtsp_transport)
    elif spec.is_network:
        options.update(NETWORK_OPTIONS)
    elif spec.is_device and fmt is None:
        fmt = "v4l2"
    options.update(dict(spec.input_options))
    return fmt, options


class Feed:
    """Reads one connection of ``spec`` on its own thread into a queue of ``Opened``, then
    ``Arrival``s, then one ``Ended``. ``overflow``: how many frames may wait before new ones are
    dropped (counted in ``dropped``)."""

    def __init__(self, spec: SourceSpec, overflow: int) -> None:
        self.spec = spec
        self.overflow = overflow
        self.dropped = 0
        self._queue: queue.Queue[Opened | Arrival | Ended] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gamyeon-live-source", daemon=True)
        self._thread.start()

    def get(self, timeout: float | None) -> Opened | Arrival | Ended | None:
        """The next item, or None when nothing came within ``timeout`` seconds."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def stop(self, wait: float = 0.0) -> None:
        """Ask the reader to stop (it does at its next frame, or when a read times out)."""
        self._stop.set()
        if wait > 0:
            self._thread.join(wait)

    def _put_frame(self, arrival: Arrival) -> None:
        if self._queue.qsize() >= self.overflow:
            self.dropped += 1
            return
        self._queue.put(arrival)

    def _run(self) -> None:
        timeout = f"no data for {self.spec.timeout:g} s"  # FFmpeg's interrupt, as PyAV's timeout raises it
        try:
            container = self._open()
        except av.error.ExitError:
            self._queue.put(Ended(f"cannot open: {timeout}", lost=True))
            return
        except (av.error.FFmpegError, OSError, ValueError) as err:
            self._queue.put(Ended(f"cannot open: {err}", lost=True))
            return
        try:
            self._queue.put(Ended(*self._read(container)))
        except av.error.ExitError:
            self._queue.put(Ended(timeout, lost=True))
        except Exception as err:  # noqa: BLE001 - any reader failure is a lost source, not a crash
            self._queue.put(Ended(f"reading failed: {err}", lost=True))
        finally:
            try:
                container.close()
            except av.error.FFmpegError:
                log.debug("ignored error while closing the source", exc_info=True)

    def _open(self) -> Any:
        fmt, options = input_options(self.spec)
        target = self.spec.url
        if self.spec.is_file:
            target = str(Path(target))
        return av.open(target, mode="r", format=fmt, options=options, timeout=(self.spec.timeout, self.spec.timeout))

    def _read(self, container: Any) -> tuple[str, bool]:
        """Decode until the end, an error or ``stop``; returns ``Ended``'s fields."""
        if not container.streams.video:
            return "no video stream", True
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"  # frame threads would each hold a frame back: latency
        tb = stream.time_base
        if tb is None:
            return "the video stream has no time base", True
        time_base = Fraction(tb.numerator, tb.denominator)
        rate = self.spec.fps or _stated_rate(stream)
        if rate is None:
            rate = DEFAULT_RATE
            log.warning(
                "%s does not state a plausible frame rate; assuming %s fps (give the camera's with --fps)",
                self.spec.shown,
                DEFAULT_RATE,
            )
        self._queue.put(Opened(time_base, rate, stream.codec_context.name))
        step = max(1, round(1 / (rate * time_base)))
        index = 0
        last: int | None = None
        offset = 0  # added to a looped file's timestamps so they keep increasing
        file_first: int | None = None  # a looped file's first timestamp, as decoded
        pace: tuple[float, int] | None = None  # (monotonic start, first pts) of a real-time file
        while True:
            for frame_pts, frame in self._decoded(container, stream, index == 0):
                if self._stop.is_set():
                    return "stopped", False
                if file_first is None and frame_pts is not None:
                    file_first = frame_pts
                pts = frame_pts + offset if frame_pts is not None else (last + step if last is not None else 0)
                if last is not None and pts <= last:
                    pts = last + 1
                last = pts
                arrived = time.monotonic()
                if self.spec.realtime:
                    if pace is None:
                        pace = (arrived, pts)
                    due = pace[0] + float((pts - pace[1]) * time_base)
                    if due > arrived:
                        if self._stop.wait(due - arrived):
                            return "stopped", False
                        arrived = time.monotonic()
                self._put_frame(Arrival(DecodedFrame(index, pts, frame), arrived))
                index += 1
            if not (self.spec.is_file and self.spec.loop) or last is None:
                return ("end of file", False) if self.spec.is_file else ("the stream ended", True)
            container.seek(0)
            offset = last + step - (file_first or 0)
            log.debug("%s: playing again from the start", self.spec.shown)

    def _decoded(self, container: Any, stream: Any, fresh: bool) -> Iterator[tuple[int | None, av.VideoFrame | None]]:
        """(pts, frame) of each decoded frame; (pts, None) for a packet that fails to decode
        once a picture has been seen (``fresh``: none seen yet on this connection)."""
        seen = not fresh
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError as err:
                if seen and packet.size:
                    log.warning(
                        "%s: a frame could not be decoded (%s); it will leave fully masked", self.spec.shown, err
                    )
                    yield packet.pts, None
                continue
            for frame in frames:
                seen = True
                assert isinstance(frame, av.VideoFrame)
                yield frame.pts, frame
