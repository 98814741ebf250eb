"""Which files make up one reviewable output, and finding the outputs a command names.

An output is a video gamyeon wrote, with its regions sidecar beside it. Beside it too, when they
exist: its vault, verify's JSON report, the exports, and the review's own files. These paths are
the only files the review app ever opens for a session: it serves nothing by a name a request
chooses.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

from gamyeon.annotations import EXPORT_FORMATS, export_path
from gamyeon.errors import InputNotFoundError, UnsupportedInputError
from gamyeon.infra.files import is_image
from gamyeon.media.encode import VIDEO_SUFFIXES

log = logging.getLogger(__name__)

BATCH_MANIFEST = "gamyeon-batch.csv"


@dataclass(frozen=True, slots=True)
class OutputFiles:
    """One output and the files that belong to it (``beside`` each other, named after it)."""

    video: Path

    def _beside(self, suffix: str) -> Path:
        return self.video.with_name(self.video.name + suffix)

    @property
    def annotations(self) -> Path:
        return self._beside(".regions.jsonl")

    @property
    def review(self) -> Path:
        return self._beside(".review.json")

    @property
    def base(self) -> Path:
        """The sidecar the detectors wrote, kept here once a re-render has rewritten the sidecar."""
        return self._beside(".review.base.jsonl")

    @property
    def vault(self) -> Path:
        return self._beside(".vault")

    @property
    def verify_json(self) -> Path:
        return self._beside(".verify.json")

    @property
    def exports(self) -> list[tuple[str, Path]]:
        """The exports the output has (those present beside it)."""
        return [(fmt, export_path(self.video, fmt)) for fmt in EXPORT_FORMATS if export_path(self.video, fmt).is_file()]

    @property
    def name(self) -> str:
        return self.video.name


def _check_video(path: Path) -> OutputFiles:
    if is_image(path):
        raise UnsupportedInputError(f"{path} is an image: review works on videos")
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise UnsupportedInputError(f"{path} is not a video gamyeon writes ({', '.join(sorted(VIDEO_SUFFIXES))})")
    files = OutputFiles(path)
    if not files.annotations.is_file():
        raise UnsupportedInputError(f"{path} is not a gamyeon output: {files.annotations.name} is not beside it")
    return files


def _from_batch(dst: Path) -> list[OutputFiles]:
    with (dst / BATCH_MANIFEST).open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    found = []
    for row in rows:
        if row.get("state") != "done" or not row.get("output"):
            continue
        path = dst / row["output"]
        if is_image(path):
            log.info("review: skipping the image %s (review works on videos)", path)
            continue
        found.append(_check_video(path))
    return found


def _from_folder(folder: Path) -> list[OutputFiles]:
    found = []
    for path in sorted(folder.rglob("*")):
        usable = path.suffix.lower() in VIDEO_SUFFIXES and not path.name.startswith(".") and path.is_file()
        if usable and OutputFiles(path).annotations.is_file():
            found.append(OutputFiles(path))
    return found


def find_outputs(paths: list[Path]) -> list[OutputFiles]:
    """The outputs named by ``paths``: files, folders of outputs, or batch destinations."""
    outputs: list[OutputFiles] = []
    for path in paths:
        if not path.exists():
            raise InputNotFoundError(f"not found: {path}")
        if path.is_dir():
            found = _from_batch(path) if (path / BATCH_MANIFEST).is_file() else _from_folder(path)
            if not found:
                raise UnsupportedInputError(f"no gamyeon video outputs (a video with its .regions.jsonl) in {path}")
            outputs.extend(found)
        else:
            outputs.append(_check_video(path))
    seen: set[Path] = set()
    unique = []
    for out in outputs:
        key = out.video.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(out)
    return unique
