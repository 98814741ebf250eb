"""What each camera is doing, while it runs: frames in and out, delay, fail-closed and dropped
frames, reconnections, segments, output failures.

A camera's ``CameraCounters`` are written by its session and outputs and read, as a JSON-ready
snapshot, by the ``StatusBoard``, which logs one line per camera every few seconds and keeps
a status file (written atomically) that ``live.http`` also serves. A Ray actor's counters live in
the actor; the driver reads them remotely and hands them to the same board.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gamyeon.live.clock import Histogram, Window
from gamyeon.types import FrameResult

log = logging.getLogger(__name__)

#: why a frame left fully masked (or was dropped)
LATE = "late"  # its deadline passed before it could be decided
LOOKAHEAD = "lookahead"  # its look-ahead was not complete by its deadline (the source stalled)
FAILED = "failed"  # detection, estimation or masking failed on it
UNDECODABLE = "undecodable"  # it could not be decoded
CLOSED_REASONS = (LATE, LOOKAHEAD, FAILED, UNDECODABLE)

Snapshot = dict[str, Any]
#: the share of late frames between two reports above which the log warns
BEHIND = 0.2


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class CameraCounters:
    """The running counts of one camera (thread-safe: its session, encoder and outputs write)."""

    def __init__(self, name: str, source: str, window: float = 10.0) -> None:
        self.name = name
        self.source = source
        self._lock = threading.Lock()
        self.state = "starting"
        self.since = _now_iso()
        self.frames_in = 0
        self.frames_out = 0
        self.fail_closed = dict.fromkeys(CLOSED_REASONS, 0)
        self.dropped = {"late": 0, "overflow": 0}
        self.reconnects = 0
        self.connect_failures = 0
        self.segments = 0
        self.segment_failures = 0
        self.output_failures: dict[str, int] = {}
        self.last_error: str | None = None
        self.stream: dict[str, Any] = {}
        self._arrivals = Window(window)
        self._outputs = Window(window)
        self._delays = Window(window)
        self._detections = Window(window)
        self._all_delays = Histogram()
        self._all_detections = Histogram()

    def set_state(self, state: str, error: str | None = None) -> None:
        with self._lock:
            self.state = state
            self.since = _now_iso()
            if error is not None:
                self.last_error = error

    def set_stream(self, **facts: Any) -> None:
        """The connection's geometry, rate and budget (shown in the status)."""
        with self._lock:
            self.stream = dict(facts)

    def arrived(self) -> None:
        with self._lock:
            self.frames_in += 1
            self._arrivals.add(1.0)

    def decided(self, result: FrameResult, reason: str | None) -> None:
        """A frame that left: masked by its regions (``reason`` None) or fully masked for ``reason``."""
        with self._lock:
            if reason is not None:
                self.fail_closed[reason] += 1

    def detected(self, seconds: float) -> None:
        """Detection ran on a frame for ``seconds`` (the processing reserve must cover the slowest)."""
        with self._lock:
            self._detections.add(seconds)
            self._all_detections.add(seconds)

    def sent(self, delay: float) -> None:
        """A frame's packet went to the outputs ``delay`` seconds after the frame arrived."""
        with self._lock:
            self.frames_out += 1
            self._outputs.add(1.0)
            self._delays.add(delay)
            self._all_delays.add(delay)

    def dropped_frame(self, why: str, count: int = 1) -> None:
        with self._lock:
            self.dropped[why] = self.dropped.get(why, 0) + count

    def reconnected(self) -> None:
        with self._lock:
            self.reconnects += 1

    def connect_failed(self, error: str) -> None:
        with self._lock:
            self.connect_failures += 1
            self.last_error = error

    def segment_done(self, ok: bool, error: str | None = None) -> None:
        with self._lock:
            if ok:
                self.segments += 1
            else:
                self.segment_failures += 1
                self.last_error = error

    def output_failed(self, name: str, reason: str) -> None:
        with self._lock:
            self.output_failures[name] = self.output_failures.get(name, 0) + 1
            self.last_error = f"{name}: {reason}"

    def snapshot(self) -> Snapshot:
        with self._lock:
            delay, detection = _rounded(self._delays.stats()), _rounded(self._detections.stats())
            return {
                "camera": self.name,
                "source": self.source,
                "state": self.state,
                "since": self.since,
                "fps_in": round(self._arrivals.rate(), 2),
                "fps_out": round(self._outputs.rate(), 2),
                "delay_s": delay,
                "detection_s": detection,
                "delay_all_s": _rounded(self._all_delays.stats()),
                "detection_all_s": _rounded(self._all_detections.stats()),
                "frames_in": self.frames_in,
                "frames_out": self.frames_out,
                "fail_closed": dict(self.fail_closed),
                "dropped": dict(self.dropped),
                "reconnects": self.reconnects,
                "connect_failures": self.connect_failures,
                "segments": self.segments,
                "segment_failures": self.segment_failures,
                "output_failures": dict(self.output_failures),
                "last_error": self.last_error,
                "stream": dict(self.stream),
            }


