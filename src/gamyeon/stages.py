"""The detect -> track -> estimate -> operate stages for one input, independent of I/O.

``FrameWork`` holds everything one file needs between frames: the detectors, one tracker per
detected kind, the track store with its look-ahead, and the file's tally (``figures.Tally``).

Detectors and the region kinds they feed:

* faces (CenterFace) -> ``face``;
* persons (SSDLite or ``--person-model``) -> ``person`` (whole body) and/or ``head`` (the head
  estimated from the person box, for persons with no face region on that frame);
* text (PP-OCR DB) -> ``plate`` (plate-shaped lines, grown to the plate) and/or ``text``.

Each detector runs on its own schedule (``schedule.KindsScheduler``) and each detected kind has
its own tracker and temporal config, so a person seen every 3rd frame is interpolated across
the frames between exactly as a face is.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gamyeon import silhouette
from gamyeon.detect import exposure
from gamyeon.detect.base import FrameDetector
from gamyeon.detect.centerface import model_path as centerface_path
from gamyeon.detect.face_models import FaceDetectors
from gamyeon.detect.faces import FaceDetector
from gamyeon.detect.persons import PersonDetector, PersonModel, detections_agree, face_owns_head, head_box
from gamyeon.detect.silhouette import load_segmenter
from gamyeon.detect.ssdlite import SsdLitePerson
from gamyeon.detect.ssdlite import default_model_path as ssdlite_path
from gamyeon.detect.text import PLATE, TEXT, PpOcrDet, TextDetector
from gamyeon.detect.text import default_model_path as text_path
from gamyeon.detect.yolo import YoloPerson
from gamyeon.figures import Tally
from gamyeon.headshape import NONE as NO_OUTLINE
from gamyeon.headshape import Outline
from gamyeon.operators import Shape
from gamyeon.options import Options
from gamyeon.policy import Policy
from gamyeon.schedule import KindsScheduler, Plan
from gamyeon.silhouette import Segmenter, silhouette_mask
from gamyeon.temporal import Estimate, TemporalConfig, TrackStore
from gamyeon.track import KindTracker
from gamyeon.types import Array, Box, Detection, FrameResult, Region

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


#: detector -> the kinds its detections can have
DETECTOR_KINDS: dict[str, tuple[str, ...]] = {"face": ("face",), "person": ("person",), "text": (PLATE, TEXT)}
#: region kind -> the detector that finds it
DETECTOR_OF: dict[str, str] = {"face": "face", "person": "person", "head": "person", PLATE: "text", TEXT: "text"}


def detectors_for(kinds: tuple[str, ...]) -> tuple[str, ...]:
    """The detectors region ``kinds`` need, in a fixed order (face, person, text)."""
    needed = {DETECTOR_OF[k] for k in kinds if k in DETECTOR_OF}
    return tuple(d for d in DETECTOR_KINDS if d in needed)


def tracked_kinds(kinds: tuple[str, ...]) -> tuple[str, ...]:
    """The detection kinds that get a tracker: heads come from person tracks."""
    out = ["person" if k == "head" else k for k in kinds]
    return tuple(dict.fromkeys(k for k in out if k in DETECTOR_OF))


def detection_threshold(policy: Policy, kinds: tuple[str, ...], kind: str) -> float:
    """Score a detection of ``kind`` needs: the kind's threshold, or for persons the lower of the
    person and head thresholds of the kinds asked for."""
    if kind == "person":
        return min(policy.for_kind(k).threshold for k in ("person", "head") if k in kinds)
    return policy.for_kind(kind).threshold


@dataclass(frozen=True, slots=True)
class OtherDetectors:
    """The detectors beside faces that a run needs (None: the kinds do not need it); both are
    ``detect.base.FrameDetector``s."""

    persons: PersonDetector | None = None
    text: TextDetector | None = None


@functools.lru_cache(maxsize=4)
def _load_others(
    kinds: tuple[str, ...],
    person_threshold: float | None,
    text_threshold: float | None,
    person_model: Path | None,
    text_model: Path | None,
) -> OtherDetectors:
    persons = None
    if person_threshold is not None:
        model: PersonModel = YoloPerson(person_model) if person_model is not None else SsdLitePerson()
        persons = PersonDetector(model, threshold=person_threshold)
    text = None
    if text_threshold is not None:
        wanted = tuple(k for k in (PLATE, TEXT) if k in kinds)
        text = TextDetector(PpOcrDet(text_model), wanted, threshold=text_threshold)
    return OtherDetectors(persons, text)


def _conforms(persons: PersonDetector, text: TextDetector) -> tuple[FrameDetector, FrameDetector]:
    """Static check (mypy) that both detectors implement the common interface."""
    return persons, text


def load_others(
    policy: Policy, kinds: tuple[str, ...], person_model: Path | None = None, text_model: Path | None = None
) -> OtherDetectors:
    """Load (once per process and configuration) the person and text detectors ``kinds`` need.

    ONNX Runtime sessions are safe to share between threads, and loading them per file would
    cost ~0.5 s each, so they are cached like the face detector is shared by one run.
    """
    detectors = detectors_for(kinds)
    person = detection_threshold(policy, kinds, "person") if "person" in detectors else None
    text = min(policy.for_kind(k).threshold for k in (PLATE, TEXT) if k in kinds) if "text" in detectors else None
    return _load_others(tuple(k for k in kinds if k in (PLATE, TEXT)), person, text, person_model, text_model)


def model_paths(options: Options) -> dict[str, Path]:
    """Every model file a run with ``options`` uses, by role (for the processing record): the
    face models for still images (``face``) and for video (``face_video``), and the person, text
    and silhouette models its kinds and policy need."""
    detectors = detectors_for(options.kinds)
    out: dict[str, Path] = {
        "face": centerface_path(options.face_model, options.face_precision, video=False),
        "face_video": centerface_path(options.face_model, options.face_precision, video=True),
    }
    if "person" in detectors:
        out["person"] = options.person_model or ssdlite_path()
    if "text" in detectors:
        out["text"] = options.text_model or text_path()
    out.update(silhouette.model_paths(options.policy, options.kinds, options.silhouette_model))
    return out


def face_detectors(options: Options) -> FaceDetectors:
    """The run's face detectors; their threshold is the lowest of the kinds they serve."""
    threshold = min(options.policy.for_kind(k).threshold for k in options.kinds)
    return FaceDetectors(options.face_model, options.face_precision, threshold)


