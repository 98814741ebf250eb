"""Video decoding with PyAV: frames in presentation order with exact integer timestamps.

Time is integer ``pts`` in the stream's rational ``time_base``; the frame rate is a ``Fraction``
(29.97 stays 30000/1001). Raw elementary streams (.h264/.h265) carry no timestamps, so frames are
numbered and timed at ``--fps`` (25 by default). AVI stores no presentation times either, only
each frame's position (its dts); FFmpeg's pts there is a guess (position + an assumed reorder
delay, +1 for H.264), which would shift every AVI one frame later per pass, so AVI frames are
timed by position. A packet that fails to decode yields a
``DecodedFrame`` without pixels, which the pipeline writes fully masked (fail closed).

With ``keep_packets`` the reader also keeps the compressed packets of each GOP (keyframe to
keyframe) and numbers every frame with its GOP, so that a GOP in which nothing is masked can be
copied to the output instead of re-encoded (``media.gops``).
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import av.error
from av.video.reformatter import VideoReformatter

from gamyeon.errors import CorruptInputError, InputNotFoundError, InputUnreadableError, UnsupportedInputError
from gamyeon.infra.threads import threads_from_env
from gamyeon.types import Array, Colour, VideoInfo

log = logging.getLogger(__name__)

RAW_FORMATS = {"h264", "hevc", "m4v", "mpegvideo"}
POSITIONAL_FORMATS = {"avi"}  # timestamps are frame positions (dts) only
DEFAULT_RAW_FPS = Fraction(25)


@dataclass(slots=True)
class DecodedFrame:
    index: int
    pts: int
    frame: av.VideoFrame | None  # None: this frame could not be decoded
    error: str | None = None
    #: the GOP (counted from 0 at the first keyframe) whose packets hold this frame; None when
    #: the reader keeps no packets or cannot tell (retimed frames, frames before the first keyframe)
    gop: int | None = None


@dataclass(slots=True)
class AudioPacket:
    packet: av.Packet[Any]


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise InputNotFoundError(f"input not found: {path}")
    if path.is_dir():
        raise UnsupportedInputError(f"expected a file, got a folder: {path}")
    if not os.access(path, os.R_OK):
        raise InputUnreadableError(f"cannot read input (permission denied): {path}")
    if path.stat().st_size == 0:
        raise CorruptInputError(f"input is empty (0 bytes): {path}")


def display_matrix(frame: av.VideoFrame) -> list[int] | None:
    """The frame's display matrix (9 int32, FFmpeg layout) if it has one."""
    # PyAV's stub types side_data as a TypedDict; at run time it iterates SideData objects.
    for side in cast("Iterable[Any]", frame.side_data):
        if "DISPLAYMATRIX" in str(side.type):
            raw = bytes(side)
            if len(raw) >= 36:
                return list(struct.unpack("<9i", raw[:36]))
    return None


def colour_of(frame: av.VideoFrame) -> Colour:
    """The colour tags of a decoded frame (the stream's, as the decoder reports them)."""
    return Colour(int(frame.colorspace), int(frame.color_range), int(frame.color_primaries), int(frame.color_trc))


