"""gamyeon benchmark: speed, timing fidelity, coverage and memory, side by side with deface.

Run from the repository root with gamyeon's venv:

    .venv/bin/python benchmarks/run.py [--quick] [--only speed,timing,coverage,memory] [--clips a,b]
                                       [--repeat N] [--concat-frames N] [--long-minutes N] [--out bench-output]

Every tool is measured the same way, as the command a user would type, in a subprocess whose wall
time includes start-up and model loading. The Markdown report goes to stdout and to OUT/report.md,
all raw figures to OUT/results.json (see benchmarks/README.md for what each figure means).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from benchlib import (
    clips,
    kinds,
    peer,
    procs,
    reencode,
    reid,
    scale,
    speed,
    timeline,
    tracking,
    training,
    vaultbench,
    verifybench,
)
from benchlib.report import fmt, mib, table

log = logging.getLogger("bench")

ROOT = Path(__file__).resolve().parents[1]
GAMYEON = ROOT / ".venv" / "bin" / "gamyeon"
PYTHON = ROOT / ".venv" / "bin" / "python"
REENCODE_SCRIPT = Path(reencode.__file__).resolve()
SECTIONS = (
    "speed",
    "timing",
    "coverage",
    "memory",
    "verify",
    "vault",
    "kinds",
    "scale",
    "training",
    "reid",
    "tracking",
)
#: gamyeon with its default kinds (faces, heads, plates): the figure compared with a plain re-encode
DEFAULT_KINDS_TOOL = "gamyeon-default"
PETS = "pets09_s2l1_vtest"
QUICK_MAX_DEV_FRAMES = 150
#: the long real clip: every dev video, shrunk to fit and padded to one size, at one frame rate
CONCAT = "dev-concat-960x540"
CONCAT_SIZE = (960, 540)
#: frames taken from each dev video for the concatenated clip with --quick
QUICK_CONCAT_FRAMES = 40
#: synthetic clips run only when named in --clips (real footage is the measurement)
OPT_IN_CLIPS = frozenset({"synth-1920x1080"})


@dataclass(frozen=True, slots=True)
class Clip:
    """One benchmark input."""

    name: str
    path: Path
    frames: int
    size: str
    kind: str  # "real (concatenated)", "dev" or "synthetic"
    #: how the input was made from its source, when it is not the source file itself
    note: str | None = None


@dataclass(slots=True)
class Bench:
    """State shared by the sections: configuration, inputs, tool outputs and the collected figures."""

    out: Path
    quick: bool
    repeat: int
    long_minutes: float
    evaldata: Path
    eval_scripts: Path
    peers: dict[str, peer.Peer]
    env: dict[str, str]
    #: names of the speed/timing clips to run (None: all)
    only_clips: frozenset[str] | None = None
    #: frames taken from each dev video for the concatenated clip (None: all; --quick: 40)
    concat_frames: int | None = None
    results: dict[str, Any] = field(default_factory=dict)
    parts: list[str] = field(default_factory=list)
    outputs: dict[tuple[str, str], Path] = field(default_factory=dict)
    errors: dict[tuple[str, str], str] = field(default_factory=dict)
    _clips: list[Clip] | None = None
    _timelines: dict[Path, timeline.Timeline] = field(default_factory=dict)

    @property
    def tools(self) -> list[str]:
        """gamyeon (faces only, the peer's job), gamyeon with its default kinds, each deface variant,
        then the re-encode baseline (the order of runs and columns)."""
        return ["gamyeon", DEFAULT_KINDS_TOOL, *self.peers, "re-encode"]

    # ------------------------------------------------------------------ inputs
    @property
    def dev(self) -> Path:
        return self.evaldata / "dev"

    def timeline_of(self, path: Path) -> timeline.Timeline:
        if path not in self._timelines:
            self._timelines[path] = timeline.read_timeline(path)
        return self._timelines[path]

    def clips(self) -> list[Clip]:
        """The speed/timing inputs: the dev videos concatenated into one long clip (the headline),
        each dev video, then the synthetic demo clip; raw elementary streams are remuxed into MP4
        (same packets) because deface cannot open them."""
        if self._clips is not None:
            return self._clips
        folder = self.out / "clips"
        videos = self.dev / "videos"
        sources = sorted(p for p in videos.iterdir() if p.is_file()) if videos.is_dir() else []
        if not sources:
            log.warning("%s not found: speed and timing use the synthetic clips only", videos)
        wanted = self.only_clips
        candidates = [CONCAT] if sources else []
        candidates += [p.stem for p in sources] + ["synth-960x540", "synth-1920x1080"]
        if wanted is not None:
            unknown = wanted - set(candidates)
            if unknown:
                raise SystemExit(f"--clips: unknown {sorted(unknown)}; expected some of {candidates}")
        else:
            wanted = frozenset(candidates) - OPT_IN_CLIPS
        result: list[Clip] = []
        if sources and CONCAT in wanted:
            width, height = CONCAT_SIZE
            per_source = self.concat_frames or (QUICK_CONCAT_FRAMES if self.quick else None)
            path, _ = clips.concat_clip(folder, sources, width, height, clips.CONCAT_RATE, per_source)
            tl = self.timeline_of(path)
            taken = f"the first {per_source} frames of each" if per_source else "every frame"
            how = (
                f"{taken} of {', '.join(p.name for p in sources)}, in that order, shrunk to fit (never enlarged) "
                f"and padded with black to {width}x{height}, timed at {clips.CONCAT_RATE} fps, "
                "libx264 crf 18 preset fast (PyAV)"
            )
            result.append(Clip(CONCAT, path, tl.frames, f"{tl.width}x{tl.height}", "real (concatenated)", how))
        for src in sources:
            if src.stem not in wanted:
                continue
            path = src
            note = None
            if src.suffix.lower() in clips.RAW_SUFFIXES:
                path = clips.remux_raw_h264(folder, src, clips.RAW_RATE)
                note = f"raw {src.suffix} remuxed into MP4 at {clips.RAW_RATE} fps (same packets, same pixels)"
            tl = self.timeline_of(path)
            if self.quick and tl.frames > QUICK_MAX_DEV_FRAMES:
                log.info("--quick: skipping %s (%d frames)", src.stem, tl.frames)
                continue
            result.append(Clip(src.stem, path, tl.frames, f"{tl.width}x{tl.height}", "dev", note))
        n540, n1080 = (150, 60) if self.quick else (750, 300)
        for name, frames, width, height in (
            ("synth-960x540", n540, 960, 540),
            ("synth-1920x1080", n1080, 1920, 1080),
        ):
            if name in wanted:
                path = clips.synthetic_clip(folder, frames, width, height)
                tl = self.timeline_of(path)
                result.append(Clip(name, path, tl.frames, f"{tl.width}x{tl.height}", "synthetic"))
        self._clips = result
        return result

    # ------------------------------------------------------------------ tools
    def command(self, tool: str, src: Path, dst: Path) -> list[str]:
        if tool == "gamyeon":
            return [str(GAMYEON), "anonymize", str(src), "-o", str(dst), "--operator", "fill", "--kinds", "faces", "-q"]
        if tool == DEFAULT_KINDS_TOOL:
            return [str(GAMYEON), "anonymize", str(src), "-o", str(dst), "--operator", "fill", "-q"]
        if tool in self.peers:
            return self.peers[tool].video_command(src, dst)
        if tool == "re-encode":
            return [str(PYTHON), str(REENCODE_SCRIPT), str(src), str(dst)]
        raise ValueError(tool)

    def run_tool(self, clip: Clip, tool: str, rep: int) -> speed.ToolRun:
        """Run ``tool`` on ``clip`` once into OUT/runs/; a run counts only if it exits 0 and writes output."""
        dst = self.out / "runs" / f"{clip.name}.{tool}.mp4"
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.unlink(missing_ok=True)
        Path(f"{dst}.regions.jsonl").unlink(missing_ok=True)
        logfile = self.out / "logs" / f"{clip.name}.{tool}.{rep}.log"
        load = os.getloadavg()[0]
        m = procs.run_measured(self.command(tool, clip.path, dst), logfile, env=self.env)
        error = None
        if m.returncode != 0:
            error = f"exit code {m.returncode}: {procs.log_tail(logfile)}"
        elif not dst.exists():
            error = f"no output written: {procs.log_tail(logfile)}"
        if error is None:
            self.outputs[(clip.name, tool)] = dst
            self.errors.pop((clip.name, tool), None)
        else:
            self.errors[(clip.name, tool)] = error
            self.outputs.pop((clip.name, tool), None)  # an earlier repeat's file was deleted above
            log.warning("%s on %s failed: %s", tool, clip.name, error)
        log.info(
            "%-9s %-34s %7.1f s (%5.1f fps)%s",
            tool,
            clip.name,
            m.wall_s,
            clip.frames / m.wall_s,
            "" if error is None else " FAILED",
        )
        others = speed.others_cores(m.machine_busy_s, m.cpu_s, m.wall_s)
        return speed.ToolRun(m.wall_s, m.cpu_s, error is None, error, load, os.getloadavg()[0], others)

    def output_of(self, clip: Clip, tool: str) -> Path | None:
        """The tool's output for ``clip`` from this invocation, running the tool once if needed."""
        if (clip.name, tool) not in self.outputs and (clip.name, tool) not in self.errors:
            self.run_tool(clip, tool, 0)
        return self.outputs.get((clip.name, tool))

    def emit(self, text: str) -> None:
        self.parts.append(text)


# ====================================================================== sections
def _speed_cell(median_s: float | None, cpu_s: float | None) -> str | None:
    return None if median_s is None else f"{median_s:.1f} / {fmt(cpu_s, 1)}"


def _pair(cpu: float | None, wall: float | None) -> str | None:
    """'CPU (wall)' of a ratio: CPU-seconds first, the figure to trust on a shared machine."""
    return None if cpu is None else f"{cpu:.2f} ({fmt(wall, 2)})"


#: gamyeon configurations compared with every baseline (deface variants, the re-encode)
SPEED_CONFIGS = ("gamyeon", DEFAULT_KINDS_TOOL)
#: short labels of the configurations in the ratio table's headers
CONFIG_LABELS = {"gamyeon": "faces", DEFAULT_KINDS_TOOL: "default kinds"}


def section_speed(b: Bench) -> None:
    """Wall-clock and CPU seconds of all tools on the same files, interleaved per repeat so that a
    burst of noise on the shared machine hits all tools alike; medians of the repeats are reported,
    each gamyeon configuration as a ratio to each baseline.

    CPU seconds (the child's user + system time, from ``wait4``) are the figure to trust on a shared
    machine: other work stretches wall time but hardly the CPU a process itself uses.
    """
    cores = len(os.sched_getaffinity(0))
    baselines = [t for t in b.tools if t in b.peers or t == "re-encode"]
    pairs = [(g, base) for g in SPEED_CONFIGS if g in b.tools for base in baselines]
    ratio_rows: list[list[object]] = []
    run_rows: list[list[object]] = []
    raw: dict[str, Any] = {}
    notes: list[str] = []
    clips_run = b.clips()
    if not any(c.kind != "synthetic" for c in clips_run):
        notes.append(f"{b.dev / 'videos'} not found (or not selected): no real footage in this table")
    for clip in clips_run:
        runs: dict[str, list[speed.ToolRun]] = {t: [] for t in b.tools}
        for rep, tool in speed.interleaved(b.tools, b.repeat):
            runs[tool].append(b.run_tool(clip, tool, rep))
        summary = {tool: speed.summarize(runs[tool]) for tool in b.tools}
        every = [r for rs in runs.values() for r in rs]
        loaded = sum(speed.under_load(r, cores) for r in every)
        others = speed.median([r.others_cores for r in every if r.others_cores is not None])
        load = speed.median([r.load_before for r in every])
        ratios = {
            f"{g}/{base}": {
                "cpu": speed.ratio(summary[base].cpu_s, summary[g].cpu_s),
                "wall": speed.ratio(summary[base].wall_s, summary[g].wall_s),
            }
            for g, base in pairs
        }
        extra = None
        if DEFAULT_KINDS_TOOL in summary and "gamyeon" in summary:
            d, f = summary[DEFAULT_KINDS_TOOL].cpu_s, summary["gamyeon"].cpu_s
            extra = None if d is None or f is None else d - f
        per_tool: dict[str, Any] = {}
        for tool in b.tools:
            rs, med = runs[tool], summary[tool]
            per_tool[tool] = {
                "seconds": [round(r.seconds, 3) for r in rs],
                "cpu_seconds": [round(r.cpu_s, 3) for r in rs],
                "loadavg_before": [round(r.load_before, 2) for r in rs],
                "loadavg_after": [round(r.load_after, 2) for r in rs],
                "others_cores": [None if r.others_cores is None else round(r.others_cores, 2) for r in rs],
                "under_load": [speed.under_load(r, cores) for r in rs],
                "median_s": None if med.wall_s is None else round(med.wall_s, 3),
                "median_cpu_s": None if med.cpu_s is None else round(med.cpu_s, 3),
                "fps": None if not med.wall_s else round(clip.frames / med.wall_s, 3),
                "errors": [r.error for r in rs if r.error],
            }
            if med.wall_s is None:
                notes.append(f"{tool} on {clip.name}: {rs[-1].error}")
            run_rows.append(
                [
                    clip.name,
                    tool,
                    _speed_cell(med.wall_s, med.cpu_s),
                    fmt(clip.frames / med.wall_s if med.wall_s else None, 1),
                    " ".join(f"{r.seconds:.1f}/{r.cpu_s:.1f}" if r.ok else "failed" for r in rs),
                    " ".join(f"{r.load_before:.1f}→{r.load_after:.1f}" for r in rs),
                    " ".join("?" if r.others_cores is None else f"{r.others_cores:.2f}" for r in rs),
                ]
            )
        raw[clip.name] = {
            "path": str(clip.path),
            "kind": clip.kind,
            "made": clip.note,
            "frames": clip.frames,
            "size": clip.size,
            "run_order": [f"{tool}#{rep}" for rep, tool in speed.interleaved(b.tools, b.repeat)],
            "tools": per_tool,
            "ratios": ratios,
            "default_minus_faces_cpu_s": None if extra is None else round(extra, 3),
            "loadavg_median": load,
            "others_cores_median": others,
            "runs_under_load": loaded,
            "runs": len(every),
        }
        mark = f"**yes** ({loaded}/{len(every)})" if loaded else "no"
        ratio_rows.append(
            [
                clip.name,
                clip.kind,
                clip.size,
                clip.frames,
                *(_pair(r["cpu"], r["wall"]) for r in ratios.values()),
                fmt(extra, 1),
                fmt(load, 2),
                fmt(others, 2),
                mark,
            ]
        )
    b.results["speed"] = {
        "repeat": b.repeat,
        "cores": cores,
        "under_load_rule": f"other processes kept > {speed.OTHERS_SHARE_LIMIT} of the {cores} cores busy",
        "clips": raw,
        "reencode_settings": reencode.SETTINGS,
    }
    b.emit("## Speed (whole command: start-up, model load, decode, work, encode)\n")
    b.emit(
        table(
            [
                "clip",
                "kind",
                "size",
                "frames",
                *(f"{CONFIG_LABELS[g]} vs {base}: CPU (wall)" for g, base in pairs),
                "heads+plates CPU-s (default − faces)",
                "load avg",
                "others' cores",
                "under load",
            ],
            ratio_rows,
        )
    )
    b.emit(
        f"\nRatios are the baseline's median seconds over gamyeon's (> 1: gamyeon costs less), CPU-seconds "
        f"first (the figure to trust on a shared machine), wall in brackets; medians of {b.repeat} run(s) per "
        "tool, tools interleaved (A, B, C, A, B, C, ...). `faces` = `gamyeon --kinds faces` (deface's job), "
        "`default kinds` = faces, heads, plates. Targets: faces ≥ 4× deface on crowded real footage, default "
        "kinds ≥ 0.5× a re-encode. load avg = median 1-minute load average before the runs (it includes the "
        "benchmark's own previous run); others' cores = median over the runs of the cores other processes kept "
        f"busy (/proc/stat); **under load**: runs during which others took more than "
        f"{speed.OTHERS_SHARE_LIMIT:.0%} of the {cores} cores: their figures are not headline figures.\n"
    )
    b.emit("### Seconds per tool\n")
    b.emit(
        table(
            [
                "clip",
                "tool",
                "median wall s / CPU-s",
                "fps",
                "each run wall/CPU s",
                "each run load avg before→after",
                "each run others' cores",
            ],
            run_rows,
        )
    )
    made = [f"- {c.name}: {c.note}." for c in clips_run if c.note]
    b.emit(
        "\nRe-encode = decode + encode only, with gamyeon's own output settings: "
        f"{reencode.SETTINGS}. " + " ".join(f"{p.name}: {p.describe()}." for p in b.peers.values())
    )
    if made:
        b.emit("\nInputs made at run time (in OUT/clips):\n\n" + "\n".join(made))
    for note in notes:
        b.emit(f"- {note}")
    b.emit("")


def section_timing(b: Bench) -> None:
    """Frame counts and per-frame presentation times of each output against its input."""
    rows = []
    raw: dict[str, Any] = {}
    gamyeon_ok = True
    for clip in b.clips():
        tin = b.timeline_of(clip.path)
        raw[clip.name] = {"frames": tin.frames, "input_note": tin.note, "tools": {}}
        for tool in b.tools:
            out = b.output_of(clip, tool)
            if out is None:
                err = b.errors.get((clip.name, tool), "no output")
                raw[clip.name]["tools"][tool] = {"error": err}
                rows.append([clip.name, tool, f"{tin.frames} → —", None, None, None, None, err[:80]])
                gamyeon_ok &= not tool.startswith("gamyeon")
                continue
            cmp = timeline.compare(tin, timeline.read_timeline(out))
            raw[clip.name]["tools"][tool] = cmp.as_dict()
            if tool.startswith("gamyeon"):
                gamyeon_ok &= cmp.identical
            verdict = "yes" if cmp.identical else "no"
            if tool.startswith("gamyeon"):
                verdict = "**PASS**" if cmp.identical else "**FAIL**"
            rows.append(
                [
                    clip.name,
                    tool,
                    f"{cmp.frames_in} → {cmp.frames_out}",
                    cmp.size_out if cmp.size_out == cmp.size_in else f"{cmp.size_in} → {cmp.size_out}",
                    verdict,
                    "yes" if cmp.within_half_frame else "no",
                    f"{cmp.mismatched} / {cmp.beyond_half_frame} / {fmt(cmp.max_abs_diff_ms, 3)}",
                    "; ".join(cmp.notes) or None,
                ]
            )
    b.results["timing"] = {"clips": raw, "gamyeon_all_identical": gamyeon_ok}
    b.emit("## Timing fidelity (PyAV decode of input and output, frame time = pts × time_base as a Fraction)\n")
    b.emit(
        table(
            [
                "clip",
                "tool",
                "frames in → out",
                "size",
                "identical",
                "within ½ frame",
                "differing / > ½ frame / max Δ ms",
                "notes",
            ],
            rows,
        )
    )
    b.emit(
        f"\ngamyeon must be exactly identical on every clip: **{'PASS' if gamyeon_ok else 'FAIL'}**. "
        "Other tools may re-time, so they are judged with a tolerance of half a nominal frame "
        "(frames compared by index over the common prefix; a count change is never 'identical').\n"
    )


def _coverage_templates(b: Bench) -> dict[str, tuple[str, str]]:
    """(stills template, video template) per tool, as shell strings for the eval scripts."""
    g = f"{shlex.quote(str(GAMYEON))} anonymize {{in}} -o {{out}} --operator fill --kinds faces -q"
    templates = {"gamyeon": (g, g)}
    templates.update({name: (p.still_template(), p.video_template()) for name, p in b.peers.items()})
    return templates


def _run_eval(b: Bench, name: str, argv: list[str]) -> tuple[subprocess.CompletedProcess[str], float]:
    log.info("eval: %s", shlex.join(argv))
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=b.env, check=False)
    seconds = time.perf_counter() - start
    logfile = b.out / "logs" / f"{name}.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    logfile.write_text(f"$ {shlex.join(argv)}\n{proc.stdout}\n--- stderr ---\n{proc.stderr}", encoding="utf-8")
    if proc.returncode != 0:
        log.warning("%s failed (exit %d); see %s", name, proc.returncode, logfile)
    return proc, seconds


