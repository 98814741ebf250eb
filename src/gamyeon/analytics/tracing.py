"""Contact tracing of one pseudonymous track, and its ledger record.

Given one track pseudonym (typically one an authority had revealed with ``gamyeon reveal``), the
answer is the pseudonyms of its contacts with times and durations -- never an identity. Each
contact can be revealed in turn only through ``reveal``, one track at a time, with its own
purpose and authority.

Like a reveal, each query is recorded in the ledger (action ``trace``) with its purpose and
authority, the sidecars it read (SHA-256), the parameters and the pseudonyms it returned, before
its result is moved into place: no trace result exists without its record. The record is
accountability, not access control: whoever holds a sidecar holds every track's positions and
could compute proximity himself, so sidecars are to be kept like the data they describe.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gamyeon.analytics.engine import Settings, SourceResult
from gamyeon.errors import UsageError
from gamyeon.ledger.chain import Record
from gamyeon.ledger.records import file_facts
from gamyeon.ledger.store import Ledger

TRACE_ACTION = "trace"


@dataclass(frozen=True, slots=True)
class TraceRequest:
    """Whose contacts, why and on whose authority (both required, as for ``reveal``)."""

    track: str
    purpose: str | None
    authority: str | None
    recipient: str | None = None

    def __post_init__(self) -> None:
        missing = [flag for flag, v in (("--purpose", self.purpose), ("--authority", self.authority)) if not v]
        if missing:
            raise UsageError(
                f"--trace needs {' and '.join(missing)}: a contact query is recorded with its lawful reason"
            )
        if not (self.purpose or "").strip() or not (self.authority or "").strip():
            raise UsageError("--purpose and --authority must not be empty: a contact query needs its lawful reason")
        if not self.track.strip():
            raise UsageError("--trace: give the pseudonymous track id (see the sidecar or `gamyeon reveal --list`)")


@dataclass(frozen=True, slots=True)
class TracedContact:
    """One contact of the traced track: the other pseudonym, when, how long, how close."""

    source: str
    track: str
    start: float
    end: float
    duration: float
    min_distance: float
    units: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "contact": self.track,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "duration": round(self.duration, 3),
            "min_distance": round(self.min_distance, 3),
            "units": self.units,
        }


def contacts_of(results: Sequence[SourceResult], track: str) -> list[TracedContact]:
    """The contacts of ``track`` in every source it appears in, in time order."""
    if not any(t.track == track for r in results for t in r.tracks):
        raise UsageError(f"--trace: track {track} is not among the analysed tracks of the inputs")
    return [
        TracedContact(c.source, c.other(track), c.start, c.end, c.duration, c.min_distance, c.units)
        for r in results
        for c in r.contacts
        if track in (c.a, c.b)
    ]


def dataset_of(ledger: Ledger, files: Iterable[dict[str, Any]]) -> str | None:
    """The dataset an input belongs to, found by its SHA-256 in the ``anonymize`` record (the
    sidecar) or an ``export`` record (the COCO export) that wrote it."""
    digests = {f["sha256"] for f in files}
    for rec in ledger.records():
        if rec.dataset_id is None or rec.action not in {"anonymize", "export"}:
            continue
        facts = rec.payload.get("annotations" if rec.action == "anonymize" else "file")
        if isinstance(facts, dict) and facts.get("sha256") in digests:
            return rec.dataset_id
    return None


def record_trace(
    ledger: Ledger,
    request: TraceRequest,
    sidecars: Sequence[Path],
    settings: Settings,
    kinds: Sequence[str],
    contacts: Sequence[TracedContact],
    output: tuple[Path, Path],
) -> Record:
    """Append the ``trace`` record; ``output`` is the result file ``(temporary, final)``."""
    facts = [file_facts(p) for p in sidecars]
    return ledger.append(
        TRACE_ACTION,
        {
            "track": request.track,
            "purpose": request.purpose,
            "authority": request.authority,
            "recipient": request.recipient,
            "sidecars": facts,
            "kinds": list(kinds),
            "distance": settings.contact_distance,
            "units": settings.plane.units,
            "min_seconds": settings.contact_seconds,
            "gap": settings.gap,
            "homography": settings.plane.matrix is not None,
            "contacts": len(contacts),
            "contact_tracks": sorted({c.track for c in contacts}),
            "output": file_facts(*output),
        },
        dataset_of(ledger, facts),
    )
