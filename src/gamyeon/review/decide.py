"""A review's decisions applied to the base regions: what each frame masks once reviewed.

The page draws this (kept, excluded, adjusted and added regions) and the re-render masks it, so
what the reviewer sees is what the new output gets. Added regions are interpolated linearly
between the keyframes the reviewer set, and held at the first and last keyframe's box before and
after them within the region's span, as CVAT does with its shapes. An added region masks exactly
the box drawn; an adjustment grows a mask about its centre and moves it, never shrinks it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gamyeon.review.sidecar import FrameNotes, Note

Quad = tuple[float, float, float, float]
KEPT, EXCLUDED, ADJUSTED, ADDED = "kept", "excluded", "adjusted", "added"
#: the source the annotations give a region a reviewer added or adjusted
REVIEWED_SOURCE = "reviewed"


@dataclass(frozen=True, slots=True)
class Planned:
    """One region of a reviewed frame: ``note`` as it will be masked, its ``state``, and the item
    that made or changed it (None for regions kept as they were)."""

    note: Note
    state: str
    item: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**self.note.as_dict(), "state": self.state, "item": self.item}


def _covers(start: int | None, end: int | None, frame: int) -> bool:
    return (start is None or frame >= start) and (end is None or frame <= end)


def lerp(a: Quad, b: Quad, t: float) -> Quad:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t, a[3] + (b[3] - a[3]) * t)


def keyframe_box(keyframes: list[dict[str, Any]], frame: int) -> Quad:
    """The box of an added region on ``frame``: interpolated between the keyframes around it,
    the first/last keyframe's box before/after them."""
    keys = [(int(k["frame"]), tuple(float(v) for v in k["box"])) for k in keyframes]
    if frame <= keys[0][0]:
        return keys[0][1]  # type: ignore[return-value]
    for (f0, b0), (f1, b1) in itertools.pairwise(keys):
        if f0 <= frame <= f1:
            return lerp(b0, b1, (frame - f0) / (f1 - f0))  # type: ignore[arg-type]
    return keys[-1][1]  # type: ignore[return-value]


def grown(quad: Quad, grow: float, dx: float, dy: float, width: int, height: int) -> Quad:
    """``quad`` scaled by ``grow`` about its centre, moved by ``dx``/``dy``, clipped to the picture."""
    x1, y1, x2, y2 = quad
    cx, cy = (x1 + x2) / 2 + dx, (y1 + y2) / 2 + dy
    hw, hh = (x2 - x1) * grow / 2, (y2 - y1) * grow / 2
    nx1, ny1 = min(max(cx - hw, 0.0), float(width)), min(max(cy - hh, 0.0), float(height))
    nx2, ny2 = min(max(cx + hw, nx1), float(width)), min(max(cy + hh, ny1), float(height))
    return round(nx1, 1), round(ny1, 1), round(nx2, 1), round(ny2, 1)


class Decisions:
    """The items of a review, indexed for per-frame questions."""

    def __init__(self, items: Iterable[dict[str, Any]], width: int, height: int) -> None:
        self.width, self.height = width, height
        self.excluded: dict[str, list[tuple[int | None, int | None, str]]] = {}
        self.adjusted: dict[str, list[dict[str, Any]]] = {}
        self.added: list[dict[str, Any]] = []
        for item in items:
            kind = item["type"]
            if kind == "exclude":
                self.excluded.setdefault(item["track"], []).append((item["start"], item["end"], item["id"]))
            elif kind == "adjust":
                self.adjusted.setdefault(item["track"], []).append(item)
            elif kind == "add":
                self.added.append(item)

    def frame(self, notes: FrameNotes) -> list[Planned]:
        """Every region of the frame with its state, excluded ones included (the page shows them)."""
        out: list[Planned] = []
        for note in notes.regions:
            if note.track is not None:
                gone = next((i for s, e, i in self.excluded.get(note.track, ()) if _covers(s, e, notes.frame)), None)
                if gone is not None:
                    out.append(Planned(note, EXCLUDED, gone))
                    continue
                changes = [a for a in self.adjusted.get(note.track, ()) if _covers(a["start"], a["end"], notes.frame)]
                if changes:
                    box, mask = note.box, note.mask
                    for a in changes:
                        box = grown(box, a["grow"], a["dx"], a["dy"], self.width, self.height)
                        mask = grown(mask, a["grow"], a["dx"], a["dy"], self.width, self.height)
                    moved = Note(note.kind, note.track, box, mask, note.score, REVIEWED_SOURCE)
                    out.append(Planned(moved, ADJUSTED, changes[-1]["id"]))
                    continue
            out.append(Planned(note, KEPT))
        for item in self.added:
            if item["start"] <= notes.frame <= item["end"]:
                box = keyframe_box(item["keyframes"], notes.frame)
                note = Note(item["kind"], None, box, box, 1.0, REVIEWED_SOURCE)
                out.append(Planned(note, ADDED, item["id"]))
        return out

    def masked(self, notes: FrameNotes) -> list[Planned]:
        """The regions the reviewed frame masks, in masking order (excluded ones left out)."""
        return [p for p in self.frame(notes) if p.state != EXCLUDED]
