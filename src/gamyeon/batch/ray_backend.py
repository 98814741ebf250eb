"""Ray Core tasks: the same task functions as the local pool, one Ray task per file or chunk.

``--ray auto`` joins the cluster this machine belongs to (``ray start`` was run here, or
``RAY_ADDRESS`` is set), ``--ray HOST:PORT`` a cluster's head node, ``--ray local`` starts a
private single-machine instance. Each task asks for one CPU and runs with one thread per library,
so Ray's scheduler packs one task per core on every node. Progress comes back through a
``ray.util.queue.Queue`` actor; Ctrl-C cancels the running tasks (Ray raises KeyboardInterrupt
in them, which removes their temporary files). Ray must be installed on every node
(``pip install 'gamyeon[cluster]'``), together with gamyeon itself; inputs, DST and the key
file must be on storage every node sees at the same path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gamyeon.batch.context import configure
from gamyeon.batch.local import WorkerLost, worker_log_level
from gamyeon.infra.raycluster import connect

log = logging.getLogger(__name__)

#: threads per task (Ray schedules one task per CPU)
RAY_TASK_THREADS = 1


def _call(fn: Callable[..., Any], threads: int, sink: Any, level: int, *args: Any) -> Any:
    """Entry point of every Ray task: set up the worker once, then run ``fn``."""
    configure(threads, sink, None, None, level)
    return fn(*args)


class RayBackend:
    """Runs tasks as Ray tasks on the cluster at ``address``."""

    name = "ray"

    def __init__(self, address: str) -> None:
        ray, self._owns = connect(address)
        from ray.util.queue import Queue

        self._ray = ray
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.capacity = max(1, cpus)
        self.threads = RAY_TASK_THREADS
        log.info("Ray cluster: %d CPU(s) on %d node(s)", cpus, len([n for n in ray.nodes() if n.get("Alive")]))
        self._queue = Queue(actor_options={"num_cpus": 0})
        self._remote = ray.remote(num_cpus=1, max_retries=0)(_call)
        self._level = worker_log_level()
        self._running: list[Any] = []

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        ref = self._remote.remote(fn, self.threads, self._queue, self._level, *args)
        self._running.append(ref)
        return ref

    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        done, _ = self._ray.wait(handles, num_returns=1, timeout=timeout)
        if done:  # collect everything else that is ready too, without waiting
            more, _ = self._ray.wait(handles, num_returns=len(handles), timeout=0)
            done = list({ref: None for ref in [*done, *more]})
        return list(done)

    def result(self, handle: Any) -> Any:
        if handle in self._running:
            self._running.remove(handle)
        try:
            return self._ray.get(handle)
        except self._ray.exceptions.RayError as err:
            raise WorkerLost(str(err).splitlines()[0] if str(err) else type(err).__name__) from None

    def messages(self) -> list[Any]:
        try:
            size = self._queue.qsize()
            return list(self._queue.get_nowait_batch(size)) if size else []
        except self._ray.exceptions.RayError:
            return []

    def cancel(self) -> None:
        for ref in self._running:
            self._ray.cancel(ref, force=False)

    def close(self) -> None:
        try:
            self._queue.shutdown()
        finally:
            if self._owns:
                self._ray.shutdown()