def _parse_stills(stdout: str) -> dict[str, float | int]:
    """The ``key=value`` / ``coverage>=t: value`` figures that coverage.py prints."""
    figures: dict[str, float | int] = {}
    for key, value in re.findall(r"([A-Za-z_]+(?:>=[0-9.]+)?)[=:] ?([0-9.]+)", stdout):
        figures[key] = int(value) if key in {"images", "boxes"} else float(value)
    return figures


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def section_coverage(b: Bench) -> None:
    """The shared black-box scripts, run for both tools with gamyeon's venv Python."""
    b.emit("## Coverage (black-box, solid fill; /work/shared/eval scripts)\n")
    annotations = b.dev / "annotations.json"
    video = b.dev / "videos" / f"{PETS}.avi"
    gt = b.dev / "gt" / f"{PETS}.faces_pseudogt.json"
    scripts = {"coverage": b.eval_scripts / "coverage.py", "video_leak": b.eval_scripts / "video_leak.py"}
    missing = [p for p in (annotations, video, gt, *scripts.values()) if not p.exists()]
    if missing:
        b.emit(f"Skipped: not found: {', '.join(map(str, missing))}.\n")
        b.results["coverage"] = {"skipped": [str(p) for p in missing]}
        return
    raw: dict[str, Any] = {"stills": {}, "video": {}}
    rows_s, rows_v = [], []
    failures: list[str] = []
    limit = ["--limit", "3"] if b.quick else []
    for tool, (still_t, video_t) in _coverage_templates(b).items():
        argv = [str(PYTHON), str(scripts["coverage"]), str(b.dev), "faces", still_t, *limit]
        proc, secs = _run_eval(b, f"coverage-stills.{tool}", argv)
        figs = _parse_stills(proc.stdout) if proc.returncode == 0 else {}
        raw["stills"][tool] = {
            "command": shlex.join(argv),
            "seconds": round(secs, 1),
            "exit": proc.returncode,
            "figures": figs,
            "error": None if proc.returncode == 0 else proc.stderr[-1500:],
        }
        rows_s.append(
            [
                tool,
                figs.get("images"),
                figs.get("boxes"),
                figs.get("coverage>=0.5"),
                figs.get("coverage>=0.7"),
                figs.get("coverage>=0.9"),
                figs.get("mean_coverage"),
                figs.get("redacted_outside_gt"),
                figs.get("tool_s"),
            ]
            if figs
            else [tool, *([None] * 7), f"failed (exit {proc.returncode})"]
        )
        if not figs:
            failures.append(f"stills, {tool}: {_last_line(proc.stderr + proc.stdout)}")

        res_json = b.out / "coverage" / f"{PETS}.{tool}.json"
        res_json.parent.mkdir(parents=True, exist_ok=True)
        res_json.unlink(missing_ok=True)
        argv = [
            str(PYTHON),
            str(scripts["video_leak"]),
            "score",
            str(video),
            str(gt),
            video_t,
            "--json",
            str(res_json),
            "--allow-resize",
        ]
        proc, secs = _run_eval(b, f"video-leak.{tool}", argv)
        res: dict[str, Any] = {}
        if proc.returncode == 0 and res_json.exists():
            res = json.loads(res_json.read_text(encoding="utf-8"))
            res.pop("mapping", None)
            res.pop("per_face", None)
        raw["video"][tool] = {
            "command": shlex.join(argv),
            "seconds": round(secs, 1),
            "exit": proc.returncode,
            "result": res,
            "error": None if res else (proc.stdout + proc.stderr)[-1500:],
        }
        if res:
            rows_v.append(
                [
                    tool,
                    f"{res['frames_in']} → {res['frames_out']}",
                    res["faces"],
                    res["cov_ge_0_7"],
                    res["cov_ge_0_5"],
                    f"{res['leaky_frames']} / {res['frames_with_faces']}",
                    res["indep_cov_ge_0_7"],
                    res["tool_fps"],
                    "; ".join(res.get("notes") or []) or None,
                ]
            )
        else:
            rows_v.append([tool, *([None] * 7), f"failed (exit {proc.returncode})"])
            failures.append(f"video, {tool}: {_last_line(proc.stderr)} / {_last_line(proc.stdout)}")
    b.results["coverage"] = raw
    b.emit(f"### Stills: dev faces{' (--quick: first 3 images)' if b.quick else ''}\n")
    b.emit(
        table(
            [
                "tool",
                "images",
                "faces",
                "cov ≥ 0.5",
                "**cov ≥ 0.7**",
                "cov ≥ 0.9",
                "mean cov",
                "redacted outside GT",
                "tool s",
            ],
            rows_s,
        )
    )
    b.emit(
        "\ncov ≥ t: fraction of ground-truth faces with at least t of their (decidable) pixels blacked out. "
        "Redacted outside GT: mean fraction of image area blacked out away from any face (with a 1.5× margin): "
        "false redaction.\n"
    )
    b.emit(f"### Video: {PETS} (480x360, 10 fps) against the consensus face pseudo-GT (strict tier)\n")
    b.emit(
        table(
            [
                "tool",
                "frames in → out",
                "faces",
                "**cov ≥ 0.7**",
                "cov ≥ 0.5",
                "leaky frames / with faces",
                "indep. cov ≥ 0.7",
                "fps",
                "notes",
            ],
            rows_v,
        )
    )
    b.emit(
        "\nLeaky frame: a frame with at least one pseudo-GT face covered < 0.5. fps: input frames / tool wall "
        "time as measured by video_leak.py. --allow-resize is passed so that a tool that changes the frame "
        "size is still scored (it is named in the notes).\n"
    )
    if failures:
        b.emit("Failures (full output in OUT/logs/coverage-stills.TOOL.log and video-leak.TOOL.log):\n")
        b.emit("\n".join(f"- {f}" for f in failures) + "\n")


