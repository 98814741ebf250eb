"""Episodes: the spans of time during which a condition held for a key (a track in a zone, two
tracks close together), built incrementally from frame times.

A condition observed true at times t1 < t2 < ... makes one episode while each step is at most
``gap`` seconds; a longer absence ends it. Bridging short absences matters on real footage: a
person standing on a zone's border, or two people whose boxes jitter around the contact
distance, would otherwise make dozens of one-frame episodes. An episode lasts from its first to
its last true observation, so it never extends beyond what was observed.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Span(Generic[K]):
    """One closed (or, from ``open_spans``, still open) episode; ``low``: the smallest value
    reported while it lasted (e.g. the closest distance of a contact)."""

    key: K
    start: float
    end: float
    low: float


@dataclass(slots=True)
class _Open:
    start: float
    last: float
    low: float


class Episodes(Generic[K]):
    """Open episodes by key; ``mark`` the keys whose condition holds on a frame, then ``sweep``
    at that frame's time to collect the episodes that ended."""

    def __init__(self, gap: float) -> None:
        if not gap >= 0:
            raise ValueError(f"gap must be >= 0, got {gap}")
        self.gap = gap
        self._open: dict[K, _Open] = {}

    def mark(self, key: K, time: float, value: float = math.inf) -> Span[K] | None:
        """The condition holds for ``key`` at ``time``; returns the episode this ends, if the
        absence before it was longer than the gap."""
        ep = self._open.get(key)
        if ep is not None and time - ep.last <= self.gap:
            ep.last = max(ep.last, time)
            ep.low = min(ep.low, value)
            return None
        self._open[key] = _Open(time, time, value)
        return None if ep is None else Span(key, ep.start, ep.last, ep.low)

    def sweep(self, now: float) -> list[Span[K]]:
        """Close and return the episodes not marked for more than the gap before ``now``."""
        ended = [k for k, ep in self._open.items() if now - ep.last > self.gap]
        return [self._close(k) for k in ended]

    def finish(self) -> list[Span[K]]:
        """Close every open episode (the source ended)."""
        return [self._close(k) for k in list(self._open)]

    def open_spans(self) -> Iterator[Span[K]]:
        """The episodes still open, up to their last marked time."""
        for k, ep in self._open.items():
            yield Span(k, ep.start, ep.last, ep.low)

    def _close(self, key: K) -> Span[K]:
        ep = self._open.pop(key)
        return Span(key, ep.start, ep.last, ep.low)