def _rounded(stats: dict[str, float | None]) -> dict[str, float | None]:
    return {k: None if v is None else round(v, 3) for k, v in stats.items()}


def status_line(s: Snapshot) -> str:
    """One log line for a camera's snapshot."""
    delay = s["delay_s"]
    shown = "-" if delay["mean"] is None else f"{delay['mean']:.2f}/{delay['p95']:.2f}/{delay['max']:.2f} s"
    closed = sum(s["fail_closed"].values())
    dropped = sum(s["dropped"].values())
    return (
        f"{s['camera']}: {s['state']}, {s['fps_in']:.1f} fps in, {s['fps_out']:.1f} out, delay mean/p95/max {shown}, "
        f"frames {s['frames_in']} in, {s['frames_out']} out, fail-closed {closed}, dropped {dropped}, "
        f"reconnects {s['reconnects']}, segments {s['segments']}"
    )


class StatusBoard:
    """Every camera's snapshot: logged every ``every`` seconds and written to ``path`` (JSON)."""

    def __init__(self, every: float = 10.0, path: Path | None = None) -> None:
        self.every = every
        self.path = path
        self._sources: dict[str, Callable[[], Snapshot | None]] = {}
        self._last: dict[str, Snapshot] = {}
        self._lock = threading.Lock()
        self._reported: dict[str, tuple[int, int]] = {}  # late frames and frames at the last report
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started = _now_iso()

    def add(self, name: str, source: Callable[[], Snapshot | None]) -> None:
        """``source`` returns the camera's snapshot (None: not available now; the last is kept)."""
        with self._lock:
            self._sources[name] = source

    def snapshot(self) -> Snapshot:
        """Every camera, as the status file and endpoint show it."""
        with self._lock:
            sources = dict(self._sources)
        cameras = {}
        for name, source in sources.items():
            try:
                snap = source()
            except Exception as err:  # noqa: BLE001 - one camera's status must not hide the others'
                log.debug("status of %s unavailable: %s", name, err)
                snap = None
            if snap is not None:
                self._last[name] = snap
            cameras[name] = self._last.get(name, {"camera": name, "state": "unknown"})
        return {
            "updated": _now_iso(),
            "started": self.started,
            "load_average": _load(),
            #: CPU time of this process (its cameras' sessions, encoders and outputs; with Ray, the
            #: driver only): with the frames out, the CPU cost per frame
            "process_cpu_s": round(time.process_time(), 2),
            "cameras": cameras,
        }

    def report(self) -> Snapshot:
        """Log one line per camera and write the status file; returns the snapshot."""
        snap = self.snapshot()
        for name, camera in snap["cameras"].items():
            if "delay_s" in camera:
                log.info("%s", status_line(camera))
                self._behind(name, camera)
        if self.path is not None:
            write_json(self.path, snap)
        return snap

    def _behind(self, name: str, camera: Snapshot) -> None:
        """Warn when more than ``BEHIND`` of a camera's frames since the last report left fully
        masked for lateness: safe, but the stream is of little use until the load is lowered."""
        late = camera["fail_closed"]["late"] + camera["fail_closed"]["lookahead"] + camera["dropped"]["late"]
        frames = camera["frames_in"]
        before_late, before_frames = self._reported.get(name, (0, 0))
        self._reported[name] = (late, frames)
        if frames - before_frames >= 10 and late - before_late > BEHIND * (frames - before_frames):
            log.warning(
                "%s: %.0f%% of the frames since the last report left fully masked or were dropped: processing "
                "falls behind (lower the resolution or --kinds, raise --detect-every, --small-faces never, or "
                "give it more CPU; docs/live.md)",
                name,
                100 * (late - before_late) / (frames - before_frames),
            )

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gamyeon-live-status", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.report()
            except OSError as err:
                log.warning("cannot write the status file %s: %s", self.path, err)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        try:
            self.report()
        except OSError as err:
            log.warning("cannot write the status file %s: %s", self.path, err)


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def write_json(path: Path, value: Mapping[str, Any]) -> None:
    """Replace ``path`` atomically (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=2), encoding="utf-8")
    os.replace(tmp, path)
