"""The values that flow through the analytics: frame records in, visits, contacts and events out.

All frozen: a live source and a file feed the same records, and an event handed to a webhook
is the one written to the events file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: what an attribute hook reports per track (e.g. a mask-wearing share); numbers or labels
AttributeValue = float | str


@dataclass(frozen=True, slots=True)
class Observation:
    """One pseudonymous region on one frame. ``box`` is the region as detected or estimated
    (``[x1, y1, x2, y2]`` upright pixels), never the grown mask: the mask adds margins for
    protection that would move the ground point. ``attributes`` are per-region values an
    upstream classifier wrote into the sidecar (see ``attributes``)."""

    track: str
    kind: str
    box: tuple[float, float, float, float]
    score: float
    source: str
    attributes: tuple[tuple[str, AttributeValue], ...] = ()

    @property
    def ground(self) -> tuple[float, float]:
        """The bottom centre of the box: where a standing person touches the ground."""
        x1, _, x2, y2 = self.box
        return ((x1 + x2) / 2.0, y2)


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """The observations of one frame of one source; ``time`` in seconds from the source's start."""

    source: str
    frame: int
    time: float
    observations: tuple[Observation, ...]
    fail_closed: bool = False


@dataclass(frozen=True, slots=True)
class Visit:
    """A track's stay in a zone: from its first to its last observation inside, with absences of
    at most the gap tolerance bridged. ``entered``: the track was seen outside the zone before
    (it crossed in; otherwise it appeared inside); ``left``: it was seen outside after (it
    crossed out; otherwise it vanished inside or the source ended). ``ongoing``: still open when
    reported (a live alert)."""

    source: str
    track: str
    kind: str
    zone: str
    start: float
    end: float
    entered: bool
    left: bool
    ongoing: bool = False

    @property
    def duration(self) -> float:
        return self.end - self.start

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "track": self.track,
            "kind": self.kind,
            "zone": self.zone,
            "start": round(self.start, 3),
            "end": None if self.ongoing else round(self.end, 3),
            "duration": round(self.duration, 3),
            "entered": self.entered,
            "left": self.left,
            "ongoing": self.ongoing,
        }


@dataclass(frozen=True, slots=True)
class Contact:
    """Two tracks within the contact distance of each other from ``start`` to ``end`` (absences
    of at most the gap tolerance bridged). ``a < b``: a pair is one contact, whichever way it is
    asked. ``min_distance`` in the analysis plane's units (pixels, or metres with a homography)."""

    source: str
    a: str
    b: str
    start: float
    end: float
    min_distance: float
    units: str

    @property
    def duration(self) -> float:
        return self.end - self.start

    def other(self, track: str) -> str:
        return self.b if track == self.a else self.a

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "a": self.a,
            "b": self.b,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "duration": round(self.duration, 3),
            "min_distance": round(self.min_distance, 3),
            "units": self.units,
        }


@dataclass(frozen=True, slots=True)
class TrackSpan:
    """When a track was observed in a source: first and last time, number of frames, and the
    values its attribute hooks reported."""

    source: str
    track: str
    kind: str
    first: float
    last: float
    frames: int
    attributes: tuple[tuple[str, AttributeValue], ...] = field(default=())

    @property
    def duration(self) -> float:
        return self.last - self.first

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "track": self.track,
            "kind": self.kind,
            "first": round(self.first, 3),
            "last": round(self.last, 3),
            "duration": round(self.duration, 3),
            "frames": self.frames,
            **{f"attr.{k}": v for k, v in self.attributes},
        }


@dataclass(frozen=True, slots=True)
class Event:
    """Something a live operator would be told: ``kind`` ``loitering`` (a visit longer than the
    threshold: once when it passes the threshold, ``ongoing``, and once when it ends)."""

    kind: str
    visit: Visit

    def as_dict(self) -> dict[str, Any]:
        return {"event": self.kind, **self.visit.as_dict()}
