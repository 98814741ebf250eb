"""Per-zone figures of one source: counts in and out, occupancy and dwell, from its result."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from gamyeon.analytics.engine import SourceResult
from gamyeon.analytics.loiter import LOITERING


@dataclass(frozen=True, slots=True)
class ZoneSummary:
    """``entered``/``left``: visits that crossed the zone's border in/out; ``appeared``/``vanished``:
    visits that began/ended inside (track start or end, or the file's); ``tracks``: distinct
    tracks that visited; dwell in seconds over visits; occupancy over frames."""

    source: str
    zone: str
    visits: int
    tracks: int
    entered: int
    left: int
    appeared: int
    vanished: int
    dwell_mean: float
    dwell_median: float
    dwell_max: float
    occupancy_mean: float
    occupancy_max: int
    loitering: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "zone": self.zone,
            "visits": self.visits,
            "tracks": self.tracks,
            "entered": self.entered,
            "left": self.left,
            "appeared": self.appeared,
            "vanished": self.vanished,
            "dwell_mean": round(self.dwell_mean, 3),
            "dwell_median": round(self.dwell_median, 3),
            "dwell_max": round(self.dwell_max, 3),
            "occupancy_mean": round(self.occupancy_mean, 3),
            "occupancy_max": self.occupancy_max,
            "loitering": self.loitering,
        }


def zone_summaries(result: SourceResult) -> list[ZoneSummary]:
    out = []
    for i, zone in enumerate(result.zone_names):
        visits = [v for v in result.visits if v.zone == zone]
        dwell = [v.duration for v in visits]
        counts = [row[i] for row in result.occupancy]
        alerts = {
            (e.visit.track, e.visit.start)
            for e in result.events
            if e.kind == LOITERING and e.visit.zone == zone and e.visit.ongoing
        }
        out.append(
            ZoneSummary(
                source=result.source,
                zone=zone,
                visits=len(visits),
                tracks=len({v.track for v in visits}),
                entered=sum(v.entered for v in visits),
                left=sum(v.left for v in visits),
                appeared=sum(not v.entered for v in visits),
                vanished=sum(not v.left for v in visits),
                dwell_mean=statistics.fmean(dwell) if dwell else 0.0,
                dwell_median=statistics.median(dwell) if dwell else 0.0,
                dwell_max=max(dwell, default=0.0),
                occupancy_mean=statistics.fmean(counts) if counts else 0.0,
                occupancy_max=max(counts, default=0),
                loitering=len(alerts),
            )
        )
    return out
