"""Scale section: ``gamyeon batch`` throughput with 1 and N workers, chunked against unchunked on
one long file, per-core fps at 720p and 1080p, and the capacity plan computed from them.

Every figure is the wall time of the command a user would type (``gamyeon batch ... -q``),
start-up and model loading included, so short (``--quick``) runs understate throughput: the
capacity plan should be read from a full run on a quiet machine.

Capacity plan (see docs/capacity.md):

    camera-hours per node-hour = per-core fps x cores per node x utilisation / camera fps
    nodes for C cameras recording 24 h a day, processed as it comes = C / camera-hours per node-hour
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib import clips, procs
from benchlib.report import fmt, table

log = logging.getLogger(__name__)

#: the same masking settings as the speed section, so figures compare
FLAGS = ("--operator", "fill", "--kinds", "faces", "-q")
#: assumptions of the capacity plan, stated in the report
CAMERAS = 10_000
CAMERA_FPS = (15, 30)
NODE_CORES = 32
UTILISATION = 0.8


@dataclass(frozen=True, slots=True)
class Run:
    label: str
    frames: int
    wall_s: float
    cpu_s: float
    ok: bool
    error: str | None
    chunks: int  # over all files, from the status manifest (files not split count 1)

    @property
    def fps(self) -> float | None:
        return self.frames / self.wall_s if self.ok and self.wall_s > 0 else None


def _folder_of_copies(folder: Path, clip: Path, copies: int) -> Path:
    """A folder holding ``copies`` hard links (or copies) of ``clip``: N files of equal work."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(copies):
        dest = folder / f"{clip.stem}-{i:02d}{clip.suffix}"
        if not dest.exists():
            try:
                os.link(clip, dest)
            except OSError:
                shutil.copyfile(clip, dest)
    return folder


def _batch(
    gamyeon: Path,
    out: Path,
    env: dict[str, str],
    label: str,
    src: Path,
    frames: int,
    extra: Sequence[str],
    prefix: Sequence[str] = (),
) -> Run:
    dst = out / "scale-runs" / label
    shutil.rmtree(dst, ignore_errors=True)
    dst.parent.mkdir(parents=True, exist_ok=True)
    cmd = [*prefix, str(gamyeon), "batch", str(src), "-o", str(dst), *FLAGS, *extra]
    m = procs.run_measured(cmd, out / "logs" / f"scale-{label}.log", env=env)
    error = None if m.returncode == 0 else f"exit {m.returncode}: {procs.log_tail(m.log_path)}"
    chunks = 0
    with contextlib.suppress(OSError), (dst / "gamyeon-batch.csv").open(encoding="utf-8") as fh:
        chunks = sum(int(row["chunks"] or 0) for row in csv.DictReader(fh))
    shutil.rmtree(dst, ignore_errors=True)  # outputs are not inspected here; keep the disk free
    run = Run(label, frames, m.wall_s, m.cpu_s, m.returncode == 0, error, chunks)
    log.info("scale %-24s %7.1f s %s", label, m.wall_s, "" if error else f"({frames / m.wall_s:.1f} fps)")
    return run


def capacity(
    per_core_fps: float, camera_fps: float, cores: int = NODE_CORES, utilisation: float = UTILISATION
) -> dict[str, float]:
    """Camera-hours one node processes per hour, and the nodes for ``CAMERAS`` cameras all day."""
    per_node_hour = per_core_fps * cores * utilisation / camera_fps
    return {"camera_hours_per_node_hour": per_node_hour, "nodes": CAMERAS / per_node_hour}


