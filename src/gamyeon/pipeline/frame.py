"""The detect -> track -> estimate stages for one input, independent of I/O.

``FrameWork`` holds everything one file needs between frames: the detectors, one tracker per
detected kind, the track store with its look-ahead, and the file's tally (``figures.Tally``).

Detectors and the region kinds they feed:

* faces (CenterFace) -> ``face``;
* persons (SSDLite or ``--person-model``) -> ``person`` (whole body) and/or ``head`` (the head
  estimated from the person box, for persons with no face region on that frame);
* text (PP-OCR DB) -> ``plate`` (plate-shaped lines, grown to the plate) and/or ``text``.

Each detector runs on its own schedule (``schedule.KindsScheduler``) and each detected kind has
its own tracker and temporal config, so a person seen every 3rd frame is interpolated across
the frames between exactly as a face is. Which detectors, trackers, thresholds and derived
regions a run's kinds need comes from the kind registry (``gamyeon.kinds``), not from this module.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from gamyeon.detect import exposure
from gamyeon.detect.faces import FaceDetector, crops_around, refine_reach
from gamyeon.figures import Tally
from gamyeon.kinds import KINDS, FramePass, KindRegistry, VideoToken
from gamyeon.kinds.detectors import PERSON
from gamyeon.mask.headshape import NONE as NO_OUTLINE
from gamyeon.mask.headshape import Outline
from gamyeon.pipeline.models import OtherDetectors
from gamyeon.policy import Policy
from gamyeon.track.identity import IdentityTracker
from gamyeon.track.schedule import FramePasses, KindsScheduler, Plan
from gamyeon.track.temporal import Estimate, Observation, TemporalConfig, TrackStore
from gamyeon.track.tracker import KindTracker
from gamyeon.types import Array, Box, Detection, FrameResult, Region, TrackBox

log = logging.getLogger(__name__)

#: a tiny absolute margin so that few-pixel faces keep a border despite box jitter
MIN_MARGIN_PX = 1.5
FAST_MOTION = 0.5  # box sizes off the predicted place that count as a change of motion
#: a follow-up detection continues the changed track it overlaps at least this much (IoU with
#: the track's predicted box)
FOLLOW_IOU = 0.3


def mask_for(box: Box, margin: float, mask_scale: float, outline: Outline = NO_OUTLINE) -> Box:
    """The area to mask for an estimated ``box``, *not* clipped to the frame: an ellipse must be
    fitted to the whole mask, or a face at the edge keeps its corner (operators clip).
    ``outline`` first grows a face box to the head (``gamyeon.mask.headshape``)."""
    return outline.around(box).padded(margin, margin).scaled(mask_scale).padded(MIN_MARGIN_PX, MIN_MARGIN_PX)


def predicted(history: Sequence[Observation], frame: int) -> Box:
    """Where a track whose recent observations (oldest first, at least one) are ``history`` is
    on ``frame``, moving on as between its last two."""
    last = history[-1]
    if len(history) < 2:
        return last.box
    before = history[-2]
    (ax, ay), (bx, by) = before.box.center, last.box.center
    t = (frame - last.frame) / max(1, last.frame - before.frame)
    return last.box.shifted((bx - ax) * t, (by - ay) * t)


def surprising(history: Sequence[Observation]) -> bool:
    """Whether the newest of a track's recent observations (oldest first) lies farther than
    ``FAST_MOTION`` of its size from where the ones before put it (``predicted``).

    The look-ahead interpolates linearly between detection frames, so only a change of motion
    -- a turn, a start, a stop, or a fast first step with no motion known yet -- can carry a
    face outside its estimate there. Steady walking, however fast for the face's size, is
    followed exactly and needs no look between detection frames.
    """
    if len(history) < 2:
        return False
    last = history[-1]
    (px, py), (cx, cy) = predicted(history[:-1], last.frame).center, last.box.center
    return math.hypot(cx - px, cy - py) > FAST_MOTION * max(last.box.width, last.box.height, 1.0)


class _Frame:
    """The estimates of the frame being decided, as derivations (``KindSpec.derive``) see them."""

    def __init__(
        self, estimates: Sequence[Estimate], policy: Policy, store: TrackStore, periods: Mapping[str, int]
    ) -> None:
        self._estimates = estimates
        self._policy = policy
        self._store = store
        self._periods = periods
        self._masks: dict[str, list[tuple[Box, Box]]] = {}
        self._corners: dict[str, Array] = {}

    @property
    def store(self) -> TrackStore:
        return self._store

    def masks(self, kind: str) -> Sequence[tuple[Box, Box]]:
        """(box, mask) of the estimates of ``kind``, masked as its regions are."""
        if kind not in self._masks:
            kp = self._policy.for_kind(kind)
            self._masks[kind] = [
                (e.box, mask_for(e.box, e.margin, kp.mask_scale, kp.outline)) for e in self._estimates if e.kind == kind
            ]
        return self._masks[kind]

    def near(self, kind: str, area: Box) -> Sequence[tuple[Box, Box]]:
        pairs = self.masks(kind)
        if not pairs:
            return pairs
        if kind not in self._corners:
            self._corners[kind] = np.array(
                [(b.x1, b.y1, b.x2, b.y2, m.x1, m.y1, m.x2, m.y2) for b, m in pairs], dtype=np.float64
            )
        c = self._corners[kind]
        box = (c[:, 0] <= area.x2) & (c[:, 2] >= area.x1) & (c[:, 1] <= area.y2) & (c[:, 3] >= area.y1)
        mask = (c[:, 4] <= area.x2) & (c[:, 6] >= area.x1) & (c[:, 5] <= area.y2) & (c[:, 7] >= area.y1)
        return [pairs[i] for i in np.flatnonzero(box | mask)]

    def period(self, detector: str) -> int:
        return self._periods[detector]


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
        others: OtherDetectors | None = None,
        registry: KindRegistry = KINDS,
    ) -> None:
        """``faces``: the run's face detector, used when ``kinds`` need faces; ``others``: the
        other detectors they need (``load_others``), by name; ``registry``: the kinds known."""
        self.faces = faces
        self.policy = policy
        self.kinds = kinds
        self.plan = plan
        self.registry = registry
        self.detectors = registry.detectors_for(kinds)
        self.others: OtherDetectors = others if others is not None else {}
        for name in self.detectors:
            if registry.detector(name).load is not None and self.others.get(name) is None:
                raise ValueError(f"kinds {kinds} need a {name} detector")
        self.scheduler = KindsScheduler(plan, self.detectors, registry)
        #: detection period in frames of each detector this video
        self.periods = {name: registry.detector(name).period(plan) for name in self.detectors}
        self.tracked = registry.tracked_kinds(kinds)
        per_kind: dict[str, TemporalConfig] = {}
        for kind in self.tracked:
            rule = registry.kind(kind).temporal
            if rule is not None:
                per_kind[kind] = rule(temporal, self.periods[registry.kind(kind).detector])
        self.store = TrackStore(temporal, per_kind)
        counter = itertools.count(1)
        self.trackers = {kind: KindTracker(kind, counter, self.store.config_for(kind).max_gap) for kind in self.tracked}
        #: persons are tracked a second time for identity (``track.identity``): those tracks are
        #: reported, never masked; interpolated within the persons' own gap, so the look-ahead
        #: stays what masking needs, and never extended
        self.identity: IdentityTracker | None = None
        self.identities = TrackStore(TemporalConfig(max_gap=0, pad_before=0, pad_after=0))
        if PERSON in self.tracked:
            self.identity = IdentityTracker(counter, plan.fps, self.periods[registry.kind(PERSON).detector])
            gap = self.store.config_for(PERSON).max_gap
            self.identities = TrackStore(TemporalConfig(max_gap=gap, pad_before=0, pad_after=0))
        self.thresholds = {kind: registry.track_threshold(policy, kinds, kind) for kind in self.tracked}
        #: tracked kind -> the region kinds made from its estimates, in masking order
        self.outputs = {kind: registry.outputs(kind, kinds) for kind in self.tracked}
        self.width, self.height = width, height
        #: the file's counts; the pipeline returns them frozen (``Tally.figures``)
        self.tally = Tally()
        #: this video to the detectors that keep state between frames (``kinds.spec.VideoToken``)
        self.video = VideoToken()
        self._last_detection: dict[str, int] = {}
        #: recent frames each detector looked at (ran, or was skipped as unchanged: ``checked``)
        self._looked: dict[str, deque[int]] = {name: deque() for name in self.detectors}
        #: per hurrying detector, the tracks (-> kind) whose motion changed on its last look:
        #: the next frame looks for them again (``_follow_up``)
        self._changed: dict[str, dict[int, str]] = {}

    @property
    def lookahead(self) -> int:
        """Frames each frame waits in the pipeline's buffer: the longest of any kind."""
        return self.store.lookahead

    def detect(
        self, index: int, passes: FramePasses, base_image: Callable[[], Array], full_image: Callable[[], Array]
    ) -> None:
        """Run the detection ``passes`` the scheduler chose for frame ``index`` and feed the trackers.

        ``base_image`` returns the upright frame scaled by the plan's base factor and
        ``full_image`` the upright frame at full size; both are called only when needed.
        Exceptions propagate: the caller fails the frame closed.
        """
        full_cache: list[Array] = []

        def full() -> Array:
            if not full_cache:
                full_cache.append(full_image())
            return full_cache[0]

        found: list[Detection] = []
        ran: list[str] = []
        for name in self.detectors:
            spec = self.registry.detector(name)
            if name not in passes.detectors:
                if name not in passes.follow:
                    continue
                if spec.run is None:  # the face detectors look around the changed tracks only
                    self._follow_up(index, name, base_image, full)
                    continue
                # a detector of its own follows up with a whole pass
            ran.append(name)
            discovery = name in passes.discovery
            if spec.run is None:  # the run's face detectors: their own multi-scale passes
                found.extend(self._faces(index, discovery, base_image, full))
                continue
            own = self.registry.detected_kinds(name)
            live = tuple(o.box for kind, _, o in self.store.live(index) if kind in own)
            frame = FramePass(discovery, live, self.width, self.height, self.video)
            found.extend(spec.run(self.others[name], full(), frame))
        if ran:
            image = full_cache[0] if full_cache else None
            discovered = frozenset() if passes.fresh else passes.discovery  # nothing before a cut is theirs
            self.observe(index, found, detectors=frozenset(ran), discovered=discovered, image=image)

    def _follow_up(
        self, index: int, detector: str, base_image: Callable[[], Array], full_image: Callable[[], Array]
    ) -> None:
        """Look for the tracks whose motion changed on the detection before (``surprising``)
        in crops around where they should be on frame ``index``, and add what is found there
        to those tracks: their path is observed where interpolation would have guessed it.
        Only those tracks' kinds' store is touched; the trackers see the next whole detection."""
        changed = self._changed.pop(detector, {})
        due = [(kind, track, self.store.recent(track, 2)) for track, kind in changed.items()]
        guesses = [(kind, track, predicted(history, index)) for kind, track, history in due if history]
        if not guesses:
            return
        image = exposure.lifted(full_image(), exposure.gain_for(base_image()))
        boxes = [(b.x1, b.y1, b.x2, b.y2) for _, _, b in guesses]
        found = self.faces.merge(self.faces.refine(image, crops_around(boxes, self.width, self.height)))
        taken: set[int] = set()
        for kind, track, guess in guesses:
            threshold = self.thresholds[kind]
            scored = [(guess.iou(d.box), i) for i, d in enumerate(found) if i not in taken and d.score >= threshold]
            overlap, best = max(scored, default=(0.0, -1))
            if overlap < FOLLOW_IOU:
                continue
            taken.add(best)
            self.store.add(kind, track, index, found[best].box, found[best].score)
            if surprising(self.store.recent(track, 3)):
                self._changed.setdefault(detector, {})[track] = kind
        if self._changed.get(detector):
            self.scheduler.hurry(index)

    def _faces(
        self, index: int, small: bool, base_image: Callable[[], Array], full_image: Callable[[], Array]
    ) -> list[Detection]:
        base = base_image()
        gain = exposure.gain_for(base)  # dark frames are brightened for the face detector only
        base = exposure.lifted(base, gain)

        def full_image_lifted() -> Array:
            return exposure.lifted(full_image(), gain)

        fx = self.width / base.shape[1]
        fy = self.height / base.shape[0]
        rows = self.faces.whole(base)
        if len(rows):
            rows = rows.copy()
            rows[:, [0, 2]] *= fx
            rows[:, [1, 3]] *= fy
        passes = [rows]
        if small:
            passes.append(self.faces.magnified(full_image_lifted(), self.plan.small_factor))
        elif self.plan.refine:
            tiny = self.to_refine(index)
            if tiny:
                full = full_image_lifted()
                crops = crops_around(tiny, self.width, self.height)
                if sum(c.cost for c in crops) > self.width * self.height * self.plan.small_factor**2:
                    # a crowd of small faces: one magnified pass costs less than the crops
                    passes.append(self.faces.magnified(full, self.plan.small_factor))
                else:
                    passes.append(self.faces.refine(full, crops))
        return self.faces.merge(*passes)

    def to_refine(self, index: int) -> list[tuple[float, float, float, float]]:
        """The last boxes (``x1, y1, x2, y2``) of the live face tracks too small for the base pass
        that are due for refinement on detection frame ``index``: all but the steady ones."""
        return [
            (o.box.x1, o.box.y1, o.box.x2, o.box.y2)
            for kind, track, o in self.store.live(index)
            if kind == "face"
            and self.plan.is_small(max(o.box.width, o.box.height))
            and not self._steady(index, track, o)
        ]

    def _steady(self, index: int, track: int, last: Observation) -> bool:
        """Whether a small face track may skip refinement on detection frame ``index``.

        Only when the next detection frame still lies within ``Plan.refine_every`` of its last
        observation, that observation followed the one before within that span too, and at its
        speed the face stays well inside the crop centred on its last box until then (half
        ``refine_reach``). Anything else -- a new track, a miss, fast motion -- is refined.
        """
        ahead = index + self.plan.detect_every - last.frame
        if ahead > self.plan.refine_every:
            return False
        before = self.store.previous(track)
        if before is None or last.frame - before.frame > self.plan.refine_every:
            return False
        (ax, ay), (bx, by) = before.box.center, last.box.center
        speed = math.hypot(bx - ax, by - ay) / (last.frame - before.frame)
        return speed * ahead <= refine_reach(max(last.box.width, last.box.height)) / 2.0

    def detect_still(self, image: Array) -> list[Detection]:
        """Every detector the kinds need, in its thorough still-image mode."""
        found: list[Detection] = []
        for name in self.detectors:
            detector = self.faces if self.registry.detector(name).run is None else self.others[name]
            found.extend(detector.detect(image))
        return found

    def observe(
        self,
        index: int,
        found: list[Detection],
        *,
        detectors: frozenset[str] | None = None,
        discovered: frozenset[str] = frozenset(),
        image: Array | None = None,
    ) -> None:
        """Feed one detection frame's detections to the trackers and the store.

        ``detectors``: which detectors ran on this frame (default: all); only their kinds'
        trackers advance, each by the frames since that detector last ran. ``discovered``: the
        detectors whose discovery pass ran (for faces the sparse small-face pass), so their new
        tracks extend further back. ``image``: the upright frame at full size, for the
        appearance of persons on their identity tracks (without it only their motion counts).
        """
        ran = self.detectors if detectors is None else tuple(d for d in self.detectors if d in detectors)
        self.checked(index, ran)
        self.tally.detection()
        for detector in ran:
            self._changed.pop(detector, None)  # this look supersedes a follow-up still due
            last = self._last_detection.get(detector)
            period = index - last if last is not None else 1
            self._last_detection[detector] = index
            back = detector in discovered
            hurries = self.registry.detector(detector).hurries
            for kind in self.registry.detected_kinds(detector):
                if kind not in self.trackers:
                    continue
                threshold = self.thresholds[kind]
                dets = [d for d in found if d.kind == kind and d.score >= threshold]
                for tracked in self.trackers[kind].update(dets, index, period):
                    box = tracked.detection.box
                    self.store.add(kind, tracked.track, index, box, tracked.detection.score, reach_back=back)
                    if hurries and surprising(self.store.recent(tracked.track, 3)):
                        self._changed.setdefault(detector, {})[tracked.track] = kind
                if kind == PERSON and self.identity is not None:
                    for i, track in self.identity.update(dets, index, period, image):
                        self.identities.add(kind, track, index, dets[i].box, dets[i].score)
        if any(self._changed.get(detector) for detector in ran):
            self.scheduler.hurry(index)

    def checked(self, index: int, detectors: Iterable[str]) -> None:
        """Record that ``detectors`` looked at frame ``index`` (``covered`` reads it back)."""
        for name in detectors:
            looked = self._looked.get(name)
            if looked is not None and (not looked or looked[-1] < index):
                looked.append(index)

    def covered(self, index: int) -> bool:
        """Whether every detector looked at a frame at most its period before ``index`` and at
        one at most its period after it (once those are known): the frame lies between two
        looks of each detector, as the schedule intends."""
        for name, looked in self._looked.items():
            period = self.periods[name]
            before = any(index - period <= f <= index for f in looked)
            after = any(index <= f <= index + period for f in looked)
            if not (before and after):
                return False
        return True

    def quiet(self, index: int) -> bool:
        """Whether no track, masked or identity, has a box on frame ``index``."""
        return not self.store.estimates(index) and not self.identities.estimates(index)

    def regions(self, index: int) -> list[Region]:
        estimates = self.store.estimates(index)
        frame = _Frame(estimates, self.policy, self.store, self.periods)
        out = []
        for est in estimates:
            for kind in self.outputs[est.kind]:
                derive = self.registry.kind(kind).derive
                if derive is None:
                    box, margin = est.box, est.margin
                else:
                    derived = derive(est, frame)
                    if derived is None:
                        continue
                    box, margin = derived
                kp = self.policy.for_kind(kind)
                mask = mask_for(box, margin, kp.mask_scale, kp.outline)
                if mask.clipped(self.width, self.height).area <= 0:
                    continue
                out.append(Region(kind, box.clipped(self.width, self.height), mask, est.score, est.track, est.source))
        return out

    def tracks(self, index: int) -> list[TrackBox] | None:
        """The identity tracks of persons on frame ``index`` (detected or interpolated), None
        when the run tracks no persons."""
        if self.identity is None:
            return None
        out = []
        for est in self.identities.estimates(index):
            box = est.box.clipped(self.width, self.height)
            if box.area > 0:
                out.append(TrackBox(est.kind, box, est.score, est.track, est.source))
        return out

    def account(self, result: FrameResult) -> None:
        self.tally.frame(result)

    def forget_before(self, index: int) -> None:
        self.store.prune(index)
        self.identities.prune(index)
        for name, looked in self._looked.items():
            while len(looked) > 1 and looked[1] < index - self.periods[name]:
                looked.popleft()
