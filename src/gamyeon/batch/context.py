"""What one batch worker process holds between tasks: where progress goes, how to tell that the
batch is stopping, and its caches of face detectors and keys.

A worker loads the face model once (``detector``) and limits its threads (``configure``) so that
N workers share the cores instead of each starting one thread per core. Progress goes back as
frame counts through a queue, at most a few messages per second (``Reporter``); cancellation
(Ctrl-C in the parent, or the parent gone) is checked on every frame and raises ``Cancelled``,
which unwinds through the atomic outputs, so nothing partial stays under a final name.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gamyeon.detect.face_models import FaceDetectors
from gamyeon.detect.faces import FaceDetector
from gamyeon.infra.process import die_with_parent, ignore_interrupts, log_to_stderr
from gamyeon.infra.threads import limit_process_threads
from gamyeon.keys import MasterKey, read_key
from gamyeon.options import Options
from gamyeon.pipeline.models import face_detectors

#: seconds between progress messages from one worker
REPORT_EVERY = 0.3


class Cancelled(KeyboardInterrupt):
    """The batch is stopping (Ctrl-C, or the parent is gone): abandon the current file."""


class Sink(Protocol):
    def put(self, item: Any) -> Any: ...


class Flag(Protocol):
    def is_set(self) -> bool: ...


@dataclass(slots=True)
class WorkerContext:
    """Per worker process: where progress goes and how to tell that the batch is stopping."""

    sink: Sink | None = None
    stop: Flag | None = None
    parent_pid: int | None = None  # local workers: stop when re-parented (the parent was killed)
    detectors: dict[tuple[str, str, float], FaceDetectors] = field(default_factory=dict)
    keys: dict[str, MasterKey] = field(default_factory=dict)
    configured: bool = False


_CONTEXT = WorkerContext()


def configure(threads: int, sink: Sink | None, stop: Flag | None, parent_pid: int | None, level: int) -> None:
    """Set up this process as a batch worker (process-pool initializer; Ray calls it per task)."""
    _CONTEXT.sink, _CONTEXT.stop, _CONTEXT.parent_pid = sink, stop, parent_pid
    if _CONTEXT.configured:
        return
    _CONTEXT.configured = True
    limit_process_threads(threads)
    log_to_stderr(level)


def init_local_worker(threads: int, sink: Sink, stop: Flag, parent_pid: int, level: int) -> None:
    """The local pool's initializer: Ctrl-C is the parent's (it sets the stop flag), and the
    kernel ends the worker with the parent on Linux; elsewhere ``Reporter.check`` notices."""
    ignore_interrupts()
    if sys.platform.startswith("linux"):
        die_with_parent(parent_pid)
    configure(threads, sink, stop, parent_pid, level)


class Reporter:
    """Counts frames for the parent's progress bar and raises ``Cancelled`` when asked to stop."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._pending = 0
        self._last = time.monotonic()

    def check(self) -> None:
        ctx = _CONTEXT
        if ctx.stop is not None and ctx.stop.is_set():
            raise Cancelled()
        if ctx.parent_pid is not None and os.getppid() != ctx.parent_pid:
            raise Cancelled()

    def send(self, kind: str, value: int) -> None:
        if _CONTEXT.sink is not None:
            _CONTEXT.sink.put((kind, self.key, value))

    def frames(self, n: int = 1) -> None:
        self.check()
        self._pending += n
        now = time.monotonic()
        if now - self._last >= REPORT_EVERY:
            self.flush()
            self._last = now

    def flush(self) -> None:
        if self._pending:
            self.send("frames", self._pending)
            self._pending = 0


def detector(options: Options, video: bool) -> FaceDetector:
    """The worker's face detector for ``options`` (cached: loading a network costs ~0.3 s)."""
    wanted = face_detectors(options)
    key = (str(wanted.own or ""), wanted.precision, wanted.threshold)
    return _CONTEXT.detectors.setdefault(key, wanted).get(video)


def key(path: str) -> MasterKey:
    """The master key at ``path`` (cached: every file of a batch uses the same one)."""
    if path not in _CONTEXT.keys:
        _CONTEXT.keys[path] = read_key(Path(path))
    return _CONTEXT.keys[path]
