"""How much of the picture each ``--kinds`` choice masks, and (with person ground truth) whether
the heads stay covered: over-masking and under-masking side by side.

For each ``--kinds`` value (default: ``faces`` and the default kinds), runs
``gamyeon anonymize VIDEO -o OUT --kinds K --operator fill -q`` as a user would and reads the
regions sidecar with ``benchlib.area.masked_area``: the mean and max share of the frame covered by
the union of the mask boxes, per region kind and in total. With ``--gt GT.persons.json`` (the
evaldata format) it also scores the head area of every ground-truth person (top 15 % x middle 40 %
of the box) on the output pixels, exactly as ``benchmarks/run.py --only kinds`` does: the share of
head areas at least 70 % blacked out, and the share of frame area masked outside every head area
grown 1.5x.

usage: python tools/measure_masked_area.py VIDEO [--kinds faces --kinds faces,heads,plates]
       [--gt GT.persons.json] [--gamyeon .venv/bin/gamyeon] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from benchlib.area import masked_area
from benchlib.kinds import head_coverage

log = logging.getLogger("measure_masked_area")

DEFAULT_VARIANTS = ("faces", "faces,heads,plates")


def frame_size(video: Path) -> tuple[int, int]:
    """Width and height of the upright picture, the frame the sidecar's boxes refer to."""
    with av.open(str(video)) as c:
        for frame in c.decode(video=0):
            image = frame.to_ndarray(format="rgb24")
            return int(image.shape[1]), int(image.shape[0])
    raise SystemExit(f"{video}: no video frames")


def measure(video: Path, kinds: str, out_dir: Path, gamyeon: str, gt: Path | None) -> dict[str, object]:
    out = out_dir / f"{video.stem}-{kinds.replace(',', '+')}.mp4"
    argv = [gamyeon, "anonymize", str(video), "-o", str(out), "--kinds", kinds, "--operator", "fill", "-q"]
    started = time.perf_counter()
    subprocess.run(argv, check=True)
    seconds = time.perf_counter() - started
    width, height = frame_size(video)
    result: dict[str, object] = {
        "kinds": kinds,
        "command": " ".join(argv),
        "seconds": round(seconds, 1),
        "area": masked_area(Path(f"{out}.regions.jsonl"), width, height),
    }
    if gt is not None:
        frames = json.loads(gt.read_text(encoding="utf-8"))["frames"]
        covs, outside = head_coverage(video, out, frames)
        c = np.array(covs)
        result["heads"] = {
            "areas": len(c),
            "covered>=0.7": float(np.mean(c >= 0.7)) if len(c) else None,
            "masked_outside_heads": outside,
        }
    return result


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("video", type=Path)
    p.add_argument("--kinds", action="append", help="a --kinds value to run (repeatable)")
    p.add_argument("--gt", type=Path, help="GT.persons.json: also score the ground-truth head areas")
    p.add_argument("--gamyeon", default=str(Path(sys.executable).with_name("gamyeon")))
    p.add_argument("--keep", type=Path, help="write the outputs here instead of a temporary folder")
    args = p.parse_args(argv)
    variants = tuple(args.kinds or DEFAULT_VARIANTS)
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.keep or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        for kinds in variants:
            r = measure(args.video, kinds, out_dir, args.gamyeon, args.gt)
            area = r["area"]
            assert isinstance(area, dict)
            per_kind = ", ".join(
                f"{k} mean {100 * v['mean']:.1f} % max {100 * v['max']:.1f} %" for k, v in area["kinds"].items()
            )
            line = (
                f"--kinds {kinds}: total mean {100 * area['total']['mean']:.1f} % max "
                f"{100 * area['total']['max']:.1f} % ({per_kind}; {area['frames']} frames)"
            )
            heads = r.get("heads")
            if isinstance(heads, dict) and heads["covered>=0.7"] is not None:
                line += (
                    f"; GT head areas covered>=0.7 {heads['covered>=0.7']:.3f} of {heads['areas']}, "
                    f"masked outside heads {100 * heads['masked_outside_heads']:.1f} %"
                )
            log.info("%s  [%s s]", line, r["seconds"])
            print(json.dumps(r), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
