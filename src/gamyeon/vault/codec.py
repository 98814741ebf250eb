"""Lossless coding of a segment's crops as one video stream, and back to upright RGB pixels.

Measured on the demo clip's main face track (750 crops of 80x110 to 450x400 pixels, in segments
of 64; process CPU seconds of the coding alone; ``tools/vault_codecs.py``, figures in
``docs/measurements.md``): the decoder's own 4:2:0 samples of each box (88 MiB), coded with x264
at qp 0 (lossless), preset ``faster`` with 4 reference frames, take 13.9 MiB for 2.6 s; presets
``fast`` and ``slow`` save 7-8 % more for 2.2-2.5x the CPU, ``superfast`` costs 21 % more bytes;
FFV1 takes 21.8 MiB, lossless VP9 26.2 and lossless x265 (ultrafast) 18.9. The same boxes as RGB
(175 MiB) take 29.5 MiB with FFV1 and 51.4 with libx264rgb; one lossless WebP per crop (format 1)
took 45.9 MiB for 2.7 s. So 4:2:0 frames are sealed as their samples with x264, and everything
else (other sample formats, still images) as RGB with FFV1, which is intra-only but predicts
colour planes from each other.

The canvas (``tools/vault_layout.py``, the same track): each crop at its own place in the frame,
with the samples it does not fill repeating the previous canvas, takes 13.9 MiB like crops at the
top left padded with their edges (format 2); masked with ellipses, sealing only the 2x2 blocks
that touch them takes 11.8 MiB this way, 12.3 with those samples flat grey and 12.4 with crops at
the top left: repeating what the coder already has costs it nothing where the ellipse moved away.

The stream is stored as the codec's extradata and its packets, each prefixed by its length:
no container, nothing that is not needed to decode it again.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from fractions import Fraction
from typing import cast

import av
import av.error
import numpy as np
from av.video.codeccontext import VideoCodecContext
from PIL import Image

from gamyeon.errors import VaultError
from gamyeon.media.planes import plane_array
from gamyeon.types import Array
from gamyeon.vault.format import FFV1, H264, RGB, WEBP, YUV_FORMATS, Crop, SegmentMeta, even, sized

#: lossless x264: qp 0; ``faster`` with 4 reference frames is where more effort stops paying
#: (see the module docstring); no B-frames, so packets come out in frame order
X264_OPTIONS = {"qp": "0", "preset": "faster", "refs": "4", "bf": "0"}
#: FFV1 version 3 with the range coder and the large context model: the smallest of its modes
FFV1_OPTIONS = {"level": "3", "coder": "1", "context": "1"}
ENCODERS = {H264: ("libx264", "yuv420p"), FFV1: ("ffv1", "bgr0")}
DECODERS = {H264: "h264", FFV1: "ffv1"}
#: what the decoders give back: the formats that were coded
DECODED = {H264: "yuv420p", FFV1: "bgr0"}

#: one crop as given to ``encode``: its (Y, U, V) samples, or (RGB,)
Picture = tuple[Array, ...]


def available() -> None:
    """Fail before anything is sealed when this FFmpeg cannot code a vault."""
    for name in [e for e, _ in ENCODERS.values()]:
        try:
            av.Codec(name, "w")
        except av.error.FFmpegError:
            raise VaultError(f"this FFmpeg has no {name} encoder, which sealing needs") from None
    for name in DECODERS.values():
        try:
            av.Codec(name, "r")
        except av.error.FFmpegError:
            raise VaultError(f"this FFmpeg has no {name} decoder, which sealing needs") from None


#: what samples that hold no one's pixels start as on a segment's first canvas (mid grey)
FILL = 128

#: where a crop goes on the canvas and which of its samples it seals: (column, row), and per
#: sample of the coded resolution (4:2:0: per chroma sample, i.e. per 2x2 block of luma) whether
#: it is kept; None: all of them
Keep = Array | None


def _canvas(
    codec: str,
    previous: list[Array] | None,
    picture: Picture,
    place: tuple[int, int],
    keep: Keep,
    size: tuple[int, int],
) -> list[Array]:
    """The planes coded for one crop: ``picture`` at ``place`` where ``keep`` says, and elsewhere
    what costs least to code. x264 predicts from the previous picture, so the samples no one's
    pixels are in repeat the previous canvas (a still, masked-out corner costs a skipped block);
    FFV1 codes each picture alone, so they are flat."""
    width, height = size
    steps = (1, 2, 2) if codec == H264 else (1,)
    if previous is None or codec != H264:
        shapes = [(height // s, width // s, *picture[i].shape[2:]) for i, s in enumerate(steps)]
        planes = [np.full(shape, FILL, np.uint8) for shape in shapes]
    else:
        planes = [p.copy() for p in previous]
    left, top = place
    for i, step in enumerate(steps):
        samples = picture[i]
        rows, cols = samples.shape[:2]
        target = planes[i][top // step : top // step + rows, left // step : left // step + cols]
        if keep is None:
            target[...] = samples
            continue
        where = keep if step == 2 or codec != H264 else np.repeat(np.repeat(keep, 2, axis=0), 2, axis=1)
        np.copyto(target, samples, where=where if samples.ndim == 2 else where[..., None])
    return planes


def _frame(codec: str, planes: list[Array], size: tuple[int, int]) -> av.VideoFrame:
    width, height = size
    if codec == H264:
        frame = av.VideoFrame(width, height, "yuv420p")
        for i, samples in enumerate(planes):
            plane_array(frame, i)[...] = samples
        return frame
    rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(planes[0]), format="rgb24")
    return rgb.reformat(format="bgr0")


def encode(
    codec: str,
    pictures: Sequence[Picture],
    size: tuple[int, int],
    places: Sequence[tuple[int, int]],
    keeps: Sequence[Keep],
) -> bytes:
    """The stream of ``pictures``, each at its place on a ``size`` canvas with only its kept
    samples, losslessly coded."""
    name, pix_fmt = ENCODERS[codec]
    ctx = cast(VideoCodecContext, av.CodecContext.create(name, "w"))
    ctx.width, ctx.height = size
    ctx.pix_fmt = pix_fmt
    ctx.time_base = Fraction(1, 25)  # crops carry their own frame numbers; the stream needs a rate
    ctx.thread_count = 1  # it runs on the decoding thread, next to the pipeline's own threads
    ctx.options = dict(X264_OPTIONS if codec == H264 else FFV1_OPTIONS)
    packets: list[bytes] = []
    planes: list[Array] | None = None
    for i, (picture, place, keep) in enumerate(zip(pictures, places, keeps, strict=True)):
        planes = _canvas(codec, planes, picture, place, keep, size)
        frame = _frame(codec, planes, size)
        frame.pts = i
        packets.extend(bytes(p) for p in ctx.encode(frame))
    packets.extend(bytes(p) for p in ctx.encode(None))
    extradata = ctx.extradata or b""
    return sized(extradata) + b"".join(sized(p) for p in packets)


def _split(payload: bytes, seq: int) -> tuple[bytes, list[bytes]]:
    parts: list[bytes] = []
    pos = 0
    while pos < len(payload):
        if pos + 4 > len(payload):
            raise VaultError(f"vault segment {seq} is damaged (a cut packet)")
        (n,) = struct.unpack(">I", payload[pos : pos + 4])
        if pos + 4 + n > len(payload):
            raise VaultError(f"vault segment {seq} is damaged (a cut packet)")
        parts.append(payload[pos + 4 : pos + 4 + n])
        pos += 4 + n
    if not parts:
        raise VaultError(f"vault segment {seq} is empty")
    return parts[0], parts[1:]


def decode(meta: SegmentMeta, payload: bytes) -> list[av.VideoFrame] | list[Array]:
    """The coded pictures of a segment, one per crop: canvas frames, or for a format-1 block
    the crop's RGB pixels."""
    if meta.codec == WEBP:
        return [_webp(meta, payload)]
    extradata, packets = _split(payload, meta.seq)
    ctx = cast(VideoCodecContext, av.CodecContext.create(DECODERS[meta.codec], "r"))
    ctx.width, ctx.height = meta.size
    ctx.thread_count = 1
    if extradata:
        ctx.extradata = extradata
    frames: list[av.VideoFrame] = []
    try:
        for data in packets:
            frames.extend(ctx.decode(av.Packet(data)))
        frames.extend(ctx.decode(None))
    except av.error.FFmpegError:
        raise VaultError(f"vault segment {meta.seq} does not decode") from None
    expected = (*meta.size, DECODED[meta.codec])
    if len(frames) != len(meta.crops) or any((f.width, f.height, f.format.name) != expected for f in frames):
        raise VaultError(f"vault segment {meta.seq} does not hold its crops")
    return frames