class VideoReader:
    """Opens a video, reads its first frame eagerly (to learn rotation, and to fail before any
    output exists when nothing decodes), then iterates frames and, optionally, audio packets."""

    def __init__(
        self,
        path: str | Path,
        fps: Fraction | None = None,
        keep_audio: bool = False,
        *,
        start_pts: int | None = None,
        start_index: int = 0,
        keep_packets: bool = False,
    ) -> None:
        """``start_pts``: seek to this keyframe first (chunks of a long file); earlier frames are
        skipped, and the frame at ``start_pts`` is numbered ``start_index``. ``keep_packets``:
        keep each GOP's video packets until ``packets`` takes them (containers with timestamps
        only: raw streams and AVI are timed by position, not by their packets)."""
        self.path = Path(path)
        _check_readable(self.path)
        try:
            self.container = av.open(str(self.path), mode="r", metadata_errors="ignore")
        except av.error.InvalidDataError:
            raise CorruptInputError(f"not a readable video (invalid or truncated data): {self.path}") from None
        except (av.error.FFmpegError, UnicodeDecodeError) as err:
            raise UnsupportedInputError(f"cannot open {self.path} as video: {err}") from None
        if not self.container.streams.video:
            self.container.close()
            raise UnsupportedInputError(f"no video stream in {self.path}")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        threads = threads_from_env()
        if threads:
            self.stream.codec_context.thread_count = threads
        self.audio = list(self.container.streams.audio) if keep_audio else []
        self.raw = self.container.format.name.split(",")[0] in RAW_FORMATS
        self.positional = self.container.format.name.split(",")[0] in POSITIONAL_FORMATS
        if self.raw:
            self.rate = fps or DEFAULT_RAW_FPS
            self.time_base = 1 / self.rate
        else:
            tb = self.stream.time_base
            if tb is None:
                raise CorruptInputError(f"video stream of {self.path} has no time base")
            self.time_base = Fraction(tb.numerator, tb.denominator)
            rate = self.stream.average_rate or self.stream.guessed_rate or self.stream.base_rate
            self.rate = fps or (Fraction(rate.numerator, rate.denominator) if rate else Fraction(25))
        self.decode_errors = 0
        #: AVI: FFmpeg's start offset (its reading adds the reorder delay); output times keep it,
        #: and a positional output container must take it off again (its reader adds it back)
        self.positional_shift = 0
        self.retimed = 0
        self._start_pts, self._start_index = start_pts, start_index
        self.keep_packets = keep_packets and not (self.raw or self.positional)
        self._gops: dict[int, list[av.Packet[Any]]] = {}
        self._gop_of: dict[int, int] = {}  # packet pts -> GOP, until its frame is decoded
        if start_pts is not None:
            if self.raw or self.positional:
                self.close()
                raise ValueError("seeking needs a container with timestamps")
            try:
                self.container.seek(start_pts, stream=self.stream, backward=True, any_frame=False)
            except av.error.FFmpegError as err:
                self.close()
                raise CorruptInputError(f"cannot seek in {self.path}: {err}") from None
        self._items = self._iterate()
        # Everything read while looking for the first decodable frame, replayed by __iter__.
        self._head: list[DecodedFrame | AudioPacket] = []
        first: av.VideoFrame | None = None
        try:
            for item in self._items:
                self._head.append(item)
                if isinstance(item, DecodedFrame) and item.frame is not None:
                    first = item.frame
                    break
        except CorruptInputError:
            self.close()
            raise
        if first is None:
            self.close()
            raise CorruptInputError(f"no decodable video frames in {self.path}")
        self.matrix = display_matrix(first)
        self.info = VideoInfo(
            width=first.width,
            height=first.height,
            time_base=self.time_base,
            rate=self.rate,
            frames=self.stream.frames or None,
            rotation=round(first.rotation or 0) % 360,
            codec=self.stream.codec_context.name,
            pix_fmt=first.format.name,
            has_audio=bool(self.container.streams.audio),
            raw_stream=self.raw,
            colour=colour_of(first),
        )

    @property
    def reorder_delay(self) -> int:
        """How far (time-base units) the first keyframe's decode time lies before its
        presentation time: the B-frame delay of the source, 0 without B-frames or packets."""
        first = self._gops.get(0)
        if not first or first[0].pts is None or first[0].dts is None:
            return 0
        return max(0, first[0].pts - first[0].dts)

    def packets(self, gop: int) -> list[av.Packet[Any]] | None:
        """The video packets of ``gop`` in decode order (None: not kept, or already taken).
        Older GOPs are dropped: frames arrive in order, so nobody asks for them any more."""
        found = self._gops.pop(gop, None)
        for old in [g for g in self._gops if g < gop]:
            del self._gops[old]
        return found

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self.container.metadata)

    @property
    def stream_metadata(self) -> dict[str, str]:
        return dict(self.stream.metadata)

    def _iterate(self) -> Iterator[DecodedFrame | AudioPacket]:
        index = self._start_index
        skip_before = self._start_pts  # a seek lands on the keyframe at or before the one asked for
        last_pts: int | None = None
        step = self._nominal_step()

        def timed(pts: int | None) -> int:
            nonlocal last_pts
            if self.raw or pts is None:
                pts = index if self.raw else (last_pts + step if last_pts is not None else 0)
            if last_pts is not None and pts <= last_pts:
                self.retimed += 1
                pts = last_pts + 1
            last_pts = pts
            return pts

        first_dts: int | None = None  # positional formats: where the first packet lies
        lag: int | None = None  # positional formats: decoder delay, in positions

        def frame_pts(frame: av.VideoFrame) -> int | None:
            nonlocal lag
            if not self.positional:
                return frame.pts
            if frame.dts is None:
                return None  # frames flushed at the end: timed() continues at the nominal step
            if lag is None:
                lag = frame.dts - (first_dts or 0)
                # The first frame is a keyframe, so FFmpeg's pts for it is the smallest it reports;
                # keeping that offset makes our times equal FFmpeg's (sorted) reading of the input.
                if frame.pts is not None:
                    self.positional_shift = max(0, frame.pts - (first_dts or 0))
            return frame.dts - lag + self.positional_shift

        gop = -1  # the GOP of the packet being read; -1: before the first keyframe

        def gop_of(frame: av.VideoFrame, pts: int) -> int | None:
            if not self.keep_packets or frame.pts is None:
                return None
            found = self._gop_of.pop(frame.pts, None)
            return found if pts == frame.pts else None  # a retimed frame is no longer its packet's

        streams = [self.stream, *self.audio]
        try:
            for packet in self.container.demux(*streams):
                if packet.stream.type == "audio":
                    if packet.dts is not None:
                        yield AudioPacket(packet)
                    continue
                if first_dts is None and packet.dts is not None:
                    first_dts = packet.dts
                if self.keep_packets and packet.size:
                    if packet.is_keyframe:
                        gop += 1
                        self._gops[gop] = []
                    if gop >= 0 and packet.pts is not None:
                        self._gops[gop].append(packet)
                        self._gop_of[packet.pts] = gop
                try:
                    frames = packet.decode()
                except av.error.FFmpegError as err:
                    if packet.size == 0 or (skip_before is not None and (packet.pts or 0) < skip_before):
                        continue
                    self.decode_errors += 1
                    log.warning(
                        "frame %d of %s could not be decoded (%s); it will be fully masked", index, self.path, err
                    )
                    at = packet.dts - (lag or 0) if self.positional and packet.dts is not None else packet.pts
                    yield DecodedFrame(index, timed(at), None, str(err), gop if gop >= 0 else None)
                    index += 1
                    continue
                for frame in frames:
                    assert isinstance(frame, av.VideoFrame)  # a video packet decodes to video frames
                    if skip_before is not None and frame.pts is not None and frame.pts < skip_before:
                        continue  # decoded only as a reference for the frames from the start on
                    pts = timed(frame_pts(frame))
                    yield DecodedFrame(index, pts, frame, gop=gop_of(frame, pts))
                    index += 1
        except av.error.FFmpegError as err:
            raise CorruptInputError(f"{self.path} is damaged or truncated: {err}") from None
        declared = 0 if self.raw else self.stream.frames
        if declared and index < declared:
            # A file cut short (copy interrupted, camera lost power) still demuxes cleanly up to
            # the cut; without this the missing end would go unnoticed.
            log.warning(
                "%s ended after %d of the %d frames its header declares; it may be truncated",
                self.path,
                index,
                declared,
            )

    def _nominal_step(self) -> int:
        """One frame's duration in time-base units, for frames that arrive without a pts."""
        if self.rate <= 0:
            return 1
        return max(1, round(1 / (self.rate * self.time_base)))

    def __iter__(self) -> Iterator[DecodedFrame | AudioPacket]:
        head, self._head = self._head, []
        yield from head
        yield from self._items

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def to_rgb(
    frame: av.VideoFrame,
    width: int | None = None,
    height: int | None = None,
    reformatter: VideoReformatter | None = None,
) -> Array:
    """The frame as an H x W x 3 RGB array, optionally resized in the same swscale pass.

    Pass one ``reformatter`` per kind of conversion for the frames of one video: setting up a
    swscale context costs 1-2 ms, more than the conversion itself (a frame's own reformatter
    lives and dies with the frame).
    """
    options: dict[str, Any] = {"format": "rgb24"}
    if width is not None and height is not None and (width, height) != (frame.width, frame.height):
        options.update(width=width, height=height, interpolation="AREA")
    if reformatter is None:
        return frame.to_ndarray(**options)
    return reformatter.reformat(frame, **options).to_ndarray()
