"""The video text pass with its probability map reused, against a full pass on every text frame.

On each dev video (and any files given), every frame the default schedule runs the text pass on
(``Plan.text_every``) is detected twice: by a full pass (``PpOcrDet.lines`` on the whole frame, what
every pass did before the map was reused) and by ``TextDetector.detect_frame`` (the map reused
while the frame does not change). Reported per video: the process CPU seconds of each, the
network-input pixels per pass the reuse ran, the share of passes reused, and agreement: the
fraction of the full pass's plate and text boxes covered at least 70 % (area) by the reused pass's
boxes of the same kind, and the other way round.

    .venv/bin/python benchmarks/text_reuse.py [--evaldata DIR] [--max-frames N] [VIDEO ...]

Both passes share one process and one model (order alternates per frame) so that the machine's
load hits them alike; CPU seconds are ``time.process_time`` around each call.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import av
import numpy as np

from gamyeon.detect.text import PLATE, TEXT, PpOcrDet, TextDetector
from gamyeon.track.schedule import Plan
from gamyeon.types import Detection

log = logging.getLogger("text_reuse")
COVERED = 0.7


def covered(box: Detection, others: list[Detection]) -> bool:
    """Whether at least ``COVERED`` of ``box``'s area lies inside the union of ``others`` of its kind."""
    b = box.box
    x1, y1, x2, y2 = int(b.x1), int(b.y1), int(np.ceil(b.x2)), int(np.ceil(b.y2))
    if x2 <= x1 or y2 <= y1:
        return True
    mask = np.zeros((y2 - y1, x2 - x1), dtype=bool)
    for o in others:
        if o.kind != box.kind:
            continue
        ox1, oy1 = max(x1, int(o.box.x1)), max(y1, int(o.box.y1))
        ox2, oy2 = min(x2, int(np.ceil(o.box.x2))), min(y2, int(np.ceil(o.box.y2)))
        if ox2 > ox1 and oy2 > oy1:
            mask[oy1 - y1 : oy2 - y1, ox1 - x1 : ox2 - x1] = True
    return bool(mask.mean() >= COVERED)


def measure(path: Path, max_frames: int) -> dict[str, object]:
    model = PpOcrDet()
    reused = TextDetector(model, (PLATE, TEXT))
    full = TextDetector(model, (PLATE, TEXT))
    cpu = {"full": 0.0, "reused": 0.0}
    counts = {f"{k}_{d}": 0 for k in (PLATE, TEXT) for d in ("full", "full_covered", "reused", "reused_covered")}
    frames = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 25)
        every = Plan.for_video(stream.width, stream.height, rate, None, "auto").text_every
        for index, frame in enumerate(container.decode(stream)):
            if index >= max_frames:
                break
            if index % every:
                continue
            image = frame.to_ndarray(format="rgb24")
            height, width = image.shape[:2]
            factor = min(1.0, full.frame_side / max(width, height))
            order = ("full", "reused") if frames % 2 else ("reused", "full")
            found: dict[str, list[Detection]] = {}
            for name in order:
                start = time.process_time()
                if name == "full":
                    found[name] = full.classify(model.lines(image, factor, full.threshold), width, height)
                else:
                    found[name] = reused.detect_frame(image)
                cpu[name] += time.process_time() - start
            for kind in (PLATE, TEXT):
                for mine, other in (("full", "reused"), ("reused", "full")):
                    boxes = [d for d in found[mine] if d.kind == kind]
                    counts[f"{kind}_{mine}"] += len(boxes)
                    counts[f"{kind}_{mine}_covered"] += sum(covered(d, found[other]) for d in boxes)
            frames += 1
    video = reused.video
    full_pixels = video.passes and video.pixels_run / video.passes
    if frames:
        size = model.network_input(image, factor)[..., 0].size
        reused_share: float | None = round(1.0 - video.pixels_run / (size * video.passes), 3)
    else:
        reused_share = None
    result: dict[str, object] = {
        "video": path.name,
        "text_every": every,
        "passes": frames,
        "cpu_s_full": round(cpu["full"], 2),
        "cpu_s_reused": round(cpu["reused"], 2),
        "network_pixels_per_pass": round(full_pixels),
        "passes_reused": reused_share,
    }
    for kind in (PLATE, TEXT):
        n_full, n_reused = counts[f"{kind}_full"], counts[f"{kind}_reused"]
        result[f"{kind}_boxes_full"] = n_full
        result[f"{kind}_boxes_reused"] = n_reused
        result[f"{kind}_full_covered_by_reused"] = round(counts[f"{kind}_full_covered"] / n_full, 4) if n_full else None
        result[f"{kind}_reused_covered_by_full"] = (
            round(counts[f"{kind}_reused_covered"] / n_reused, 4) if n_reused else None
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="*", type=Path)
    parser.add_argument("--evaldata", type=Path, default=Path("/work/shared/evaldata"))
    parser.add_argument("--max-frames", type=int, default=10**9)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    videos = list(args.videos)
    folder = args.evaldata / "dev" / "videos"
    if not videos:
        if not folder.is_dir():
            log.warning("%s not found and no videos given: nothing to measure", folder)
            return 0
        videos = sorted(p for p in folder.iterdir() if p.is_file())
    for path in videos:
        result = measure(path, args.max_frames)
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
