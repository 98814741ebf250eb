"""Local worker processes: ``concurrent.futures.ProcessPoolExecutor`` with the "spawn" start method.

Spawn, not fork: ONNX Runtime sessions and FFmpeg's threads do not survive a fork, and a clean
interpreter per worker loads the model once and keeps it. Each worker ignores SIGINT (the parent
owns Ctrl-C and stops workers through a shared event, checked on every frame), and stops by
itself when the parent disappears. A worker that dies (out of memory, a crash in a native
library) breaks the pool; the pool is then rebuilt and the tasks that were running are reported
as ``WorkerLost`` so the parent can retry them.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import queue
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from gamyeon.batch.context import init_local_worker

log = logging.getLogger(__name__)


def worker_log_level() -> int:
    """Workers log warnings (fail-closed frames, damaged input), or everything with ``-v``; the
    parent reports per-file outcomes itself."""
    level = logging.getLogger("gamyeon").getEffectiveLevel()
    return level if level <= logging.DEBUG else max(level, logging.WARNING)


class WorkerLost(Exception):
    """The process running a task died; the task may be retried."""


class LocalBackend:
    """Runs tasks on ``workers`` local processes with ``threads`` threads each."""

    name = "local"

    def __init__(self, workers: int, threads: int) -> None:
        self.capacity = workers
        self.threads = threads
        self._ctx = multiprocessing.get_context("spawn")
        self._queue: Any = self._ctx.Queue()
        self._stop = self._ctx.Event()
        self._pool = self._new_pool()
        self._broken = False

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(
            max_workers=self.capacity,
            mp_context=self._ctx,
            initializer=init_local_worker,
            initargs=(self.threads, self._queue, self._stop, os.getpid(), worker_log_level()),
        )

    def submit(self, fn: Callable[..., Any], *args: Any) -> cf.Future[Any]:
        if self._broken:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            self._broken = False
        return self._pool.submit(fn, *args)

    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        done, _ = cf.wait(handles, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return list(done)

    def result(self, handle: Any) -> Any:
        try:
            return handle.result()
        except BrokenProcessPool as err:
            self._broken = True
            raise WorkerLost(str(err) or "a worker process died") from None

    def messages(self) -> list[Any]:
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out
            except (OSError, EOFError, ValueError):  # the queue's pipe broke with a dying worker
                return out

    def cancel(self) -> None:
        """Make running tasks stop at their next frame (they clean up their temporary files)."""
        self._stop.set()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._queue.close()
        self._queue.join_thread()
