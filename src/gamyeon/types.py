"""The plain values that flow through every stage: decode -> detect -> track -> operate -> encode.

Everything here is frozen: a stage returns new values instead of mutating what it was given, so a
region seen by the annotation writer is exactly the region the operator masked.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import Any

import numpy.typing as npt

#: any numpy array (pictures are H x W x 3 uint8 RGB; detector rows are N x 5 float32)
Array = npt.NDArray[Any]


class Source(StrEnum):
    """How a region came to be on a frame; recorded in annotations for auditability."""

    DETECTED = "detected"
    INTERPOLATED = "interpolated"  # between two detections of the same track
    EXTENDED = "extended"  # before the first / after the last detection of a track
    FAIL_CLOSED = "fail_closed"  # whole frame masked because a stage failed
    REVIEWED = "reviewed"  # drawn or changed by a person in ``gamyeon review``


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box in pixel coordinates, ``x2``/``y2`` exclusive, floats allowed."""

    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        values = (self.x1, self.y1, self.x2, self.y2)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"box coordinates must be finite, got {values}")
        if self.x2 < self.x1 or self.y2 < self.y1:
            raise ValueError(f"box must have x2 >= x1 and y2 >= y1, got {values}")

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)

    def scaled(self, factor: float) -> Box:
        """The box grown (factor > 1) or shrunk about its centre."""
        cx, cy = self.center
        hw, hh = self.width * factor / 2.0, self.height * factor / 2.0
        return Box(cx - hw, cy - hh, cx + hw, cy + hh)

    def padded(self, dx: float, dy: float) -> Box:
        """The box grown by ``dx``/``dy`` pixels on each side (negative values are ignored)."""
        dx, dy = max(dx, 0.0), max(dy, 0.0)
        return Box(self.x1 - dx, self.y1 - dy, self.x2 + dx, self.y2 + dy)

    def shifted(self, dx: float, dy: float) -> Box:
        return Box(self.x1 + dx, self.y1 + dy, self.x2 + dx, self.y2 + dy)

    def clipped(self, width: int, height: int) -> Box:
        """The part of the box inside a ``width`` x ``height`` frame (may be empty)."""
        x1 = min(max(self.x1, 0.0), float(width))
        y1 = min(max(self.y1, 0.0), float(height))
        x2 = min(max(self.x2, x1), float(width))
        y2 = min(max(self.y2, y1), float(height))
        return Box(x1, y1, x2, y2)

    def pixel_bounds(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Integer bounds that cover every pixel the box touches, clipped to the frame.

        Rounds outwards (floor/ceil) so a mask never misses a partly covered pixel.
        """
        x1 = min(max(math.floor(self.x1), 0), width)
        y1 = min(max(math.floor(self.y1), 0), height)
        x2 = min(max(math.ceil(self.x2), x1), width)
        y2 = min(max(math.ceil(self.y2), y1), height)
        return x1, y1, x2, y2

    def iou(self, other: Box) -> float:
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def lerp(self, other: Box, t: float) -> Box:
        """Linear interpolation from this box (t=0) to ``other`` (t=1)."""
        return Box(
            self.x1 + (other.x1 - self.x1) * t,
            self.y1 + (other.y1 - self.y1) * t,
            self.x2 + (other.x2 - self.x2) * t,
            self.y2 + (other.y2 - self.y2) * t,
        )

    def union(self, other: Box) -> Box:
        return Box(min(self.x1, other.x1), min(self.y1, other.y1), max(self.x2, other.x2), max(self.y2, other.y2))

    def as_list(self, ndigits: int = 1) -> list[float]:
        return [round(self.x1, ndigits), round(self.y1, ndigits), round(self.x2, ndigits), round(self.y2, ndigits)]


@dataclass(frozen=True, slots=True)
class Detection:
    """One detector output on one frame, before tracking."""

    kind: str
    box: Box
    score: float


@dataclass(frozen=True, slots=True)
class Region:
    """A region to protect on one frame.

    ``box`` is the object as detected or estimated; ``mask`` is the area the operator changes
    (``box`` grown by the kind's mask scale and by motion/uncertainty margins).
    ``track`` is the local integer track index; pseudonymous ids are derived from it on output.
    """

    kind: str
    box: Box
    mask: Box
    score: float
    track: int | None
    source: Source


@dataclass(frozen=True, slots=True)
class TrackBox:
    """A tracked person's estimated box on one frame, whether its body, its head or nothing of
    it is masked there: the identity tracks the annotations report (``track.identity``).
    ``track`` is the local integer id, pseudonymized on output like a region's."""

    kind: str
    box: Box
    score: float
    track: int
    source: Source


@dataclass(frozen=True, slots=True)
class FrameResult:
    """What the pipeline decided for one frame. ``tracks``: the identity tracks on the frame,
    None when the run tracks no persons."""

    index: int
    pts: int | None
    time: float | None
    regions: tuple[Region, ...]
    fail_closed: bool = False
    reason: str | None = None
    tracks: tuple[TrackBox, ...] | None = None

    @classmethod
    def closed(cls, index: int, pts: int | None, time: float | None, reason: str) -> FrameResult:
        """A frame written fully masked, with no regions, because of ``reason``."""
        return cls(index, pts, time, (), fail_closed=True, reason=reason)


@dataclass(frozen=True, slots=True)
class Colour:
    """How a stream's YUV samples map to RGB, as FFmpeg's ``AVCOL_*`` numbers (2, 0, 2, 2:
    unspecified). Masked frames are converted to RGB and back with the same matrix and range,
    and the output carries the same tags, or HD (BT.709) and full-range footage shifts colour
    on every masked frame."""

    space: int = 2
    range: int = 0
    primaries: int = 2
    trc: int = 2


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """Timing and geometry of a video stream. Time is integer ``pts`` in ``time_base`` units."""

    width: int
    height: int
    time_base: Fraction
    rate: Fraction  # nominal frame rate, never rounded to int (29.97 stays 30000/1001)
    frames: int | None  # as declared by the container, may be absent or wrong
    rotation: int  # degrees counter-clockwise to display upright (0, 90, 180, 270)
    codec: str
    pix_fmt: str
    has_audio: bool
    raw_stream: bool = False  # elementary stream without timestamps
    colour: Colour = Colour()


@dataclass(frozen=True, slots=True)
class FileFigures:
    """What the pipeline counted on one file (``figures.Tally``), returned when the file is done."""

    width: int
    height: int
    frames: int = 0
    regions: dict[str, int] = field(default_factory=dict)
    tracks: dict[str, int] = field(default_factory=dict)
    detected: int = 0
    interpolated: int = 0
    extended: int = 0
    fail_closed_frames: int = 0
    detection_frames: int = 0
    seconds: float = 0.0
    #: the video's time base ("1/30000"); None for images
    time_base: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary(FileFigures):
    """What ``anonymize`` reports per output file: the pipeline's figures with the file's names,
    dataset and hash (built once, when the file is done)."""

    input: str
    output: str
    annotations: str | None = None
    dataset_id: str | None = None
    #: SHA-256 of the output file, as hashed for the processing record (not repeated in as_dict)
    output_sha256: str | None = None

    @classmethod
    def of(
        cls,
        figures: FileFigures,
        *,
        input: str,
        output: str,
        annotations: str | None,
        dataset_id: str | None,
        output_sha256: str | None,
    ) -> Summary:
        """The summary of one output from the pipeline's figures and the file's names and hash."""
        counts = {f.name: getattr(figures, f.name) for f in dataclasses.fields(FileFigures)}
        return cls(
            **counts,
            input=input,
            output=output,
            annotations=annotations,
            dataset_id=dataset_id,
            output_sha256=output_sha256,
        )

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "input": self.input,
            "output": self.output,
            "frames": self.frames,
            "regions": dict(self.regions),
            "tracks": dict(self.tracks),
            "detected": self.detected,
            "interpolated": self.interpolated,
            "extended": self.extended,
            "fail_closed_frames": self.fail_closed_frames,
            "detection_frames": self.detection_frames,
            "seconds": round(self.seconds, 3),
            "fps": round(self.fps, 2),
            "annotations": self.annotations,
            "dataset_id": self.dataset_id,
        }
