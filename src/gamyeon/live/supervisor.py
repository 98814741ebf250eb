"""Cameras kept running: each connects, runs a session, and after a loss waits and connects again;
the cameras of one process run on threads of their own and share the loaded models.

A camera's run is one run in the ledger (``live.records``): its start, each recorded segment,
each gap with when the source was lost and when it came back, and its finish. Waiting between
attempts doubles up to ``Timing.retry_max``. Configuration errors (a model that does not load,
an encoder setting x264 refuses) end the camera; anything else that ends a session is a loss
like the source's own, logged and retried, so one bad minute does not end a 24/7 stream.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from gamyeon.detect.faces import FaceDetector
from gamyeon.errors import ModelError, UsageError
from gamyeon.live.clock import Backoff
from gamyeon.live.config import Camera, LiveSettings
from gamyeon.live.records import LiveRecord
from gamyeon.live.session import Session
from gamyeon.live.source import Ended
from gamyeon.live.status import CameraCounters
from gamyeon.mask import silhouette
from gamyeon.pipeline.models import face_detectors, load_others

log = logging.getLogger(__name__)


def load_models(settings: LiveSettings) -> FaceDetector:
    """Load (and check) every model the cameras need, once per process, before any camera starts."""
    options = settings.options
    faces = face_detectors(options).get(video=True)
    load_others(options, video=True)
    silhouette.segmenter_for(options.policy, options.kinds, options.silhouette_model)
    return faces


class CameraRunner:
    """One camera, from start until ``stop`` (or, for a file source, its end)."""

    def __init__(
        self,
        camera: Camera,
        settings: LiveSettings,
        faces: FaceDetector,
        stop: threading.Event,
        counters: CameraCounters | None = None,
    ) -> None:
        self.camera = camera
        self.settings = settings
        self.faces = faces
        self.stop = stop
        self.counters = counters or CameraCounters(camera.name, camera.source.shown)
        self.error: BaseException | None = None

    def run(self) -> None:
        """Run the camera; a configuration error ends it and is kept in ``error``."""
        record = LiveRecord(self.camera, self.settings)
        try:
            self._remove_unfinished()
            record.start()
            self._connect_loop(record)
        except BaseException as err:
            self.error = err
            self.counters.set_state("failed", str(err))
            raise
        finally:
            if self.error is None:
                self.counters.set_state("stopped")
            try:
                record.finish(self.counters.snapshot(), self.error)
            finally:
                record.close()

    def _remove_unfinished(self) -> None:
        """Remove the temporary files of segments a killed run of this camera left (a restarted
        Ray actor, a machine that lost power): they never got a final name or a record."""
        folder = self.camera.outputs.record
        if folder is None or not folder.is_dir():
            return
        stale = [p for p in folder.glob(f".{self.camera.name}-*.gamyeon-*.part*") if p.is_file()]
        for path in stale:
            path.unlink(missing_ok=True)
        if stale:
            log.info("%s: removed %d unfinished temporary file(s) of an earlier run", self.camera.name, len(stale))

    def _connect_loop(self, record: LiveRecord) -> None:
        timing = self.settings.timing
        backoff = Backoff(timing.retry_min, timing.retry_max)
        lost: tuple[datetime, str] | None = None
        attempts = 0
        while not self.stop.is_set():
            self.counters.set_state("connecting" if lost is None else "reconnecting")

            def connected(at: datetime, lost: tuple[datetime, str] | None = lost, tries: int = attempts) -> None:
                if lost is not None:
                    record.gap(lost[0], at, lost[1], tries + 1)
                    self.counters.reconnected()
                    log.info(
                        "%s: source back after %.1f s (%d attempt(s))",
                        self.camera.name,
                        (at - lost[0]).total_seconds(),
                        tries + 1,
                    )

            session = Session(
                self.camera,
                self.settings,
                self.faces,
                self.counters,
                self.stop,
                record=record,
                lost_at=None if lost is None else lost[0],
                on_connected=connected,
            )
            ended = self._run_session(session)
            if ended.reason == "stopped" or not ended.lost:
                if not ended.lost and ended.reason != "stopped":
                    log.info("%s: %s", self.camera.name, ended.reason)
                return
            if session.last_seen is not None:  # it was live: a new gap starts
                lost, attempts = (session.last_seen, ended.reason), 0
                backoff.reset()
                log.warning("%s: source lost (%s); reconnecting", self.camera.name, ended.reason)
            else:
                attempts += 1
                self.counters.connect_failed(ended.reason)
                log.log(
                    logging.WARNING if attempts == 1 else logging.DEBUG,
                    "%s: cannot connect (%s)",
                    self.camera.name,
                    ended.reason,
                )
            wait = backoff.next()
            self.counters.set_state("reconnecting", ended.reason)
            self.stop.wait(wait)

    def _run_session(self, session: Session) -> Ended:
        try:
            return session.run()
        except (UsageError, ModelError):
            raise
        except Exception as err:  # a failed session is retried like a lost source
            log.exception("%s: the session failed; reconnecting", self.camera.name)
            return Ended(f"session failed: {err}", lost=True)


class LocalCameras:
    """The cameras of this process, each on its own thread."""

    def __init__(self, cameras: list[Camera], settings: LiveSettings, stop: threading.Event) -> None:
        self.stop = stop
        faces = load_models(settings)
        self.runners = [CameraRunner(camera, settings, faces, stop) for camera in cameras]
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for runner in self.runners:
            # daemon: a second Ctrl-C ends the process at once (the unfinished segments stay under
            # temporary names, removed when the camera starts again)
            thread = threading.Thread(
                target=self._run, args=(runner,), name=f"gamyeon-live-{runner.camera.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    @staticmethod
    def _run(runner: CameraRunner) -> None:
        try:
            runner.run()
        except BaseException as err:  # noqa: BLE001 - kept in runner.error and reported by the caller
            log.error("%s: stopped: %s", runner.camera.name, err)

    def wait(self) -> None:
        """Until every camera has ended (file sources) or ``stop`` is set and they have closed."""
        while any(t.is_alive() for t in self._threads):
            if self.stop.is_set():
                break
            time.sleep(0.2)
        for thread in self._threads:
            thread.join()

    def failures(self) -> list[str]:
        return [f"camera {r.camera.name}: {r.error}" for r in self.runners if r.error is not None]