def _at_fraction(samples: list[procs.RssSample], wall: float, fraction: float) -> int | None:
    """RSS of the last sample taken at or before ``fraction`` of the run's wall time (else the first)."""
    before = [s for s in samples if s.t <= fraction * wall]
    chosen = before[-1] if before else (samples[0] if samples else None)
    return None if chosen is None else chosen.rss_kib


def section_memory(b: Bench) -> None:
    """Peak and sampled RSS of gamyeon on a long 1080p file and on a file a quarter as long."""
    folder = b.out / "clips"
    rows = []
    raw: dict[str, Any] = {}
    for label, minutes in (("full", b.long_minutes), ("quarter", b.long_minutes / 4)):
        path, frames = clips.long_clip(folder, minutes)
        dst = b.out / "runs" / f"memory-{label}.gamyeon.mp4"
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.unlink(missing_ok=True)
        cmd = b.command("gamyeon", path, dst)
        log.info("memory run (%s, %d frames): expect about %.0f min at 2 fps", label, frames, frames / 2 / 60)
        m = procs.run_measured(cmd, b.out / "logs" / f"memory-{label}.log", env=b.env, sample_every=0.5)
        with contextlib.suppress(FileNotFoundError):
            dst.unlink()  # a 20-minute output is large and nothing reads it
        Path(f"{dst}.regions.jsonl").unlink(missing_ok=True)
        at = {f"{int(f * 100)}%": _at_fraction(m.samples, m.wall_s, f) for f in (0.10, 0.25, 0.50, 0.75, 1.0)}
        hwm = max((s.hwm_kib for s in m.samples), default=0)
        peak = max(hwm, m.max_rss_kib)
        raw[label] = {
            "input": str(path),
            "frames": frames,
            "seconds_of_video": float(frames / clips.LONG_RATE),
            "wall_s": round(m.wall_s, 2),
            "fps": round(frames / m.wall_s, 3),
            "exit": m.returncode,
            "rss_kib_at": at,
            "vmhwm_kib": hwm,
            "ru_maxrss_kib": m.max_rss_kib,
            "peak_kib": peak,
            "samples": [(round(s.t, 2), s.rss_kib) for s in m.samples],
        }
        if m.returncode != 0:
            raw[label]["error"] = procs.log_tail(m.log_path)
        rows.append(
            [
                label,
                f"{frames} ({float(frames / clips.LONG_RATE) / 60:.2f} min)",
                f"{m.wall_s:.0f}",
                f"{frames / m.wall_s:.2f}",
                *(mib(v) for v in at.values()),
                mib(peak),
                "ok" if m.returncode == 0 else f"exit {m.returncode}",
            ]
        )
    full, quarter = raw["full"]["peak_kib"], raw["quarter"]["peak_kib"]
    b.results["memory"] = {"runs": raw, "peak_full_over_quarter": round(full / quarter, 3) if quarter else None}
    b.emit("## Memory (gamyeon on a looped 1920x1080 30 fps demo file; RSS of the process tree in MiB)\n")
    b.emit(
        table(
            [
                "file",
                "frames (length)",
                "wall s",
                "fps",
                "RSS@10%",
                "@25%",
                "@50%",
                "@75%",
                "@100%",
                "peak (VmHWM)",
                "status",
            ],
            rows,
        )
    )
    b.emit(
        f"\nPeak full / peak quarter = {fmt(full / quarter if quarter else None, 3)} "
        "(≈ 1 means memory does not grow with length). RSS@x% = last 0.5 s sample at or before x% of the wall time; "
        "peak = max(VmHWM samples, ru_maxrss from wait4).\n"
    )


