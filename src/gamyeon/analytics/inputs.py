"""Which file of a gamyeon output the analytics read, and how: the regions sidecar (streamed), or
the COCO export when that is what the user has."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path

from gamyeon.analytics.coco import COCO_SUFFIX, check_coco, read_coco
from gamyeon.analytics.records import FrameRecord
from gamyeon.analytics.sidecar import OBSERVED_SOURCES, SIDECAR_SUFFIX, check_sidecar, read_frames
from gamyeon.errors import InputNotFoundError, UnsupportedInputError


def resolve(path: Path) -> Path:
    """The file to read for ``path``: a sidecar or COCO export as given, or the one beside a
    gamyeon output video (the sidecar first)."""
    name = path.name
    if name.endswith((SIDECAR_SUFFIX, COCO_SUFFIX)):
        if not path.is_file():
            raise InputNotFoundError(f"input not found: {path}")
        return path
    if name.endswith(".mot.txt"):
        raise UnsupportedInputError(f"{path}: a MOT export has no timestamps or pseudonyms; give the output's sidecar")
    for suffix in (SIDECAR_SUFFIX, COCO_SUFFIX):
        beside = path.with_name(name + suffix)
        if beside.is_file():
            return beside
    if not path.exists():
        raise InputNotFoundError(f"input not found: {path}")
    raise UnsupportedInputError(
        f"{path} is not a gamyeon output with a regions sidecar (no {name}{SIDECAR_SUFFIX} beside it), "
        "nor a sidecar or COCO export"
    )


def check(path: Path) -> None:
    """Refuse, before any work, a resolved input that is not what its name says."""
    if path.name.endswith(COCO_SUFFIX):
        check_coco(path)
    else:
        check_sidecar(path)


def frames(
    path: Path, kinds: Collection[str], sources: Collection[str] = OBSERVED_SOURCES, seen: set[str] | None = None
) -> Iterator[FrameRecord]:
    """The frame records of a resolved input, in frame order."""
    if path.name.endswith(COCO_SUFFIX):
        return read_coco(path, kinds, sources, seen)
    return read_frames(path, kinds, sources, seen)