def _webp(meta: SegmentMeta, data: bytes) -> Array:
    x1, y1, x2, y2 = meta.crops[0].box
    try:
        with Image.open(io.BytesIO(data)) as img:
            crop = np.asarray(img.convert("RGB"))
    except (OSError, ValueError):
        crop = None
    if crop is None or crop.shape != (y2 - y1, x2 - x1, 3):
        raise VaultError(f"vault block {meta.seq} does not hold a crop of its box")
    return crop


def upright(meta: SegmentMeta, coded: av.VideoFrame | Array, crop: Crop) -> Array:
    """The upright RGB pixels of ``crop.box`` from its coded picture.

    4:2:0 samples are converted as the decoder's frames were (``media.decode.to_rgb``: the
    frame's own format and colour space); converting a crop on even bounds gives the pixels a
    whole-frame conversion gives (``media.planes``)."""
    x1, y1, x2, y2 = crop.box
    if isinstance(coded, np.ndarray):
        return coded
    left, top = meta.place(crop)
    if meta.picture == RGB:
        return coded.to_ndarray(format="rgb24")[top : top + y2 - y1, left : left + x2 - x1]
    assert meta.picture in YUV_FORMATS and meta.colour is not None
    width, height = meta.coded_size(crop)
    picture = av.VideoFrame(width, height, meta.picture)
    for i in range(3):
        step = 1 if i == 0 else 2
        rows, cols = slice(top // step, (top + height) // step), slice(left // step, (left + width) // step)
        plane_array(picture, i)[...] = plane_array(coded, i)[rows, cols]
    picture.colorspace, picture.color_range = meta.colour
    pixels = np.rot90(picture.to_ndarray(format="rgb24"), meta.turns)
    ex1, ey1, _, _ = even(crop.box)
    return np.ascontiguousarray(pixels[y1 - ey1 : y2 - ey1, x1 - ex1 : x2 - ex1])
