"""The regions sidecar of an output, read once for review: every frame's regions and every track.

Read into memory because the page asks for any frame in any order and the track list needs the
whole file; a sidecar is small next to its video (a few hundred bytes per region).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gamyeon.errors import GamyeonError

ESTIMATED = ("interpolated", "extended")


class SidecarError(GamyeonError, ValueError):
    """A regions sidecar is missing, damaged, or does not describe its video."""


@dataclass(frozen=True, slots=True)
class Note:
    """One region of one frame as the sidecar has it (``box``/``mask``: upright pixels)."""

    kind: str
    track: str | None
    box: tuple[float, float, float, float]
    mask: tuple[float, float, float, float]
    score: float
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "track": self.track,
            "box": list(self.box),
            "mask": list(self.mask),
            "score": self.score,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class FrameNotes:
    frame: int
    pts: int | None
    time: float | None
    fail_closed: bool
    regions: tuple[Note, ...]
    #: the persons' identity tracks on the frame (their ``mask`` is their box); None when the run
    #: tracked no persons. They are carried through a re-render unchanged, never masked.
    persons: tuple[Note, ...] | None = None


@dataclass(slots=True)
class TrackSummary:
    """What the track list shows of one track."""

    track: str
    kind: str
    first: int
    last: int
    frames: int = 0
    detected: int = 0
    #: the frame and box of the track's largest detected (else any) region: its thumbnail
    best_frame: int = 0
    best_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    _best_area: float = field(default=-1.0, repr=False)

    def see(self, frame: int, note: Note) -> None:
        self.first = min(self.first, frame)
        self.last = max(self.last, frame)
        self.frames += 1
        detected = note.source == "detected"
        self.detected += detected
        x1, y1, x2, y2 = note.box
        area = (x2 - x1) * (y2 - y1) * (2.0 if detected else 1.0)
        if area > self._best_area:
            self._best_area, self.best_frame, self.best_box = area, frame, note.box

    def as_dict(self, times: list[float | None]) -> dict[str, Any]:
        return {
            "track": self.track,
            "kind": self.kind,
            "first": self.first,
            "last": self.last,
            "first_time": times[self.first],
            "last_time": times[self.last],
            "frames": self.frames,
            "detected": self.detected,
            "estimated": self.frames - self.detected,
            "detected_share": round(self.detected / self.frames, 3) if self.frames else 0.0,
            "best_frame": self.best_frame,
        }


def _quad(value: Any, where: str) -> tuple[float, float, float, float]:
    if not isinstance(value, list) or len(value) != 4 or not all(isinstance(v, int | float) for v in value):
        raise SidecarError(f"{where}: a box must be four numbers")
    x1, y1, x2, y2 = (float(v) for v in value)
    return x1, y1, x2, y2


def _note(raw: Any, where: str) -> Note:
    if not isinstance(raw, dict) or not isinstance(raw.get("kind"), str):
        raise SidecarError(f"{where}: a region needs a kind")
    track = raw.get("track")
    if track is not None and not isinstance(track, str):
        raise SidecarError(f"{where}: a track must be a pseudonym")
    score = raw.get("score", 0.0)
    return Note(
        kind=raw["kind"],
        track=track,
        box=_quad(raw.get("box"), where),
        mask=_quad(raw.get("mask"), where),
        score=float(score) if isinstance(score, int | float) else 0.0,
        source=str(raw.get("source", "detected")),
    )


def _person(raw: Any, where: str) -> Note:
    """An identity track's entry: a region without a mask (its box stands for it)."""
    if not isinstance(raw, dict):
        raise SidecarError(f"{where}: a track entry must be an object")
    return _note({**raw, "mask": raw.get("box")}, where)


@dataclass(frozen=True, slots=True)
class Sidecar:
    path: Path
    frames: tuple[FrameNotes, ...]
    tracks: dict[str, TrackSummary]

    @property
    def times(self) -> list[float | None]:
        return [f.time for f in self.frames]

    def kinds(self) -> dict[str, str]:
        """pseudonym -> kind of every track."""
        return {t.track: t.kind for t in self.tracks.values()}

    def identity_kinds(self) -> dict[str, str]:
        """pseudonym -> kind of every identity track (the sidecar's ``tracks``)."""
        return {p.track: p.kind for f in self.frames for p in f.persons or () if p.track is not None}

    def exact_masks(self) -> bool:
        """Whether the masks are whole pixels (the sidecar says exactly which pixels were masked);
        older sidecars rounded the mask's float corners to a tenth of a pixel."""
        return all(float(v).is_integer() for f in self.frames for r in f.regions for v in r.mask)


def read_sidecar(path: Path, width: int, height: int) -> Sidecar:
    """Read and check ``path``: one line per frame in order, regions inside a ``width`` x
    ``height`` picture. Raises ``SidecarError`` with one line naming the problem."""
    frames: list[FrameNotes] = []
    tracks: dict[str, TrackSummary] = {}
    try:
        fh = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise SidecarError(f"{path} not found: not a gamyeon output (its regions sidecar is missing)") from None
    except OSError as err:
        raise SidecarError(f"cannot read {path}: {err.strerror}") from None
    with fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                raw = json.loads(line)
            except json.JSONDecodeError:
                raise SidecarError(f"{where} is not JSON: the sidecar is damaged") from None
            if not isinstance(raw, dict) or raw.get("frame") != len(frames):
                raise SidecarError(f"{where}: expected frame {len(frames)}; the sidecar is damaged or not gamyeon's")
            regions = raw.get("regions")
            if not isinstance(regions, list):
                raise SidecarError(f"{where}: 'regions' must be a list")
            notes = tuple(_note(r, where) for r in regions)
            for note in notes:
                x1, y1, x2, y2 = note.mask
                if x1 < 0 or y1 < 0 or x2 > width + 0.05 or y2 > height + 0.05:
                    raise SidecarError(
                        f"{where}: a mask reaches outside the {width}x{height} video: "
                        "the sidecar belongs to another file"
                    )
                if note.track is not None:
                    summary = tracks.get(note.track)
                    if summary is None:
                        summary = tracks[note.track] = TrackSummary(note.track, note.kind, len(frames), len(frames))
                    summary.see(len(frames), note)
            persons = raw.get("tracks")
            if persons is not None and not isinstance(persons, list):
                raise SidecarError(f"{where}: 'tracks' must be a list")
            pts, time = raw.get("pts"), raw.get("time")
            frames.append(
                FrameNotes(
                    frame=len(frames),
                    pts=pts if isinstance(pts, int) else None,
                    time=float(time) if isinstance(time, int | float) else None,
                    fail_closed=bool(raw.get("fail_closed", False)),
                    regions=notes,
                    persons=None
                    if persons is None
                    else tuple(_note({**t, "mask": t.get("box")}, where) for t in persons),
                )
            )
    if not frames:
        raise SidecarError(f"{path} is empty: not the sidecar of a gamyeon output")
    return Sidecar(path, tuple(frames), tracks)
