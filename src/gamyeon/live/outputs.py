"""Where the encoded stream goes over the network or to viewers: an RTSP server (FFmpeg's ``rtsp``
muxer: ANNOUNCE, then RECORD) and an HLS playlist (FFmpeg's ``hls`` muxer, served by
``live.http``). Recorded segments are ``live.segments``.

Each output is independent: one that fails (the server restarts, the disk is full) logs, counts
the failure, drops packets until its next attempt (with back-off) and restarts at a keyframe,
while the others go on. The RTSP publisher runs on a thread of its own behind a short queue, so
a slow or hung server costs its own packets, never the camera's deadline.

Only masked frames ever reach an encoder, so nothing here can publish an original picture.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av
import av.error

from gamyeon.live.clock import Backoff
from gamyeon.live.config import redact

log = logging.getLogger(__name__)

#: packets a detached output may fall behind by before it drops to the next keyframe
DETACHED_DEPTH = 64


@dataclass(frozen=True, slots=True)
class StreamShape:
    """What a muxer must know of the encoded stream."""

    width: int
    height: int
    time_base: Fraction
    rate: Fraction


class Trouble(Protocol):
    """Told about an output's failures (``status.CameraCounters``)."""

    def output_failed(self, name: str, reason: str) -> None: ...


class Muxer:
    """One output container holding the camera's H.264 stream.

    Packets are copied in: a muxer takes over the packet it is given, and the same packet goes
    to several. ``offset`` is taken off every timestamp (a recorded segment starts at 0).
    """

    def __init__(
        self,
        target: str,
        fmt: str,
        shape: StreamShape,
        *,
        options: dict[str, str] | None = None,
        timeout: float | None = None,
        offset: int = 0,
        rotation: int = 0,
    ) -> None:
        self.container: Any = av.open(
            target, mode="w", format=fmt, options=options or {}, timeout=None if timeout is None else (timeout, timeout)
        )
        try:
            stream: Any = self.container.add_mux_stream("h264", rate=shape.rate, width=shape.width, height=shape.height)
            stream.time_base = shape.time_base
            if rotation:
                stream.set_display_rotation(rotation)
        except BaseException:
            self.container.close()
            raise
        self.stream = stream
        self.offset = offset
        self.packets = 0

    def write(self, packet: av.Packet[Any]) -> None:
        copy = av.Packet(bytes(packet))
        copy.pts = None if packet.pts is None else packet.pts - self.offset
        copy.dts = None if packet.dts is None else packet.dts - self.offset
        copy.is_keyframe = packet.is_keyframe
        copy.time_base = packet.time_base
        copy.stream = self.stream
        self.container.mux(copy)
        self.packets += 1

    def close(self) -> None:
        self.container.close()

    def abort(self) -> None:
        try:
            self.container.close()
        except (av.error.FFmpegError, OSError):
            log.debug("ignored error while closing an output after a failure", exc_info=True)


class PacketSink(Protocol):
    """An output of the encoded stream."""

    name: str

    def send(self, packet: av.Packet[Any]) -> None:
        """Pass one packet on; never raises for the output's own trouble (it counts it)."""
        ...

    def close(self) -> None: ...