def section_scale(b: Any, gamyeon: Path, emit: Callable[[str], None]) -> None:
    """Measure and report; ``b`` is the benchmark's ``Bench`` (out, quick, env, results)."""
    out: Path = b.out
    folder = out / "clips"
    cores = len(os.sched_getaffinity(0))
    n = 60 if b.quick else 300
    files = 4
    base = clips.synthetic_clip(folder, n, 960, 540)
    src = _folder_of_copies(out / "scale-src" / f"540p-{n}", base, files)
    runs: dict[str, Run] = {}

    def run(label: str, source: Path, frames: int, *extra: str, prefix: Sequence[str] = ()) -> Run:
        runs[label] = _batch(gamyeon, out, b.env, label, source, frames, extra, prefix)
        return runs[label]

    # One worker on one core (taskset) is the unit the capacity plan multiplies; one worker on
    # all cores shows that a single process already uses most of a small machine (its threads).
    pinned = ("taskset", "-c", str(min(os.sched_getaffinity(0)))) if shutil.which("taskset") else ()
    flags = ("--chunk-seconds", "0")
    one_core = run("540p x4, 1 worker, 1 core", src, n * files, "--workers", "1", *flags, prefix=pinned)
    one = run(f"540p x4, 1 worker, {cores} cores", src, n * files, "--workers", "1", *flags)
    many = run(f"540p x4, {cores} workers", src, n * files, "--workers", str(cores), *flags)
    ratio = many.fps / one_core.fps if many.fps and one_core.fps and pinned else None
    single_ratio = many.fps / one.fps if many.fps and one.fps else None

    minutes = 0.5 if b.quick else 2.0
    long_path, long_frames = clips.long_clip(folder, minutes, 960, 540)
    long_src = out / "scale-src" / f"long-{long_frames}"
    long_src.mkdir(parents=True, exist_ok=True)
    link = long_src / long_path.name
    if not link.exists():
        os.link(long_path, link)
    chunk = max(5.0, minutes * 60 / (2 * cores))  # two chunks per worker
    whole = run("long 540p, unchunked", long_src, long_frames, "--workers", str(cores), "--chunk-seconds", "0")
    split = run("long 540p, chunked", long_src, long_frames, "--workers", str(cores), "--chunk-seconds", f"{chunk:g}")
    chunk_ratio = split.fps / whole.fps if split.fps and whole.fps else None

    per_core: dict[str, float | None] = {}
    m = 30 if b.quick else 150
    for name, (w, h) in (("720p", (1280, 720)), ("1080p", (1920, 1080))):
        clip = clips.synthetic_clip(folder, m, w, h)
        folder_n = _folder_of_copies(out / "scale-src" / f"{name}-{m}", clip, cores)
        r = run(
            f"{name} x{cores}, {cores} workers", folder_n, m * cores, "--workers", str(cores), "--chunk-seconds", "0"
        )
        per_core[name] = r.fps / cores if r.fps else None

    plan: dict[str, Any] = {}
    for name, fps in per_core.items():
        if fps:
            plan[name] = {str(cam): capacity(fps, cam) for cam in CAMERA_FPS}
    b.results["scale"] = {
        "cores": cores,
        "runs": {
            k: {
                "frames": r.frames,
                "chunks": r.chunks,
                "wall_s": round(r.wall_s, 2),
                "cpu_s": round(r.cpu_s, 2),
                "fps": r.fps,
                "error": r.error,
            }
            for k, r in runs.items()
        },
        "worker_scaling": ratio,
        "over_one_worker_all_cores": single_ratio,
        "chunked_over_unchunked": chunk_ratio,
        "chunk_seconds": chunk,
        "per_core_fps": per_core,
        "capacity": plan,
        "assumptions": {"cameras": CAMERAS, "node_cores": NODE_CORES, "utilisation": UTILISATION},
    }

    emit(f"## Scale (gamyeon batch; wall-clock fps over all files, start-up included; {cores} cores)\n")
    emit(
        table(
            ["run", "frames", "chunks", "wall s", "CPU s", "fps", "notes"],
            [
                [r.label, r.frames, r.chunks, f"{r.wall_s:.1f}", f"{r.cpu_s:.1f}", fmt(r.fps, 1), r.error]
                for r in runs.values()
            ],
        )
    )
    verdict = "met" if ratio is not None and ratio >= 1.7 else "NOT met"
    emit(
        f"\nWorker scaling, 1 worker on 1 core → {cores} workers on {cores} cores: **{fmt(ratio, 2)}×** "
        f"(target ≥ 1.7×: {verdict}); over 1 worker free to use all {cores} cores (its decoder, detector and "
        f"encoder threads): {fmt(single_ratio, 2)}×. "
        f"Chunked ({chunk:g} s chunks) over unchunked on one {minutes:g}-minute file with {cores} workers: "
        f"**{fmt(chunk_ratio, 2)}×**. Per-core fps (node fps / {cores} cores, {cores} workers): "
        + ", ".join(f"{k} {fmt(v, 2)}" for k, v in per_core.items())
        + ".\n"
    )
    rows = []
    for name, by_fps in plan.items():
        for cam, figures in by_fps.items():
            rows.append([name, cam, f"{figures['camera_hours_per_node_hour']:.2f}", f"{figures['nodes']:,.0f}"])
    emit(f"### Capacity plan ({CAMERAS:,} cameras × 24 h/day; {NODE_CORES}-core nodes at {UTILISATION:.0%} use)\n")
    emit(table(["resolution", "camera fps", "camera-hours per node-hour", "nodes (24/7)"], rows))
    emit(
        "\ncamera-hours per node-hour = per-core fps × cores × utilisation / camera fps; nodes = cameras / that. "
        "Faces only (`--kinds faces`); see docs/capacity.md for the assumptions.\n"
    )
