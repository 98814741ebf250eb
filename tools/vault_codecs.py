"""Compare lossless codecs for the vault on one track of a video: bytes, CPU seconds, exactness.

Takes a clip and the annotations sidecar of an ``anonymize`` run on it, picks the track with the
most frames (or ``--track``), cuts every frame's mask box out of the decoded clip as the vault
does (the decoder's 4:2:0 samples of the box grown to even bounds, or the box's RGB pixels),
and codes them in segments of ``--segment`` frames, each padded to its largest crop, with every
candidate; then decodes them again and checks that every sample came back. CPU seconds are the
process's, so that codecs with threads of their own (x265) are counted whole. This is how
``vault/codec.py`` chose its codecs, on the clip and annotations that
``benchmarks/run.py --only vault`` leaves behind:

    .venv/bin/python tools/vault_codecs.py bench-output/clips/synth_960x540_750f_30000-1001fps_crf18.mp4 \\
        bench-output/vault/demo.sealed.mp4.regions.jsonl

usage: python tools/vault_codecs.py CLIP NOTES [--track ID] [--segment N] [--only NAME,...]
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import logging
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import numpy as np
from av.video.codeccontext import VideoCodecContext
from numpy.typing import NDArray
from PIL import Image

from gamyeon.annotations import read_jsonl
from gamyeon.media.decode import DecodedFrame, VideoReader, to_rgb
from gamyeon.media.planes import plane_array
from gamyeon.types import Box

log = logging.getLogger("vault_codecs")

X264 = {"qp": "0", "bf": "0"}
VP9 = {"lossless": "1", "deadline": "realtime", "cpu-used": "8"}
FFV1 = {"level": "3", "coder": "1", "context": "1"}
#: name -> (encoder, pixel format coded, decoder, options); "yuv" candidates code 4:2:0 samples
CANDIDATES: dict[str, tuple[str, str, str, dict[str, str]]] = {
    "x264 superfast (yuv)": ("libx264", "yuv420p", "h264", {**X264, "preset": "superfast"}),
    "x264 faster refs 4 (yuv)": ("libx264", "yuv420p", "h264", {**X264, "preset": "faster", "refs": "4"}),
    "x264 fast refs 5 (yuv)": ("libx264", "yuv420p", "h264", {**X264, "preset": "fast", "refs": "5"}),
    "x264 slow (yuv)": ("libx264", "yuv420p", "h264", {**X264, "preset": "slow"}),
    "x265 ultrafast (yuv)": (
        "libx265",
        "yuv420p",
        "hevc",
        {"preset": "ultrafast", "x265-params": "lossless=1:log-level=error"},
    ),
    "vp9 realtime (yuv)": ("libvpx-vp9", "yuv420p", "libvpx-vp9", VP9),
    "ffv1 (yuv)": ("ffv1", "yuv420p", "ffv1", FFV1),
    "ffv1 (rgb)": ("ffv1", "bgr0", "ffv1", FFV1),
    "x264rgb faster (rgb)": ("libx264rgb", "rgb24", "h264", {**X264, "preset": "faster"}),
}


def masks_by_track(notes: Path) -> dict[str, dict[int, Box]]:
    """Each track's mask box per frame, from an ``anonymize`` run's regions sidecar."""
    per_track: dict[str, dict[int, Box]] = collections.defaultdict(dict)
    for rec in read_jsonl(notes):
        for r in rec["regions"]:
            if r["track"] is not None:
                per_track[r["track"]][int(rec["frame"])] = Box(*r["mask"])
    return per_track


def _boxes(notes: Path, track: str | None) -> dict[int, tuple[int, int, int, int]]:
    per_track = masks_by_track(notes)
    chosen = track or max(per_track, key=lambda t: len(per_track[t]))
    log.info("track %s: %d frames", chosen, len(per_track[chosen]))
    return {i: b.pixel_bounds(1 << 30, 1 << 30) for i, b in per_track[chosen].items()}


Pixels = NDArray[np.uint8]


def _crops(clip: Path, boxes: dict[int, tuple[int, int, int, int]]) -> tuple[list[list[Pixels]], list[Pixels]]:
    """Per frame of the track: the (Y, U, V) samples of the box on even bounds, and its RGB pixels."""
    yuv, rgb = [], []
    with VideoReader(clip) as reader:
        for entry in reader:
            if not isinstance(entry, DecodedFrame) or entry.frame is None or entry.index not in boxes:
                continue
            x1, y1, x2, y2 = boxes[entry.index]
            width, height = entry.frame.width, entry.frame.height
            x1, y1, x2, y2 = max(0, x1), max(0, y1), min(width, x2), min(height, y2)
            e1, f1, e2, f2 = x1 - x1 % 2, y1 - y1 % 2, x2 + x2 % 2, y2 + y2 % 2
            planes = [plane_array(entry.frame, i) for i in range(3)]
            yuv.append(
                [planes[0][f1:f2, e1:e2].copy()] + [p[f1 // 2 : f2 // 2, e1 // 2 : e2 // 2].copy() for p in planes[1:]]
            )
            rgb.append(to_rgb(entry.frame)[y1:y2, x1:x2].copy())
    return yuv, rgb


def _pad(a: NDArray[np.uint8], rows: int, cols: int) -> NDArray[np.uint8]:
    pad = ((0, rows - a.shape[0]), (0, cols - a.shape[1])) + ((0, 0),) * (a.ndim - 2)
    return np.pad(a, pad, mode="edge")


def _frame(pix_fmt: str, item: Any, width: int, height: int) -> av.VideoFrame:
    if pix_fmt == "yuv420p":
        frame = av.VideoFrame(width, height, "yuv420p")
        for i, samples in enumerate(item):
            step = 1 if i == 0 else 2
            plane_array(frame, i)[...] = _pad(samples, height // step, width // step)
        return frame
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(_pad(item, height, width)), format="rgb24")
    return frame if pix_fmt == "rgb24" else frame.reformat(format=pix_fmt)


def _same(pix_fmt: str, decoded: av.VideoFrame, item: Any) -> bool:
    if pix_fmt == "yuv420p":
        return all(np.array_equal(plane_array(decoded, i)[: s.shape[0], : s.shape[1]], s) for i, s in enumerate(item))
    rgb = decoded.to_ndarray(format="rgb24")
    return bool(np.array_equal(rgb[: item.shape[0], : item.shape[1]], item))


def measure(name: str, items: list[Any], segment: int) -> dict[str, Any]:
    encoder, pix_fmt, decoder, options = CANDIDATES[name]
    total, enc_s, dec_s, exact = 0, 0.0, 0.0, True
    for start in range(0, len(items), segment):
        chunk = items[start : start + segment]
        shapes = [(c[0] if pix_fmt == "yuv420p" else c).shape for c in chunk]
        height = max(16, *(s[0] for s in shapes))
        width = max(16, *(s[1] for s in shapes))
        width, height = width + width % 2, height + height % 2
        t0 = time.process_time()
        ctx = cast(VideoCodecContext, av.CodecContext.create(encoder, "w"))
        ctx.width, ctx.height, ctx.pix_fmt = width, height, pix_fmt
        ctx.time_base, ctx.thread_count, ctx.options = Fraction(1, 25), 1, dict(options)
        packets: list[bytes] = []
        for i, item in enumerate(chunk):
            frame = _frame(pix_fmt, item, width, height)
            frame.pts = i
            packets += [bytes(p) for p in ctx.encode(frame)]
        packets += [bytes(p) for p in ctx.encode(None)]
        extradata = ctx.extradata or b""
        enc_s += time.process_time() - t0
        total += len(extradata) + sum(4 + len(p) for p in packets)
        t0 = time.process_time()
        dec = cast(VideoCodecContext, av.CodecContext.create(decoder, "r"))
        dec.width, dec.height, dec.thread_count = width, height, 1
        if extradata:
            dec.extradata = extradata
        frames = [f for p in packets for f in dec.decode(av.Packet(p))] + list(dec.decode(None))
        dec_s += time.process_time() - t0
        exact = (
            exact
            and len(frames) == len(chunk)
            and all(_same(pix_fmt, f, c) for f, c in zip(frames, chunk, strict=False))
        )
    return {
        "codec": name,
        "MiB": round(total / 2**20, 2),
        "encode_cpu_s": round(enc_s, 2),
        "decode_cpu_s": round(dec_s, 2),
        "exact": exact,
    }


def webp(rgb: list[NDArray[np.uint8]]) -> dict[str, Any]:
    """Format 1: each crop a lossless WebP of its own (effort 0)."""
    total, t0 = 0, time.process_time()
    for crop in rgb:
        buf = io.BytesIO()
        Image.fromarray(crop, mode="RGB").save(buf, format="WEBP", lossless=True, method=0, quality=0)
        total += len(buf.getvalue())
    return {
        "codec": "webp per crop (rgb, format 1)",
        "MiB": round(total / 2**20, 2),
        "encode_cpu_s": round(time.process_time() - t0, 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clip", type=Path)
    p.add_argument("notes", type=Path, help="the annotations sidecar (OUT.regions.jsonl) of an anonymize run on CLIP")
    p.add_argument("--track", help="pseudonymous track id (default: the one with the most frames)")
    p.add_argument("--segment", type=int, default=64, help="frames per segment (default 64)")
    p.add_argument("--only", help="comma-separated candidate names (default: all, and webp)")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    yuv, rgb = _crops(args.clip, _boxes(args.notes, args.track))
    log.info(
        "%d crops: %.1f MiB of 4:2:0 samples, %.1f MiB of RGB",
        len(yuv),
        sum(sum(p.nbytes for p in c) for c in yuv) / 2**20,
        sum(c.nbytes for c in rgb) / 2**20,
    )
    names = args.only.split(",") if args.only else [*CANDIDATES, "webp"]

    def one(name: str) -> Callable[[], dict[str, Any]]:
        items: list[Any] = list(yuv) if "(yuv)" in name else list(rgb)
        return lambda: measure(name, items, args.segment)

    run: dict[str, Callable[[], dict[str, Any]]] = {n: one(n) for n in CANDIDATES}
    run["webp"] = lambda: webp(rgb)
    for name in names:
        print(json.dumps(run[name]()), flush=True)


if __name__ == "__main__":
    main()
