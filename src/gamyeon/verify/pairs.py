"""Pairing original and anonymized files the way ``gamyeon anonymize`` named them.

``gamyeon anonymize IN -o OUT`` maps inputs to outputs with ``infra.files.plan_jobs``; verify asks the
same function where each original's output should be, so a folder verified against the folder
it was anonymized into pairs up file by file (same relative path, same suffix rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gamyeon.errors import InputNotFoundError, UsageError
from gamyeon.infra.files import is_image, plan_jobs


class MismatchError(UsageError):
    """The anonymized file does not correspond to the original (size, frame count, kind)."""


@dataclass(frozen=True, slots=True)
class Pair:
    original: Path
    anonymized: Path
    #: the anonymizer's regions sidecar, when there is one
    annotations: Path | None

    @property
    def image(self) -> bool:
        return is_image(self.original)


def sidecar(anonymized: Path) -> Path:
    return anonymized.with_name(anonymized.name + ".regions.jsonl")


def pair_inputs(original: Path, anonymized: Path, annotations: Path | None = None) -> list[Pair]:
    """The file pairs to verify; raises a one-line ``GamyeonError`` for anything that cannot pair."""
    for path, what in ((original, "original"), (anonymized, "anonymized")):
        if not path.exists():
            raise InputNotFoundError(f"{what} not found: {path}")
    if original.resolve() == anonymized.resolve():
        raise UsageError(f"ORIGINAL and ANONYMIZED are the same path: {original}")
    if original.is_dir() and not anonymized.is_dir():
        raise UsageError(f"ORIGINAL is a folder, so ANONYMIZED must be the folder it was anonymized into: {anonymized}")
    if annotations is not None:
        if original.is_dir():
            raise UsageError("--annotations applies to a single file; folders use each output's .regions.jsonl")
        if not annotations.is_file():
            raise InputNotFoundError(f"annotations not found: {annotations}")
    if original.is_file() and anonymized.is_file():
        planned = [(original, anonymized)]
    else:
        planned = [(job.source, job.output) for job in plan_jobs([original], anonymized)]
    pairs: list[Pair] = []
    for src, out in planned:
        if not out.is_file():
            raise InputNotFoundError(f"no anonymized file for {src} (expected {out})")
        if is_image(src) != is_image(out):
            raise MismatchError(f"{src} and {out} are not both images or both videos")
        notes = annotations if annotations is not None else sidecar(out)
        pairs.append(Pair(src, out, notes if notes.is_file() else None))
    return pairs
