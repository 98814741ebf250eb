"""Video encoding with PyAV: same size, same timestamps, same rotation as the input.

Frames are written with the input's own ``pts`` in the input's ``time_base``, so variable frame
rate, start offsets and 29.97 fps survive exactly. Audio, when kept, is copied packet by packet
(no re-encode). Metadata is written only when asked for, and never location.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
from av.video.reformatter import VideoReformatter

from gamyeon.errors import OutputError, UsageError
from gamyeon.infra.threads import threads_from_env
from gamyeon.infra.worker import Worker
from gamyeon.media.metadata import without_location
from gamyeon.types import Array, Colour, VideoInfo

log = logging.getLogger(__name__)

#: user-facing codec name -> (PyAV encoder, default quality, supports CRF)
CODECS: dict[str, tuple[str, int]] = {
    "h264": ("libx264", 18),
    "hevc": ("libx265", 20),
    "mpeg4": ("mpeg4", 3),
    "vp9": ("libvpx-vp9", 24),
    "ffv1": ("ffv1", 0),
}
CONTAINERS = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".avi": "avi",
    ".webm": "webm",
    ".h264": "h264",
    ".264": "h264",
    ".h265": "hevc",
    ".hevc": "hevc",
}
VIDEO_SUFFIXES = frozenset(CONTAINERS)
MPEG_RANGE, JPEG_RANGE = 1, 2  # AVCOL_RANGE_*: limited (16-235) and full (0-255) YUV


@dataclass(frozen=True, slots=True)
class EncodeSettings:
    """Codec choice. ``crf``: constant-quality value (lower is better; for mpeg4 the q-scale)."""

    codec: str | None = None  # None: h264, or what the output container requires
    crf: int | None = None
    preset: str = "medium"
    #: None: chosen from the codec and the source; "bgr0" with ffv1 stores RGB exactly (reveal --lossless)
    pix_fmt: str | None = None
    #: False: no B-frames, so decode order is presentation order (chunks of a long file, encoded
    #: apart, then join with increasing decode timestamps whatever the frame timing)
    b_frames: bool = True

    def resolve(self, suffix: str) -> tuple[str, str, int]:
        """(codec name, encoder, quality) for an output file with ``suffix``."""
        codec = self.codec
        if codec is None:
            codec = {".webm": "vp9", ".h265": "hevc", ".hevc": "hevc"}.get(suffix, "h264")
        if codec not in CODECS:
            raise UsageError(f"--codec: expected one of {sorted(CODECS)}, got {codec!r}")
        required = {".webm": {"vp9"}, ".h264": {"h264"}, ".264": {"h264"}, ".h265": {"hevc"}, ".hevc": {"hevc"}}
        if suffix in required and codec not in required[suffix]:
            raise UsageError(f"a {suffix} output needs codec {sorted(required[suffix])[0]}, got {codec}")
        encoder, quality = CODECS[codec]
        return codec, encoder, self.crf if self.crf is not None else quality


def _pix_fmt(codec: str, info: VideoInfo) -> str:
    if codec == "ffv1":
        return "yuv444p" if info.pix_fmt in {"rgb24", "bgr24", "yuv444p", "gbrp"} else "yuv420p"
    odd = info.width % 2 or info.height % 2
    if codec in {"h264", "hevc", "vp9"} and odd:
        return "yuv444p"  # 4:2:0 needs even sizes; 4:4:4 keeps the exact size instead of padding
    if codec == "h264" and info.pix_fmt.startswith("yuvj"):
        return "yuvj420p"  # keep full-range sources full-range
    return "yuv420p"


def _output_colour(info: VideoInfo, pix_fmt: str) -> Colour | None:
    """The colour tags of the output: the source's, for YUV outputs. The range is kept only
    when the sample format is (a full-range ``yuvj`` source written as limited-range ``yuv``
    is converted, and tagged so); None for RGB outputs (``bgr0``, ``gbrp``), which have no matrix."""
    if not pix_fmt.startswith("yuv"):
        return None
    if pix_fmt == info.pix_fmt:
        colour_range = info.colour.range
    else:
        colour_range = JPEG_RANGE if pix_fmt.startswith("yuvj") else MPEG_RANGE
    return dataclasses.replace(info.colour, range=colour_range)


def from_rgb(
    frame: av.VideoFrame, pix_fmt: str, colour: Colour, reformatter: VideoReformatter | None = None
) -> av.VideoFrame:
    """An RGB frame in ``pix_fmt`` with ``colour``'s matrix and range, tagged with all of ``colour``.

    PyAV's encoder would convert with swscale's default (BT.601, limited range) whatever the
    source was, which shifts the colours of BT.709 and full-range footage. ``reformatter``: one
    kept across the frames of a video (see ``decode.to_rgb``).
    """
    convert = reformatter or VideoReformatter()
    out = convert.reformat(frame, format=pix_fmt, dst_colorspace=colour.space, dst_color_range=colour.range)
    tag(out, colour)
    return out


def tag(target: av.VideoFrame | av.video.codeccontext.VideoCodecContext, colour: Colour) -> None:
    """Give a frame, or an encoder (its stream's header), all four colour tags of ``colour``."""
    target.colorspace = colour.space
    target.color_range = colour.range
    target.color_primaries = colour.primaries
    target.color_trc = colour.trc


class VideoWriter:
    """Writes frames to ``path`` (a temporary name chosen by the caller)."""

    def __init__(
        self,
        path: Path,
        info: VideoInfo,
        settings: EncodeSettings,
        *,
        suffix: str,
        matrix: list[int] | None,
        audio: list[av.audio.stream.AudioStream] | None = None,
        metadata: Mapping[str, str] | None = None,
        stream_metadata: Mapping[str, str] | None = None,
        positional_shift: int = 0,
    ) -> None:
        fmt = CONTAINERS.get(suffix)
        if fmt is None:
            raise UsageError(f"unsupported output extension {suffix!r}; expected one of {sorted(CONTAINERS)}")
        self.codec, encoder, quality = settings.resolve(suffix)
        self.info = info
        options: dict[str, str] = {}
        if metadata is not None and fmt in {"mp4", "mov"}:
            options["movflags"] = "use_metadata_tags"
        try:
            self.container = av.open(str(path), mode="w", format=fmt, options=options)
        except (av.error.FFmpegError, OSError) as err:
            raise OutputError(f"cannot create output {path}: {err}") from None
        stream = self.container.add_stream(encoder, rate=info.rate)
        assert isinstance(stream, av.video.stream.VideoStream)
        self.stream: av.video.stream.VideoStream = stream
        self.stream.width = info.width
        self.stream.height = info.height
        self.pix_fmt = settings.pix_fmt or _pix_fmt(self.codec, info)
        self.stream.pix_fmt = self.pix_fmt
        self.stream.time_base = info.time_base
        cc = self.stream.codec_context
        #: colour matrix and range that RGB frames are converted back with: the source's, so a
        #: masked frame keeps the colours of the unmasked frames around it
        self._colour = _output_colour(info, self.pix_fmt)
        self._reformatter = VideoReformatter()
        if self._colour is not None:
            tag(cc, self._colour)
        cc.time_base = self._codec_time_base(info)
        cc.framerate = info.rate
        threads = threads_from_env()
        if threads:
            cc.thread_count = threads
        opts: dict[str, object] = {}
        if self.codec == "h264":
            opts = {"crf": str(quality), "preset": settings.preset}
            if fmt in {"avi", "h264"} or not settings.b_frames:
                cc.max_b_frames = 0  # these containers cannot store reordered timestamps
        elif self.codec == "hevc":
            opts = {"crf": str(quality), "preset": settings.preset, "x265-params": "log-level=error"}
            if not settings.b_frames:
                opts["x265-params"] = "log-level=error:bframes=0"
        elif self.codec == "vp9":
            opts = {"crf": str(quality), "b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"}
        elif self.codec == "mpeg4":
            cc.qscale = True  # fixed quantiser: global_quality is q * FF_QP2LAMBDA
            cc.global_quality = max(1, min(31, quality)) * 118
        elif self.codec == "ffv1":
            opts = {"level": "3", "slicecrc": "1"}
        self.stream.options = opts
        if matrix is not None and fmt in {"mp4", "mov", "matroska"}:
            self.stream.set_display_matrix(matrix)
        if stream_metadata is not None:
            self.stream.metadata.update(without_location(stream_metadata))
        if metadata is not None:
            self.container.metadata.update(without_location(metadata))
        self.audio: dict[int, av.stream.Stream] = {}
        for src in audio or []:
            try:
                self.audio[src.index] = self.container.add_stream_from_template(src)
            except (av.error.FFmpegError, ValueError) as err:
                self.container.close()
                raise UsageError(
                    f"cannot copy the {src.codec_context.name} audio into a {suffix} file ({err}); "
                    "choose another output container (e.g. .mkv) or drop --keep-audio"
                ) from None
        self.frames = 0
        # AVI stores positions only and its reader adds the reorder delay back on reading
        self._pts_offset = -positional_shift if fmt == "avi" else 0

    def _codec_time_base(self, info: VideoInfo) -> Fraction:
        # MPEG-4 part 2 cannot express time bases with denominators above 65535.
        if self.codec == "mpeg4" and info.time_base.denominator > 65535:
            raise UsageError(f"codec mpeg4 cannot keep this file's time base {info.time_base}; use --codec h264")
        return info.time_base

    def write(self, image: Array | av.VideoFrame, pts: int) -> None:
        """Encode one frame: an RGB array, or an untouched decoded frame (no conversion)."""
        if isinstance(image, np.ndarray):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if self._colour is not None:
                frame = from_rgb(frame, self.pix_fmt, self._colour, self._reformatter)
        else:
            frame = image
            # A decoded frame remembers its picture type; encoders would obey it as a forced type.
            frame.pict_type = av.video.frame.PictureType.NONE
        frame.pts = pts + self._pts_offset
        frame.time_base = self.info.time_base
        try:
            packets = self.stream.encode(frame)
            self.container.mux(packets)
        except av.error.FFmpegError as err:
            raise OutputError(f"encoding failed at pts {pts}: {err}") from None
        self.frames += 1

    def write_audio(self, packet: av.Packet[Any]) -> None:
        out = self.audio.get(packet.stream.index)
        if out is None:
            return
        packet.stream = out
        try:
            self.container.mux(packet)
        except av.error.FFmpegError as err:
            log.warning("dropped an audio packet that could not be copied: %s", err)

    def close(self) -> None:
        try:
            self.container.mux(self.stream.encode(None))
        finally:
            self.container.close()

    def abort(self) -> None:
        try:
            self.container.close()
        except av.error.FFmpegError:
            log.debug("ignored error while closing an aborted output", exc_info=True)


def write_clip(
    path: Path,
    frames: Iterable[Array],
    rate: Fraction,
    *,
    tone_hz: float | None = None,
    crf: int = 18,
) -> int:
    """Encode RGB frames to an H.264 file at a constant ``rate``, optionally with a sine tone
    (mono AAC) so audio handling can be shown. Used by the demo and the tests; returns frames."""
    count = 0
    with av.open(str(path), mode="w") as out:
        stream: av.video.stream.VideoStream | None = None
        for image in frames:
            if stream is None:
                stream = out.add_stream("libx264", rate=rate)
                stream.height, stream.width = image.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": str(crf), "preset": "fast"}
                audio = out.add_stream("aac", rate=48000) if tone_hz else None
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = count
            frame.time_base = 1 / rate
            out.mux(stream.encode(frame))
            count += 1
        if stream is None:
            raise ValueError("write_clip needs at least one frame")
        out.mux(stream.encode(None))
        if audio is not None and tone_hz:
            mux_tone(out, audio, count / rate, tone_hz)
    return count


def mux_tone(out: av.container.OutputContainer, audio: Any, seconds: Fraction | float, hz: float) -> None:
    """Encode ``seconds`` of a mono sine tone into the 48 kHz AAC stream ``audio`` of ``out``."""
    samples = int(48000 * seconds)
    t = np.arange(samples, dtype=np.float32) / 48000
    wave = (0.2 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    for start in range(0, samples, 1024):
        chunk = wave[start : start + 1024].reshape(1, -1)
        aframe = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        aframe.sample_rate = 48000
        aframe.pts = start
        out.mux(audio.encode(aframe))
    out.mux(audio.encode(None))


class ThreadedWriter:
    """Runs a ``VideoWriter`` on its own thread (``infra.worker.Worker``) so encoding overlaps detection
    and masking; the first error of the encoder is re-raised to the caller at its next call."""

    def __init__(self, writer: VideoWriter, depth: int = 8, keep: Callable[[int], bool] | None = None) -> None:
        self.writer = writer
        #: which frames (by pts) to encode; None: all. A chunk of a long file encodes only its own.
        self._keep = keep
        self._worker: Worker[av.Packet[Any] | tuple[Array | av.VideoFrame, int]] = Worker(
            self._handle, depth=depth, name="gamyeon-encoder"
        )

    def _handle(self, item: av.Packet[Any] | tuple[Array | av.VideoFrame, int]) -> None:
        if isinstance(item, av.Packet):
            self.writer.write_audio(item)
        else:
            self.writer.write(*item)

    def wants(self, pts: int) -> bool:
        """Whether the frame at ``pts`` is encoded (a chunk encodes only its own frames)."""
        return self._keep is None or self._keep(pts)

    def write(self, image: Array | av.VideoFrame, pts: int) -> None:
        self._worker.check()
        if self.wants(pts):
            self._worker.put((image, pts))

    def write_audio(self, packet: av.Packet[Any]) -> None:
        self._worker.put(packet)

    @property
    def frames(self) -> int:
        return self.writer.frames

    def close(self) -> None:
        self._worker.close()
        self.writer.close()

    def abort(self) -> None:
        self._worker.abort()
        self.writer.abort()
