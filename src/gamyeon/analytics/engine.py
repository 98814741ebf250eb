"""The incremental analyzer of one source: frame records in, loitering events out, and at the end
the source's tracks, visits, contacts, occupancy and positions.

``feed`` does per frame only what the frame needs and keeps no frames, so the same object runs
over a file (``run.analyze_files``) or, frame by frame, over a live stream. One analyzer per
source: pseudonyms are per source file, and nothing here links two sources.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from gamyeon.analytics.attributes import AttributeHook, HookFactory
from gamyeon.analytics.contacts import ContactTracker
from gamyeon.analytics.dwell import ZoneTracker
from gamyeon.analytics.loiter import LoiterAlarm
from gamyeon.analytics.plane import Plane, Points
from gamyeon.analytics.records import Contact, Event, FrameRecord, TrackSpan, Visit
from gamyeon.analytics.zones import METRES, Zones
from gamyeon.errors import UsageError

#: absences a visit or a contact bridges by default (seconds): longer than a detector's miss on a
#: few frames, shorter than stepping out and back
DEFAULT_GAP = 1.0


@dataclass(frozen=True, slots=True)
class Settings:
    """What to compute. ``loiter``: alert threshold in seconds (None: no alerts);
    ``contact_distance``: in the plane's units (None: no contacts); ``gap``: absences bridged."""

    zones: Zones = field(default_factory=Zones)
    plane: Plane = field(default_factory=Plane)
    gap: float = DEFAULT_GAP
    loiter: float | None = None
    contact_distance: float | None = None
    contact_seconds: float = 0.0
    hooks: tuple[HookFactory, ...] = ()

    def __post_init__(self) -> None:
        if self.zones.units == METRES and self.plane.units != "m":
            raise UsageError("the zones are in metres: give --homography to map image points to the ground")
        if not self.gap >= 0:
            raise UsageError(f"--gap must be >= 0 seconds, got {self.gap}")
        if self.loiter is not None and not self.loiter >= 0:
            raise UsageError(f"--loiter must be >= 0 seconds, got {self.loiter}")
        if self.loiter is not None and not self.zones.zones:
            raise UsageError("--loiter needs --zones: loitering is measured in a zone")
        if self.contact_distance is not None and not self.contact_distance > 0:
            raise UsageError(f"--contact-distance must be > 0, got {self.contact_distance}")
        if not self.contact_seconds >= 0:
            raise UsageError(f"--contact-seconds must be >= 0, got {self.contact_seconds}")


@dataclass(frozen=True, slots=True)
class SourceResult:
    """Everything computed on one source. ``positions``: every observed ground point in image
    pixels (for the heatmap, drawn as the camera sees the scene); ``occupancy``: one row of zone
    counts per frame time."""

    source: str
    units: str
    zone_names: tuple[str, ...]
    frames: int
    fail_closed_frames: int
    start: float
    end: float
    tracks: tuple[TrackSpan, ...]
    visits: tuple[Visit, ...]
    contacts: tuple[Contact, ...]
    events: tuple[Event, ...]
    times: tuple[float, ...]
    occupancy: tuple[tuple[int, ...], ...]
    positions: Points


@dataclass(slots=True)
class _Span:
    kind: str
    first: float
    last: float
    frames: int


class Analyzer:
    """One source's analytics; ``feed`` every frame in order, then ``finish``."""

    def __init__(self, source: str, settings: Settings) -> None:
        self.source = source
        self.settings = settings
        self._zones = ZoneTracker(source, settings.zones, settings.gap)
        self._contacts = (
            None
            if settings.contact_distance is None
            else ContactTracker(
                source, settings.contact_distance, settings.contact_seconds, settings.gap, settings.plane.units
            )
        )
        self._alarm = None if settings.loiter is None else LoiterAlarm(settings.loiter)
        self._hooks: list[AttributeHook] = [make() for make in settings.hooks]
        self._spans: dict[str, _Span] = {}
        self._visits: list[Visit] = []
        self._found: list[Contact] = []
        self._events: list[Event] = []
        self._positions: list[Points] = []
        self._frames = 0
        self._fail_closed = 0
        self._last_time: float | None = None

    def feed(self, frame: FrameRecord) -> list[Event]:
        """Take one frame; returns the events it raised (loitering alerts and their ends)."""
        if self._last_time is not None and frame.time < self._last_time:
            raise UsageError(f"{self.source}: frame {frame.frame} goes back in time ({frame.time} s)")
        self._last_time = frame.time
        self._frames += 1
        self._fail_closed += frame.fail_closed
        # one observation per track: a pseudonym is per kind, so a repeat would be a broken file
        obs = list({o.track: o for o in frame.observations}.values())
        for o in obs:
            span = self._spans.get(o.track)
            if span is None:
                self._spans[o.track] = _Span(o.kind, frame.time, frame.time, 1)
            else:
                span.last, span.frames = frame.time, span.frames + 1
            for hook in self._hooks:
                hook.observe(frame, o)
        tracks = [o.track for o in obs]
        image = np.array([o.ground for o in obs], dtype=np.float64).reshape(-1, 2)
        plane = self.settings.plane.project(image)
        self._positions.append(image)
        seen = self._spans
        zone_points = plane if self.settings.zones.units == METRES else image
        ended = self._zones.update(frame.time, tracks, zone_points, seen)
        self._visits.extend(ended)
        if self._contacts is not None:
            self._found.extend(self._contacts.update(frame.time, tracks, [o.kind for o in obs], plane))
        events = [] if self._alarm is None else self._alarm.update(self._zones.open_visits(seen), ended)
        self._events.extend(events)
        return events

    def finish(self) -> tuple[list[Event], SourceResult]:
        """Close everything still open; returns the last events and the source's result."""
        seen = self._spans
        ended = self._zones.finish(seen)
        self._visits.extend(ended)
        if self._contacts is not None:
            self._found.extend(self._contacts.finish())
        events = [] if self._alarm is None else self._alarm.update([], ended)
        self._events.extend(events)
        spans = tuple(
            TrackSpan(
                self.source,
                track,
                s.kind,
                s.first,
                s.last,
                s.frames,
                tuple((h.name, v) for h in self._hooks if (v := h.value(track)) is not None),
            )
            for track, s in sorted(self._spans.items(), key=lambda kv: (kv[1].first, kv[0]))
        )
        times = tuple(self._zones.times)
        result = SourceResult(
            source=self.source,
            units=self.settings.plane.units,
            zone_names=tuple(self.settings.zones.names),
            frames=self._frames,
            fail_closed_frames=self._fail_closed,
            start=times[0] if times else 0.0,
            end=times[-1] if times else 0.0,
            tracks=spans,
            visits=tuple(sorted(self._visits, key=lambda v: (v.start, v.zone, v.track))),
            contacts=tuple(sorted(self._found, key=lambda c: (c.start, c.a, c.b))),
            events=tuple(self._events),
            times=times,
            occupancy=tuple(tuple(row) for row in self._zones.occupancy),
            positions=np.concatenate(self._positions) if self._positions else np.zeros((0, 2)),
        )
        return events, result


def analyze(frames: Iterable[FrameRecord], source: str, settings: Settings) -> SourceResult:
    """Run an ``Analyzer`` over ``frames`` (one source) and return its result."""
    analyzer = Analyzer(source, settings)
    for frame in frames:
        analyzer.feed(frame)
    return analyzer.finish()[1]
