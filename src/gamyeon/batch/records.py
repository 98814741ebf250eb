"""The processing ledger of a batch: the same records as ``gamyeon anonymize`` (PIPA Art. 28-4).

Workers move their outputs into place themselves (they may run on other nodes, which need not
reach the ledger), so the batch parent writes each file's ``anonymize`` record when the worker
reports it done, *before* the status manifest marks it done. A parent killed between the two
leaves the file not done in the manifest, and the re-run redoes it. A file that is done in the
manifest but has no record in the ledger (the ledger was changed, or the parent died between the
worker's rename and the record) gets one on the next run, flagged ``recorded_late``.

With ``--seal`` each output's vault gets its ``seal`` record right after the output's record, as
in ``anonymize``; the worker hashes the vault at its temporary name, with the rest.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from gamyeon.batch.manifest import FileRecord
from gamyeon.batch.spec import FileResult, FileTask
from gamyeon.keys import MasterKey
from gamyeon.ledger.records import file_facts
from gamyeon.ledger.run import RunRecord
from gamyeon.ledger.store import Ledger
from gamyeon.options import Options
from gamyeon.pipeline.models import model_paths
from gamyeon.vault.reveal import open_vault

log = logging.getLogger(__name__)


def sealed_facts(path: Path, key: MasterKey) -> dict[str, Any]:
    """What a ``seal`` record says about a finished vault (``VaultWriter.facts``), read back from
    the vault itself (authenticated with ``key``), for a file recorded late."""
    with open_vault(path, key) as vault:
        trailer = vault.trailer or {}
        return {
            "vault_id": vault.header.vault_id,
            "format": vault.header.format,
            "blocks": int(trailer.get("blocks", 0)),
            "regions": int(trailer.get("regions", trailer.get("blocks", 0))),  # format 1: a block per region
            "tracks": len(trailer.get("tracks", {})),
            "cipher": vault.header.cipher,
        }


def _counts(frames: int | None, faces: int | None, regions: int | None, fail_closed: int | None) -> dict[str, Any]:
    return {"frames": frames, "face_tracks": faces, "regions": regions, "fail_closed_frames": fail_closed}


class BatchLedger:
    """One batch run's records in the ledger at ``options.processing.ledger``."""

    def __init__(self, ledger: Ledger, dataset_id: str, options: Options, key: MasterKey) -> None:
        self.ledger = ledger
        self.dataset_id = dataset_id
        self.key = key
        self.run = RunRecord(ledger, dataset_id, options, key, models=model_paths(options))
        self.started = False
        self.files = 0
        self.frames = 0
        self.fail_closed = 0
        self.failed = 0

    def start(self, source: Path, output: Path, files: int, backend: str) -> None:
        self.run.start([source], output, files, batch={"backend": backend})
        self.started = True

    def recorded_outputs(self) -> set[str]:
        """SHA-256 of every output this dataset's ``anonymize`` records name."""
        found = set()
        for rec in self.ledger.records():
            if rec.dataset_id == self.dataset_id and rec.action == "anonymize":
                digest = rec.payload.get("output", {}).get("sha256")
                if isinstance(digest, str):
                    found.add(digest)
        return found

    def missing(self, done: list[tuple[FileTask, FileRecord]]) -> list[tuple[FileTask, FileRecord]]:
        """The files done in an earlier run whose output has no record."""
        if not done:
            return []
        recorded = self.recorded_outputs()
        return [(t, r) for t, r in done if r.output_sha256 not in recorded]

    def record_late(self, task: FileTask, record: FileRecord) -> None:
        exports = {fmt: file_facts(path) for fmt, path in zip(task.options.exports, task.exports(), strict=True)}
        vault = task.vault()
        sealed = None if vault is None else sealed_facts(vault, self.key)
        self.run.output_done(
            file_facts(Path(task.source)),
            file_facts(Path(task.output), sha256=record.output_sha256),
            file_facts(task.annotations()),
            _counts(record.frames, record.faces, record.regions, record.fail_closed_frames),
            recorded_late=True,
        )
        if vault is not None and sealed is not None:
            self.run.seal_done(file_facts(vault), record.output_sha256, sealed, recorded_late=True)
        for fmt, facts in exports.items():
            self.run.export_done(fmt, facts)

    def file_done(self, task: FileTask, result: FileResult) -> None:
        """Record a file its worker has just finished (call before the manifest says done)."""
        facts = result.facts
        self.run.output_done(
            facts.get("input") or file_facts(Path(task.source)),
            file_facts(Path(task.output), sha256=result.sha256),
            facts.get("annotations") or file_facts(task.annotations()),
            {
                **_counts(result.frames, result.faces, result.regions, result.fail_closed_frames),
                "chunks": result.chunks,
            },
        )
        vault = facts.get("vault")
        if vault is not None:
            self.run.seal_done(vault["file"], result.sha256, vault["seal"])
        for fmt, export in (facts.get("exports") or {}).items():
            self.run.export_done(fmt, export)
        self.files += 1
        self.frames += result.frames
        self.fail_closed += result.fail_closed_frames

    def file_failed(self) -> None:
        self.failed += 1

    def finish(self, error: BaseException | None) -> None:
        if self.started:
            self.run.finish_counts(self.files, self.frames, self.fail_closed, error, files_failed=self.failed)
