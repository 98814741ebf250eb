"""Static CCTV that mostly shows nobody: CPU-seconds with and without GOP copying and change gating.

The dev set has no empty real CCTV clip (PETS09 always shows people), so the input is
constructed, and said to be: PETS09-S2L1's empty background (the per-pixel median of 60 frames
spread over the clip: the people walk, the median keeps the scene) held still with fresh
Gaussian sensor noise on every frame for ``--still`` seconds, then ``--people`` seconds of the
real PETS09 frames (people walking), then the still background again. It is encoded like a
camera's stream: H.264 Main profile, one-second GOPs, no B-frames, in MP4. The clip is built in
``--out`` from the evaldata on every machine; nothing of the evaldata enters the repository.

Each configuration runs the installed CLI in a subprocess (start-up and model loading count),
timed by the CPU-seconds of its children (user + sys) and wall seconds, with the load average at
its start. ``decode`` (PyAV decodes every frame) and ``re-encode`` (PyAV decodes and encodes
with libx264 CRF 18, preset medium, gamyeon's default settings) are the floor and the yardstick.
With ``--coverage`` the persons of the PETS09 stretch (its ground truth, shifted to the clip's
frame numbers) are scored with ``eval/video_gt_coverage.py`` in body mode for each configuration.

    .venv/bin/python benchmarks/static_cctv.py --still 15 --people 5
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

log = logging.getLogger("static_cctv")

PETS = "videos/pets09_s2l1_vtest.avi"
PETS_GT = "gt/pets09_s2l1_vtest.persons.json"
CONFIGS = {
    "before": ["--copy-empty", "never", "--change-gate", "never"],
    "copy": ["--copy-empty", "auto", "--change-gate", "never"],
    "gate": ["--copy-empty", "never", "--change-gate", "auto"],
    "after": ["--copy-empty", "auto", "--change-gate", "auto"],
}
DECODE = "import av,sys\nwith av.open(sys.argv[1]) as c:\n    n = sum(1 for _ in c.decode(video=0))\n"
REENCODE = """import av, sys
from fractions import Fraction
with av.open(sys.argv[1]) as c, av.open(sys.argv[2], "w") as o:
    s = c.streams.video[0]
    rate = Fraction(s.average_rate or 25)
    v = o.add_stream("libx264", rate=rate)
    v.width, v.height, v.pix_fmt = s.width, s.height, "yuv420p"
    v.options = {"crf": "18", "preset": "medium"}
    for i, f in enumerate(c.decode(s)):
        f.pict_type = av.video.frame.PictureType.NONE
        f.pts, f.time_base = i, 1 / rate  # renumbered: some files repeat timestamps
        o.mux(v.encode(f))
    o.mux(v.encode(None))
