"""The reveal and destroy commands as functions: checks, the work, and the ledger record, in the
order that keeps the law's promises -- no revealed file exists without its record, and a vault is
recorded destroyed only once its bytes are gone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gamyeon.errors import UsageError
from gamyeon.infra.files import atomic_outputs, shred
from gamyeon.infra.progress import Bar
from gamyeon.keys import read_key
from gamyeon.ledger.records import file_facts
from gamyeon.ledger.store import Ledger
from gamyeon.vault.reveal import RevealResult, TrackInfo, destroy, list_tracks, open_vault, reveal


def default_vault(anonymized: Path) -> Path:
    return anonymized.with_name(anonymized.name + ".vault")


@dataclass(frozen=True, slots=True)
class RevealRequest:
    anonymized: Path
    vault: Path
    key_file: Path
    tracks: tuple[str, ...]
    output: Path
    purpose: str
    authority: str
    recipient: str | None = None
    lossless: bool = False
    ledger: str | None = None
    quiet: bool = False

    def __post_init__(self) -> None:
        if not self.tracks:
            raise UsageError("name at least one --track to reveal (see `gamyeon reveal --list`)")
        if not self.purpose.strip() or not self.authority.strip():
            raise UsageError("--purpose and --authority must not be empty: a reveal needs its lawful reason")
        if self.output.exists() and self.output.resolve() == self.anonymized.resolve():
            raise UsageError("the revealed output would overwrite the anonymized input")


def tracks_in(vault: Path, key_file: Path | None) -> list[TrackInfo]:
    """The vault's tracks; authenticated when a key is given, read from the index otherwise."""
    key = read_key(key_file) if key_file is not None else None
    with open_vault(vault, key) as opened:
        return list_tracks(opened)


def reveal_tracks(req: RevealRequest) -> RevealResult:
    """Write ``req.output`` with the named tracks restored, and record the reveal."""
    key = read_key(req.key_file)
    with Ledger(req.ledger) as ledger, open_vault(req.vault, key) as vault:
        suffix = req.output.suffix.lower()
        with atomic_outputs(req.output) as (tmp,), Bar(req.quiet) as bar:
            bar.start(f"reveal {req.anonymized.name}", None)
            result = reveal(
                req.anonymized,
                vault,
                key,
                list(req.tracks),
                tmp,
                suffix=suffix,
                lossless=req.lossless,
                progress=bar.advance,
            )
            bar.finish()
            ledger.append(
                "reveal",
                {
                    "tracks": result.tracks,
                    "purpose": req.purpose,
                    "authority": req.authority,
                    "recipient": req.recipient,
                    "anonymized": file_facts(req.anonymized, sha256=result.anonymized_sha256),
                    "vault": {"path": str(req.vault.resolve()), "vault_id": result.vault_id},
                    "output": file_facts(tmp, req.output),
                    "lossless": req.lossless,
                    "frames": result.frames,
                    "frames_with_track": len(result.frames_with_track),
                    "regions_revealed": result.regions_revealed,
                    "regions_kept_masked": result.regions_kept_masked,
                    "key_fingerprint": key.fingerprint,
                },
                result.dataset_id,
            )
    return result


def destroy_vault(
    vault: Path, key_file: Path, *, reason: str | None, ledger: str | None, shred_key: bool
) -> dict[str, Any]:
    """Destroy ``vault`` (overwrite, delete) and record it; optionally the key file too."""
    key = read_key(key_file)
    with Ledger(ledger) as book:  # opened first: never destroy what cannot be recorded
        facts = destroy(vault, key)
        facts["reason"] = reason
        if shred_key:
            shred(key_file)
            facts["key_file_destroyed"] = str(key_file.resolve())
        book.append("destroy", facts, str(facts["dataset_id"]))
    return facts
