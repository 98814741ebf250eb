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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from gamyeon.detect.text import PLATE, TEXT, PpOcrDet, TextDetector
from gamyeon.track.schedule import Plan
from gamyeon.types import Array, Detection

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


#: one way of running the text pass on a frame (RGB) and what it reports
TextPass = Callable[[Array], list[Detection]]


@dataclass
class Agreement:
    """Two text passes over the same text frames of a video: their CPU seconds, their box counts
    by kind, how many of each one's boxes the other covers, and the last frame (for its size)."""

    every: int = 1
    frames: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    last: Array | None = None

    def fields(self, names: tuple[str, str]) -> dict[str, object]:
        """``{kind}_boxes_{name}`` and ``{kind}_{name}_covered_by_{other}`` for both names."""
        out: dict[str, object] = {}
        for kind in (PLATE, TEXT):
            for mine, other in (names, names[::-1]):
                n = self.counts[f"{kind}_{mine}"]
                out[f"{kind}_boxes_{mine}"] = n
                out[f"{kind}_{mine}_covered_by_{other}"] = (
                    round(self.counts[f"{kind}_{mine}_covered"] / n, 4) if n else None
                )
        return out


def agree(path: Path, max_frames: int, passes: dict[str, TextPass]) -> Agreement:
    """Run both ``passes`` on every frame the default schedule runs the text pass on, in
    alternating order so that the machine's load hits them alike."""
    names = tuple(passes)
    result = Agreement(cpu=dict.fromkeys(names, 0.0))
    result.counts = {f"{k}_{d}": 0 for k in (PLATE, TEXT) for n in names for d in (n, f"{n}_covered")}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 25)
        result.every = Plan.for_video(stream.width, stream.height, rate, None, "auto").text_every
        for index, frame in enumerate(container.decode(stream)):
            if index >= max_frames:
                break
            if index % result.every:
                continue
            image = frame.to_ndarray(format="rgb24")
            found: dict[str, list[Detection]] = {}
            for name in names if result.frames % 2 else names[::-1]:
                start = time.process_time()
                found[name] = passes[name](image)
                result.cpu[name] += time.process_time() - start
            for kind in (PLATE, TEXT):
                for mine, other in (names, names[::-1]):
                    boxes = [d for d in found[mine] if d.kind == kind]
                    result.counts[f"{kind}_{mine}"] += len(boxes)
                    result.counts[f"{kind}_{mine}_covered"] += sum(covered(d, found[other]) for d in boxes)
            result.frames += 1
            result.last = image
    return result


def full_pass(detector: TextDetector, model: PpOcrDet) -> TextPass:
    """A full pass of ``model`` on the whole frame at ``detector``'s video scale, classified by it."""

    def run(image: Array) -> list[Detection]:
        height, width = image.shape[:2]
        factor = min(1.0, detector.frame_side / max(width, height))
        return detector.classify(model.lines(image, factor, detector.threshold), width, height)

    return run


def videos_to_measure(videos: list[Path], evaldata: Path) -> list[Path]:
    """The videos given, else every dev video (none, with a warning, when the dev set is absent)."""
    if videos:
        return videos
    folder = evaldata / "dev" / "videos"
    if not folder.is_dir():
        log.warning("%s not found and no videos given: nothing to measure", folder)
        return []
    return sorted(p for p in folder.iterdir() if p.is_file())


def measure(path: Path, max_frames: int) -> dict[str, object]:
    model = PpOcrDet()
    reused = TextDetector(model, (PLATE, TEXT))
    full = TextDetector(model, (PLATE, TEXT))
    run = agree(path, max_frames, {"full": full_pass(full, model), "reused": reused.detect_frame})
    video = reused.video
    full_pixels = video.passes and video.pixels_run / video.passes
    if run.last is not None:
        height, width = run.last.shape[:2]
        size = model.network_input(run.last, min(1.0, full.frame_side / max(width, height)))[..., 0].size
        reused_share: float | None = round(1.0 - video.pixels_run / (size * video.passes), 3)
    else:
        reused_share = None
    result: dict[str, object] = {
        "video": path.name,
        "text_every": run.every,
        "passes": run.frames,
        "cpu_s_full": round(run.cpu["full"], 2),
        "cpu_s_reused": round(run.cpu["reused"], 2),
        "network_pixels_per_pass": round(full_pixels),
        "passes_reused": reused_share,
    }
    return result | run.fields(("full", "reused"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="*", type=Path)
    parser.add_argument("--evaldata", type=Path, default=Path("/work/shared/evaldata"))
    parser.add_argument("--max-frames", type=int, default=10**9)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for path in videos_to_measure(list(args.videos), args.evaldata):
        result = measure(path, args.max_frames)
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
