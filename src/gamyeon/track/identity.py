"""Identity tracks of persons: who is who over time, for annotations and analytics.

Masking and identity want different things from a tracker. Masking (``tracker.KindTracker``)
must protect every detection at once, so every detection, however weak or duplicated, gets a
track on its first frame, and a spurious track costs nothing but a little extra mask. Counting
people, their dwell time and their contacts needs the opposite: one track per person, kept
through crossings and short occlusions, and no tracks made of detector noise. So persons are
tracked twice, from the same detections: the masking tracks decide what is masked, and this
module's tracks are the ones the annotations report as ``tracks`` (``docs/formats.md``).

Association follows ByteTrack (Zhang et al., ECCV 2022) on top of norfair's Kalman filters and
matching, plus a colour-appearance cue as in DeepSORT (Wojke et al., 2017):

* **two stages**: confident detections (score >= ``HIGH_SCORE``, ByteTrack's default) are
  matched first; weak ones (partly hidden persons, body parts) may only continue a track that
  found no confident match, and never start one;
* **duplicates start nothing**: a new track whose box centre lies in the box of a detection
  matched on the same frame, or whose box holds that detection's centre, is the same person
  seen twice (a second detector pass, a part of the body) and is dropped;
* **distance** = centre offset in units of the boxes' width (horizontally) and height
  (vertically) plus the change of height (log ratio), plus ``APPEARANCE_WEIGHT`` x the
  Hellinger distance between colour histograms of the upper and lower body (the track's is a
  running average, ``APPEARANCE_MEMORY``, as in JDE and BoT-SORT);
* **memory**: a track that finds no detection coasts on its Kalman prediction for
  ``MEMORY_SECONDS`` before it is given up, so a person hidden behind another keeps the id; the
  longer it coasts, the farther from the prediction the person may be found (``LOST_DRIFT``:
  its motion distance shrinks by 1 + ``LOST_DRIFT`` x the seconds it went unseen beyond one
  detection interval), as a Kalman filter's uncertainty grows while it only predicts.

Which tracks count as confirmed (``MIN_HITS`` detections) is for the readers of the
annotations to apply (the MOT export does); this module reports every track it keeps.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import cv2
import numpy as np
from norfair.distances import Distance
from norfair.tracker import Detection as NorfairDetection
from norfair.tracker import TrackedObject, Tracker

from gamyeon.types import Array, Box, Detection

#: ByteTrack's default split between confident and weak detections
HIGH_SCORE = 0.5
#: weight of the appearance distance (0..1) against the motion distance (in box sizes): a
#: detection at the predicted place in wholly different colours is as far as one in the same
#: colours two box sizes away
APPEARANCE_WEIGHT = 2.0
#: largest distance that matches: one box size of offset plus a colour difference that two
#: views of one person rarely exceed (Hellinger 0.4)
MATCH_GATE = 1.0 + APPEARANCE_WEIGHT * 0.4
#: share of a track's appearance kept at each new detection (JDE, BoT-SORT: 0.9)
APPEARANCE_MEMORY = 0.9
#: seconds a track coasts without a detection before it is given up
MEMORY_SECONDS = 2.0
#: how fast a lost person may stray from the coasted prediction, in body widths per second:
#: walkers change speed and direction by about 0.5 m/s within a second, and a body is about
#: 0.5 m wide
LOST_DRIFT = 1.0
#: detections a track needs before readers count it as a person (SORT's min_hits)
MIN_HITS = 3

#: colour histogram bins: hue x saturation, and value, per half of the body
_HS_BINS = (8, 4)
_V_BINS = 8
DESCRIPTOR_SIZE = 2 * (_HS_BINS[0] * _HS_BINS[1] + _V_BINS)


def appearance(image: Array, box: Box) -> Array:
    """Colour histograms of the upper and lower body inside ``box`` on an RGB ``image``: the
    central 60 % of the width and 80 % of the height (less background and neighbours), each half
    a normalised hue-saturation and value histogram. Uniform when the box holds no pixels."""
    h, w = image.shape[:2]
    x1 = int(max(box.x1 + 0.2 * box.width, 0))
    x2 = int(min(np.ceil(box.x2 - 0.2 * box.width), w))
    y1 = int(max(box.y1 + 0.1 * box.height, 0))
    y2 = int(min(np.ceil(box.y2 - 0.1 * box.height), h))
    if x2 - x1 < 1 or y2 - y1 < 2:
        return np.full(DESCRIPTOR_SIZE, 2.0 / DESCRIPTOR_SIZE, dtype=np.float32)
    hsv = cv2.cvtColor(np.ascontiguousarray(image[y1:y2, x1:x2]), cv2.COLOR_RGB2HSV)
    middle = hsv.shape[0] // 2
    parts = []
    for part in (hsv[:middle], hsv[middle:]):
        hs = cv2.calcHist([part], [0, 1], None, list(_HS_BINS), [0, 180, 0, 256]).ravel()
        v = cv2.calcHist([part], [2], None, [_V_BINS], [0, 256]).ravel()
        hist = np.concatenate([hs, v])
        parts.append(hist / max(float(hist.sum()), 1e-9))
    return np.asarray(np.concatenate(parts), dtype=np.float32)


def appearance_distance(a: Array, b: Array) -> Array:
    """Hellinger distance (0: same colours, 1: disjoint) between descriptors ``a`` (n x D) and
    ``b`` (m x D), averaged over the two halves: an n x m matrix."""
    overlap = np.sqrt(a)[:, None, :] * np.sqrt(b)[None, :, :]
    coefficient = overlap.sum(axis=-1) / 2.0  # two halves, each summing to 1
    return np.asarray(np.sqrt(np.clip(1.0 - coefficient, 0.0, 1.0)), dtype=np.float32)


def motion_distance(candidates: Array, objects: Array) -> Array:
    """Pairwise distance between boxes ``[x1, y1, x2, y2]``: centre offset in units of the mean
    width (x) and height (y) of the two boxes, plus the change of height as a log ratio.

    Unlike ``tracker.centre_distance`` (offset in units of the longer side, which for an upright
    person is the height), sideways offsets count in widths, so a neighbour walking beside a
    person is about one unit away, not a third of one."""
    c = candidates[:, None, :]
    o = objects[None, :, :]
    cw, ch = c[..., 2] - c[..., 0], c[..., 3] - c[..., 1]
    ow, oh = o[..., 2] - o[..., 0], o[..., 3] - o[..., 1]
    w = np.maximum((cw + ow) / 2.0, 1.0)
    h = np.maximum((ch + oh) / 2.0, 1.0)
    dx = (c[..., 0] + c[..., 2] - o[..., 0] - o[..., 2]) / 2.0 / w
    dy = (c[..., 1] + c[..., 3] - o[..., 1] - o[..., 3]) / 2.0 / h
    scale = np.abs(np.log(np.maximum(ch, 1.0) / np.maximum(oh, 1.0)))
    return np.asarray(np.hypot(dx, dy) + scale, dtype=np.float32)


def _centre_in(a: Array, b: Array) -> bool:
    """Whether the centre of box ``a`` lies in box ``b`` (both ``[x1, y1, x2, y2]``)."""
    cx, cy = (a[0] + a[2]) / 2.0, (a[1] + a[3]) / 2.0
    return bool(b[0] <= cx <= b[2] and b[1] <= cy <= b[3])


class _Distance(Distance):
    """Motion plus appearance, in norfair's interface (candidates x objects)."""

    def __init__(self, appearances: dict[int, Array], fps: float) -> None:
        """``appearances``: the running appearance of each object by norfair id (shared)."""
        self._appearances = appearances
        self._fps = fps
        #: the frame being matched and the frames since the previous detection frame
        self.frame = 0
        self.period = 1

    def get_distances(
        self,
        objects: Sequence[TrackedObject],
        candidates: list[NorfairDetection] | list[TrackedObject] | None,
    ) -> Array:
        if not objects or not candidates:
            return np.zeros((len(candidates or ()), len(objects)), dtype=np.float32)
        boxes = np.array([_box(d.last_detection if isinstance(d, TrackedObject) else d) for d in candidates])
        estimates = np.array([np.asarray(o.estimate, dtype=np.float64).ravel() for o in objects])
        distance = motion_distance(boxes, estimates) / self._uncertainty(objects)[None, :]
        seen = [d.embedding for d in candidates if isinstance(d, NorfairDetection)]
        known = [self._known(o) for o in objects]
        if len(seen) == len(candidates) and all(e is not None for e in seen + known):
            distance = distance + APPEARANCE_WEIGHT * appearance_distance(np.array(seen), np.array(known))
        return np.asarray(distance, dtype=np.float32)

    def _uncertainty(self, objects: Sequence[TrackedObject]) -> Array:
        """1 + ``LOST_DRIFT`` x the seconds each object went unseen beyond one detection interval."""
        unseen = [self.frame - (o.last_detection.data or (self.frame,))[0] - self.period for o in objects]
        return 1.0 + LOST_DRIFT * np.maximum(np.array(unseen, dtype=np.float64), 0.0) / self._fps

    def _known(self, obj: TrackedObject) -> Array | None:
        """The object's running appearance, else that of its last detection (None: no image)."""
        if obj.id is not None and obj.id in self._appearances:
            return self._appearances[obj.id]
        embedding: Array | None = obj.last_detection.embedding
        return embedding


