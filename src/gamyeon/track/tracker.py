"""Association of detections into tracks, delegated to norfair (tryolabs, maintained).

Norfair's Kalman filters advance by ``period`` frames on each update, so detection can run every
k-th frame. Two gamyeon-specific rules sit on top:

* every detection is protected, tracked or not: ``initialization_delay=0`` makes norfair start a
  track on the first hit, and a detection norfair does not report is given a track of its own;
* track ids are local integers, unique across kinds within one run. Pseudonymous ids for output
  are derived from them by ``pseudonym.py``; norfair's ids never leave this module.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from norfair.distances import VectorizedDistance
from norfair.tracker import Detection as NorfairDetection
from norfair.tracker import Tracker

from gamyeon.types import Array, Detection


@dataclass(frozen=True, slots=True)
class Tracked:
    detection: Detection
    track: int


def centre_distance(candidates: Array, objects: Array) -> Array:
    """Pairwise distance between boxes ``[x1, y1, x2, y2]``: centre offset plus size change,
    in units of the larger box side; 0 means same place and size.

    IoU alone fails for small fast faces observed every k-th frame (no overlap at all), so the
    distance is relative to box size instead.
    """
    c = candidates[:, None, :]
    o = objects[None, :, :]
    cw, ch = c[..., 2] - c[..., 0], c[..., 3] - c[..., 1]
    ow, oh = o[..., 2] - o[..., 0], o[..., 3] - o[..., 1]
    size = np.maximum(np.maximum(cw, ch), np.maximum(np.maximum(ow, oh), 1.0))
    dx = (c[..., 0] + c[..., 2] - o[..., 0] - o[..., 2]) / 2.0
    dy = (c[..., 1] + c[..., 3] - o[..., 1] - o[..., 3]) / 2.0
    return np.asarray((np.hypot(dx, dy) + np.abs(cw - ow)) / size, dtype=np.float32)


class KindTracker:
    """Tracks of one kind; shares a track-id counter with the trackers of other kinds."""

    def __init__(self, kind: str, counter: itertools.count[int], max_gap_frames: int) -> None:
        self.kind = kind
        self._counter = counter
        self._ids: dict[int, int] = {}
        self._tracker = Tracker(
            distance_function="iou",
            distance_threshold=1.0,
            hit_counter_max=max(2, max_gap_frames),
            initialization_delay=0,
            pointwise_hit_counter_max=max(2, max_gap_frames),
        )
        # Norfair's constructor only takes names or scalar callables; its vectorised distance
        # class is public, so swap our box-size-relative distance in after construction.
        self._tracker.distance_function = VectorizedDistance(centre_distance)  # type: ignore[assignment]

    def update(self, detections: list[Detection], frame_index: int, period: int) -> list[Tracked]:
        """Feed one detection frame; ``period`` is the number of frames since the previous one."""
        candidates = [
            NorfairDetection(
                points=np.array([[d.box.x1, d.box.y1], [d.box.x2, d.box.y2]], dtype=np.float64),
                scores=np.array([d.score, d.score]),
                data=(frame_index, i),
            )
            for i, d in enumerate(detections)
        ]
        objects = self._tracker.update(detections=candidates, period=max(1, period))
        assigned: dict[int, int] = {}
        for obj in objects:
            last = obj.last_detection
            if last is None or last.data is None or last.data[0] != frame_index:
                continue  # not matched on this frame: the temporal stage extends it
            if obj.id is None:  # still initialising (cannot happen with delay 0; be safe)
                continue
            if obj.id not in self._ids:
                self._ids[obj.id] = next(self._counter)
            assigned[last.data[1]] = self._ids[obj.id]
        out = []
        for i, det in enumerate(detections):
            track = assigned.get(i)
            if track is None:  # norfair did not report it: still protect it, on a track of its own
                track = next(self._counter)
            out.append(Tracked(det, track))
        return out
