"""Which frames get which detection passes, and at what scale.

Detection is the expensive stage (CenterFace costs ~110 ms of CPU on a 960x544 input here, twice
what x264 needs to encode the frame). Three passes share the work:

* **base**: the whole frame, scaled so its longer side is max(512, half the frame), at most 1920, every k-th
  frame (about 10 per second: every frame at 10 fps, every 3rd at 30 fps). The look-ahead gap
  filling of ``temporal.py`` covers the frames in between. It is linear, so when a track's motion
  changes (``pipeline.frame.surprising``) the next frame gets a *follow-up*: crops around those
  tracks only, not a whole detection, which in a crowd of walking small faces would come on
  nearly every frame.
* **discovery**: the whole frame magnified (2x for CCTV-sized frames, 1.5x at 960x540, native
  from 720p up), about once per second (``--small-faces auto``), on every detection frame
  (``always``) or never. It finds faces too small for the base pass. A track it finds is extended
  back to the previous discovery pass (the look-ahead is long enough), so a small face is
  covered from the moment it could first have been missed.
* **refine**: magnified crops around each live track that is too small for the base pass, so a
  tiny face found once keeps being observed for a fraction of the discovery cost. A *steady*
  track (its last two observations close together, moving slowly enough to stay inside its crop) is
  refined about ``REFINE_RATE`` times per second (every other detection frame at the base
  rate); any other small track on every detection frame. The look-ahead interpolates the
  frames between, as it does between base passes.

Other kinds have their own period (``KindsScheduler``): persons walk slowly and their boxes are
large, so about 4 detections per second are enough (the track store interpolates between them);
plates and text cost ~0.25 s per frame at 960 px, so about 4 per second as well, with the
interpolation and motion margins of ``temporal.py`` covering the frames between. Each detector's
spec (``gamyeon.kinds``) reads its periods off the ``Plan``.

The scheduler's decision for a frame is a value (``FramePasses``) that the pipeline hands to
``pipeline.frame.FrameWork.detect``: nothing of it is stored for the stage to read back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from gamyeon.kinds import KINDS, KindRegistry

BASE_MIN_SIDE = 512
BASE_MAX_SIDE = 1920  # 4K and 8K frames: the base pass sees 1920 px; discovery tiles catch the rest
DISCOVERY_PIXELS = 1_200_000
#: a face whose longer side is below this many pixels *at base scale* is refined with crops
BASE_MIN_FACE = 20
#: detections per second of the other detectors (see the module docstring)
PERSON_RATE = 4.0
TEXT_RATE = 4.0
#: refinements per second of a steady small face (see the module docstring)
REFINE_RATE = 5.0


@dataclass(frozen=True, slots=True)
class Plan:
    detect_every: int
    discovery_every: int  # in frames; 0: never
    base_factor: float
    small_factor: float
    refine: bool = True
    #: period in frames of the person detector and of the text (plate) detector
    person_every: int = 1
    text_every: int = 1
    #: period of the persons' discovery pass (finer tiles), about once per second
    person_discovery_every: int = 1
    #: the video's frame rate (trackers that think in seconds convert with it)
    fps: float = 25.0
    #: longest span in frames between two refinements of a steady small face
    refine_every: int = 1

    @classmethod
    def for_video(cls, width: int, height: int, fps: float, detect_every: int | None, small_faces: str) -> Plan:
        fps = fps if fps > 0 else 25.0
        k = detect_every or max(1, round(fps / 10))
        longest = max(width, height)
        base = min(1.0, max(BASE_MIN_SIDE, min(longest / 2, BASE_MAX_SIDE)) / longest)
        # magnify so the discovery pass sees about DISCOVERY_PIXELS (2x for CCTV-sized frames,
        # 1.5x at 960x540, native from 720p up): its cost stays near that of one 1100x1100 input
        small_factor = min(2.0, max(1.0, math.sqrt(DISCOVERY_PIXELS / max(1, width * height))))
        person_every = detect_every or max(k, round(fps / PERSON_RATE))
        if small_faces == "never":
            every = 0
        elif small_faces == "always":
            every = k
        else:
            every = k * max(1, math.ceil(fps / k))
        return cls(
            detect_every=k,
            discovery_every=every,
            base_factor=base,
            small_factor=small_factor,
            refine=small_faces != "never",
            # never sparser than faces; an explicit --detect-every applies to every kind
            person_every=person_every,
            text_every=detect_every or max(k, round(fps / TEXT_RATE)),
            person_discovery_every=person_every * max(1, math.ceil(fps / person_every)),
            fps=fps,
            # ``always`` is the thorough mode: every small track on every detection frame
            refine_every=k if small_faces == "always" else max(k, round(fps / REFINE_RATE)),
        )

    def is_small(self, face_side: float) -> bool:
        """Whether a face this large (frame pixels) is too small for the base pass to keep."""
        return face_side * self.base_factor < BASE_MIN_FACE


@dataclass(frozen=True, slots=True)
class FramePasses:
    """The detection passes due on one frame: the detectors that run (none: no detection) and
    those whose discovery pass runs too -- for faces the magnified small-face pass (whose new
    tracks reach back to the previous one), for persons the finer tiles."""

    detectors: frozenset[str] = frozenset()
    discovery: frozenset[str] = frozenset()
    #: detectors that only look again around the tracks whose motion changed on the frame before
    #: (``KindsScheduler.hurry``): for faces, crops around those tracks
    follow: frozenset[str] = frozenset()
    #: a new shot starts on the frame (``pipeline.cuts``): the tracks its detection starts do not
    #: reach back before it, as a discovery pass's otherwise do
    fresh: bool = False

    @property
    def detect(self) -> bool:
        """Whether any detector runs on the frame, on all of it or around some tracks."""
        return bool(self.detectors or self.follow)


class Cadence:
    """One detector's schedule: whether to detect and whether to run the discovery pass."""

    def __init__(self, every: int, discovery_every: int = 0, hurries: bool = False) -> None:
        """``every``: period in frames; ``discovery_every``: of the discovery pass (0: never);
        ``hurries``: ``hurry`` makes it look again on the next frame."""
        self.every = every
        self.discovery_every = discovery_every
        self.hurries = hurries
        self._next = 0
        self._next_discovery = 0
        self._follow = -1

    def wants(self, index: int) -> tuple[bool, bool, bool]:
        """(detect?, discovery pass?, follow-up look?) for frame ``index``; frames arrive in
        order. A follow-up is due only where no detection is."""
        if index < self._next:
            return False, False, index == self._follow
        discovery = False
        if self.discovery_every and index >= self._next_discovery:
            discovery = True
            self._next_discovery = index + self.discovery_every
        self._next = index + self.every
        return True, discovery, False

    def hurry(self, index: int) -> None:
        """Look again on the next frame (a change of motion seen at ``index``), if this detector hurries."""
        if self.hurries:
            self._follow = index + 1


