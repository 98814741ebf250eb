"""The review's ledger records, and the processing record an output came from.

Actions (``dataset_id`` is the output's dataset): ``review.open`` (a review session opened an
output), ``review.save`` (who saved, how many changes, the new revision), ``review.signoff``
(reviewer, verdict, note, the revision and output it is about), ``review.render`` (an output made
again from its original with the reviewed regions: the same facts as an ``anonymize`` record plus
the revision, whether it was approved, and what a later re-render needs), and ``reveal`` with
``"via": "review"`` for a region looked at under its mask. ``ledger.records.unreviewed_outputs``
reads them back for ``ledger due`` and ``ledger show``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gamyeon.ledger.chain import Record

#: the actions whose payload says which output a file is (its ``output`` facts)
MAKERS = ("anonymize", "review.render")


@dataclass(frozen=True, slots=True)
class Origin:
    """How an output was made, from the ledger: its dataset, its source, the run's settings."""

    dataset_id: str | None
    #: the original file (as recorded), and its SHA-256
    source: Path
    source_sha256: str | None
    #: the run's output settings (``Options.output_settings``); None for runs that did not record them
    settings: dict[str, Any] | None
    #: the inputs of the run, to find the source's name relative to its input root
    inputs: tuple[str, ...] = ()
    key_fingerprint: str | None = None
    sealed: bool = False
    #: the source's name relative to its input root, when a record says it (re-renders do)
    relative: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def find_origin(records: Iterable[Record], output_sha256: str) -> Origin | None:
    """The latest record that made the output with ``output_sha256`` (None: no record here)."""
    starts: dict[str, dict[str, Any]] = {}
    found: Origin | None = None
    for rec in records:
        p = rec.payload
        if rec.action in ("anonymize.start",) and isinstance(p.get("run_id"), str):
            starts[p["run_id"]] = p
            continue
        if rec.action not in MAKERS:
            continue
        output = p.get("output")
        source = p.get("input")
        if not isinstance(output, dict) or output.get("sha256") != output_sha256 or not isinstance(source, dict):
            continue
        # a re-render records the run's settings itself; an anonymize run in its start record
        render = rec.action == "review.render"
        run = p if render else starts.get(str(p.get("run_id")), {})
        found = Origin(
            dataset_id=rec.dataset_id,
            source=Path(str(source.get("path"))),
            source_sha256=source.get("sha256"),
            settings=run.get("settings"),
            inputs=tuple(run.get("inputs") or ()),
            key_fingerprint=run.get("key_fingerprint"),
            sealed=bool(run.get("sealed")),
            relative=p.get("relative") if render else None,
        )
    return found
