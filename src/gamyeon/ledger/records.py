"""What a processing record holds besides the run's ``options.Processing`` (the files, by path,
size and hash; the model files, by hash), and the questions asked of the ledger afterwards:
unfinished runs and datasets past retention.

Record actions: ``anonymize.start`` / ``anonymize.finish`` bracket a run (a start without a finish
is a run that was killed); ``anonymize``, ``seal`` and ``export`` are written per output file
before it is moved into place, so no output exists without its record; ``reveal``, ``verify``,
``destroy`` and ``destroyed`` (outputs destroyed by hand) follow the commands of those names;
``trace`` records a contact query of ``analyze --trace`` (``gamyeon.analytics.tracing``).
``review.open``, ``review.save``, ``review.signoff`` and ``review.render`` come from ``gamyeon
review`` (``gamyeon.review.records``); a ``review.render`` makes an output again, like ``anonymize``.
``live.gap`` records a live camera's lost source once it is back (``gamyeon.live.records``).
Keys are identified by fingerprint only, never by their bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from gamyeon.infra.files import sha256_file
from gamyeon.ledger.chain import Record


@cache
def model_digest(path: Path) -> str:
    """SHA-256 of a model file, once per process (records name the exact weights used)."""
    return sha256_file(path)


def file_facts(path: Path, final: Path | None = None, sha256: str | None = None) -> dict[str, Any]:
    """Path (the final name), size and SHA-256 of a file (possibly still at a temporary name);
    ``sha256`` when the caller has already hashed it."""
    digest = sha256 or sha256_file(path)
    return {"path": str((final or path).resolve()), "bytes": path.stat().st_size, "sha256": digest}


@dataclass(frozen=True, slots=True)
class Unfinished:
    run_id: str
    started: Record


def unfinished_runs(records: Iterable[Record]) -> list[Unfinished]:
    """Runs with a start record and no finish record: killed, crashed or still running."""
    open_runs: dict[str, Record] = {}
    for rec in records:
        run = rec.payload.get("run_id")
        if not isinstance(run, str):
            continue
        if rec.action.endswith(".start"):
            open_runs[run] = rec
        elif rec.action.endswith(".finish"):
            open_runs.pop(run, None)
    return [Unfinished(run, rec) for run, rec in open_runs.items()]


@dataclass(slots=True)
class Due:
    dataset_id: str
    retain_until: date
    vaults: list[str]
    outputs: list[str]


def due_datasets(records: Iterable[Record], today: date | None = None) -> list[Due]:
    """Datasets past their retention deadline that still hold something not recorded destroyed:
    a vault without a ``destroy`` record, or outputs without a ``destroyed`` record."""
    today = today or datetime.now(UTC).date()
    deadlines: dict[str, date] = {}
    vaults: dict[str, set[str]] = {}
    outputs: dict[str, set[str]] = {}
    outputs_destroyed: set[str] = set()
    for rec in records:
        ds = rec.dataset_id
        if ds is None:
            continue
        until = rec.payload.get("retain_until")
        if rec.action == "anonymize.start" and isinstance(until, str):
            deadlines[ds] = date.fromisoformat(until)
        elif rec.action == "seal":
            vaults.setdefault(ds, set()).add(str(rec.payload.get("vault", {}).get("path")))
        elif rec.action == "anonymize":
            outputs.setdefault(ds, set()).add(str(rec.payload.get("output", {}).get("path")))
        elif rec.action == "destroy":
            vaults.get(ds, set()).discard(str(rec.payload.get("vault")))
        elif rec.action == "destroyed":
            outputs_destroyed.add(ds)
    due = []
    for ds, until in sorted(deadlines.items(), key=lambda kv: kv[1]):
        if until >= today:
            continue
        left_vaults = sorted(vaults.get(ds, set()))
        left_outputs = [] if ds in outputs_destroyed else sorted(outputs.get(ds, set()))
        if left_vaults or left_outputs:
            due.append(Due(ds, until, left_vaults, left_outputs))
    return due


@dataclass(frozen=True, slots=True)
class Unreviewed:
    """An output as last made (``anonymize`` or ``review.render``) that no review approved."""

    dataset_id: str | None
    output: str
    sha256: str
    made: Record


def unreviewed_outputs(records: Iterable[Record]) -> list[Unreviewed]:
    """Outputs released without an approving review: for each output path, the file last recorded
    there, unless a ``review.signoff`` approved that very file (its SHA-256) as its last verdict,
    or it was made by a ``review.render`` of an approved revision. Datasets recorded destroyed
    are left out."""
    current: dict[str, tuple[str, Record]] = {}
    verdicts: dict[str, bool] = {}
    destroyed: set[str] = set()
    for rec in records:
        p = rec.payload
        output = p.get("output")
        if not isinstance(output, dict):
            output = {}
        sha = output.get("sha256")
        if rec.action in ("anonymize", "review.render") and isinstance(sha, str) and "path" in output:
            current[str(output["path"])] = (sha, rec)
            if rec.action == "review.render":
                verdicts[sha] = bool(p.get("approved"))
        elif rec.action == "review.signoff" and isinstance(sha, str):
            verdicts[sha] = p.get("verdict") == "approve"
        elif rec.action == "destroyed" and rec.dataset_id is not None:
            destroyed.add(rec.dataset_id)
    return [
        Unreviewed(rec.dataset_id, path, sha, rec)
        for path, (sha, rec) in current.items()
        if not verdicts.get(sha, False) and rec.dataset_id not in destroyed
    ]
