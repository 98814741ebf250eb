"""Running a command as a measured subprocess: wall time, CPU time and memory.

Every tool (gamyeon, deface, the re-encode baseline) is run the same way, as a child process whose
wall-clock time includes interpreter start-up and model loading, because that is what a user waits
for. ``os.wait4`` is used instead of ``Popen.wait`` so that the kernel's own resource figures for the
finished child (CPU seconds, peak RSS) are available; on a noisy 2-core machine CPU seconds are a
useful cross-check of a wall-clock figure.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RssSample:
    """One memory sample: seconds since start, RSS of the process tree and VmHWM of the main process (KiB)."""

    t: float
    rss_kib: int
    hwm_kib: int


@dataclass(slots=True)
class Measured:
    """Figures of one finished run."""

    command: list[str]
    returncode: int
    wall_s: float
    cpu_s: float
    max_rss_kib: int  # ru_maxrss of the child, from wait4 (Linux: KiB)
    log_path: Path
    samples: list[RssSample] = field(default_factory=list)
    #: CPU-seconds the whole machine spent busy during the run (None where /proc/stat is missing);
    #: minus ``cpu_s`` it is what other processes took while this one ran
    machine_busy_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def machine_busy_seconds() -> float | None:
    """CPU-seconds all cores have spent busy since boot (user, nice, system, irq, softirq, steal),
    from the first line of /proc/stat; None where it cannot be read."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _read_status_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in KiB; (0, 0) once the process is gone or is a zombie."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0, 0
    return rss, hwm


def _descendants(pid: int) -> list[int]:
    """All live descendants of ``pid``, found from the parent ids in /proc/*/stat.

    Scanning /proc is used rather than /proc/PID/task/*/children because the latter needs a kernel
    option that is not always enabled; a few hundred small reads every 0.5 s cost nothing measurable.
    """
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        # the command name (field 2) may contain spaces and parentheses: split after the last ')'
        rest = stat.rsplit(")", 1)[-1].split()
        if len(rest) < 2:
            continue
        parents.setdefault(int(rest[1]), []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found.extend(children)
        todo.extend(children)
    return found


def tree_rss_kib(pid: int) -> tuple[int, int]:
    """(RSS of ``pid`` plus all its descendants, VmHWM of ``pid``) in KiB."""
    rss, hwm = _read_status_kib(pid)
    for child in _descendants(pid):
        rss += _read_status_kib(child)[0]
    return rss, hwm


def run_measured(
    command: Sequence[str],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    sample_every: float | None = None,
    cwd: Path | None = None,
) -> Measured:
    """Run ``command`` to completion with stdout and stderr going to ``log_path``.

    With ``sample_every`` the RSS of the process tree is read at that interval until the process
    exits (the last sample is taken just before the exit is collected).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log.debug("run: %s", subprocess.list2cmdline(list(command)))
    samples: list[RssSample] = []
    with open(log_path, "wb") as out:
        busy_before = machine_busy_seconds()
        start = time.perf_counter()
        proc = subprocess.Popen(list(command), stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        if sample_every is None:
            _, status, usage = os.wait4(proc.pid, 0)
        else:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid != 0:
                    break
                rss, hwm = tree_rss_kib(proc.pid)
                if rss:
                    samples.append(RssSample(time.perf_counter() - start, rss, hwm))
                time.sleep(sample_every)
        wall = time.perf_counter() - start
        busy_after = machine_busy_seconds()
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting again
    return Measured(
        command=list(command),
        returncode=proc.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss_kib=int(usage.ru_maxrss),
        log_path=log_path,
        samples=samples,
        machine_busy_s=None if busy_before is None or busy_after is None else busy_after - busy_before,
    )


def log_tail(path: Path, lines: int = 3) -> str:
    """The last meaningful lines of a tool log (progress bars written with carriage returns are
    split so that only their final state shows)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    parts = [p.strip() for chunk in text.splitlines() for p in chunk.split("\r")]
    parts = [p for p in parts if p and "it/s]" not in p and "s/it]" not in p]
    return " | ".join(parts[-lines:])
