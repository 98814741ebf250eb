"""Synthetic benchmark inputs, built once and cached in the output folder.

The speed clips use gamyeon's own demo generator (a real photo, panned and zoomed) so that there is
a real face to detect, track and mask at every size from ~40 px to ~200 px tall. The long memory
clip is one short encoded segment whose packets are copied over and over with shifted timestamps:
encoding 20 minutes of 1080p would take longer than the run it is meant to feed, and for a memory
measurement only the length matters, not novel content.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

log = logging.getLogger(__name__)

DEMO_RATE = Fraction(30000, 1001)
LONG_RATE = Fraction(30)
#: the concatenated real clip and remuxed raw streams: 25 fps, gamyeon's default for raw input
CONCAT_RATE = Fraction(25)
RAW_RATE = Fraction(25)
#: file suffixes of raw elementary streams, which some tools (deface) cannot open
RAW_SUFFIXES = frozenset({".h264", ".264"})


def _tmp_name(path: Path) -> Path:
    # ".tmp.<pid>" then an atomic rename: an interrupted build never leaves a file under the cached name
    return path.with_name(f"{path.stem}.tmp{os.getpid()}{path.suffix}")


def synthetic_clip(
    folder: Path, frames: int, width: int, height: int, rate: Fraction = DEMO_RATE, crf: int = 18
) -> Path:
    """``demo_frames(frames, width, height)`` written with ``write_clip``; cached by name."""
    from gamyeon.demo import demo_frames
    from gamyeon.media.encode import write_clip

    folder.mkdir(parents=True, exist_ok=True)
    rate_txt = f"{rate.numerator}-{rate.denominator}" if rate.denominator != 1 else str(rate.numerator)
    path = folder / f"synth_{width}x{height}_{frames}f_{rate_txt}fps_crf{crf}.mp4"
    if path.exists():
        log.info("reusing %s", path)
        return path
    log.info("building %s", path)
    tmp = _tmp_name(path)
    try:
        write_clip(tmp, demo_frames(frames, width, height), rate, crf=crf)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def long_clip(
    folder: Path,
    minutes: float,
    width: int = 1920,
    height: int = 1080,
    rate: Fraction = LONG_RATE,
    segment_frames: int = 150,
) -> tuple[Path, int]:
    """A clip of about ``minutes`` (rounded up to whole segments) made by looping one encoded segment
    of the demo; returns (path, frame count). The segment uses crf 26 to keep a 20-minute file small."""
    total = max(1, round(minutes * 60 * rate))
    seg_n = min(segment_frames, total)
    loops = math.ceil(total / seg_n)
    frames = loops * seg_n
    path = folder / f"long_{width}x{height}_{rate}fps_{frames}f.mp4"
    if path.exists():
        log.info("reusing %s", path)
        return path, frames
    segment = synthetic_clip(folder, seg_n, width, height, rate, crf=26)
    log.info("building %s (%d x %d frames)", path, loops, seg_n)
    with av.open(str(segment)) as src:
        vin = src.streams.video[0]
        stream_tb = vin.time_base
        if stream_tb is None:
            raise ValueError(f"{segment} has no video time base")
        tb = Fraction(stream_tb.numerator, stream_tb.denominator)
        packets = [(p.pts, p.dts, bytes(p), p.is_keyframe) for p in src.demux(vin) if p.size]
        offset = Fraction(seg_n) / rate / tb
        if offset.denominator != 1:
            raise ValueError(f"segment length {seg_n} frames is not a whole number of ticks of {tb}")
        tmp = _tmp_name(path)
        try:
            with av.open(str(tmp), mode="w", format="mp4") as dst:
                vout = dst.add_stream_from_template(vin)
                vout.time_base = stream_tb
                for k in range(loops):
                    shift = int(offset) * k
                    for pts, dts, data, key in packets:
                        pkt = av.Packet(data)
                        pkt.pts = None if pts is None else pts + shift
                        pkt.dts = None if dts is None else dts + shift
                        pkt.is_keyframe = key
                        pkt.time_base = stream_tb
                        pkt.stream = vout
                        dst.mux(pkt)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
    return path, frames


def fit_box(src_w: int, src_h: int, dst_w: int, dst_h: int) -> tuple[int, int, int, int]:
    """(width, height, x, y) of a ``src_w`` x ``src_h`` picture shrunk to fit inside ``dst_w`` x
    ``dst_h`` with its aspect ratio kept (never enlarged: a detector should see the footage's own
    pixels, tiny faces stay tiny), centred; sizes and offsets even so that 4:2:0 chroma lines up
    with the luma of the padded frame."""
    scale = min(1.0, dst_w / src_w, dst_h / src_h)
    w = min(dst_w, max(2, round(src_w * scale / 2) * 2))
    h = min(dst_h, max(2, round(src_h * scale / 2) * 2))
    return w, h, (dst_w - w) // 2 // 2 * 2, (dst_h - h) // 2 // 2 * 2


def _sources_key(sources: list[Path], max_frames: int | None) -> str:
    # names, sizes and mtimes: a changed or added source builds a new clip instead of reusing a stale one
    text = "|".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sources)
    return hashlib.sha1(f"{text}|{max_frames}".encode()).hexdigest()[:10]


def concat_clip(
    folder: Path,
    sources: list[Path],
    width: int = 960,
    height: int = 540,
    rate: Fraction = CONCAT_RATE,
    max_frames: int | None = None,
) -> tuple[Path, int]:
    """One long H.264 clip made of every decoded frame of ``sources`` in order (at most
    ``max_frames`` of each), each shrunk to fit ``width`` x ``height`` if larger (``fit_box``)
    and padded with black, timed at a constant ``rate``; cached in ``folder``. Returns (path, frames).

    Every source frame appears once, in decode output order, so a 10 fps source plays faster than
    real time: the clip is a long stretch of real pixels for throughput, not a faithful replay.
    Encoded with libx264 crf 18 (preset fast, like the synthetic clips) so that every tool decodes
    the same near-lossless input.
    """
    if not sources:
        raise ValueError("concat_clip needs at least one source")
    folder.mkdir(parents=True, exist_ok=True)
    rate_txt = f"{rate.numerator}-{rate.denominator}" if rate.denominator != 1 else str(rate.numerator)
    path = folder / f"concat_{width}x{height}_{rate_txt}fps_{_sources_key(sources, max_frames)}.mp4"
    if path.exists():
        with av.open(str(path)) as done:
            frames = done.streams.video[0].frames
        log.info("reusing %s (%d frames)", path, frames)
        return path, frames
    log.info("building %s from %s", path, ", ".join(p.name for p in sources))
    tmp = _tmp_name(path)
    count = 0
    try:
        with av.open(str(tmp), mode="w", format="mp4") as out:
            stream = out.add_stream("libx264", rate=rate)
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": "18", "preset": "fast"}
            for src in sources:
                taken = 0
                with av.open(str(src)) as inp:
                    vin = inp.streams.video[0]
                    vin.thread_type = "AUTO"
                    for frame in inp.decode(vin):
                        if max_frames is not None and taken >= max_frames:
                            break
                        w, h, x, y = fit_box(frame.width, frame.height, width, height)
                        canvas = np.zeros((height, width, 3), np.uint8)
                        canvas[y : y + h, x : x + w] = frame.to_ndarray(
                            width=w, height=h, format="rgb24", interpolation="AREA"
                        )
                        picture = av.VideoFrame.from_ndarray(canvas, format="rgb24")
                        picture.pts = count
                        picture.time_base = 1 / rate
                        out.mux(stream.encode(picture))
                        count += 1
                        taken += 1
                log.info("  %s: %d frames", src.name, taken)
            if count == 0:
                raise ValueError(f"no frames decoded from {[str(p) for p in sources]}")
            out.mux(stream.encode(None))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path, count


def remux_raw_h264(folder: Path, src: Path, rate: Fraction = RAW_RATE) -> Path:
    """``src`` (a raw H.264 elementary stream, which has no timestamps) copied packet by packet into
    an MP4 timed at ``rate``, cached in ``folder``: the same coded pictures, hence the same pixels,
    in a container every tool reads (deface cannot open raw ``.h264``).

    Raw streams carry no presentation times, and with B-frames the decode order is not the display
    order. Decoding the packets once with their decode index as pts tells, for each packet, its
    place in display order: that place times the frame duration is its pts, and the decode index
    (shifted back by the largest reorder) its dts.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rate_txt = f"{rate.numerator}-{rate.denominator}" if rate.denominator != 1 else str(rate.numerator)
    path = folder / f"{src.stem}_remux_{rate_txt}fps.mp4"
    if path.exists() and path.stat().st_mtime_ns >= src.stat().st_mtime_ns:
        log.info("reusing %s", path)
        return path
    log.info("remuxing %s into %s", src, path)
    with av.open(str(src)) as inp:
        vin = inp.streams.video[0]
        packets = [(bytes(p), p.is_keyframe) for p in inp.demux(vin) if p.size]
        decoder = av.CodecContext.create(vin.codec_context.name, "r")
        if not isinstance(decoder, av.video.codeccontext.VideoCodecContext):
            raise ValueError(f"{src}: {vin.codec_context.name} is not a video codec")
        if vin.codec_context.extradata:
            decoder.extradata = vin.codec_context.extradata
        shown: list[int] = []  # decode indices in display order
        for index, (data, _) in enumerate(packets):
            pkt = av.Packet(data)
            pkt.pts = pkt.dts = index
            shown += [int(f.pts) for f in decoder.decode(pkt) if f.pts is not None]
        shown += [int(f.pts) for f in decoder.decode(None) if f.pts is not None]
        if sorted(shown) != list(range(len(packets))):
            raise ValueError(f"{src}: {len(shown)} of {len(packets)} packets decode to a picture; cannot remux")
        place = {decoded: k for k, decoded in enumerate(shown)}
        delay = max(d - k for d, k in place.items())
        tmp = _tmp_name(path)
        try:
            with av.open(str(tmp), mode="w", format="mp4") as out:
                vout = out.add_stream_from_template(vin)
                tb = 1 / rate
                vout.time_base = tb
                for index, (data, key) in enumerate(packets):
                    pkt = av.Packet(data)
                    pkt.pts = place[index]
                    pkt.dts = index - delay
                    pkt.is_keyframe = key
                    pkt.time_base = tb
                    pkt.stream = vout
                    out.mux(pkt)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
    return path
