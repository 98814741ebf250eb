"""The kind registry (``gamyeon.kinds``): what it answers for the built-in kinds, and that a new kind
declared as specs flows through ``--kinds`` parsing, policy defaults, detector loading and
scheduling, tracking and regions without editing the stages, the scheduler or the policy."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from gamyeon import policy as policy_module
from gamyeon.errors import PolicyError
from gamyeon.kindpolicy import KindPolicy
from gamyeon.kinds import KINDS, DetectorSpec, FrameEstimates, FramePass, KindRegistry, KindSpec, Mode
from gamyeon.kinds.builtin import BUILTIN_KINDS
from gamyeon.kinds.detectors import FACES, PERSONS, TEXTS
from gamyeon.operators import Blur, Fill
from gamyeon.options import Options
from gamyeon.pipeline.frame import FrameWork
from gamyeon.pipeline.models import load_detectors, model_paths
from gamyeon.policy import DEFAULT_KINDS, DEFAULT_REGION_KINDS, KIND_GROUPS, Policy, parse_kinds
from gamyeon.track.schedule import FramePasses, KindsScheduler, Plan
from gamyeon.track.temporal import Estimate, TemporalConfig
from gamyeon.types import Array, Box, Detection

# ---------------------------------------------------------------- the built-in kinds


def test_detectors_for_kinds_in_a_fixed_order() -> None:
    assert KINDS.detectors == ("face", "person", "text")
    assert KINDS.detectors_for(("plate", "head")) == ("person", "text")
    assert KINDS.detectors_for(("text", "plate")) == ("text",)
    assert KINDS.detectors_for(("face", "cars")) == ("face",)  # unknown kinds need nothing
    assert KINDS.detectors_for(()) == ()


def test_tracked_and_detected_kinds() -> None:
    assert KINDS.tracked_kinds(("head",)) == ("person",)  # heads come from person tracks
    assert KINDS.tracked_kinds(("plate", "head", "face", "person")) == ("plate", "person", "face")
    assert KINDS.detected_kinds("person") == ("person",)
    assert KINDS.detected_kinds("text") == ("plate", "text")
    assert KINDS.outputs("person", ("head", "person")) == ("person", "head")  # body before head
    assert KINDS.outputs("person", ("face", "head")) == ("head",)
    assert KINDS.served("text", ("text", "face", "plate")) == ("plate", "text")


def test_thresholds_are_the_lowest_of_the_kinds_served() -> None:
    policy = Policy().with_overrides()
    kinds = dict(policy.kinds)
    kinds["head"] = KindPolicy(Fill(), threshold=0.3)
    kinds["person"] = KindPolicy(Fill(), threshold=0.4)
    kinds["text"] = KindPolicy(Fill(), threshold=0.6)
    policy = Policy(kinds=kinds)
    assert KINDS.threshold(policy, ("person", "head"), "person") == 0.3
    assert KINDS.threshold(policy, ("person",), "person") == 0.4
    assert KINDS.threshold(policy, ("plate", "text"), "text") == 0.5
    assert KINDS.threshold(policy, ("text",), "text") == 0.6
    assert KINDS.track_threshold(policy, ("head",), "person") == 0.3
    assert KINDS.track_threshold(policy, ("head", "person"), "person") == 0.3
    assert KINDS.track_threshold(policy, ("face",), "face") == policy.for_kind("face").threshold


def test_defaults_come_from_the_specs() -> None:
    assert KINDS.default_policies() == dict(Policy().kinds)
    assert KINDS.default_groups == DEFAULT_KINDS == ("faces", "heads", "plates")
    assert KINDS.default_kinds == DEFAULT_REGION_KINDS == Options().kinds == ("face", "head", "plate")
    assert dict(KINDS.groups) == dict(KIND_GROUPS)
    assert list(KIND_GROUPS) == ["faces", "heads", "persons", "plates", "text"]
    assert KINDS.silhouette_kinds == ("person",)
    assert KINDS.parse(None) == parse_kinds(None)
    assert KINDS.parse("text, persons") == ("text", "person")
    with pytest.raises(PolicyError, match="unknown kind 'cars'"):
        KINDS.parse("faces,cars")
    with pytest.raises(PolicyError, match="got nothing"):
        KINDS.parse(" , ")


def test_model_paths_record_face_models_always_and_the_others_when_needed() -> None:
    faces = model_paths(Options(kinds=("face",)))
    assert list(faces) == ["face", "face_video"]
    every = model_paths(Options(kinds=("text", "head")))
    assert list(every) == ["face", "face_video", "person", "person_video", "text", "text_video"]
    own = Path("/models/yolo.onnx")
    assert model_paths(Options(kinds=("person",), person_model=own)) == {
        **faces,
        "person": own,
    }


def test_specs_are_validated() -> None:
    stub = DetectorSpec("stub", _every_other, _no_paths, load=_load_stub, run=_run_stub)
    with pytest.raises(ValueError, match="unknown detector"):
        KindRegistry((stub,), (KindSpec("x", "nope", KindPolicy(Fill()), ("xs",)),))
    with pytest.raises(ValueError, match="no tracked kind"):
        KindRegistry((stub,), (KindSpec("x", "stub", KindPolicy(Fill()), ("xs",), derived_from="y", derive=_area),))
    with pytest.raises(ValueError, match="both derived_from and derive"):
        KindSpec("x", "stub", KindPolicy(Fill()), ("xs",), derived_from="y")
    with pytest.raises(ValueError, match="both load and run"):
        DetectorSpec("stub", _every_other, _no_paths, load=_load_stub)
    with pytest.raises(ValueError, match="needs silhouette=True"):
        KindSpec("x", "stub", KindPolicy(Fill()), ("xs",), modes=(Mode("outline", silhouette=True),))


def test_person_modes_are_declared_by_the_kinds() -> None:
    """``--person-mode`` choices come from the specs: heads declare ``head``, persons ``body``
    and ``silhouette``; the policy module names none of them."""
    assert KINDS.modes == ("head", "body", "silhouette")
    assert [(KINDS.mode(m)[0].name, KINDS.mode(m)[1].silhouette) for m in KINDS.modes] == [
        ("head", None),
        ("person", False),
        ("person", True),
    ]
    assert KINDS.with_mode(("face", "person", "plate"), "head") == ("face", "head", "plate")  # in place
    assert KINDS.with_mode(("face",), "body") == ("face", "person")  # added
    with pytest.raises(PolicyError, match="--person-mode: expected one of"):
        KINDS.mode("torso")
    policy_source = Path(policy_module.__file__).read_text(encoding="utf-8")
    for literal in ('"head"', '"body"', '"silhouette"', '"person"'):
        assert literal not in policy_source


def test_the_scheduler_decision_is_a_value() -> None:
    plan = Plan.for_video(960, 540, 30.0, None, "auto")
    sched = KindsScheduler(plan, ("face", "person"))
    first = sched.passes(0)
    assert first == FramePasses(frozenset({"face", "person"}), frozenset({"face", "person"}))
    assert not sched.passes(1).detect and sched.passes(1) == FramePasses()
    assert sched.closing() == FramePasses(frozenset({"face", "person"}))
    with pytest.raises(AttributeError):
        first.detectors = frozenset()  # type: ignore[misc]


# ---------------------------------------------------------------- a new kind, declared as specs only


class StubDetector:
    """Finds one 'tattoo' at a fixed place; records what the stage asked of it."""

    def __init__(self, kinds: tuple[str, ...], threshold: float) -> None:
        self.kinds = kinds
        self.threshold = threshold
        self.passes: list[FramePass] = []

    def detect(self, image: Array) -> list[Detection]:
        return [Detection("tattoo", Box(40, 40, 60, 70), 0.9)]

    def detect_frame(self, image: Array) -> list[Detection]:
        return self.detect(image)


def _every_other(plan: Plan) -> int:
    return 2 * plan.detect_every


def _no_paths(options: Options) -> dict[str, Path]:
    return {"stub": Path("/models/stub.onnx")}


def _load_stub(kinds: tuple[str, ...], threshold: float, model: Path | None) -> StubDetector:
    return StubDetector(kinds, threshold)


def _run_stub(detector: StubDetector, image: Array, frame: FramePass) -> list[Detection]:
    detector.passes.append(frame)
    return detector.detect_frame(image)


def _area(tattoo: Estimate, frame: FrameEstimates) -> tuple[Box, float] | None:
    """The arm around a tattoo: twice its size."""
    return tattoo.box.scaled(2.0), tattoo.margin


STUB = DetectorSpec("stub", _every_other, _no_paths, load=_load_stub, run=_run_stub)
TATTOO = KindSpec(
    "tattoo",
    "stub",
    KindPolicy(Blur(), threshold=0.6),
    ("tattoos",),
    temporal=TemporalConfig.for_period,
    modes=(Mode("ink"),),
)
ARM = KindSpec(
    "arm",
    "stub",
    KindPolicy(Fill(), threshold=0.7),
    ("arms", "tattoos"),
    derived_from="tattoo",
    derive=_area,
    modes=(Mode("sleeve"),),
)


@pytest.fixture
def registry() -> KindRegistry:
    return KindRegistry((FACES, PERSONS, TEXTS, STUB), (*BUILTIN_KINDS, TATTOO, ARM))


def test_a_new_kind_flows_through_kinds_policy_and_detectors(registry: KindRegistry) -> None:
    assert registry.parse("faces,tattoos") == ("face", "tattoo", "arm")
    assert registry.parse("arms") == ("arm",)
    assert registry.parse(None) == KINDS.parse(None)  # not a default kind
    with pytest.raises(PolicyError, match="'tattoos'"):
        KINDS.parse("tattoos")  # the default registry does not know it
    policy = Policy(kinds=registry.default_policies())
    assert isinstance(policy.for_kind("tattoo").operator, Blur)
    kinds = ("face", "arm")
    assert registry.detectors_for(kinds) == ("face", "stub")
    assert registry.tracked_kinds(kinds) == ("face", "tattoo")
    assert registry.threshold(policy, ("tattoo", "arm"), "stub") == 0.6
    assert registry.model_paths(Options(kinds=kinds, policy=policy))["stub"] == Path("/models/stub.onnx")
    loaded = load_detectors(policy, ("tattoo", "arm"), {}, registry)
    assert list(loaded) == ["stub"]
    stub = loaded["stub"]
    assert isinstance(stub, StubDetector) and stub.kinds == ("tattoo", "arm") and stub.threshold == 0.6
    assert load_detectors(policy, ("tattoo", "arm"), {}, registry)["stub"] is stub  # loaded once


def test_a_new_kind_declares_its_modes(registry: KindRegistry) -> None:
    """A new kind's modes join ``--person-mode``'s choices; choosing one swaps only the kinds made
    from the same tracks."""
    assert registry.modes == ("head", "body", "silhouette", "ink", "sleeve")
    assert registry.with_mode(("face", "tattoo", "head"), "sleeve") == ("face", "arm", "head")
    assert registry.with_mode(("face", "person"), "ink") == ("face", "person", "tattoo")
    with pytest.raises(ValueError, match="mode 'head' is 'head'"):
        clash = dataclasses.replace(TATTOO, modes=(Mode("head"),))
        KindRegistry((FACES, PERSONS, TEXTS, STUB), (*BUILTIN_KINDS, clash))


def test_a_new_kind_is_scheduled_tracked_and_masked(registry: KindRegistry) -> None:
    policy = Policy(kinds=registry.default_policies())
    kinds = ("arm", "tattoo")
    plan = Plan.for_video(320, 240, 10.0, None, "auto")
    stub = StubDetector(("tattoo", "arm"), 0.6)
    temporal = TemporalConfig.for_rate(10.0, plan.detect_every)
    work = FrameWork(None, policy, kinds, plan, temporal, 320, 240, {"stub": stub}, registry)  # type: ignore[arg-type]
    assert work.detectors == ("stub",) and work.periods == {"stub": 2}
    image = np.zeros((240, 320, 3), dtype=np.uint8)
    ran = []
    for index in range(6):
        passes = work.scheduler.passes(index)
        if passes.detect:
            ran.append(index)
            work.detect(index, passes, lambda: image, lambda: image)
    assert ran == [0, 2, 4]
    assert stub.passes[-1] == FramePass(False, (Box(40, 40, 60, 70),), 320, 240, work.video)  # its live track
    regions = work.regions(3)  # between detections: interpolated
    assert [(r.kind, r.source.value) for r in regions] == [("tattoo", "interpolated"), ("arm", "interpolated")]
    assert regions[1].box == Box(40, 40, 60, 70).scaled(2.0)
    with pytest.raises(ValueError, match="need a stub detector"):
        FrameWork(None, policy, kinds, plan, temporal, 320, 240, {}, registry)  # type: ignore[arg-type]