"""


def build_clip(evaldata: Path, out: Path, still: float, people: float) -> tuple[Path, Path]:
    """The constructed clip and its persons ground truth (1-based frames of the clip)."""
    clip, gt_path = out / f"static-{still:g}s-{people:g}s.mp4", out / f"static-{still:g}s-{people:g}s.persons.json"
    if clip.exists() and gt_path.exists():
        return clip, gt_path
    with av.open(str(evaldata / PETS)) as c:
        frames = [np.asarray(f.to_ndarray(format="rgb24"), dtype=np.uint8) for f in c.decode(video=0)]
        rate = Fraction(c.streams.video[0].average_rate or 10)
    background = np.median(np.stack(frames[:: max(1, len(frames) // 60)]), axis=0).astype(np.float32)
    n_still, n_people = round(still * rate), round(people * rate)
    start = 100  # a stretch of PETS09 where several people walk
    rng = np.random.default_rng(0)
    tmp = clip.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as o:
        v = o.add_stream("libx264", rate=rate)
        v.height, v.width = background.shape[:2]
        v.pix_fmt = "yuv420p"
        v.options = {"crf": "20", "preset": "veryfast", "profile": "main", "x264-params": f"keyint={rate}:bframes=0"}
        index = 0
        for part in ("still", "people", "still"):
            for i in range(n_people if part == "people" else n_still):
                if part == "people":
                    image = frames[start + i]
                else:
                    noisy = background + rng.normal(0.0, 2.0, background.shape)
                    image = np.clip(noisy, 0, 255).astype(np.uint8)
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts, frame.time_base = index, 1 / rate
                o.mux(v.encode(frame))
                index += 1
        o.mux(v.encode(None))
    tmp.rename(clip)
    pets_gt = json.loads((evaldata / PETS_GT).read_text())["frames"]
    shifted = {
        str(n_still + i + 1): pets_gt[str(start + i + 1)] for i in range(n_people) if str(start + i + 1) in pets_gt
    }
    gt_path.write_text(json.dumps({"frames": shifted}))
    return clip, gt_path


def times(path: Path) -> list[float]:
    """Presentation times (seconds) of every frame a decoder gets from ``path``."""
    with av.open(str(path)) as c:
        return [float(f.time) for f in c.decode(video=0) if f.time is not None]


def timed(command: list[str]) -> dict[str, float]:
    """Wall and CPU seconds (the children's user + sys) of ``command``, and the load before it."""
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "load": round(load, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evaldata", type=Path, default=Path("/work/shared/evaldata/dev"))
    parser.add_argument("--eval-scripts", type=Path, default=Path("/work/shared/eval"))
    parser.add_argument("--out", type=Path, default=Path("bench-output/static"))
    parser.add_argument("--still", type=float, default=15.0, help="seconds of still background before and after")
    parser.add_argument("--people", type=float, default=5.0, help="seconds of real PETS09 frames between")
    parser.add_argument("--configs", default="before,after", help=f"of {','.join(CONFIGS)}")
    parser.add_argument("--kinds", default=None, help="gamyeon --kinds (default: gamyeon's default)")
    parser.add_argument("--input", type=Path, help="time this video instead of the constructed clip")
    parser.add_argument("--coverage", action="store_true", help="also score the persons (body mode, fill)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("GAMYEON_KEY_DIR", str((args.out / "keys").resolve()))
    os.environ.setdefault("GAMYEON_LEDGER", str((args.out / "ledger.sqlite").resolve()))
    if args.input is not None:
        clip, gt = args.input, None
    else:
        clip, gt = build_clip(args.evaldata, args.out, args.still, args.people)
    python = sys.executable
    gamyeon = [python, "-m", "gamyeon.cli", "anonymize"]
    kinds = [] if args.kinds is None else ["--kinds", args.kinds]
    results: dict[str, dict[str, float | bool]] = {}
    results["decode"] = timed([python, "-c", DECODE, str(clip)])
    results["re-encode"] = timed([python, "-c", REENCODE, str(clip), str(args.out / "reencode.mp4")])
    for name in args.configs.split(","):
        out = args.out / f"{clip.stem}.{name}.mp4"
        results[name] = timed([*gamyeon, str(clip), "-o", str(out), "-q", *kinds, *CONFIGS[name]])
        results[name]["same_frames_and_times"] = times(out) == times(clip)
        if args.coverage and gt is not None:
            tool = " ".join([*gamyeon, "{in}", "-o", "{out}", "-q", "--person-mode", "body", "--operator", "fill"])
            scorer = [python, str(args.eval_scripts / "video_gt_coverage.py"), str(clip), str(gt), "persons"]
            text = subprocess.run(
                [*scorer, tool + " " + " ".join(CONFIGS[name])], check=True, capture_output=True, text=True
            ).stdout
            results[name]["coverage"] = text.strip()  # type: ignore[assignment]
        log.info("%s: %s", name, results[name])
    encode = results["re-encode"]["cpu_s"]
    print(f"clip: {clip} ({'constructed, see the docstring' if args.input is None else 'as given'})")
    print("| run | CPU s | wall s | load at start | CPU vs re-encode | output frames and times as input |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        same = r.get("same_frames_and_times", "")
        print(f"| {name} | {r['cpu_s']} | {r['wall_s']} | {r['load']} | {r['cpu_s'] / encode:.2f} | {same} |")
        if "coverage" in r:
            print(f"|  coverage ({name}) | {r['coverage']} | | | |")
    (args.out / f"{clip.stem}.results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
