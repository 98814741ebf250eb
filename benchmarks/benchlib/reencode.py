"""The plain re-encode baseline: decode every frame and encode it again, nothing else.

It uses gamyeon's own default video settings (``gamyeon.media.encode``: libx264, crf 18, preset
medium, the same sample format rule, the input's time base and pts), so ``gamyeon fps / re-encode
fps`` says how much of gamyeon's time is its own work (detection, tracking, masking) rather than the
unavoidable decode + encode. Run as a script in
gamyeon's venv so that it is timed exactly like the tools (process start-up included):

    python benchmarks/benchlib/reencode.py IN OUT
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

import av
from av.video.stream import VideoStream

ENCODER = "libx264"
CRF = 18
PRESET = "medium"
PIX_FMT = "yuv420p"
RAW_FORMATS = {"h264", "hevc", "m4v", "mpegvideo"}
RAW_RATE = Fraction(25)
SETTINGS = (
    f"{ENCODER} crf {CRF} preset {PRESET}, {PIX_FMT} (yuv444p for odd sizes, yuvj420p for full-range input), "
    "input time_base and pts"
)


def pix_fmt(width: int, height: int, source: str) -> str:
    """The H.264 sample format gamyeon's writer picks: 4:2:0, except 4:4:4 for odd sizes (4:2:0
    needs even ones) and full-range ``yuvj420p`` for full-range sources."""
    if width % 2 or height % 2:
        return "yuv444p"
    return "yuvj420p" if source.startswith("yuvj") else PIX_FMT


def reencode(src: Path, dst: Path) -> int:
    """Re-encode ``src`` to ``dst``; returns the frame count.

    Timestamps follow the same minimal rules as gamyeon's reader so that the encoder accepts every
    input: a raw stream is timed index / 25 fps, a missing pts continues from the previous frame by
    one nominal frame, a non-increasing pts becomes previous + 1 tick.
    """
    with av.open(str(src)) as inp, av.open(str(dst), mode="w") as out:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        raw = inp.format.name.split(",")[0] in RAW_FORMATS
        if raw:
            rate, tb = RAW_RATE, 1 / RAW_RATE
        else:
            avg = vin.average_rate or vin.guessed_rate
            rate = Fraction(avg.numerator, avg.denominator) if avg else RAW_RATE
            if vin.time_base is None:
                raise SystemExit(f"{src}: video stream without a time base")
            tb = Fraction(vin.time_base.numerator, vin.time_base.denominator)
        step = max(1, round(1 / (rate * tb)))
        vout: VideoStream | None = None
        last: int | None = None
        count = 0
        for frame in inp.decode(vin):
            if vout is None:
                stream = out.add_stream(ENCODER, rate=rate)
                if not isinstance(stream, VideoStream):
                    raise SystemExit(f"{ENCODER} did not give a video stream")
                stream.width, stream.height = frame.width, frame.height
                stream.pix_fmt = pix_fmt(frame.width, frame.height, frame.format.name)
                stream.time_base = tb
                stream.codec_context.time_base = tb
                stream.codec_context.framerate = rate
                stream.options = {"crf": str(CRF), "preset": PRESET}
                vout = stream
            pts = count if raw else frame.pts
            if pts is None:
                pts = 0 if last is None else last + step
            if last is not None and pts <= last:
                pts = last + 1
            last = pts
            frame.pts = pts
            frame.time_base = tb
            frame.pict_type = av.video.frame.PictureType.NONE
            out.mux(vout.encode(frame))
            count += 1
        if vout is None:
            raise SystemExit(f"no frames decoded from {src}")
        out.mux(vout.encode(None))
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    reencode(args.input, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