class IdentityTracker:
    """Identity tracks of one kind (persons); ids come from the run's shared track counter, so
    they never collide with the masking tracks' ids."""

    def __init__(self, counter: itertools.count[int], fps: float, period: int) -> None:
        """``fps``: the video's frame rate; ``period``: the detector's period in frames (norfair
        counts a track's memory in detection frames)."""
        self._counter = counter
        self._ids: dict[int, int] = {}
        #: running appearance of each norfair object, by its norfair id
        self._appearances: dict[int, Array] = {}
        fps = fps if fps > 0 else 25.0
        self._distance = _Distance(self._appearances, fps)
        memory = max(2, math.ceil(MEMORY_SECONDS * fps / max(1, period)))
        self._tracker = Tracker(
            distance_function="iou",
            distance_threshold=MATCH_GATE,
            hit_counter_max=memory,
            initialization_delay=0,
            pointwise_hit_counter_max=memory,
        )
        # norfair's constructor takes names or scalar callables; its Distance interface is
        # public, so the combined distance is set after construction
        self._tracker.distance_function = self._distance  # type: ignore[assignment]

    def update(
        self, detections: Sequence[Detection], frame_index: int, period: int, image: Array | None = None
    ) -> list[tuple[int, int]]:
        """Feed one detection frame (``period``: frames since the previous one); returns
        (index into ``detections``, identity track) of the detections on an identity track.
        ``image`` (RGB, the detections' coordinates) adds the appearance cue; without it only
        motion counts."""
        period = max(1, period)
        self._distance.frame, self._distance.period = frame_index, period
        candidates = [
            NorfairDetection(
                points=np.array([[d.box.x1, d.box.y1], [d.box.x2, d.box.y2]], dtype=np.float64),
                scores=np.array([d.score, d.score]),
                data=(frame_index, i),
                embedding=None if image is None else appearance(image, d.box),
            )
            for i, d in enumerate(detections)
        ]
        strong = [c for c, d in zip(candidates, detections, strict=True) if d.score >= HIGH_SCORE]
        weak = [c for c, d in zip(candidates, detections, strict=True) if d.score < HIGH_SCORE]
        self._tracker.update(detections=strong, period=period)
        self._match_weak(weak, frame_index, period)
        self._drop_duplicates(frame_index)
        self._forget_dropped()
        out = []
        for obj in self._tracker.tracked_objects:
            last = obj.last_detection
            if obj.id is None or last.data is None or last.data[0] != frame_index:
                continue
            previous = self._appearances.get(obj.id)
            if last.embedding is not None:
                self._appearances[obj.id] = (
                    last.embedding
                    if previous is None
                    else APPEARANCE_MEMORY * previous + (1.0 - APPEARANCE_MEMORY) * last.embedding
                )
            if obj.id not in self._ids:
                self._ids[obj.id] = next(self._counter)
            out.append((int(last.data[1]), self._ids[obj.id]))
        return sorted(out)

    def _match_weak(self, weak: list[NorfairDetection], frame_index: int, period: int) -> None:
        """ByteTrack's second stage: weak detections continue live tracks left unmatched."""
        if not weak:
            return
        waiting = [
            o
            for o in self._tracker.tracked_objects
            if o.hit_counter_is_positive and not o.is_initializing and not _seen_on(o, frame_index)
        ]
        if not waiting:
            return
        distances = self._distance.get_distances(waiting, weak)
        rows, cols = self._tracker.match_dets_and_objs(distances, MATCH_GATE)
        for row, col in zip(rows, cols, strict=True):
            waiting[col].hit(weak[row], period=period)

    def _drop_duplicates(self, frame_index: int) -> None:
        """Remove the tracks started on this frame whose detection is a person already matched.

        Only against tracks that existed before this frame: new tracks are not compared with each
        other, or in a crowd's first frame overlapping people would suppress one another."""
        objects = self._tracker.tracked_objects
        matched = [_box(o.last_detection) for o in objects if o.age > 0 and _seen_on(o, frame_index)]
        if not matched:
            return

        def duplicate(obj: TrackedObject) -> bool:
            if obj.age > 0 or not _seen_on(obj, frame_index):
                return False
            box = _box(obj.last_detection)
            return any(_centre_in(box, m) or _centre_in(m, box) for m in matched)

        self._tracker.tracked_objects = [o for o in objects if not duplicate(o)]

    def _forget_dropped(self) -> None:
        """Drop the appearances of objects norfair no longer holds."""
        alive = {o.id for o in self._tracker.tracked_objects}
        for key in [k for k in self._appearances if k not in alive]:
            del self._appearances[key]


def _box(detection: NorfairDetection) -> Array:
    """A norfair detection's box as ``[x1, y1, x2, y2]``."""
    return np.asarray(detection.points, dtype=np.float64).ravel()


def _seen_on(obj: TrackedObject, frame_index: int) -> bool:
    data = obj.last_detection.data
    return data is not None and data[0] == frame_index
