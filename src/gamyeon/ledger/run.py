"""Records of one ``anonymize`` or ``batch`` run: a start record, one record per output file (and
per vault and export), and a finish record with the outcome.

``anonymize`` writes a file's record before the file is moved into place; ``batch`` workers move
their files into place themselves, so the batch parent records each file as its worker reports
it done (before the status manifest says so) and, on a re-run, records any done file whose record
is missing (``recorded_late``): no output stays without its record."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gamyeon.about import __version__
from gamyeon.errors import GamyeonError, LedgerError
from gamyeon.infra.files import Job
from gamyeon.keys import MasterKey
from gamyeon.ledger.records import file_facts, model_digest
from gamyeon.ledger.store import Ledger
from gamyeon.options import Options
from gamyeon.types import Summary

log = logging.getLogger(__name__)


class RunRecord:
    def __init__(self, ledger: Ledger, dataset_id: str, options: Options, key: MasterKey, models: dict[str, Path]):
        self.ledger = ledger
        self.dataset_id = dataset_id
        self.options = options
        self.run_id = uuid.uuid4().hex
        self.key_fingerprint = key.fingerprint
        self.models = models

    def _append(self, action: str, payload: dict[str, Any]) -> None:
        self.ledger.append(action, {"run_id": self.run_id, **payload}, self.dataset_id)

    def start(self, inputs: Sequence[Path | str], output: Path | str, files: int, **extra: Any) -> None:
        """``inputs`` and ``output`` are files or folders (recorded resolved) or, for a live run,
        stream URLs (recorded as given)."""
        o = self.options
        self._append(
            "anonymize.start",
            {
                "inputs": [_where(p) for p in inputs],
                "output": _where(output),
                "files": files,
                "kinds": list(o.kinds),
                "policy": o.policy.describe(),
                "models": {
                    name: {"file": path.name, "sha256": model_digest(path)}
                    for name, path in sorted(self.models.items())
                },
                "gamyeon": __version__,
                "key_fingerprint": self.key_fingerprint,
                "sealed": o.seal_key is not None,
                # what a re-render needs to make an output again as this run made it (``gamyeon review``)
                "settings": o.output_settings(),
                **o.processing.as_payload(),
                **extra,
            },
        )

    def file_done(
        self,
        job: Job,
        summary: Summary,
        output: dict[str, Any],
        annotations: tuple[Path, Path],
        exports: Sequence[tuple[str, Path, Path]],
        vault: tuple[Path, Path, dict[str, Any]] | None,
    ) -> None:
        """Record one finished output: ``output`` is its ``file_facts``; the other files are still at
        their temporary names ``(tmp, final)``."""
        counts = {k: v for k, v in summary.as_dict().items() if k not in {"input", "output", "annotations"}}
        self.output_done(file_facts(job.source), output, file_facts(*annotations), counts)
        if vault is not None:
            tmp, final, facts = vault
            self.seal_done(file_facts(tmp, final), output["sha256"], facts)
        for fmt, tmp, final in exports:
            self.export_done(fmt, file_facts(tmp, final))

    def output_done(
        self,
        source: dict[str, Any],
        output: dict[str, Any],
        annotations: dict[str, Any],
        counts: dict[str, Any],
        **extra: Any,
    ) -> None:
        """The ``anonymize`` record of one output, from the ``file_facts`` of its files."""
        payload = {"input": source, "output": output, "annotations": annotations, "counts": counts}
        self._append("anonymize", {**payload, **extra})

    def seal_done(self, vault: dict[str, Any], output_sha256: str, facts: dict[str, Any], **extra: Any) -> None:
        """The ``seal`` record of one vault: its ``file_facts``, the output it is bound to, and
        ``VaultWriter.facts()`` (no key material: the key by its fingerprint)."""
        self._append(
            "seal",
            {
                "vault": vault,
                "output_sha256": output_sha256,
                "key_fingerprint": self.key_fingerprint,
                **facts,
                **extra,
            },
        )

    def export_done(self, fmt: str, facts: dict[str, Any]) -> None:
        self._append("export", {"format": fmt, "file": facts, "recipient": self.options.processing.recipient})

    def finish(self, summaries: Sequence[Summary], error: BaseException | None) -> None:
        self.finish_counts(
            len(summaries),
            sum(s.frames for s in summaries),
            sum(s.fail_closed_frames for s in summaries),
            error,
        )

    def finish_counts(
        self, files: int, frames: int, fail_closed_frames: int, error: BaseException | None, **extra: Any
    ) -> None:
        if error is None:
            status, reason = "ok", None
        elif isinstance(error, KeyboardInterrupt):
            status, reason = "interrupted", "interrupted by the user"
        else:
            status = "failed"
            reason = str(error) if isinstance(error, GamyeonError) else type(error).__name__
        payload = {
            "status": status,
            "error": reason,
            "files_done": files,
            "frames": frames,
            "fail_closed_frames": fail_closed_frames,
            **extra,
        }
        if error is None:
            self._append("anonymize.finish", payload)
            return
        try:  # never let a ledger problem hide the error that ended the run
            self._append("anonymize.finish", payload)
        except LedgerError as err:
            log.warning("could not record the end of the run: %s", err)


def _where(place: Path | str) -> str:
    return str(place.resolve()) if isinstance(place, Path) else place
