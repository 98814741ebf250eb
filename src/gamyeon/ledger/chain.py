"""The hash chain: each record's hash covers its own content and the previous record's hash.

Editing a record changes its hash; deleting, inserting or reordering records breaks a ``prev``
link or the contiguous sequence; deleting the newest records is caught by the head row, which
holds the last sequence number and hash (see ``store.py``). Hashes are over a canonical JSON
form, so the same record hashes the same in SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    at: str  # ISO 8601 UTC
    action: str
    dataset_id: str | None
    actor: str
    host: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def content(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "action": self.action,
            "dataset_id": self.dataset_id,
            "actor": self.actor,
            "host": self.host,
            "payload": self.payload,
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.content(), "prev_hash": self.prev_hash, "hash": self.hash}


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(prev_hash: str, content: dict[str, Any]) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical_json(content)}".encode()).hexdigest()


def seal_record(
    seq: int, at: str, action: str, dataset_id: str | None, actor: str, host: str, payload: dict[str, Any], prev: str
) -> Record:
    """A new record linked to ``prev``, with its hash computed."""
    draft = Record(seq, at, action, dataset_id, actor, host, payload, prev, "")
    return Record(seq, at, action, dataset_id, actor, host, payload, prev, record_hash(prev, draft.content()))


def check_chain(records: list[Record] | Any, head: tuple[int, str] | None) -> tuple[int, list[str]]:
    """(records checked, problems found) for records in ``seq`` order."""
    problems: list[str] = []
    prev_hash, expected, count = GENESIS, 1, 0
    last: Record | None = None
    for rec in records:
        count += 1
        if rec.seq != expected:
            problems.append(
                f"record {rec.seq} follows record {expected - 1}: records were deleted or inserted before it"
            )
        if rec.prev_hash != prev_hash:
            problems.append(f"record {rec.seq} does not link to the record before it (deleted, inserted or reordered)")
        if record_hash(rec.prev_hash, rec.content()) != rec.hash:
            problems.append(f"record {rec.seq} was changed after it was written (its hash does not match)")
        prev_hash, expected, last = rec.hash, rec.seq + 1, rec
    if head is not None:
        head_seq, head_hash = head
        if last is None and head_seq != 0:
            problems.append(f"the ledger is empty but its head says {head_seq} record(s): records were deleted")
        elif last is not None and (head_seq, head_hash) != (last.seq, last.hash):
            problems.append(
                f"the ledger ends at record {last.seq} but its head says record {head_seq}: "
                "the newest records were deleted or the head was changed"
            )
    return count, problems