# ====================================================================== metadata
def machine() -> dict[str, Any]:
    model = None
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as fh:
        model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), None)
    mem = None
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="utf-8") as fh:
        mem = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("MemTotal")), None)
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "mem_total": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_start": os.getloadavg(),
    }


def versions(b: Bench) -> dict[str, Any]:
    import av

    def dist(name: str) -> str | None:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    git = (
        subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
        ).stdout.strip()
        or None
    )
    # The tree may hold uncommitted work: a hash of the diff names exactly which code was measured.
    diff = subprocess.run(
        ["git", "-C", str(ROOT), "diff", "HEAD", "--", "src"], capture_output=True, check=False
    ).stdout
    src_diff = hashlib.sha1(diff).hexdigest()[:12] if diff else "clean"
    libav = av.library_versions.get("libavcodec")
    ours = {
        "gamyeon": dist("gamyeon"),
        "gamyeon git": git,
        "src/ diff vs HEAD (sha1)": src_diff,
        "onnxruntime": dist("onnxruntime"),
        "PyAV": av.__version__,
        "libavcodec (PyAV)": ".".join(map(str, libav)) if libav else None,
        "opencv-python-headless": dist("opencv-python-headless"),
        "numpy": dist("numpy"),
    }
    return {"gamyeon venv": ours, **{f"{name} venv": p.versions() for name, p in b.peers.items()}}


