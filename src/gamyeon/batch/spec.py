"""The values that travel between the batch parent and its workers (processes or Ray tasks).

All are frozen and picklable, and none holds key material: workers get the path of the key file
and read it themselves, so no key bytes pass through a pipe, Ray's object store or a log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gamyeon.annotations import export_path
from gamyeon.options import Options
from gamyeon.pipeline.video import FrameRange


@dataclass(frozen=True, slots=True)
class FileTask:
    """One input file of a batch and everything a worker needs to process it."""

    source: str
    output: str  # final output path
    relative: str  # the source relative to the batch root: manifest key and pseudonym domain
    work_dir: str  # where the chunk parts of this file are kept until they are joined
    options: Options
    dataset_id: str
    key_file: str
    chunk_seconds: float  # 0: never split
    overlap_seconds: float

    @property
    def suffix(self) -> str:
        return Path(self.output).suffix.lower()

    def exports(self) -> list[Path]:
        return [export_path(Path(self.output), fmt) for fmt in self.options.exports]

    def annotations(self) -> Path:
        out = Path(self.output)
        return out.with_name(out.name + ".regions.jsonl")

    def vault(self) -> Path | None:
        """``<OUTPUT>.vault`` beside the output when sealing (``--seal``, with the batch's master
        key), as ``gamyeon anonymize`` and ``gamyeon reveal`` name it by default; else None."""
        if self.options.seal_key is None:
            return None
        out = Path(self.output)
        return out.with_name(out.name + ".vault")


@dataclass(frozen=True, slots=True)
class Chunk:
    """Frames ``[start_index, end_index)`` of a video (pts ``[start_pts, end_pts)``), decoded from
    the keyframe ``warm_pts`` (frame ``warm_index``) so that tracks are warm at the border."""

    index: int
    warm_pts: int
    warm_index: int
    start_pts: int
    start_index: int
    end_pts: int | None
    end_index: int | None

    def frame_range(self) -> FrameRange:
        return FrameRange(self.warm_pts, self.warm_index, self.start_pts, self.end_pts, self.end_index)


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    """How one long video is split. ``digest`` names the plan (source identity, borders and
    settings) so that chunk parts kept from an interrupted run are reused only for the same plan."""

    chunks: tuple[Chunk, ...]
    frames: int
    seconds: float
    digest: str


@dataclass(frozen=True, slots=True)
class ChunkResult:
    index: int
    frames: int  # own frames encoded
    seconds: float  # worker time
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class FileResult:
    """A finished output, as the status manifest records it."""

    frames: int
    faces: int  # distinct face tracks (pseudonymous persons, as far as tracking can tell)
    regions: int  # masked regions over all frames
    fail_closed_frames: int
    seconds: float  # worker time, summed over the file's tasks
    sha256: str  # of the output video or image
    chunks: int
    #: ``file_facts`` of the input, the annotations and each export (by format), for the ledger
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Failure:
    """A file that could not be processed; ``error`` is one line."""

    error: str


def one_line(text: str) -> str:
    """``text`` as one line (error messages go into a CSV cell and a one-line summary)."""
    return " ".join(str(text).split()) or "unknown error"
