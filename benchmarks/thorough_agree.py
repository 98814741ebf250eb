"""What the default schedule's shortcuts lose against detecting everything on every frame.

Each video is anonymized twice with the same kinds: in the thorough mode (``--detect-every 1
--small-faces always``: every detector on every frame, the magnified small-face pass on each) and
in the default mode (detection about 10 times a second, discovery about once a second, refine
crops, follow-ups, cut detection). Every box the thorough run *detected* (not interpolated) is
a reference; the figure is the share of those covered at least 70 % (area) by the union of the
default run's masks on that frame. References are split by the thorough run's track length:
tracks detected on at least 3 frames (faces seen again), and shorter ones (mostly detections at
the threshold on one frame, which the thorough run itself misses on the frames around them).
Also reported: each run's process CPU seconds (user + system of the child).

    .venv/bin/python benchmarks/thorough_agree.py [--kinds faces] [--out DIR] VIDEO ...

The dev videos and the long clip that ``benchmarks/run.py`` builds (``dev-concat-960x540``) are
the usual inputs; the measured figures are in ``docs/measurements.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import av
import numpy as np

from gamyeon.annotations import read_jsonl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.area import union_grid

log = logging.getLogger("thorough_agree")
COVERED = 0.7
LONG_TRACK = 3
THOROUGH = ("--detect-every", "1", "--small-faces", "always")


def run(gamyeon: Path, video: Path, out: Path, kinds: str, extra: tuple[str, ...]) -> float:
    """Anonymize ``video`` into ``out``; the child's CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [str(gamyeon), "anonymize", str(video), "-o", str(out), "--kinds", kinds, "-q", *extra],
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def regions(sidecar: Path) -> dict[int, list[dict[str, Any]]]:
    return {int(row["frame"]): row["regions"] for row in read_jsonl(sidecar)}


def agreement(reference: Path, default: Path, width: int, height: int) -> dict[str, Any]:
    """Coverage of the thorough run's detected boxes by the default run's masks (see the module)."""
    ref, got = regions(reference), regions(default)
    seen = Counter(r["track"] for rows in ref.values() for r in rows if r["source"] == "detected")
    counts: dict[str, list[int]] = {}
    for frame, rows in ref.items():
        mask = union_grid((r["mask"] for r in got.get(frame, [])), width, height)
        for r in rows:
            if r["source"] != "detected":
                continue
            x1, y1 = (max(0, int(v)) for v in r["box"][:2])
            x2, y2 = (int(np.ceil(v)) for v in r["box"][2:])
            area = max(1, (x2 - x1) * (y2 - y1))
            share = float(mask[y1:y2, x1:x2].sum()) / area
            key = f"{r['kind']}_{'long' if seen[r['track']] >= LONG_TRACK else 'short'}"
            n = counts.setdefault(key, [0, 0])
            n[0] += 1
            n[1] += share >= COVERED
    return {key: {"boxes": n, "covered": round(c / n, 4)} for key, (n, c) in sorted(counts.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", type=Path, nargs="+")
    parser.add_argument("--kinds", default="faces")
    parser.add_argument("--out", type=Path, default=Path("thorough-agree"))
    parser.add_argument("--gamyeon", type=Path, default=Path(sys.executable).with_name("gamyeon"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for video in args.videos:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            width, height = stream.width, stream.height
        thorough, default = (args.out / f"{video.stem}.{mode}.mp4" for mode in ("thorough", "default"))
        cpu_thorough = run(args.gamyeon, video, thorough, args.kinds, THOROUGH)
        cpu_default = run(args.gamyeon, video, default, args.kinds, ())
        found = agreement(
            thorough.with_name(thorough.name + ".regions.jsonl"),
            default.with_name(default.name + ".regions.jsonl"),
            width,
            height,
        )
        row = {"video": video.name, "cpu_s_thorough": round(cpu_thorough, 1), "cpu_s_default": round(cpu_default, 1)}
        row.update(found)
        results.append(row)
        log.info("%s", json.dumps(row))
    (args.out / "thorough_agree.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
