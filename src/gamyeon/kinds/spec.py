"""What the pipeline needs to know about one kind of region and one detector, as frozen values.

A ``KindSpec`` says which detector finds a kind, whether the kind is tracked itself or derived
from another kind's tracks (heads from persons), its temporal rule, its default ``KindPolicy``
and the ``--kinds`` names that select it. A ``DetectorSpec`` says how a detector is loaded, how
its pass on a video frame is run, its model files (for the processing record) and its schedule.
``KindRegistry`` (``gamyeon.kinds.registry``) answers the pipeline's questions from them, so
adding a kind is declaring specs, not editing the stages, the scheduler and the policy.

Only types are imported at run time: the built-in specs (``gamyeon.kinds.builtin``) import the
detectors, and the pipeline modules import the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from gamyeon.kindpolicy import KindPolicy
from gamyeon.types import Array, Box, Detection

if TYPE_CHECKING:
    from gamyeon.options import Options
    from gamyeon.track.schedule import Plan
    from gamyeon.track.temporal import Estimate, TemporalConfig, TrackStore

D = TypeVar("D")


@dataclass(frozen=True, slots=True)
class FramePass:
    """What a detector's pass on one video frame gets besides the frame: whether its discovery
    pass (finer tiles) is due, the last boxes of the live tracks of its kinds (persons re-observe
    small ones closely), the frame size (upright pixels), and which video the frame is of
    (``VideoToken``)."""

    discovery: bool
    live: tuple[Box, ...]
    width: int
    height: int
    video: VideoToken | None = None


class VideoToken:
    """One video, for the detectors that carry something from frame to frame (the text pass
    reuses its map while the picture stays the same). Detectors are loaded once per process and
    shared by every file and camera it works on, so such state is kept per token -- weakly, so it
    goes with the video's ``FrameWork`` -- and a file's result never depends on what the process
    did before it or beside it."""

    __slots__ = ("__weakref__",)


#: ``(kinds it serves among those asked for, score threshold, model file or None: the bundled
#: one) -> detector``
Loader = Callable[[tuple[str, ...], float, Path | None], D]
#: ``(detector, upright full-size frame, pass) -> detections``; raises on failure (fail closed)
FrameRun = Callable[[D, Array, FramePass], list[Detection]]


def never(plan: Plan) -> int:
    """The discovery period of a detector without a discovery pass."""
    return 0


@dataclass(frozen=True, slots=True)
class DetectorSpec(Generic[D]):
    """One detector.

    ``load`` None marks the run's own face detectors (``pipeline.models.face_detectors``): a run loads
    them whatever its kinds (so their model files are always recorded), and ``FrameWork`` runs
    their multi-scale passes itself. Every other detector is loaded by ``load`` (once per process
    and configuration, see ``pipeline.models.load_others``) and run on a video frame by ``run``; on a still
    image its ``detect`` (``detect.base.Detector``) runs.

    ``period`` and ``discovery_period`` read the detector's periods off the video's ``Plan``
    (0: no discovery pass); ``hurries``: when a track's motion changes it looks again on the next
    frame (the face detectors: in crops around those tracks; others: a whole pass).
    """

    name: str
    period: Callable[[Plan], int]
    model_paths: Callable[[Options], Mapping[str, Path]]
    load: Loader[D] | None = None
    run: FrameRun[D] | None = None
    discovery_period: Callable[[Plan], int] = never
    hurries: bool = False

    def __post_init__(self) -> None:
        if (self.load is None) != (self.run is None):
            raise ValueError(f"detector {self.name!r}: give both load and run, or neither (the face detectors)")


class FrameEstimates(Protocol):
    """What a derivation sees of the frame being decided (``pipeline.frame.FrameWork.regions``)."""

    @property
    def store(self) -> TrackStore: ...

    def masks(self, kind: str) -> Sequence[tuple[Box, Box]]:
        """(box, mask) of every estimate of tracked ``kind`` on this frame, masked per the policy."""
        ...

    def near(self, kind: str, area: Box) -> Sequence[tuple[Box, Box]]:
        """The (box, mask) pairs of ``masks(kind)`` whose box or mask touches ``area``: a crowd's
        derivations test each object only against its neighbours, not every object in view."""
        ...

    def period(self, detector: str) -> int:
        """Detection period in frames of ``detector`` in this video."""
        ...


@dataclass(frozen=True, slots=True)
class Mode:
    """One ``--person-mode`` choice, declared by the kind it protects the tracked objects as (the
    head of a person, or the whole body). Choosing it puts that kind in place of the other kinds
    made from the same tracks that declare modes; ``silhouette``: True sets the kind's shape to
    ``Shape.SILHOUETTE``, False turns a silhouette (from a policy file) back into a box, None
    leaves the shape as the policy says."""

    name: str
    silhouette: bool | None = None


#: ``(estimate of the source kind, frame) -> (box, uncertainty margin)``, or None: no region
Derivation = Callable[["Estimate", FrameEstimates], tuple[Box, float] | None]
#: ``(the run's temporal config, made for the face rate; the kind's detection period) -> config``
TemporalRule = Callable[["TemporalConfig", int], "TemporalConfig"]


@dataclass(frozen=True, slots=True)
class KindSpec:
    """One region kind.

    ``detector``: the detector whose detections it comes from. ``derived_from``: None when the
    kind is tracked itself; else the tracked kind whose estimates ``derive`` turns into this
    kind's regions (heads from person tracks) -- it then has no tracker of its own and uses the
    source kind's detector. ``temporal``: how its tracks' gaps and pads follow its detector's
    period (None: the run's config as is, made for the face detection rate). ``groups``: the
    ``--kinds`` names that select it; ``default``: protected when ``--kinds`` is not given.
    ``silhouette``: a segmentation mask can be computed for it (``Shape.SILHOUETTE``).
    ``modes``: the ``--person-mode`` choices that select it (``Mode``).
    """

    name: str
    detector: str
    policy: KindPolicy
    groups: tuple[str, ...]
    default: bool = False
    derived_from: str | None = None
    derive: Derivation | None = None
    temporal: TemporalRule | None = None
    silhouette: bool = False
    modes: tuple[Mode, ...] = ()

    def __post_init__(self) -> None:
        if any(mode.silhouette for mode in self.modes) and not self.silhouette:
            raise ValueError(f"kind {self.name!r}: a mode that sets a silhouette needs silhouette=True")
        if (self.derived_from is None) != (self.derive is None):
            raise ValueError(f"kind {self.name!r}: give both derived_from and derive, or neither")
        if not self.groups:
            raise ValueError(f"kind {self.name!r}: no --kinds name selects it")

    @property
    def tracked(self) -> str:
        """The kind whose tracker feeds this kind's regions: itself, or its source."""
        return self.derived_from or self.name


AnyDetectorSpec = DetectorSpec[Any]
