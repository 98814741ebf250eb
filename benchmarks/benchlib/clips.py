"""Synthetic benchmark inputs, built once and cached in the output folder.

The speed clips use gamyeon's own demo generator (a real photo, panned and zoomed) so that there is
a real face to detect, track and mask at every size from ~40 px to ~200 px tall. The long memory
clip is one short encoded segment whose packets are copied over and over with shifted timestamps:
encoding 20 minutes of 1080p would take longer than the run it is meant to feed, and for a memory
measurement only the length matters, not novel content.
"""

from __future__ import annotations

import logging
import math
import os
from fractions import Fraction
from pathlib import Path

import av

log = logging.getLogger(__name__)

DEMO_RATE = Fraction(30000, 1001)
LONG_RATE = Fraction(30)


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
