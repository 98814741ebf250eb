"""The report's plots as PNG bytes: occupancy over time, dwell histogram, heatmap of positions.

Drawn on ``matplotlib.figure.Figure`` with the Agg renderer: no display and no pyplot state, so
the plots can be made from any thread and embedded as data in one offline HTML file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from gamyeon.analytics.engine import SourceResult
from gamyeon.analytics.plane import Plane
from gamyeon.analytics.zones import METRES, Zones

#: bins across the longer side of the heatmap
HEATMAP_BINS = 60


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def occupancy_plot(result: SourceResult) -> bytes:
    """Tracks in each zone per frame over the source's time."""
    fig = Figure(figsize=(9, 2.8))
    ax = fig.add_subplot()
    times = np.array(result.times)
    counts = np.array(result.occupancy, dtype=float).reshape(len(times), len(result.zone_names))
    for i, zone in enumerate(result.zone_names):
        ax.step(times, counts[:, i], where="post", lw=1.2, label=zone)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("tracks in zone")
    ax.set_ylim(bottom=0)
    if result.zone_names:
        ax.legend(fontsize=8, loc="upper right")
    return png(fig)


def dwell_plot(results: Sequence[SourceResult]) -> bytes:
    """Histogram of visit durations per zone, over all sources."""
    fig = Figure(figsize=(6, 2.8))
    ax = fig.add_subplot()
    zones = list(dict.fromkeys(z for r in results for z in r.zone_names))
    data = [[v.duration for r in results for v in r.visits if v.zone == z] for z in zones]
    longest = max((d for ds in data for d in ds), default=1.0)
    if any(data):
        ax.hist(data, bins=20, range=(0.0, max(longest, 1e-3)), label=zones, stacked=True)
        ax.legend(fontsize=8)
    ax.set_xlabel("dwell per visit (s)")
    ax.set_ylabel("visits")
    return png(fig)


def heatmap_plot(result: SourceResult, zones: Zones, plane: Plane) -> bytes:
    """Where tracks were (ground points of every observation) in image pixels, y downwards as on
    screen, with the zones drawn on top (zones in metres taken back to the image through the
    homography, where they lie in front of the camera)."""
    fig = Figure(figsize=(6, 4.5))
    ax = fig.add_subplot()
    pts = result.positions
    if len(pts):
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        span = np.maximum(hi - lo, 1e-6)
        bins = np.maximum(np.round(HEATMAP_BINS * span / span.max()).astype(int), 1)
        hist, xe, ye = np.histogram2d(pts[:, 0], pts[:, 1], bins=(int(bins[0]), int(bins[1])))
        mesh = ax.pcolormesh(xe, ye, hist.T, cmap="magma", shading="flat")
        fig.colorbar(mesh, ax=ax, label="observations")
    for zone in zones.zones:
        for ring in zone.outline:
            xy = np.array(ring, dtype=np.float64)
            if zones.units == METRES:
                xy = plane.unproject(xy)
            ax.plot(xy[:, 0], xy[:, 1], color="#3fd0ff", lw=1.2)
            ax.annotate(zone.name, (float(xy[0, 0]), float(xy[0, 1])), color="#3fd0ff", fontsize=8)
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")
    ax.set_aspect("equal", adjustable="datalim")
    ax.invert_yaxis()
    return png(fig)
