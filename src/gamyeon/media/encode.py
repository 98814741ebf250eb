"""Video encoding with PyAV: same size, same timestamps, same rotation as the input.

Frames are written with the input's own ``pts`` in the input's ``time_base``, so variable frame
rate, start offsets and 29.97 fps survive exactly. Audio, when kept, is copied packet by packet
(no re-encode). Metadata is written only when asked for, and never location.

A writer made with a ``template`` (the source's H.264 stream, see ``copy_blocker``) can also copy
the source's packets of whole GOPs (``copy``) between the GOPs it encodes. Its stream takes the
source's codec parameters; the encoded stretches come from a fresh encoder each (so each starts
with an IDR frame and ends with every packet out), without B-frames (so decode timestamps stay
increasing across the joins), in the source's profile, in the same length-prefixed packet
format, with their SPS and PPS in-band; the copied GOPs get the source's SPS and PPS in-band
before their keyframe. So every GOP carries the parameter sets it was coded with, and a decoder
switches at each IDR frame.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
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
#: containers that keep H.264 as length-prefixed NAL units with an avcC record (packets can mix)
COPY_CONTAINERS = frozenset({"mp4", "mov", "matroska"})
#: the source's H.264 profile (as FFmpeg names it) -> the x264 profile its encoded GOPs use
COPY_PROFILES = {"Constrained Baseline": "baseline", "Baseline": "baseline", "Main": "main", "High": "high"}


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


def copy_blocker(
    source: av.video.stream.VideoStream, info: VideoInfo, settings: EncodeSettings, suffix: str
) -> str | None:
    """Why the source's packets cannot share one stream with the encoder's output (None: they can).

    Only H.264 in, H.264 out, 8-bit 4:2:0 in the sample format the encoder would write, a
    profile x264 can match, into a container that stores length-prefixed NAL units: then a
    copied GOP and an encoded GOP differ only in their parameter sets, which both carry in-band.
    """
    fmt = CONTAINERS.get(suffix)
    if fmt not in COPY_CONTAINERS:
        return f"a {suffix} output stores no length-prefixed H.264"
    codec = settings.resolve(suffix)[0]
    if codec != "h264" or settings.pix_fmt is not None:
        return f"the output is {codec}{'' if settings.pix_fmt is None else ' ' + settings.pix_fmt}, not plain h264"
    cc = source.codec_context
    if cc.name != "h264":
        return f"the source is {cc.name}, not h264"
    extradata = cc.extradata or b""
    if len(extradata) < 7 or extradata[0] != 1 or extradata[4] & 3 != 3:
        return "the source's H.264 is not stored with 4-byte NAL lengths (avcC)"
    if info.pix_fmt != _pix_fmt("h264", info):
        return f"the source's samples are {info.pix_fmt}, the encoder's {_pix_fmt('h264', info)}"
    if cc.profile not in COPY_PROFILES:
        return f"the source's H.264 profile {cc.profile!r} is not one x264 writes"
    return None


def parameter_sets(avcc: bytes) -> bytes:
    """The SPS and PPS of an avcC record (ISO/IEC 14496-15) as 4-byte length-prefixed NAL units,
    ready to put in front of a keyframe packet."""
    out = bytearray()
    pos = 5
    for count_mask in (0x1F, 0xFF):  # SPS count (low 5 bits), then PPS count
        if pos >= len(avcc):
            raise ValueError("truncated avcC record")
        count = avcc[pos] & count_mask
        pos += 1
        for _ in range(count):
            size = int.from_bytes(avcc[pos : pos + 2], "big")
            unit = avcc[pos + 2 : pos + 2 + size]
            if len(unit) != size:
                raise ValueError("truncated avcC record")
            out += size.to_bytes(4, "big") + unit
            pos += 2 + size
    return bytes(out)


class VideoWriter:
    """Writes frames to ``path`` (a temporary name chosen by the caller). ``template``: the
    source's video stream, which ``copy_blocker`` found compatible; then ``copy`` can write its
    packets between encoded frames."""

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
        template: av.video.stream.VideoStream | None = None,
        reorder_delay: int = 0,
    ) -> None:
        """``reorder_delay``: with a ``template``, the source's B-frame delay (``VideoReader.reorder_delay``);
        encoded packets are given decode times that much before their presentation, as the
        source's are, so decode times keep increasing across every join."""
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
        self.pix_fmt = settings.pix_fmt or _pix_fmt(self.codec, info)
        #: colour matrix and range that RGB frames are converted back with: the source's, so a
        #: masked frame keeps the colours of the unmasked frames around it
        self._colour = _output_colour(info, self.pix_fmt)
        self._reformatter = VideoReformatter()
        self._settings, self._fmt, self._quality = settings, fmt, quality
        #: copy mode: the encoder of the stretch being encoded (None between stretches) and the
        #: source's parameter sets for copied keyframes
        self._run: av.video.codeccontext.VideoCodecContext | None = None
        self._profile: str | None = None
        self._parameter_sets = b""
        self._reorder_delay = reorder_delay
        if template is None:
            stream = self.container.add_stream(encoder, rate=info.rate)
            assert isinstance(stream, av.video.stream.VideoStream)
            self.stream: av.video.stream.VideoStream = stream
            self.stream.width = info.width
            self.stream.height = info.height
            self.stream.pix_fmt = self.pix_fmt
            encoder_options: dict[str, object] = dict(self._configure(self.stream.codec_context))
            self.stream.options = encoder_options
        else:
            self.stream = self.container.add_stream_from_template(template)
            self._profile = COPY_PROFILES[str(template.codec_context.profile)]
            self._parameter_sets = parameter_sets(template.codec_context.extradata or b"")
        self.stream.time_base = info.time_base
        self.copied = 0
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

    def _configure(self, cc: av.video.codeccontext.VideoCodecContext) -> dict[str, str]:
        """Set up the encoder ``cc``; returns its private options."""
        settings, fmt, quality, info = self._settings, self._fmt, self._quality, self.info
        if self._colour is not None:
            tag(cc, self._colour)
        cc.time_base = self._codec_time_base(info)
        cc.framerate = info.rate
        threads = threads_from_env()
        if threads:
            cc.thread_count = threads
        opts: dict[str, str] = {}
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
        return opts

    def _open_run(self) -> av.video.codeccontext.VideoCodecContext:
        """A fresh encoder for one encoded stretch between copied GOPs (copy mode)."""
        cc = av.CodecContext.create("libx264", "w")
        assert isinstance(cc, av.video.codeccontext.VideoCodecContext)
        cc.width, cc.height, cc.pix_fmt = self.info.width, self.info.height, self.pix_fmt
        opts = self._configure(cc)
        cc.max_b_frames = 0
        assert self._profile is not None
        # annexb=0: 4-byte lengths like the source's packets; repeat-headers: SPS/PPS in-band
        opts.update(profile=self._profile, **{"x264-params": "annexb=0:repeat-headers=1:bframes=0"})
        cc.options = opts
        return cc

    def _encode(self, frame: av.VideoFrame | None) -> list[av.Packet[Any]]:
        if self._profile is None:
            return self.stream.encode(frame)
        if self._run is None:
            if frame is None:
                return []
            self._run = self._open_run()
        packets = self._run.encode(frame)
        if frame is None:
            self._run = None
        for packet in packets:
            packet.stream = self.stream
            if packet.pts is not None:
                packet.dts = packet.pts - self._reorder_delay  # no B-frames: decode order is presentation order
        return packets

    def copy(self, packets: Iterable[av.Packet[Any]]) -> None:
        """Mux the source's packets of whole GOPs unchanged (copy mode), after the stretch
        encoded before them; their keyframes get the source's parameter sets in front."""
        try:
            self.container.mux(self._encode(None))
            for packet in packets:
                if packet.is_keyframe:
                    packet = _prefixed(packet, self._parameter_sets)
                packet.stream = self.stream
                self.container.mux(packet)
                self.frames += 1
                self.copied += 1
        except av.error.FFmpegError as err:
            raise OutputError(f"copying source packets failed: {err}") from None

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
            self.container.mux(self._encode(frame))
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
            self.container.mux(self._encode(None))
        finally:
            self.container.close()

    def abort(self) -> None:
        try:
            self.container.close()
        except av.error.FFmpegError:
            log.debug("ignored error while closing an aborted output", exc_info=True)


