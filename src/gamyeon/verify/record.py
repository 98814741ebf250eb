"""What the processing ledger keeps of a verification (``anonymize --verify``, ``verify --ledger``).

The record is evidence that the output was inspected before release (PIPC guidance): the gate's
verdict and rates, the identity attacks' figures against chance (rank-1/rank-5, chance, interval,
p-value, calibration status; per file, pooled, and the ``--gallery`` test), the thresholds and
model versions used, and the SHA-256 of each anonymized file and of both reports, so that a report
shown later can be matched to its record. Per-frame detail, per-track figures and the distance
list stay in the JSON report (the record would otherwise grow with the video).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gamyeon.ledger.records import file_facts
from gamyeon.ledger.store import Ledger
from gamyeon.verify.result import VerifyResult

ACTION = "verify"


def _brief(attack: dict[str, Any]) -> dict[str, Any]:
    """An identity attack's figures without the per-track list (kept in the JSON report)."""
    return {k: v for k, v in attack.items() if k != "tracks"}


def payload(
    result: VerifyResult, html: Path | None, json_path: Path | None, known: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The ledger payload of ``result`` (reports already written). ``known``: SHA-256 digests
    already computed, by anonymized path as in ``result`` (``anonymize --verify`` has just hashed
    its outputs; a large video is not read a third time)."""
    summary = result.as_dict()
    identity = dict(summary["identity"])  # type: ignore[call-overload]
    identity.pop("distances", None)
    for name in ("attack", "gallery"):
        if identity.get(name) is not None:
            identity[name] = _brief(identity[name])
    files = []
    for f in result.files:
        anonymized = Path(f.anonymized)
        digest = (known or {}).get(f.anonymized)
        facts = file_facts(anonymized, sha256=digest) if anonymized.is_file() else {"path": str(anonymized.resolve())}
        files.append(
            {
                "original": str(Path(f.original).resolve()),
                "anonymized": facts,
                "media": f.media,
                "frames_scanned": len(f.frames),
                "faces": len(f.faces),
                "leaks": sum(face.leak for face in f.faces),
                "reidentifiable": sum(face.reidentifiable for face in f.faces),
                "identity_attack": None if f.identity is None else _brief(f.identity.as_dict()),
            }
        )
    reports = {name: file_facts(p) for name, p in (("html", html), ("json", json_path)) if p is not None}
    return {
        "passed": summary["passed"],
        "verdict": summary["verdict"],
        "leak": summary["leak"],
        "identity": identity,
        "policy": summary["policy"],
        "models": summary["models"],
        "files": files,
        "reports": reports,
    }


def record(
    location: str | None,
    result: VerifyResult,
    html: Path | None,
    json_path: Path | None,
    dataset_id: str | None = None,
    known: Mapping[str, str] | None = None,
) -> None:
    """Append one ``verify`` record to the ledger at ``location`` (None: the default ledger)."""
    with Ledger(location) as ledger:
        ledger.append(ACTION, payload(result, html, json_path, known), dataset_id)
