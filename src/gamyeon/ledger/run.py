"""Records of one ``anonymize`` run: a start record, one record per output file (and per vault
and export) written before the file is moved into place, and a finish record with the outcome."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gamyeon import __version__
from gamyeon.errors import GamyeonError, LedgerError
from gamyeon.files import Job
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

    def start(self, inputs: Sequence[Path], output: Path, files: int) -> None:
        o = self.options
        self._append(
            "anonymize.start",
            {
                "inputs": [str(p.resolve()) for p in inputs],
                "output": str(output.resolve()),
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
                **o.processing.as_payload(),
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
        self._append(
            "anonymize",
            {
                "input": file_facts(job.source),
                "output": output,
                "annotations": file_facts(*annotations),
                "counts": counts,
            },
        )
        if vault is not None:
            tmp, final, facts = vault
            self._append(
                "seal",
                {
                    "vault": file_facts(tmp, final),
                    "output_sha256": output["sha256"],
                    "key_fingerprint": self.key_fingerprint,
                    **facts,
                },
            )
        for fmt, tmp, final in exports:
            self._append(
                "export",
                {"format": fmt, "file": file_facts(tmp, final), "recipient": self.options.processing.recipient},
            )

    def finish(self, summaries: Sequence[Summary], error: BaseException | None) -> None:
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
            "files_done": len(summaries),
            "frames": sum(s.frames for s in summaries),
            "fail_closed_frames": sum(s.fail_closed_frames for s in summaries),
        }
        if error is None:
            self._append("anonymize.finish", payload)
            return
        try:  # never let a ledger problem hide the error that ended the run
            self._append("anonymize.finish", payload)
        except LedgerError as err:
            log.warning("could not record the end of the run: %s", err)
