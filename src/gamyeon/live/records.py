"""The ledger records of one camera's live run, in the same chain and shapes as a file run's.

A camera's run opens with ``anonymize.start`` (its source URL without password, the outputs, the
delay budget) and closes with ``anonymize.finish`` (frames, fail-closed and dropped frames,
reconnections); a run killed without a finish shows in ``gamyeon ledger`` as unfinished. Each
recorded segment gets the ``anonymize`` record of a file output (and ``seal``/``export``), written
before the segment appears under its final name. A lost source gets a ``live.gap`` record once it
is back: when it was lost, when it came back, why, and the attempts in between.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from gamyeon.ledger.records import file_facts
from gamyeon.ledger.run import RunRecord
from gamyeon.ledger.store import Ledger
from gamyeon.live.config import Camera, LiveSettings
from gamyeon.pipeline.models import model_paths
from gamyeon.types import Summary

GAP = "live.gap"


class LiveRecord:
    """Writes one camera's records (from its session and segment threads; appends serialize)."""

    def __init__(self, camera: Camera, settings: LiveSettings) -> None:
        self.camera = camera
        self.ledger = Ledger(settings.options.processing.ledger)
        self.run = RunRecord(
            self.ledger, settings.dataset_id, settings.options, settings.key, models=model_paths(settings.options)
        )
        self.settings = settings
        self._lock = threading.Lock()

    def start(self) -> None:
        outputs = self.camera.outputs
        where: Path | str = outputs.record or outputs.hls or self.camera.source.shown
        if outputs.record is None and outputs.hls is None and outputs.publish is not None:
            where = str(outputs.describe()["publish"])
        timing = self.settings.timing
        with self._lock:
            self.run.start(
                [self.camera.source.shown],
                where,
                0,
                live={
                    "camera": self.camera.name,
                    "outputs": outputs.describe(),
                    "max_delay_s": timing.max_delay,
                    "late": timing.late,
                    "reserve_s": timing.processing_reserve,
                },
            )

    def segment(
        self,
        summary: Summary,
        output: dict[str, Any],
        notes: tuple[Path, Path],
        exports: list[tuple[str, Path, Path]],
        vault: tuple[Path, Path, dict[str, Any]] | None,
        stream: dict[str, Any],
    ) -> None:
        """One finished segment, its files still at their temporary names ``(tmp, final)``."""
        counts = {k: v for k, v in summary.as_dict().items() if k not in {"input", "output", "annotations"}}
        with self._lock:
            self.run.output_done(stream, output, file_facts(*notes), counts)
            if vault is not None:
                tmp, final, facts = vault
                self.run.seal_done(file_facts(tmp, final), output["sha256"], facts)
            for fmt, tmp, final in exports:
                self.run.export_done(fmt, file_facts(tmp, final))

    def gap(self, lost: datetime, back: datetime, reason: str, attempts: int) -> None:
        payload = {
            "run_id": self.run.run_id,
            "camera": self.camera.name,
            "source": self.camera.source.shown,
            "lost": lost.isoformat(timespec="milliseconds"),
            "back": back.isoformat(timespec="milliseconds"),
            "seconds": round((back - lost).total_seconds(), 3),
            "reason": reason,
            "attempts": attempts,
        }
        with self._lock:
            self.ledger.append(GAP, payload, self.run.dataset_id)

    def finish(self, snapshot: dict[str, Any], error: BaseException | None) -> None:
        closed = snapshot.get("fail_closed", {})
        with self._lock:
            self.run.finish_counts(
                snapshot.get("segments", 0),
                snapshot.get("frames_out", 0),
                sum(closed.values()),
                error,
                live={
                    "camera": self.camera.name,
                    "frames_in": snapshot.get("frames_in", 0),
                    "fail_closed": closed,
                    "dropped": snapshot.get("dropped", {}),
                    "reconnects": snapshot.get("reconnects", 0),
                    "segment_failures": snapshot.get("segment_failures", 0),
                    "max_delay_s": snapshot.get("delay_all_s", {}).get("max"),
                },
            )

    def close(self) -> None:
        self.ledger.close()