def commands(b: Bench) -> dict[str, str]:
    src, dst = Path("IN"), Path("OUT.mp4")
    out = {tool: shlex.join(b.command(tool, src, dst)) for tool in b.tools}
    out["environment"] = (
        f"GAMYEON_KEY_DIR={b.env['GAMYEON_KEY_DIR']} (keeps per-run pseudonym keys out of the user's store)"
    )
    return out


# ====================================================================== main
def make_peers(args: argparse.Namespace) -> dict[str, peer.Peer]:
    """The plain ``pip install deface`` (always) and, with --deface-ort, deface on the same onnxruntime
    version as gamyeon's venv: the check that the plain install's OpenCV-DNN backend is not a handicapped
    peer (on this machine it was the faster of the two, see benchmarks/README.md)."""
    peers = {"deface": peer.Peer("deface", args.peer_venv.resolve())}
    if args.deface_ort:
        ort = importlib.metadata.version("onnxruntime")
        peers["deface-ort"] = peer.Peer(
            "deface-ort", args.peer_ort_venv.resolve(), extras=["onnx", f"onnxruntime=={ort}"], backend="onnxrt"
        )
    return peers


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--quick",
        action="store_true",
        help="short synthetic clips (150 / 60 frames), dev videos of <= 150 frames only, 3 still images, "
        "memory on 0.05 min unless --long-minutes is given",
    )
    p.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections: {','.join(SECTIONS)}")
    p.add_argument("--repeat", type=int, default=1, help="timed runs per tool and clip; the median is reported")
    p.add_argument(
        "--long-minutes", type=float, default=None, help="length of the memory file (default 2; --quick 0.05)"
    )
    p.add_argument(
        "--clips",
        default=None,
        help=f"comma-separated speed/timing clips: {CONCAT}, a dev video's file stem, synth-960x540, "
        "synth-1920x1080 (default: all but synth-1920x1080)",
    )
    p.add_argument(
        "--concat-frames",
        type=int,
        default=None,
        help="frames taken from each dev video for the concatenated clip (default: all; --quick: 40)",
    )
    p.add_argument("--out", type=Path, default=ROOT / "bench-output", help="output folder (default bench-output/)")
    p.add_argument("--evaldata", type=Path, default=Path("/work/shared/evaldata"), help="evaluation data root")
    p.add_argument("--eval-scripts", type=Path, default=Path("/work/shared/eval"), help="black-box scripts folder")
    p.add_argument("--peer-venv", type=Path, default=ROOT / ".venv-peer", help="venv for deface (created once)")
    p.add_argument(
        "--peer-ort-venv",
        type=Path,
        default=ROOT / ".venv-peer-ort",
        help="venv for deface with onnx + onnxruntime (created once)",
    )
    p.add_argument(
        "--deface-ort",
        action="store_true",
        help="also measure deface with onnx + onnxruntime (--backend onnxrt) from a second venv",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = p.parse_args(argv)
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown or not args.sections:
        p.error(f"--only: expected some of {','.join(SECTIONS)}, got {args.only!r}")
    if args.repeat < 1:
        p.error("--repeat: expected at least 1")
    if args.concat_frames is not None and args.concat_frames < 1:
        p.error("--concat-frames: expected at least 1")
    if args.long_minutes is None:
        args.long_minutes = 0.05 if args.quick else 2.0
    if args.long_minutes <= 0:
        p.error("--long-minutes: expected a positive number")
    return args


@contextlib.contextmanager
def timed(store: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    log.info("=== %s", name)
    try:
        yield
    finally:
        store[name] = round(time.perf_counter() - start, 1)
        log.info("=== %s took %.0f s", name, store[name])


def _json_default(value: object) -> object:
    if isinstance(value, Fraction | Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GAMYEON_KEY_DIR=str(out / "keys"))
    b = Bench(
        out=out,
        quick=args.quick,
        repeat=args.repeat,
        long_minutes=args.long_minutes,
        only_clips=frozenset(c.strip() for c in args.clips.split(",") if c.strip()) if args.clips else None,
        concat_frames=args.concat_frames,
        evaldata=args.evaldata,
        eval_scripts=args.eval_scripts,
        peers=make_peers(args),
        env=env,
    )
    started = dt.datetime.now().astimezone()
    durations: dict[str, float] = {}
    with timed(durations, "setup"):
        if any(s in args.sections for s in ("speed", "timing", "coverage")):
            for p in b.peers.values():
                p.ensure()
        meta = {
            "started": started.isoformat(timespec="seconds"),
            "argv": sys.argv[1:],
            "quick": args.quick,
            "machine": machine(),
            "versions": versions(b),
            "commands": commands(b),
            "gamyeon_env": {k: v for k, v in os.environ.items() if k.startswith("GAMYEON_")},
        }
    runners: dict[str, Callable[[Bench], None]] = {
        "speed": section_speed,
        "timing": section_timing,
        "coverage": section_coverage,
        "memory": section_memory,
        "scale": lambda bench: scale.section_scale(bench, GAMYEON, bench.emit),
        "verify": verifybench.section_verify,
        "vault": vaultbench.section_vault,
        "kinds": lambda bench: kinds.section(bench, PYTHON, GAMYEON),
        "reid": lambda bench: reid.section(bench, PYTHON, GAMYEON),
        "training": lambda bench: training.section(bench, GAMYEON),
        "tracking": lambda bench: tracking.section(bench, GAMYEON),
    }
    for name in SECTIONS:
        if name in args.sections:
            with timed(durations, name):
                runners[name](b)
    meta["machine"]["loadavg_end"] = os.getloadavg()
    meta["section_seconds"] = durations
    b.results["meta"] = meta

    head = [f"# gamyeon benchmark — {started:%Y-%m-%d %H:%M %Z}{' (--quick)' if args.quick else ''}\n"]
    m = meta["machine"]
    head.append(
        f"Machine: {m['nproc']} cores ({m['cpu_model']}), {m['mem_total']}, Linux {m['kernel']}, "
        f"load average {m['loadavg_start'][0]:.2f} at start, {m['loadavg_end'][0]:.2f} at end.\n"
    )
    vrows = [[k, v] for k, v in meta["versions"]["gamyeon venv"].items()]
    for name in b.peers:
        vrows += [[f"{k} ({name})", v] for k, v in meta["versions"][f"{name} venv"].items()]
    head.append(table(["component", "version"], vrows))
    head.append("\nCommands (IN/OUT stand for each input and output):\n")
    head += [f"- {tool}: `{cmd}`" for tool, cmd in meta["commands"].items()]
    head.append("\n" + table(["section", "seconds"], [[k, v] for k, v in durations.items()]) + "\n")
    text = "\n".join(head + b.parts) + "\n"

    stamp = started.strftime("%Y%m%d-%H%M%S")
    for name in ("report.md", f"report-{stamp}.md"):
        (out / name).write_text(text, encoding="utf-8")
    payload = json.dumps(b.results, indent=1, default=_json_default)
    for name in ("results.json", f"results-{stamp}.json"):
        (out / name).write_text(payload, encoding="utf-8")
    sys.stdout.write(text)
    log.info("report: %s, raw figures: %s", out / "report.md", out / "results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
