"""The results as files: one JSON document with everything, and a CSV per table.

Every row names its source and pseudonyms only; the JSON also carries the settings the figures
were computed with, so a result can be read without the command line that made it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gamyeon.analytics.engine import Settings, SourceResult
from gamyeon.analytics.records import Event
from gamyeon.analytics.summary import zone_summaries
from gamyeon.analytics.tracing import TracedContact

#: the CSV tables by file name, and their leading columns (written even when a table is empty)
COLUMNS: dict[str, tuple[str, ...]] = {
    "tracks": ("source", "track", "kind", "first", "last", "duration", "frames"),
    "zones": (
        "source", "zone", "visits", "tracks", "entered", "left", "appeared", "vanished",
        "dwell_mean", "dwell_median", "dwell_max", "occupancy_mean", "occupancy_max", "loitering",
    ),
    "visits": ("source", "track", "kind", "zone", "start", "end", "duration", "entered", "left", "ongoing"),
    "occupancy": ("source", "time"),
    "contacts": ("source", "a", "b", "start", "end", "duration", "min_distance", "units"),
    "trace": ("source", "contact", "start", "end", "duration", "min_distance", "units"),
}  # fmt: skip


def settings_dict(settings: Settings, kinds: Sequence[str]) -> dict[str, Any]:
    return {
        "kinds": list(kinds),
        "units": settings.plane.units,
        "homography": None if settings.plane.matrix is None else [list(r) for r in settings.plane.matrix],
        "zones": {"units": settings.zones.units, "names": settings.zones.names},
        "gap_seconds": settings.gap,
        "loiter_seconds": settings.loiter,
        "contact_distance": settings.contact_distance,
        "contact_seconds": settings.contact_seconds,
    }


def occupancy_rows(result: SourceResult) -> list[dict[str, Any]]:
    return [
        {"source": result.source, "time": round(t, 3), **dict(zip(result.zone_names, row, strict=True))}
        for t, row in zip(result.times, result.occupancy, strict=True)
    ]


def tables(results: Sequence[SourceResult]) -> dict[str, list[dict[str, Any]]]:
    """Rows of each CSV table over all sources."""
    return {
        "tracks": [t.as_dict() for r in results for t in r.tracks],
        "zones": [z.as_dict() for r in results for z in zone_summaries(r)],
        "visits": [v.as_dict() for r in results for v in r.visits],
        "occupancy": [row for r in results for row in occupancy_rows(r)],
        "contacts": [c.as_dict() for r in results for c in r.contacts],
    }


def document(
    results: Sequence[SourceResult],
    settings: Settings,
    kinds: Sequence[str],
    events: Sequence[Event],
    trace: tuple[str, Sequence[TracedContact]] | None,
) -> dict[str, Any]:
    """Everything as one JSON-ready document."""
    sources = []
    for r in results:
        sources.append(
            {
                "source": r.source,
                "frames": r.frames,
                "fail_closed_frames": r.fail_closed_frames,
                "start": round(r.start, 3),
                "end": round(r.end, 3),
                "tracks": [t.as_dict() for t in r.tracks],
                "zones": [z.as_dict() for z in zone_summaries(r)],
                "visits": [v.as_dict() for v in r.visits],
                "contacts": [c.as_dict() for c in r.contacts],
                "occupancy": {
                    "times": [round(t, 3) for t in r.times],
                    "counts": {z: [row[i] for row in r.occupancy] for i, z in enumerate(r.zone_names)},
                },
            }
        )
    doc: dict[str, Any] = {
        "settings": settings_dict(settings, kinds),
        "sources": sources,
        "events": [e.as_dict() for e in events],
    }
    if trace is not None:
        doc["trace"] = trace_dict(*trace)
    return doc


def trace_dict(track: str, contacts: Sequence[TracedContact]) -> dict[str, Any]:
    return {"track": track, "contacts": [c.as_dict() for c in contacts]}


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def write_csv(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str] = ()) -> None:
    """``rows`` as CSV; the header is ``columns`` and then every other key in order of appearance
    (tracks with attributes add columns)."""
    header = list(dict.fromkeys([*columns, *(k for row in rows for k in row)]))
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, restval="")
        writer.writeheader()
        writer.writerows(rows)


def write_events(path: Path, events: Sequence[Event]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for e in events:
            fh.write(json.dumps(e.as_dict(), ensure_ascii=False) + "\n")