def _prefixed(packet: av.Packet[Any], prefix: bytes) -> av.Packet[Any]:
    """A copy of ``packet`` with ``prefix`` (NAL units) in front of its data, same timing and flags."""
    out = av.Packet(prefix + bytes(packet))
    out.pts, out.dts, out.time_base = packet.pts, packet.dts, packet.time_base
    out.duration = packet.duration
    out.is_keyframe = True
    return out


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


@dataclass(frozen=True, slots=True)
class Copied:
    """Source packets of whole GOPs, for the encoder thread to copy."""

    packets: tuple[av.Packet[Any], ...]


class ThreadedWriter:
    """Runs a ``VideoWriter`` on its own thread (``infra.worker.Worker``) so encoding overlaps detection
    and masking; the first error of the encoder is re-raised to the caller at its next call."""

    def __init__(self, writer: VideoWriter, depth: int = 8, keep: Callable[[int], bool] | None = None) -> None:
        self.writer = writer
        #: which frames (by pts) to encode; None: all. A chunk of a long file encodes only its own.
        self._keep = keep
        self._worker: Worker[av.Packet[Any] | Copied | tuple[Array | av.VideoFrame, int]] = Worker(
            self._handle, depth=depth, name="gamyeon-encoder"
        )

    def _handle(self, item: av.Packet[Any] | Copied | tuple[Array | av.VideoFrame, int]) -> None:
        if isinstance(item, av.Packet):
            self.writer.write_audio(item)
        elif isinstance(item, Copied):
            self.writer.copy(item.packets)
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

    def copy(self, packets: Sequence[av.Packet[Any]]) -> None:
        """Copy the source's packets of whole GOPs (``VideoWriter.copy``), in order with the frames."""
        self._worker.put(Copied(tuple(packets)))

    @property
    def frames(self) -> int:
        return self.writer.frames

    def close(self) -> None:
        self._worker.close()
        self.writer.close()

    def abort(self) -> None:
        self._worker.abort()
        self.writer.abort()
