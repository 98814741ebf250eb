"""Cameras beyond one machine: one long-lived Ray actor per camera, restarted when it dies.

Each actor is a process of its own (on whichever node has the CPUs its camera reserves,
``cpus`` in the camera list, 1 by default) that loads the models and runs the camera exactly as a
local run does (``supervisor.CameraRunner``): reconnections, segments and ledger records are the
actor's. Ray restarts an actor whose process dies (``max_restarts=-1``) and runs the camera on
it again (``max_task_retries=-1`` retries the interrupted ``run``); the driver counts the restarts
it sees (a new process id in the actor's status) in the camera's status. The driver
reads every actor's status for the status board and, on Ctrl-C or SIGTERM, asks each to stop
cleanly (its current segment is finished) before Ray shuts down.

As for ``gamyeon batch --ray``: gamyeon (``pip install 'gamyeon[cluster]'``) on every node; the
key file, the record and HLS folders and the ledger (PostgreSQL, or a SQLite file on shared
storage) at the same path on every node. Key bytes never travel: actors read the key file.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from gamyeon.infra.raycluster import connect
from gamyeon.infra.threads import limit_process_threads
from gamyeon.live.config import Camera, LiveSettings
from gamyeon.live.status import CameraCounters, Snapshot, StatusBoard
from gamyeon.live.supervisor import CameraRunner, load_models

log = logging.getLogger(__name__)

#: seconds a stopping actor may take to finish its segment before the driver gives up on it
STOP_WAIT = 60.0
#: seconds the status board waits for an actor's answer
STATUS_WAIT = 2.0


class CameraActor:
    """Runs one camera in a Ray actor (threaded: ``status`` and ``stop`` answer while ``run`` runs)."""

    def __init__(self, camera: Camera, settings: LiveSettings, level: int) -> None:
        root = logging.getLogger("gamyeon")
        if not root.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("gamyeon: %(message)s"))
            root.addHandler(handler)
        root.setLevel(level)
        limit_process_threads(max(1, round(camera.cpus)))
        self.camera = camera
        self.settings = settings
        self.stopping = threading.Event()
        self.counters = CameraCounters(camera.name, camera.source.shown)

    def run(self) -> str | None:
        """Run the camera until ``stop`` (or a file source's end); the error that ended it, if any."""
        runner = CameraRunner(self.camera, self.settings, load_models(self.settings), self.stopping, self.counters)
        try:
            runner.run()
        except Exception as err:  # noqa: BLE001 - reported to the driver as one line
            return f"camera {self.camera.name}: {err}"
        return None

    def status(self) -> Snapshot:
        return {**self.counters.snapshot(), "pid": os.getpid()}

    def stop(self) -> None:
        self.stopping.set()


class RayCameras:
    """Starts one actor per camera on the Ray cluster at ``address`` and watches them."""

    def __init__(
        self, address: str, cameras: list[Camera], settings: LiveSettings, stop: threading.Event, board: StatusBoard
    ) -> None:
        self._ray, self._owns = connect(address)
        self.stop = stop
        self.cameras = {c.name: c for c in cameras}
        level = logging.getLogger("gamyeon").getEffectiveLevel()
        remote = self._ray.remote(max_restarts=-1, max_task_retries=-1, max_concurrency=4)(CameraActor)
        self.actors = {c.name: remote.options(num_cpus=c.cpus).remote(c, settings, level) for c in cameras}
        self._pids: dict[str, set[int]] = {name: set() for name in self.actors}
        self.errors: dict[str, str] = {}
        self._runs: dict[Any, str] = {}
        for name in self.actors:
            board.add(name, self._status_of(name))

    def _status_of(self, name: str) -> Any:
        def status() -> Snapshot | None:
            try:
                snap: Snapshot = self._ray.get(self.actors[name].status.remote(), timeout=STATUS_WAIT)
            except (self._ray.exceptions.RayError, TimeoutError):
                return None
            pids = self._pids[name]
            pids.add(int(snap["pid"]))
            return {**snap, "actor_restarts": len(pids) - 1}

        return status

    def start(self) -> None:
        for name, actor in self.actors.items():
            self._runs[actor.run.remote()] = name

    def wait(self) -> None:
        """Until every camera has ended (Ray itself restarts an actor that dies and runs its
        camera again); on ``stop``, ask every actor to stop and wait for their segments."""
        try:
            self._collect_until(self.stop.is_set)
            if self._runs:
                for name in set(self._runs.values()):
                    self.actors[name].stop.remote()
                end = time.monotonic() + STOP_WAIT
                self._collect_until(lambda: time.monotonic() >= end)
                for name in self._runs.values():
                    self.errors[name] = f"camera {name}: did not stop within {STOP_WAIT:.0f} s"
        finally:
            self.close()

    def _collect_until(self, done: Callable[[], bool]) -> None:
        while self._runs and not done():
            ready, _ = self._ray.wait(list(self._runs), num_returns=1, timeout=0.5)
            for ref in ready:
                self._collect(ref)

    def _collect(self, ref: Any) -> None:
        name = self._runs.pop(ref)
        try:
            error = self._ray.get(ref)
        except self._ray.exceptions.RayError as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            self.errors[name] = f"camera {name}: its actor is gone ({first})"
            return
        if error is not None:
            self.errors[name] = error

    def failures(self) -> list[str]:
        return list(self.errors.values())

    def close(self) -> None:
        for actor in self.actors.values():
            try:
                self._ray.kill(actor, no_restart=True)
            except self._ray.exceptions.RayError:
                log.debug("actor already gone", exc_info=True)
        if self._owns:
            self._ray.shutdown()
