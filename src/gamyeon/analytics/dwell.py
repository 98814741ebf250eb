"""Zones over time: occupancy per frame, and each track's visits (dwell) per zone.

Occupancy counts the tracks whose ground point is in a zone on a frame, as observed. Visits are
episodes (``episodes``): a person standing on the border stays one visit. A visit is counted
*in* when the track had been seen outside the zone before it began (otherwise it appeared
inside, e.g. from a door or at the start of the file) and *out* when it was seen outside after
it ended (otherwise it vanished inside or the source ended while it was there).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np

from gamyeon.analytics.episodes import Episodes, Span
from gamyeon.analytics.plane import Points
from gamyeon.analytics.records import Visit
from gamyeon.analytics.zones import Zones


class TrackSeen(Protocol):
    """The part of a track's span so far the zone tracker needs: its kind, first and last times."""

    @property
    def kind(self) -> str: ...
    @property
    def first(self) -> float: ...
    @property
    def last(self) -> float: ...


class ZoneTracker:
    """Occupancy and visits of one source's tracks in its zones, one frame at a time."""

    def __init__(self, source: str, zones: Zones, gap: float) -> None:
        self.source = source
        self.zones = zones
        self.visits: Episodes[tuple[str, str]] = Episodes(gap)
        self.times: list[float] = []
        self.occupancy: list[list[int]] = []  # per frame, one count per zone

    def update(self, time: float, tracks: list[str], points: Points, seen: Mapping[str, TrackSeen]) -> list[Visit]:
        """Mark which ``tracks`` (ground ``points`` in the zones' units) are in which zone at
        ``time``; returns the visits this frame ended."""
        counts = []
        ended: list[Visit] = []
        for zone in self.zones.zones:
            inside = zone.contains(points) if len(points) else np.zeros(0, dtype=bool)
            counts.append(int(inside.sum()))
            for track, is_in in zip(tracks, inside, strict=True):
                if is_in:
                    span = self.visits.mark((track, zone.name), time)
                    if span is not None:
                        ended.append(self.visit(span, seen, ongoing=False))
        self.times.append(time)
        self.occupancy.append(counts)
        ended.extend(self.visit(s, seen, ongoing=False) for s in self.visits.sweep(time))
        return ended

    def open_visits(self, seen: Mapping[str, TrackSeen]) -> list[Visit]:
        return [self.visit(s, seen, ongoing=True) for s in self.visits.open_spans()]

    def finish(self, seen: Mapping[str, TrackSeen]) -> list[Visit]:
        return [self.visit(s, seen, ongoing=False) for s in self.visits.finish()]

    def visit(self, span: Span[tuple[str, str]], seen: Mapping[str, TrackSeen], *, ongoing: bool) -> Visit:
        track, zone = span.key
        t = seen[track]
        return Visit(
            source=self.source,
            track=track,
            kind=t.kind,
            zone=zone,
            start=span.start,
            end=span.end,
            entered=t.first < span.start,
            left=t.last > span.end,
            ongoing=ongoing,
        )
