"""Proximity: pairs of tracks within a distance of each other for at least a duration.

Distances are between ground points in the analysis plane (pixels, or metres through the
homography; in pixels a near person and a far one are not comparable, so metres are the measure
for anything health-related). Only tracks of the same kind are paired: a person's face track and
body track are the same human, not a contact. A pair is keyed with its smaller pseudonym first,
so a contact is the same whichever of the two is asked about.
"""

from __future__ import annotations

import numpy as np

from gamyeon.analytics.episodes import Episodes, Span
from gamyeon.analytics.plane import Points
from gamyeon.analytics.records import Contact


def close_pairs(tracks: list[str], kinds: list[str], points: Points, distance: float) -> list[tuple[str, str, float]]:
    """The pairs ``(a, b, d)`` with ``a < b``, same kind and distance ``d <= distance``."""
    n = len(tracks)
    if n < 2:
        return []
    diff = points[:, None, :] - points[None, :, :]
    dist = np.sqrt((diff**2).sum(axis=-1))
    same = np.array(kinds)[:, None] == np.array(kinds)[None, :]
    ii, jj = np.nonzero(np.triu((dist <= distance) & same, k=1))
    out = []
    for i, j in zip(ii.tolist(), jj.tolist(), strict=True):
        a, b = sorted((tracks[i], tracks[j]))
        if a != b:
            out.append((a, b, float(dist[i, j])))
    return out


class ContactTracker:
    """Contact episodes of one source, one frame at a time."""

    def __init__(self, source: str, distance: float, min_seconds: float, gap: float, units: str) -> None:
        if not distance > 0:
            raise ValueError(f"contact distance must be > 0, got {distance}")
        self.source = source
        self.distance = distance
        self.min_seconds = min_seconds
        self.units = units
        self.pairs: Episodes[tuple[str, str]] = Episodes(gap)

    def update(self, time: float, tracks: list[str], kinds: list[str], points: Points) -> list[Contact]:
        """Mark the pairs close at ``time``; returns the contacts that ended (long enough)."""
        ended: list[Span[tuple[str, str]]] = []
        for a, b, d in close_pairs(tracks, kinds, points, self.distance):
            span = self.pairs.mark((a, b), time, d)
            if span is not None:
                ended.append(span)
        ended.extend(self.pairs.sweep(time))
        return self._contacts(ended)

    def finish(self) -> list[Contact]:
        return self._contacts(self.pairs.finish())

    def _contacts(self, spans: list[Span[tuple[str, str]]]) -> list[Contact]:
        return [
            Contact(self.source, s.key[0], s.key[1], s.start, s.end, s.low, self.units)
            for s in spans
            if s.end - s.start >= self.min_seconds
        ]
