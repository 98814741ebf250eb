"""The pure parts of the speed section: the order of the timed runs, the load of each run, medians
and the ratios to the baselines.

Runs are interleaved (tool A, B, C, A, B, C, ...) so that a burst of other work on the shared
machine hits every tool alike instead of one tool's whole series. How busy the machine was is
recorded per run twice: the 1-minute load average before and after it (the figure people know,
but it lags and includes the benchmark's own previous run), and the cores other processes kept
busy while the run lasted (machine busy CPU-seconds from /proc/stat minus the run's own, over its
wall time), which is what decides whether the run was measured under load.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

#: a run is "under load" when other processes kept more than this share of the cores busy on
#: average while it ran (0.5 of a core on 2 cores): the tools measured want every core
OTHERS_SHARE_LIMIT = 0.25


@dataclass(frozen=True, slots=True)
class ToolRun:
    """The outcome of running one tool on one clip once."""

    seconds: float
    cpu_s: float
    ok: bool
    error: str | None
    load_before: float  # 1-minute load average when the run started
    load_after: float  # ... and when it ended
    others_cores: float | None  # mean cores other processes kept busy during the run (None: unknown)


def interleaved(tools: Sequence[str], repeat: int) -> list[tuple[int, str]]:
    """(repeat index, tool) in run order: every tool once per repeat, in the same order each time."""
    return [(rep, tool) for rep in range(repeat) for tool in tools]


def others_cores(machine_busy_s: float | None, own_cpu_s: float, wall_s: float) -> float | None:
    """Mean number of cores that processes other than the measured one kept busy during the run."""
    if machine_busy_s is None or wall_s <= 0:
        return None
    return max(0.0, machine_busy_s - own_cpu_s) / wall_s


def under_load(run: ToolRun, cores: int, share: float = OTHERS_SHARE_LIMIT) -> bool:
    """Whether other work took more than ``share`` of the ``cores`` while ``run`` lasted; without a
    /proc/stat figure, whether the load average before the run was above 0.75 per core."""
    if run.others_cores is None:
        return run.load_before > 0.75 * cores
    return run.others_cores > share * cores


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


@dataclass(frozen=True, slots=True)
class Summary:
    """Medians over the successful runs of one tool on one clip (None: no successful run)."""

    wall_s: float | None
    cpu_s: float | None


def summarize(runs: Sequence[ToolRun]) -> Summary:
    good = [r for r in runs if r.ok]
    return Summary(median([r.seconds for r in good]), median([r.cpu_s for r in good]))


def ratio(baseline_s: float | None, gamyeon_s: float | None) -> float | None:
    """Baseline seconds over gamyeon's: above 1 gamyeon costs less."""
    return baseline_s / gamyeon_s if baseline_s and gamyeon_s else None