def mask_for(box: Box, margin: float, mask_scale: float, outline: Outline = NO_OUTLINE) -> Box:
    """The area to mask for an estimated ``box``, *not* clipped to the frame: an ellipse must be
    fitted to the whole mask, or a face at the edge keeps its corner (operators clip).
    ``outline`` first grows a face box to the head (``gamyeon.headshape``)."""
    return outline.around(box).padded(margin, margin).scaled(mask_scale).padded(MIN_MARGIN_PX, MIN_MARGIN_PX)


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
    ) -> None:
        self.faces = faces
        self.policy = policy
        self.kinds = kinds
        self.plan = plan
        self.detectors = detectors_for(kinds)
        self.others = others if others is not None else OtherDetectors()
        if "person" in self.detectors and self.others.persons is None:
            raise ValueError(f"kinds {kinds} need a person detector")
        if "text" in self.detectors and self.others.text is None:
            raise ValueError(f"kinds {kinds} need a text detector")
        self.scheduler = KindsScheduler(plan, self.detectors)
        self.tracked = tracked_kinds(kinds)
        per_kind: Mapping[str, TemporalConfig] = {
            kind: temporal.for_period(plan.every(DETECTOR_OF[kind])) for kind in self.tracked if kind != "face"
        }
        self.store = TrackStore(temporal, per_kind)
        counter = itertools.count(1)
        self.trackers = {kind: KindTracker(kind, counter, self.store.config_for(kind).max_gap) for kind in self.tracked}
        self.thresholds = {kind: detection_threshold(policy, kinds, kind) for kind in self.tracked}
        self.width, self.height = width, height
        #: the file's counts; the pipeline returns them frozen (``Tally.figures``)
        self.tally = Tally()
        self._last_detection: dict[str, int] = {}

    @property
    def lookahead(self) -> int:
        """Frames each frame waits in the pipeline's buffer: the longest of any kind."""
        return self.store.lookahead

    def detect(self, index: int, small: bool, base_image: Callable[[], Array], full_image: Callable[[], Array]) -> None:
        """Run the detection passes due on frame ``index`` and feed the trackers.

        ``base_image`` returns the upright frame scaled by the plan's base factor and
        ``full_image`` the upright frame at full size; both are called only when needed.
        Exceptions propagate: the caller fails the frame closed.
        """
        due = self.scheduler.due(index)
        full_cache: list[Array] = []

        def full() -> Array:
            if not full_cache:
                full_cache.append(full_image())
            return full_cache[0]

        found: list[Detection] = []
        if "face" in due:
            found.extend(self._faces(index, small, base_image, full))
        discovered = self.scheduler.discovery(index)
        if "person" in due and self.others.persons is not None:
            persons = self.others.persons
            tiny = [
                o.box
                for kind, _, o in self.store.live(index)
                if kind == "person" and persons.is_small(o.box, self.width, self.height)
            ]
            found.extend(persons.detect_frame(full(), discovery="person" in discovered, small=tiny))
        if "text" in due and self.others.text is not None:
            found.extend(self.others.text.detect_frame(full()))
        self.observe(index, found, detectors=due, reach_back=small, discovered=discovered)

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
            tiny = [
                (o.box.x1, o.box.y1, o.box.x2, o.box.y2)
                for kind, _, o in self.store.live(index)
                if kind == "face" and self.plan.is_small(max(o.box.width, o.box.height))
            ]
            if tiny:
                full = full_image_lifted()
                if len(tiny) * REFINE_CROP_PIXELS > self.width * self.height * self.plan.small_factor**2:
                    # a crowd of small faces: one magnified pass costs less than the crops
                    passes.append(self.faces.magnified(full, self.plan.small_factor))
                else:
                    passes.append(self.faces.around(full, tiny))
        return self.faces.merge(*passes)

    def detect_still(self, image: Array) -> list[Detection]:
        """Every detector the kinds need, in its thorough still-image mode."""
        found: list[Detection] = []
        if "face" in self.detectors:
            found.extend(self.faces.detect(image))
        if self.others.persons is not None and "person" in self.detectors:
            found.extend(self.others.persons.detect(image))
        if self.others.text is not None and "text" in self.detectors:
            found.extend(self.others.text.detect(image))
        return found

    def observe(
        self,
        index: int,
        found: list[Detection],
        *,
        detectors: frozenset[str] | None = None,
        reach_back: bool = False,
        discovered: frozenset[str] = frozenset(),
    ) -> None:
        """Feed one detection frame's detections to the trackers and the store.

        ``detectors``: which detectors ran on this frame (default: all); only their kinds'
        trackers advance, each by the frames since that detector last ran. ``reach_back``: the
        face detections come from the sparse discovery pass, so new face tracks extend further back;
        ``discovered``: the same for the other detectors whose discovery pass ran.
        """
        ran = self.detectors if detectors is None else tuple(d for d in self.detectors if d in detectors)
        self.tally.detection()
        fast = False
        for detector in ran:
            last = self._last_detection.get(detector)
            period = index - last if last is not None else 1
            self._last_detection[detector] = index
            for kind in DETECTOR_KINDS[detector]:
                if kind not in self.trackers:
                    continue
                threshold = self.thresholds[kind]
                dets = [d for d in found if d.kind == kind and d.score >= threshold]
                for tracked in self.trackers[kind].update(dets, index, period):
                    before = self.store.last_box(tracked.track)
                    box = tracked.detection.box
                    back = reach_back if kind == "face" else detector in discovered
                    self.store.add(kind, tracked.track, index, box, tracked.detection.score, reach_back=back)
                    if kind == "face" and before is not None:
                        (bx, by), (cx, cy) = before.center, box.center
                        if np.hypot(cx - bx, cy - by) > FAST_MOTION * max(box.width, box.height, 1.0):
                            fast = True
        if fast:
            self.scheduler.hurry(index)

    def regions(self, index: int) -> list[Region]:
        estimates = self.store.estimates(index)
        fk = self.policy.for_kind("face")
        faces = [(e.box, mask_for(e.box, e.margin, fk.mask_scale, fk.outline)) for e in estimates if e.kind == "face"]
        out = []
        for est in estimates:
            wanted: list[tuple[str, Box, float]] = []
            if est.kind == "person":
                if "person" in self.kinds:
                    wanted.append(("person", est.box, est.margin))
                if "head" in self.kinds:
                    head = self._head(est, faces)
                    if head is not None:
                        wanted.append(head)
            else:
                wanted.append((est.kind, est.box, est.margin))
            for kind, box, margin in wanted:
                kp = self.policy.for_kind(kind)
                mask = mask_for(box, margin, kp.mask_scale, kp.outline)
                if mask.clipped(self.width, self.height).area <= 0:
                    continue
                out.append(Region(kind, box.clipped(self.width, self.height), mask, est.score, est.track, est.source))
        return out

    def _head(self, person: Estimate, faces: list[tuple[Box, Box]]) -> tuple[str, Box, float] | None:
        """The head region of a person estimate (kind, box, margin), or None when it is not needed.

        The head fallback is for persons whose face is *not* found, so there is none when

        * a face region on this frame is this person's face (``persons.face_owns_head``: of a
          plausible size for the head, its centre in the head estimate or its mask over most of
          it; a neighbour's face or a small face behind does not count);
        * the track is a chain of detections that never agree with each other
          (``TrackStore.chained`` with ``persons.detections_agree``): the tracker joined
          different things -- on close views, pieces of one body that different tiles reported
          -- and its speed, taken from those jumps, would sweep the head estimate across the
          picture. A single detection is kept (a person seen once is still protected).

        The uncertainty margin is that of a head, not of the whole body: the share of the box
        size that grows with the distance to the nearest detection applies to the head's size,
        and the motion part (pixels) is the person's -- exactly how a face track's margin is
        made. The body-sized margin grew a head estimate by up to half a body height on every
        side.
        """
        head = head_box(person.box)
        if any(face_owns_head(face, mask, head) for face, mask in faces):
            return None
        if self.store.chained(person.track, self.plan.every("person"), detections_agree):
            return None
        margin = person.spread * max(head.width, head.height) + person.drift
        return ("head", head, margin)

    def account(self, result: FrameResult) -> None:
        self.tally.frame(result)

    def forget_before(self, index: int) -> None:
        self.store.prune(index)


def apply_regions(view: Array, regions: list[Region], policy: Policy, segmenter: Segmenter | None = None) -> None:
    """Run each region's operator on the upright ``view`` (in place).

    Silhouette regions (``gamyeon.silhouette``) are segmented first, all of them on the untouched
    picture (a face or a neighbour already pixelated would hide the person from the network), then
    every region is masked in order. ``segmenter`` None: the bundled model, when a region needs one.
    """
    inside: dict[int, Array] = {}
    for i, region in enumerate(regions):
        if policy.for_kind(region.kind).shape is Shape.SILHOUETTE:
            segmenter = segmenter or load_segmenter()
            inside[i] = silhouette_mask(view, region, segmenter)
    for i, region in enumerate(regions):
        kp = policy.for_kind(region.kind)
        seed = policy.mask_seed(region)
        if i in inside:
            kp.operator.apply_inside(view, region.mask, inside[i], seed)
        else:
            kp.operator.apply(view, region.mask, kp.shape, seed)