class KindsScheduler:
    """One ``Cadence`` per detector, from its spec in the kind registry: faces at the base rate
    with their small-face discovery passes and a hurry after fast motion, the other detectors at
    their own period (persons with their own discovery pass)."""

    def __init__(self, plan: Plan, detectors: Iterable[str], registry: KindRegistry = KINDS) -> None:
        self.plan = plan
        self.detectors = tuple(detectors)
        self._cadences: dict[str, Cadence] = {}
        for name in self.detectors:
            spec = registry.detector(name)
            self._cadences[name] = Cadence(spec.period(plan), spec.discovery_period(plan), spec.hurries)

    def passes(self, index: int) -> FramePasses:
        """The passes due on frame ``index``; frames arrive in order, each asked about once."""
        due: set[str] = set()
        discover: set[str] = set()
        follow: set[str] = set()
        for name, cadence in self._cadences.items():
            detect, discovery, again = cadence.wants(index)
            if detect:
                due.add(name)
                if discovery:
                    discover.add(name)
            elif again:
                follow.add(name)
        return FramePasses(frozenset(due), frozenset(discover), frozenset(follow))

    def full(self) -> FramePasses:
        """Every detector with its discovery pass (and for all, new tracks reaching back): the
        detection after skipped ones (``pipeline.gate``)."""
        return FramePasses(frozenset(self.detectors), frozenset(self.detectors))

    def cut(self) -> FramePasses:
        """Every detector with its discovery pass, new tracks starting on the frame: the first
        frame of a new shot (``pipeline.cuts``), whose faces are all new."""
        return FramePasses(frozenset(self.detectors), frozenset(self.detectors), fresh=True)

    def closing(self) -> FramePasses:
        """Every detector, no discovery pass: for the last frame of a file when no detection was
        due on it, detected to close every track."""
        return FramePasses(frozenset(self.detectors))

    def hurry(self, index: int) -> None:
        """Look again on the next frame (a track's motion changed at ``index``): the detectors
        that hurry, unless they detect on that frame anyway."""
        for cadence in self._cadences.values():
            cadence.hurry(index)
