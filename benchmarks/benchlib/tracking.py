"""The ``tracking`` section: how good gamyeon's person tracks are, scored against MOTChallenge GT.

Dwell times and contacts counted from the annotations are only as good as the person tracks
behind them. For every dev video whose person ground truth comes from MOTChallenge (PETS09-S2L1
from MOT15, MOT17-04), gamyeon runs as a user would for analytics -- the default kinds, with the
MOT export (``gamyeon anonymize IN -o OUT --export mot -q``) -- and the shared black-box scorer
``track_quality.py`` (py-motmetrics, IoU >= 0.5) compares the export with the published ground
truth, scaled to the video as its ``gt/*.persons.json`` says and cut to the video's frames (the
MOT17 clip holds the sequence's first 8 of 1050 frames). Reported per video: MOTA, IDF1, identity
switches, recall and precision, plus the CPU time of the run (the machine is shared; wall times
are not comparable between runs).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from benchlib import procs
from benchlib.report import fmt, table
from benchlib.training import QUICK_FRAMES, trim

log = logging.getLogger(__name__)

#: the MOT formats ``track_quality.py`` reads
FORMATS = ("mot15", "mot17")
FIGURES = re.compile(
    r"gt ids (?P<gt_ids>\d+) recall (?P<recall>[\d.]+) precision (?P<precision>[\d.]+) MOTA (?P<mota>-?[\d.]+) "
    r"IDF1 (?P<idf1>[\d.]+) id switches (?P<id_switches>\d+) mostly tracked (?P<mostly_tracked>\d+)"
)


class BenchLike(Protocol):
    """What this section needs of ``run.Bench``."""

    out: Path
    quick: bool
    evaldata: Path
    eval_scripts: Path
    env: dict[str, str]
    results: dict[str, Any]

    def emit(self, text: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Clip:
    """A dev video with MOTChallenge ground truth."""

    name: str
    path: Path
    frames: int
    gt: Path  # the MOT file as published
    scale: float
    format: str


def clips(b: BenchLike) -> list[Clip]:
    """Every dev video whose person GT is a MOT15 or MOT17 file (``annotations.json``)."""
    dev = b.evaldata / "dev"
    ann = dev / "annotations.json"
    if not ann.is_file():
        log.warning("%s not found: no tracking figures", ann)
        return []
    found = []
    for entry in json.loads(ann.read_text(encoding="utf-8"))["videos"]:
        gt, raw = entry.get("gt"), entry.get("gt_raw")
        if not gt or not raw or gt == "None":
            continue
        meta = json.loads((dev / gt).read_text(encoding="utf-8"))
        sx, sy = meta["scale_xy"]
        if meta.get("source_format") not in FORMATS or sx != sy:
            continue
        path, frames = dev / entry["file"], int(entry["frames"])
        if b.quick and frames > QUICK_FRAMES:
            path = trim(path, b.out / "clips" / f"{path.stem}.first{QUICK_FRAMES}.mkv", QUICK_FRAMES)
            frames = QUICK_FRAMES
        found.append(Clip(Path(entry["file"]).stem, path, frames, dev / raw, float(sx), meta["source_format"]))
    return found


def cut_gt(src: Path, dst: Path, frames: int) -> Path:
    """The rows of the MOT file ``src`` on frames 1..``frames`` (the video holds no more)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with src.open(encoding="utf-8") as fh:
        rows = [line for line in fh if line.strip() and int(float(line.split(",", 1)[0])) <= frames]
    dst.write_text("".join(rows), encoding="utf-8")
    return dst


def parse(stdout: str) -> dict[str, float]:
    """The figures of ``track_quality.py``'s closing line."""
    m = FIGURES.search(stdout)
    if m is None:
        raise ValueError(f"no figures in {stdout[-300:]!r}")
    return {k: float(v) for k, v in m.groupdict().items()}


def measure(b: BenchLike, gamyeon: Path, clip: Clip) -> dict[str, Any]:
    out = b.out / "runs" / f"tracking-{clip.name}.mp4"
    out.parent.mkdir(parents=True, exist_ok=True)
    mot = Path(f"{out}.mot.txt")
    for stale in (out, mot):
        stale.unlink(missing_ok=True)
    argv = [str(gamyeon), "anonymize", str(clip.path), "-o", str(out), "--export", "mot", "-q"]
    entry: dict[str, Any] = {"command": shlex.join(["gamyeon", *argv[1:]]), "frames": clip.frames}
    load = os.getloadavg()[0]
    m = procs.run_measured(argv, b.out / "logs" / f"tracking-{clip.name}.log", env=b.env)
    entry.update(cpu_s=round(m.cpu_s, 1), wall_s=round(m.wall_s, 1), load_before=round(load, 2))
    if not m.ok or not mot.exists():
        entry["error"] = f"exit code {m.returncode}: {procs.log_tail(m.log_path)}"
        return entry
    gt = cut_gt(clip.gt, b.out / "gt" / f"{clip.name}.first{clip.frames}.txt", clip.frames)
    score = [sys.executable, str(b.eval_scripts / "track_quality.py"), str(gt), str(clip.scale), str(mot)]
    score += ["--format", clip.format]
    done = subprocess.run(score, capture_output=True, text=True, env=b.env, check=False)
    entry["score_command"] = shlex.join(score)
    try:
        entry.update(parse(done.stdout))
    except ValueError as err:
        entry["error"] = f"{err}; stderr: {done.stderr[-300:]}"
    log.info("tracking %-34s %s", clip.name, done.stdout.strip() or entry.get("error"))
    return entry


def section(b: BenchLike, gamyeon: Path) -> None:
    raw = {clip.name: measure(b, gamyeon, clip) for clip in clips(b)}
    b.results["tracking"] = {"videos": raw, "quick_frames": QUICK_FRAMES if b.quick else None}
    render(b.results["tracking"], b.emit)


def render(results: dict[str, Any], emit: Any) -> None:
    """The section's Markdown from its raw figures (``results.json``'s ``tracking``)."""
    quick = results.get("quick_frames")
    emit(f"## Person tracks against MOTChallenge ground truth{f' (first {quick} frames)' if quick else ''}\n")
    emit(
        "`gamyeon anonymize IN -o OUT --export mot -q` (default kinds), scored by `track_quality.py` "
        "(py-motmetrics, IoU >= 0.5) against the published ground truth scaled to the video and cut to its "
        "frames. CPU seconds of the anonymize run, with the 1-minute load average when it started.\n"
    )
    rows = []
    for name, e in results["videos"].items():
        if "error" in e:
            rows.append([name, e["frames"], *([None] * 6), e["error"][:80]])
            continue
        rows.append(
            [
                name,
                e["frames"],
                f"**{fmt(e['mota'], 3)}**",
                f"**{fmt(e['idf1'], 3)}**",
                int(e["id_switches"]),
                fmt(e["recall"], 3),
                fmt(e["precision"], 3),
                f"{e['cpu_s']} (load {e['load_before']})",
                None,
            ]
        )
    emit(table(["video", "frames", "MOTA", "IDF1", "ID switches", "recall", "precision", "CPU s", "error"], rows))
