"""The analytics report: one self-contained HTML file (plots embedded as base64 PNG, no scripts,
no fonts or styles fetched), so it opens offline and can be archived or mailed as one file.

It shows pseudonyms only; it says what was not computed and why (cross-camera matching).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

from gamyeon.about import __version__
from gamyeon.analytics.engine import Settings, SourceResult
from gamyeon.analytics.plots import dwell_plot, heatmap_plot, occupancy_plot
from gamyeon.analytics.records import Event
from gamyeon.analytics.summary import zone_summaries
from gamyeon.analytics.tracing import TracedContact

CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:.6em 0;display:block;overflow-x:auto;max-width:100%}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3} .note{color:#555;font-size:.92em} code{font-size:.92em}
"""

#: rows shown per table in the HTML; the CSV and JSON files hold them all
MAX_ROWS = 200

NOT_PROVIDED = (
    "Not provided, by design: matching a person across cameras or files by face or body (1:N "
    "identification). Pseudonyms are per source file and dataset, and nothing here links them. A "
    "person becomes identifiable only through the separately held key, one track at a time, with a "
    "recorded purpose and authority (<code>gamyeon reveal</code>)."
)


def _img(data: bytes, alt: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(alt)}">'


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if c is None else str(c))}</td>" for c in row) + "</tr>"
        for row in rows[:MAX_ROWS]
    )
    more = (
        f"<p class='note'>{len(rows) - MAX_ROWS} more rows in the CSV/JSON files.</p>" if len(rows) > MAX_ROWS else ""
    )
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def _name(source: str) -> str:
    """A source's file name: the tables stay narrow; the Sources table has the full paths."""
    return Path(source).name


def _s(seconds: float | None) -> str:
    return "ongoing" if seconds is None else f"{seconds:.1f}"


def render_html(
    results: Sequence[SourceResult],
    settings: Settings,
    kinds: Sequence[str],
    events: Sequence[Event],
    trace: tuple[str, Sequence[TracedContact]] | None,
) -> str:
    unit = settings.plane.units
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>gamyeon analytics report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>gamyeon analytics</h1>",
        f"<p class='note'>gamyeon {html.escape(__version__)}; tracks of kind {html.escape(', '.join(kinds))}; "
        f"distances in {'metres (homography)' if unit == 'm' else 'image pixels'}; absences up to "
        f"{settings.gap:g} s bridged.</p>",
        f"<p class='note'>{NOT_PROVIDED}</p>",
        "<h2>Sources</h2>",
        _table(
            ["source", "frames", "seconds", "tracks", "visits", "contacts", "fail-closed frames"],
            [
                [
                    r.source,
                    r.frames,
                    f"{r.end - r.start:.1f}",
                    len(r.tracks),
                    len(r.visits),
                    len(r.contacts),
                    r.fail_closed_frames,
                ]
                for r in results
            ],
        ),
    ]
    if settings.zones.zones:
        parts.append("<h2>Zones</h2>")
        parts.append(
            _table(
                [
                    "source",
                    "zone",
                    "visits",
                    "tracks",
                    "in",
                    "out",
                    "appeared inside",
                    "vanished inside",
                    "dwell mean s",
                    "dwell max s",
                    "occupancy mean",
                    "occupancy max",
                    "loitering alerts",
                ],
                [
                    [
                        _name(z.source),
                        z.zone,
                        z.visits,
                        z.tracks,
                        z.entered,
                        z.left,
                        z.appeared,
                        z.vanished,
                        f"{z.dwell_mean:.1f}",
                        f"{z.dwell_max:.1f}",
                        f"{z.occupancy_mean:.2f}",
                        z.occupancy_max,
                        z.loitering,
                    ]
                    for r in results
                    for z in zone_summaries(r)
                ],
            )
        )
        parts.append("<h3>Occupancy over time</h3>")
        for r in results:
            parts.append(f"<p class='note'>{html.escape(r.source)}</p>{_img(occupancy_plot(r), 'occupancy')}")
        parts.append("<h3>Dwell per visit</h3>")
        parts.append(_img(dwell_plot(results), "dwell histogram"))
    if settings.loiter is not None:
        closing = [e for e in events if not e.visit.ongoing]
        alerts = [e for e in events if e.visit.ongoing]
        parts.append(f"<h2>Loitering (longer than {settings.loiter:g} s in a zone)</h2>")
        parts.append(f"<p>{len(alerts)} alert(s).</p>")
        ended = {(e.visit.source, e.visit.track, e.visit.zone, e.visit.start): e.visit for e in closing}
        rows = []
        for e in alerts:
            v = ended.get((e.visit.source, e.visit.track, e.visit.zone, e.visit.start))
            rows.append(
                [
                    _name(e.visit.source),
                    e.visit.track,
                    e.visit.zone,
                    f"{e.visit.start:.1f}",
                    _s(None if v is None else v.end),
                    _s(None if v is None else v.duration),
                ]
            )
        parts.append(_table(["source", "track", "zone", "start s", "end s", "duration s"], rows))
    if settings.contact_distance is not None:
        parts.append(
            f"<h2>Contacts (within {settings.contact_distance:g} {unit} "
            f"for at least {settings.contact_seconds:g} s)</h2>"
        )
        contacts = sorted((c for r in results for c in r.contacts), key=lambda c: -c.duration)
        parts.append(f"<p>{len(contacts)} contact(s), longest first.</p>")
        parts.append(
            _table(
                ["source", "track a", "track b", "start s", "end s", "duration s", f"closest {unit}"],
                [
                    [
                        _name(c.source),
                        c.a,
                        c.b,
                        f"{c.start:.1f}",
                        f"{c.end:.1f}",
                        f"{c.duration:.1f}",
                        f"{c.min_distance:.2f}",
                    ]
                    for c in contacts
                ],
            )
        )
    if trace is not None:
        track, found = trace
        parts.append(f"<h2>Contact trace of {html.escape(track)}</h2>")
        parts.append("<p class='note'>Recorded in the ledger with its purpose and authority.</p>")
        parts.append(
            _table(
                ["source", "contact", "start s", "end s", "duration s", f"closest {unit}"],
                [
                    [
                        _name(c.source),
                        c.track,
                        f"{c.start:.1f}",
                        f"{c.end:.1f}",
                        f"{c.duration:.1f}",
                        f"{c.min_distance:.2f}",
                    ]
                    for c in found
                ],
            )
        )
    parts.append("<h2>Where tracks were</h2>")
    for r in results:
        heatmap = _img(heatmap_plot(r, settings.zones, settings.plane), "heatmap")
        parts.append(f"<p class='note'>{html.escape(r.source)}</p>{heatmap}")
    parts.append("</body></html>")
    return "\n".join(parts)
