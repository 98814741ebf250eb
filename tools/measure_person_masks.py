"""Body box vs silhouette: how much of the frame each masks, whether heads stay covered, how fast.

Runs ``gamyeon anonymize VIDEO --kinds persons`` twice, as a user would (``--person-mode body`` and
``--person-mode silhouette``), with persons filled in magenta and a lossless codec, then compares
each output frame with the input:

* **frame area masked**: the share of all pixels that turned magenta (averaged over the frames);
* **head areas covered >= 0.7**: for every ground-truth person box, its head area -- the top 15 %
  of the box x its middle 40 % (no head ground truth exists) -- counts as covered when at least
  70 % of its pixels are masked; the figure is the share of such head areas;
* **fps**: frames / processing seconds from ``--summary-json`` (model loading excluded), and the
  wall time of the whole command;
* **masking cost** (after the runs, in this process): the silhouette run's person regions are
  masked again on the input frames, as boxes and as silhouettes (``mask.apply.apply_regions``), and
  timed; the silhouette pass also counts the regions that fell back to the whole box, by reason.

usage: python tools/measure_person_masks.py VIDEO GT.persons.json [--modes body,silhouette]
GT.persons.json: ``{"frames": {"1": {"persons": [[x1, y1, x2, y2], ...]}}}`` (1-based frame numbers,
video pixels), the evaldata format. Nothing is written outside a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

log = logging.getLogger("measure_person_masks")

MAGENTA = (255, 0, 255)
POLICY = '[kinds.person]\noperator = "fill"\n[kinds.person.params]\ncolor = [255, 0, 255]\n'
#: a pixel is masked when it is this close to magenta in the output (4:2:0 chroma blurs the edges
#: of masks by a pixel) and was not already near magenta in the input
TOLERANCE = 70
HEAD_TOP, HEAD_WIDTH, COVERED = 0.15, 0.40, 0.7


def frames(path: Path) -> Iterator[npt.NDArray[np.uint8]]:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)


def magenta(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    diff = np.abs(image.astype(np.int16) - np.asarray(MAGENTA, dtype=np.int16)).max(axis=2)
    return np.asarray(diff <= TOLERANCE)


def head_area(box: list[float], width: int, height: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    cx, w = (x1 + x2) / 2.0, (x2 - x1) * HEAD_WIDTH
    top = (int(max(0.0, np.floor(cx - w / 2))), int(max(0.0, np.floor(y1))))
    bottom = (int(min(width, np.ceil(cx + w / 2))), int(min(height, np.ceil(y1 + (y2 - y1) * HEAD_TOP))))
    return top[0], top[1], bottom[0], bottom[1]


def measure(video: Path, gt: dict[str, dict[str, list[list[float]]]], mode: str, tmp: Path) -> dict[str, float]:
    out = tmp / f"{mode}.mkv"
    summary = tmp / f"{mode}.json"
    policy = tmp / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    cmd = [sys.executable, "-m", "gamyeon.cli", "anonymize", str(video), "-o", str(out), "--kinds", "persons"]
    cmd += ["--person-mode", mode, "--policy", str(policy), "--codec", "ffv1", "--summary-json", str(summary), "-q"]
    started = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - started
    facts = json.loads(summary.read_text(encoding="utf-8"))[0]
    masked: list[float] = []
    heads: list[float] = []
    for index, (a, b) in enumerate(zip(frames(video), frames(out), strict=True), start=1):
        hit = magenta(b) & ~magenta(a)
        masked.append(float(hit.mean()))
        height, width = hit.shape
        for box in (gt.get(str(index)) or {}).get("persons", []):
            x1, y1, x2, y2 = head_area(box, width, height)
            if x2 > x1 and y2 > y1:
                heads.append(float(hit[y1:y2, x1:x2].mean()))
    covered = np.asarray(heads) >= COVERED
    return {
        "frames": float(len(masked)),
        "frame_area_masked": float(np.mean(masked)),
        "heads": float(len(heads)),
        "heads_covered_0.7": float(covered.mean()) if len(heads) else float("nan"),
        "fps": float(facts["fps"]),
        "wall_s": wall,
    }


class Reasons(logging.Handler):
    """Counts ``gamyeon.mask.silhouette``'s debug lines (whole-box fallbacks) by reason."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.counts: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        reason = "segmentation failed" if "failed" in message else "too small" if "tall" in message else "no person"
        self.counts[reason] = self.counts.get(reason, 0) + 1


def masking_cost(video: Path, annotations: Path) -> dict[str, float]:
    """Milliseconds per frame of masking the annotated person regions as boxes and as silhouettes."""
    from gamyeon.detect.silhouette import load_segmenter
    from gamyeon.mask.apply import apply_regions
    from gamyeon.policy import Policy
    from gamyeon.types import Box, Region, Source

    notes = [json.loads(line) for line in annotations.read_text(encoding="utf-8").splitlines()]
    body, silhouette = Policy(), Policy().with_person_mode("silhouette")
    segmenter = load_segmenter()
    reasons = Reasons()
    logger = logging.getLogger("gamyeon.mask.silhouette")
    logger.addHandler(reasons)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # counted, not printed
    seconds = {"body": 0.0, "silhouette": 0.0}
    count = 0
    try:
        for image, note in zip(frames(video), notes, strict=True):
            regions = [
                Region("person", Box(*r["box"]), Box(*r["mask"]), r["score"], None, Source.DETECTED)
                for r in note["regions"]
                if r["kind"] == "person"
            ]
            count += len(regions)
            for mode, policy in (("body", body), ("silhouette", silhouette)):
                view = image.copy()
                started = time.perf_counter()
                apply_regions(view, regions, policy, segmenter)
                seconds[mode] += time.perf_counter() - started
    finally:
        logger.removeHandler(reasons)
        logger.propagate = True
    out = {f"{mode}_ms_per_frame": 1000.0 * s / len(notes) for mode, s in seconds.items()}
    out["regions"] = float(count)
    out.update({f"whole box: {k}": float(v) for k, v in sorted(reasons.counts.items())})
    return out


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", type=Path)
    parser.add_argument("gt", type=Path)
    parser.add_argument("--modes", default="body,silhouette", help="comma-separated --person-mode values")
    args = parser.parse_args()
    gt = json.loads(args.gt.read_text(encoding="utf-8"))["frames"]
    with tempfile.TemporaryDirectory() as tmp:
        modes = args.modes.split(",")
        for mode in modes:
            result = measure(args.video, gt, mode, Path(tmp))
            log.info(
                "%s: %d frames, frame area masked %.4f, head areas covered >= 0.7: %.3f of %d, %.1f fps (wall %.1f s)",
                mode,
                result["frames"],
                result["frame_area_masked"],
                result["heads_covered_0.7"],
                result["heads"],
                result["fps"],
                result["wall_s"],
            )
        if "silhouette" in modes:
            cost = masking_cost(args.video, Path(tmp) / "silhouette.mkv.regions.jsonl")
            log.info("masking cost: %s", ", ".join(f"{k} {v:.2f}" for k, v in cost.items()))


if __name__ == "__main__":
    main()