class Reopening:
    """An output that opens at a keyframe, and after a failure waits (back-off) and opens again
    at a later keyframe."""

    def __init__(self, name: str, shown: str, trouble: Trouble, retry: Backoff) -> None:
        self.name = name
        self.shown = shown
        self.trouble = trouble
        self.retry = retry
        self._muxer: Muxer | None = None
        self._retry_at = 0.0
        self._failures = 0

    def _open(self) -> Muxer:
        raise NotImplementedError

    def send(self, packet: av.Packet[Any]) -> None:
        if self._muxer is None:
            if not packet.is_keyframe or time.monotonic() < self._retry_at:
                return
            try:
                self._muxer = self._open()
            except (av.error.FFmpegError, OSError, ValueError) as err:
                self._failed(f"cannot open: {err}")
                return
        try:
            self._muxer.write(packet)
        except (av.error.FFmpegError, OSError, ValueError) as err:
            self._failed(f"writing failed: {err}")
            return
        if self._failures:
            log.info("%s output %s works again", self.name, self.shown)
            self._failures = 0
            self.retry.reset()

    def _failed(self, reason: str) -> None:
        if self._muxer is not None:
            self._muxer.abort()
            self._muxer = None
        wait = self.retry.next()
        self._retry_at = time.monotonic() + wait
        self._failures += 1
        self.trouble.output_failed(self.name, reason)
        level = logging.WARNING if self._failures == 1 else logging.DEBUG
        log.log(level, "%s output %s: %s; trying again in %.1f s", self.name, self.shown, reason, wait)

    def close(self) -> None:
        if self._muxer is not None:
            try:
                self._muxer.close()
            except (av.error.FFmpegError, OSError) as err:
                log.warning("%s output %s did not close cleanly: %s", self.name, self.shown, err)
            self._muxer = None


class RtspPublisher(Reopening):
    """Publishes to an RTSP server (ANNOUNCE/RECORD) over TCP."""

    def __init__(self, url: str, shape: StreamShape, trouble: Trouble, retry: Backoff, timeout: float) -> None:
        super().__init__("rtsp", redact(url), trouble, retry)
        self.url, self.shape, self.timeout = url, shape, timeout

    def _open(self) -> Muxer:
        return Muxer(self.url, "rtsp", self.shape, options={"rtsp_transport": "tcp"}, timeout=self.timeout)


class HlsWriter(Reopening):
    """An HLS playlist (``index.m3u8``) and its MPEG-TS segments in a folder.

    Segment numbers come from the clock (``epoch``), so a playlist that starts again after a
    reconnection keeps counting up and players follow; each segment's wall-clock time is in the
    playlist (``EXT-X-PROGRAM-DATE-TIME``), which lets a viewer measure its own delay.
    """

    def __init__(self, folder: Path, shape: StreamShape, trouble: Trouble, retry: Backoff, seconds: float) -> None:
        super().__init__("hls", str(folder), trouble, retry)
        self.folder, self.shape, self.seconds = folder, shape, seconds

    def _open(self) -> Muxer:
        self.folder.mkdir(parents=True, exist_ok=True)
        options = {
            "hls_time": f"{self.seconds:g}",
            "hls_list_size": "6",
            "hls_flags": "delete_segments+temp_file+independent_segments+program_date_time+omit_endlist",
            "hls_start_number_source": "epoch",
            "hls_segment_filename": str(self.folder / "segment-%d.ts"),
        }
        return Muxer(str(self.folder / "index.m3u8"), "hls", self.shape, options=options)


class Detached:
    """Runs another output on a thread of its own behind a short queue. When the queue is full
    (the output is slower than the camera), packets are dropped until the next keyframe."""

    def __init__(self, sink: PacketSink, trouble: Trouble, depth: int = DETACHED_DEPTH) -> None:
        self.sink = sink
        self.name = sink.name
        self.trouble = trouble
        self._queue: queue.Queue[av.Packet[Any] | None] = queue.Queue(maxsize=depth)
        self._skipping = False
        self._thread = threading.Thread(target=self._run, name=f"gamyeon-live-{sink.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            packet = self._queue.get()
            if packet is None:
                self.sink.close()
                return
            self.sink.send(packet)

    def send(self, packet: av.Packet[Any]) -> None:
        if self._skipping and not packet.is_keyframe:
            return
        try:
            self._queue.put_nowait(packet)
            self._skipping = False
        except queue.Full:
            if not self._skipping:
                self.trouble.output_failed(self.name, "fell behind; skipping to the next keyframe")
            self._skipping = True

    def close(self, wait: float = 10.0) -> None:
        try:
            self._queue.put(None, timeout=wait)
        except queue.Full:
            log.warning("%s output did not drain in %.0f s; left behind", self.name, wait)
            return
        self._thread.join(wait)
