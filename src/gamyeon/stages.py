"""The detect -> track -> estimate -> operate stages for one input, independent of I/O.

``FrameWork`` holds everything one file needs between frames: the detectors, one tracker per
kind, the track store with its look-ahead, and the counters of the summary.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable

import numpy as np

from gamyeon.detect.faces import FaceDetector
from gamyeon.policy import Policy
from gamyeon.schedule import Plan, Scheduler
from gamyeon.temporal import TemporalConfig, TrackStore
from gamyeon.track import KindTracker
from gamyeon.types import Array, Box, Detection, FrameResult, Region, Source, Summary

log = logging.getLogger(__name__)

#: a tiny absolute margin so that few-pixel faces keep a border despite box jitter
MIN_MARGIN_PX = 1.5
FAST_MOTION = 0.5  # box sizes per detection interval that count as fast motion
#: typical input size of one refine crop (FaceDetector.around: up to 320 x 320, ~160 x 160 usual)
REFINE_CROP_PIXELS = 200 * 200


def rotate_view(image: Array, rotation: int) -> Array:
    """Upright view (no copy) of a frame whose display matrix rotates it ``rotation`` degrees CCW."""
    return np.rot90(image, (rotation // 90) % 4)


def upright_size(width: int, height: int, rotation: int) -> tuple[int, int]:
    return (height, width) if (rotation // 90) % 2 else (width, height)


def mask_for(box: Box, margin: float, mask_scale: float) -> Box:
    """The area to mask for an estimated ``box``, *not* clipped to the frame: an ellipse must be
    fitted to the whole mask, or a face at the edge keeps its corner (operators clip)."""
    return box.padded(margin, margin).scaled(mask_scale).padded(MIN_MARGIN_PX, MIN_MARGIN_PX)


class FrameWork:
    """Detection, tracking and temporal estimation for one video (upright coordinates)."""

    def __init__(
        self,
        faces: FaceDetector,
        policy: Policy,
        kinds: tuple[str, ...],
        plan: Plan,
        temporal: TemporalConfig,
        width: int,
        height: int,
        summary: Summary,
    ) -> None:
        self.faces = faces
        self.policy = policy
        self.kinds = kinds
        self.plan = plan
        self.scheduler = Scheduler(plan)
        self.store = TrackStore(temporal)
        counter = itertools.count(1)
        self.trackers = {kind: KindTracker(kind, counter, temporal.max_gap) for kind in kinds}
        self.width, self.height = width, height
        self.summary = summary
        self._last_detection: int | None = None
        self._tracks_seen: dict[str, set[int]] = {kind: set() for kind in kinds}

    def detect(self, index: int, small: bool, base_image: Callable[[], Array], full_image: Callable[[], Array]) -> None:
        """Run the detection passes of frame ``index`` and feed the trackers.

        ``base_image`` returns the upright frame scaled by the plan's base factor and
        ``full_image`` the upright frame at full size; both are called only when needed.
        Exceptions propagate: the caller fails the frame closed.
        """
        found: list[Detection] = []
        if "face" in self.kinds:
            base = base_image()
            fx = self.width / base.shape[1]
            fy = self.height / base.shape[0]
            rows = self.faces.whole(base)
            if len(rows):
                rows = rows.copy()
                rows[:, [0, 2]] *= fx
                rows[:, [1, 3]] *= fy
            passes = [rows]
            full: Array | None = None
            if small:
                full = full_image()
                passes.append(self.faces.magnified(full, self.plan.small_factor))
            elif self.plan.refine:
                tiny = [
                    (o.box.x1, o.box.y1, o.box.x2, o.box.y2)
                    for kind, _, o in self.store.live(index)
                    if kind == "face" and self.plan.is_small(max(o.box.width, o.box.height))
                ]
                if tiny:
                    full = full_image()
                    if len(tiny) * REFINE_CROP_PIXELS > self.width * self.height * self.plan.small_factor**2:
                        # a crowd of small faces: one magnified pass costs less than the crops
                        passes.append(self.faces.magnified(full, self.plan.small_factor))
                    else:
                        passes.append(self.faces.around(full, tiny))
            found = self.faces.merge(*passes)
        self.observe(index, found, reach_back=small)

    def observe(self, index: int, found: list[Detection], *, reach_back: bool = False) -> None:
        """Feed one detection frame's detections (every kind) to the trackers and the store.

        ``reach_back``: they come from the sparse discovery pass, so new tracks extend further back.
        """
        period = index - self._last_detection if self._last_detection is not None else 1
        self._last_detection = index
        self.summary.detection_frames += 1
        fast = False
        for kind in self.kinds:
            dets = [d for d in found if d.kind == kind and d.score >= self.policy.for_kind(kind).threshold]
            for tracked in self.trackers[kind].update(dets, index, period):
                before = self.store.last_box(tracked.track)
                self.store.add(
                    kind, tracked.track, index, tracked.detection.box, tracked.detection.score, reach_back=reach_back
                )
                box = tracked.detection.box
                if before is not None:
                    (bx, by), (cx, cy) = before.center, box.center
                    if np.hypot(cx - bx, cy - by) > FAST_MOTION * max(box.width, box.height, 1.0):
                        fast = True
        if fast:
            self.scheduler.hurry(index)

    def regions(self, index: int) -> list[Region]:
        out = []
        for est in self.store.estimates(index):
            kp = self.policy.for_kind(est.kind)
            mask = mask_for(est.box, est.margin, kp.mask_scale)
            if mask.clipped(self.width, self.height).area <= 0:
                continue
            box = est.box.clipped(self.width, self.height)
            out.append(Region(est.kind, box, mask, est.score, est.track, est.source))
        return out

    def account(self, result: FrameResult) -> None:
        s = self.summary
        s.frames += 1
        if result.fail_closed:
            s.fail_closed_frames += 1
        for r in result.regions:
            s.regions[r.kind] = s.regions.get(r.kind, 0) + 1
            if r.source is Source.DETECTED:
                s.detected += 1
            elif r.source is Source.INTERPOLATED:
                s.interpolated += 1
            elif r.source is Source.EXTENDED:
                s.extended += 1
            if r.track is not None and r.track not in self._tracks_seen[r.kind]:
                self._tracks_seen[r.kind].add(r.track)
                s.tracks[r.kind] = s.tracks.get(r.kind, 0) + 1

    def forget_before(self, index: int) -> None:
        self.store.prune(index)


def apply_regions(view: Array, regions: list[Region], policy: Policy) -> None:
    """Run each region's operator on the upright ``view`` (in place)."""
    for region in regions:
        kp = policy.for_kind(region.kind)
        kp.operator.apply(view, region.mask, kp.shape)
