"""How the layout of a vault segment's canvas changes its size: bytes and CPU seconds of x264 qp 0.

Takes a clip and the annotations sidecar of an ``anonymize`` run on it, picks the track with the
most frames, cuts every frame's mask box out of the decoded clip as the vault does (the decoder's
4:2:0 samples of the box grown to even bounds) and codes them in segments with each variant given,
a comma-separated list of:

- ``placed``: each crop at its own place in the frame, on a canvas spanning the segment's crops
  (format 3); without it, at the top left of a canvas of the largest crop (format 2);
- ``fill=edge|flat|hold``: what the samples outside the crop (and outside the ellipse) hold: the
  crop's last row and column repeated (format 2), flat grey, or the previous canvas (format 3);
- ``ellipse``: keep only the 2x2 blocks that touch the ellipse inscribed in each mask box, as if
  the run had masked with ``--shape ellipse`` (the rest takes the fill; needs a fill);
- ``seg=N``: crops per segment (default 64); anything else ``key=value``: an x264 option
  (``preset=fast``, ``refs=5``; defaults qp 0, preset faster, 4 refs, no B-frames).

It prints one JSON line per variant: MiB and process CPU seconds of the coding. It does not check
exactness (the vault's tests do). For example, on the clip and annotations that
``benchmarks/run.py --only vault`` leaves behind::

    .venv/bin/python tools/vault_layout.py bench-output/clips/synth_960x540_750f_30000-1001fps_crf18.mp4 \\
        bench-output/vault/demo.plain.mp4.regions.jsonl "fill=edge" "placed,fill=hold" "ellipse,placed,fill=hold"
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray

from gamyeon.media.decode import DecodedFrame, VideoReader
from gamyeon.media.planes import plane_array
from gamyeon.operators.base import ellipse_bounds, ellipse_mask

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vault_codecs import masks_by_track

log = logging.getLogger("vault_layout")

Pixels = NDArray[np.uint8]


@dataclass(frozen=True)
class Item:
    box: tuple[int, int, int, int]  # even bounds in the frame
    planes: tuple[Pixels, Pixels, Pixels]
    blocks: NDArray[np.bool_]  # per chroma sample: touches the ellipse


def _items(clip: Path, notes: Path) -> list[Item]:
    per_track = masks_by_track(notes)
    track = max(per_track, key=lambda t: len(per_track[t]))
    boxes = per_track[track]
    items = []
    with VideoReader(clip) as reader:
        for e in reader:
            if not isinstance(e, DecodedFrame) or e.frame is None or e.index not in boxes:
                continue
            box = boxes[e.index]
            x1, y1, x2, y2 = box.pixel_bounds(e.frame.width, e.frame.height)
            ex1, ey1, ex2, ey2 = x1 - x1 % 2, y1 - y1 % 2, x2 + x2 % 2, y2 + y2 % 2
            fx1, fy1, fx2, fy2 = ellipse_bounds(box)
            inside = np.zeros((ey2 - ey1, ex2 - ex1), bool)
            rows, cols = (y1 - fy1, y2 - fy1), (x1 - fx1, x2 - fx1)
            inside[y1 - ey1 : y2 - ey1, x1 - ex1 : x2 - ex1] = ellipse_mask(fy2 - fy1, fx2 - fx1, rows, cols)
            blocks = inside.reshape(inside.shape[0] // 2, 2, inside.shape[1] // 2, 2).any(axis=(1, 3))
            p = [plane_array(e.frame, i) for i in range(3)]
            planes = (
                p[0][ey1:ey2, ex1:ex2].copy(),
                p[1][ey1 // 2 : ey2 // 2, ex1 // 2 : ex2 // 2].copy(),
                p[2][ey1 // 2 : ey2 // 2, ex1 // 2 : ex2 // 2].copy(),
            )
            items.append(Item((ex1, ey1, ex2, ey2), planes, blocks))
    mib = sum(sum(p.nbytes for p in i.planes) for i in items) / 2**20
    log.info("track %s: %d crops, %.1f MiB of samples", track, len(items), mib)
    return items


def _canvas(
    item: Item, previous: list[Pixels] | None, origin: tuple[int, int], size: tuple[int, int], fill: str, ellipse: bool
) -> list[Pixels]:
    width, height = size
    left, top = item.box[0] - origin[0], item.box[1] - origin[1]
    out = []
    for i, samples in enumerate(item.planes):
        step = 1 if i == 0 else 2
        ph, pw, (r0, c0) = height // step, width // step, (top // step, left // step)
        rows, cols = samples.shape
        if fill == "edge":
            out.append(np.pad(samples, ((r0, ph - r0 - rows), (c0, pw - c0 - cols)), mode="edge"))
            continue
        canvas = previous[i].copy() if fill == "hold" and previous is not None else np.full((ph, pw), 128, np.uint8)
        keep = item.blocks if step == 2 else np.repeat(np.repeat(item.blocks, 2, axis=0), 2, axis=1)
        np.copyto(canvas[r0 : r0 + rows, c0 : c0 + cols], samples, where=keep if ellipse else True)
        out.append(canvas)
    return out


def measure(items: list[Item], variant: str) -> dict[str, object]:
    options = {"qp": "0", "bf": "0", "preset": "faster", "refs": "4"}
    segment, fill, placed, ellipse = 64, "edge", False, False
    for part in filter(None, variant.split(",")):
        key, _, value = part.partition("=")
        if key == "seg":
            segment = int(value)
        elif key == "fill":
            fill = value
        elif key in ("placed", "ellipse"):
            placed, ellipse = placed or key == "placed", ellipse or key == "ellipse"
        else:
            options[key] = value
    if ellipse and fill == "edge":
        raise SystemExit(f"{variant}: an ellipse needs fill=flat or fill=hold")
    total, start = 0, time.process_time()
    for first in range(0, len(items), segment):
        chunk = items[first : first + segment]
        if placed:
            origin = (min(i.box[0] for i in chunk), min(i.box[1] for i in chunk))
            size = (max(i.box[2] for i in chunk) - origin[0], max(i.box[3] for i in chunk) - origin[1])
        else:
            origin = (0, 0)
            size = (max(i.box[2] - i.box[0] for i in chunk), max(i.box[3] - i.box[1] for i in chunk))
        size = (max(16, size[0]), max(16, size[1]))
        ctx = av.CodecContext.create("libx264", "w")
        ctx.width, ctx.height, ctx.pix_fmt = size[0], size[1], "yuv420p"
        ctx.time_base, ctx.thread_count, ctx.options = Fraction(1, 25), 1, dict(options)
        planes: list[Pixels] | None = None
        for n, item in enumerate(chunk):
            at = origin if placed else (item.box[0], item.box[1])
            planes = _canvas(item, planes, at, size, fill, ellipse)
            frame = av.VideoFrame(size[0], size[1], "yuv420p")
            for i, samples in enumerate(planes):
                plane_array(frame, i)[...] = samples
            frame.pts = n
            total += sum(4 + len(bytes(p)) for p in ctx.encode(frame))
        total += sum(4 + len(bytes(p)) for p in ctx.encode(None)) + len(ctx.extradata or b"")
    return {"variant": variant, "MiB": round(total / 2**20, 2), "cpu_s": round(time.process_time() - start, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clip", type=Path)
    p.add_argument("notes", type=Path, help="the annotations sidecar (OUT.regions.jsonl) of an anonymize run on CLIP")
    p.add_argument("variants", nargs="+", help='e.g. "fill=edge" "placed,fill=hold" "ellipse,placed,fill=hold"')
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    items = _items(args.clip, args.notes)
    for variant in args.variants:
        print(json.dumps(measure(items, variant)), flush=True)


if __name__ == "__main__":
    main()
