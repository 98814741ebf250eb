"""Loitering alerts: a track inside a zone for longer than a threshold.

An alert is raised once, while the visit is still going on (``ongoing``: what a live operator
needs), on the first frame its duration reaches the threshold, and a closing event follows when
the visit ends, with its end and full duration. A visit that reaches the threshold only on the
frame that closes it (a jump in the timestamps) still gets both, so every closing event has its
alert before it.
"""

from __future__ import annotations

from dataclasses import replace

from gamyeon.analytics.records import Event, Visit

LOITERING = "loitering"


class LoiterAlarm:
    """Turns visits into loitering events; ``seconds`` is the threshold."""

    def __init__(self, seconds: float) -> None:
        if not seconds >= 0:
            raise ValueError(f"loitering threshold must be >= 0 seconds, got {seconds}")
        self.seconds = seconds
        self._alerted: set[tuple[str, str, float]] = set()

    def update(self, open_visits: list[Visit], ended: list[Visit]) -> list[Event]:
        """Events for the visits that reached the threshold on this frame and for the long
        visits that ended on it."""
        events = []
        for visit in ended:
            if visit.duration >= self.seconds:
                key = (visit.track, visit.zone, visit.start)
                if key not in self._alerted:  # long already when it closed: alert, then close
                    events.append(Event(LOITERING, replace(visit, ongoing=True)))
                self._alerted.discard(key)
                events.append(Event(LOITERING, visit))
        for visit in open_visits:
            key = (visit.track, visit.zone, visit.start)
            if visit.duration >= self.seconds and key not in self._alerted:
                self._alerted.add(key)
                events.append(Event(LOITERING, visit))
        return events
