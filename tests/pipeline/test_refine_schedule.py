"""Which small face tracks the refine pass looks at on a detection frame: a steady one about
``REFINE_RATE`` times a second, a new, missed or fast one on every detection frame."""

from __future__ import annotations

import itertools

import pytest

from gamyeon.pipeline.frame import FrameWork
from gamyeon.policy import Policy
from gamyeon.track.schedule import Plan
from gamyeon.track.temporal import TemporalConfig
from gamyeon.types import Box, Detection


def framework(fps: float, small_faces: str = "auto") -> FrameWork:
    plan = Plan.for_video(480, 360, fps, None, small_faces)
    return FrameWork(
        None,  # type: ignore[arg-type]  # observe() and to_refine() run no detector
        Policy(),
        ("face",),
        plan,
        TemporalConfig.for_rate(fps, plan.detect_every),
        480,
        360,
    )


def face(x: float, y: float = 100.0, side: float = 8.0) -> Detection:
    return Detection("face", Box(x, y, x + side, y + side), 0.9)


def refined(work: FrameWork, frames: range, step: float) -> list[int]:
    """Feed one small face moving ``step`` px a frame, observed whenever it is refined (as the
    refine pass would); the detection frames on which it was refined."""
    out = []
    work.observe(frames.start, [face(100.0 + step * frames.start)])
    for index in frames[1:]:
        if index % work.plan.detect_every:
            continue
        due = work.to_refine(index)
        if due:
            out.append(index)
        work.observe(index, [face(100.0 + step * index)] if due else [])
    return out


@pytest.mark.parametrize(("fps", "every"), [(10.0, 2), (30.0, 6), (25.0, 4)])
def test_a_steady_small_face_is_refined_about_five_times_a_second(fps: float, every: int) -> None:
    work = framework(fps)
    frames = refined(work, range(0, int(fps * 4)), step=0.5)
    gaps = {b - a for a, b in itertools.pairwise(frames)}
    assert gaps == {every}, frames


def test_a_fast_small_face_is_refined_on_every_detection_frame() -> None:
    work = framework(10.0)
    frames = refined(work, range(0, 40), step=8.0)  # its own size each frame: leaves a crop soon
    assert frames == list(range(1, 40))


def test_a_new_or_missed_small_face_is_refined_on_the_next_detection_frame() -> None:
    work = framework(10.0)
    work.observe(0, [face(100.0)])
    assert work.to_refine(1)  # one observation: no speed yet
    work.observe(1, [face(100.0)])
    assert not work.to_refine(2)  # steady: skipped once
    work.observe(2, [])
    assert work.to_refine(3)  # due again
    work.observe(3, [])  # missed there
    assert work.to_refine(4)


def test_thorough_mode_refines_every_small_face_on_every_detection_frame() -> None:
    work = framework(10.0, "always")
    assert refined(work, range(0, 30), step=0.5) == list(range(1, 30))


def test_faces_large_enough_for_the_base_pass_are_not_refined() -> None:
    work = framework(10.0)
    work.observe(0, [face(100.0, side=40.0)])
    assert work.to_refine(1) == []
