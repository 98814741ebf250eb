"""A face track whose motion changes is looked for again on the next frame, in a crop around
where it should be, and nothing else is detected there; steady motion, however fast, waits for
the next detection frame (the look-ahead interpolates it exactly)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import face_picture
from gamyeon.detect.centerface import CenterFace
from gamyeon.detect.faces import FaceDetector
from gamyeon.pipeline.frame import FrameWork, predicted, surprising
from gamyeon.policy import Policy
from gamyeon.track.schedule import FramePasses, Plan
from gamyeon.track.temporal import Observation, TemporalConfig
from gamyeon.types import Array, Box, Detection

WIDTH, HEIGHT, FPS = 640, 360, 30.0  # 30 fps: detection on every 3rd frame


def obs(frame: int, x: float, y: float = 100.0, side: float = 20.0) -> Observation:
    return Observation(frame, Box(x, y, x + side, y + side), 0.9)


def test_steady_motion_is_not_surprising_however_fast() -> None:
    # two box sizes per detection interval, in a straight line at constant speed
    assert not surprising([obs(0, 100.0), obs(3, 140.0), obs(6, 180.0)])


@pytest.mark.parametrize(
    "history",
    [
        [obs(0, 100.0), obs(3, 140.0), obs(6, 140.0)],  # stops
        [obs(0, 100.0), obs(3, 140.0), obs(6, 180.0, y=115.0)],  # turns
        [obs(0, 100.0), obs(3, 115.0)],  # a fast first step: no motion known yet
    ],
)
def test_a_change_of_motion_is_surprising(history: list[Observation]) -> None:
    assert surprising(history)


def test_small_jitter_is_not_surprising() -> None:
    assert not surprising([obs(0, 100.0), obs(3, 104.0), obs(6, 106.0)])
    assert not surprising([obs(0, 100.0)])


def test_predicted_moves_on_at_the_last_speed() -> None:
    assert predicted([obs(0, 100.0), obs(3, 130.0)], 4) == obs(0, 140.0).box
    assert predicted([obs(3, 130.0)], 4) == obs(0, 130.0).box


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(CenterFace())


def canvas(x: int, y: int) -> Array:
    """A real face (about 36 x 45 px) on grey, the photo's corner at (``x``, ``y``)."""
    image = np.full((HEIGHT, WIDTH, 3), 128, dtype=np.uint8)
    image[y : y + 150, x : x + 200] = face_picture(0, 200, 150)
    return image


def framework(detector: FaceDetector) -> FrameWork:
    plan = Plan.for_video(WIDTH, HEIGHT, FPS, None, "auto")
    return FrameWork(
        detector, Policy(), ("face",), plan, TemporalConfig.for_rate(FPS, plan.detect_every), WIDTH, HEIGHT
    )


def track_of(work: FrameWork, frame: int) -> tuple[int, Observation]:
    ((_, track, last),) = work.store.live(frame)
    return track, last


def feed(work: FrameWork, boxes: dict[int, Box]) -> FramePasses:
    """Ask the scheduler about frames 0..7 in order and observe ``boxes`` on the detection
    frames (0, 3, 6); the passes due on frame 7."""
    assert work.plan.detect_every == 3
    for index in range(7):
        passes = work.scheduler.passes(index)
        assert passes.detectors == (frozenset({"face"}) if index % 3 == 0 else frozenset())
        if index in boxes:
            work.observe(index, [Detection("face", boxes[index], 0.9)])
    return work.scheduler.passes(7)


def test_a_stopping_face_is_followed_up_in_a_crop_on_the_next_frame(detector: FaceDetector) -> None:
    (found,) = detector.detect(canvas(160, 100))
    seen = found.box
    work = framework(detector)
    # right at 10 px a frame, then 20 px down instead of on to the right
    boxes = {0: seen.shifted(-60, 0), 3: seen.shifted(-30, 0), 6: seen.shifted(-30, 20)}
    passes = feed(work, boxes)
    assert passes == FramePasses(follow=frozenset({"face"}))
    assert passes.detect
    track, _ = track_of(work, 6)
    # where the face is on frame 7: on along its last motion (7 px down)
    image = canvas(130, 127)
    ran: list[str] = []

    def base() -> Array:
        ran.append("base")
        return image[::2, ::2]

    work.detect(7, passes, base, lambda: image)
    (last,) = work.store.recent(track, 1)
    assert last.frame == 7
    assert last.box.iou(seen.shifted(-30, 27)) > 0.7
    assert work.tally.detection_frames == 3  # the follow-up is no detection frame
    assert ran == ["base"]  # for the exposure gain only: no whole-frame pass ran


def test_a_steady_face_gets_no_follow_up(detector: FaceDetector) -> None:
    work = framework(detector)
    box = Box(100, 100, 136, 145)
    passes = feed(work, {0: box, 3: box.shifted(60, 0), 6: box.shifted(120, 0)})
    assert passes == FramePasses()


def test_at_ten_fps_the_next_frame_is_a_whole_detection_anyway() -> None:
    plan = Plan.for_video(WIDTH, HEIGHT, 10.0, None, "auto")
    work = FrameWork(None, Policy(), ("face",), plan, TemporalConfig.for_rate(10.0, 1), WIDTH, HEIGHT)  # type: ignore[arg-type]
    box = Box(100, 100, 136, 145)
    for index, shift in enumerate([(0, 0), (10, 0), (10, 40)]):
        assert work.scheduler.passes(index).detectors == frozenset({"face"})
        work.observe(index, [Detection("face", box.shifted(*shift), 0.9)])
    assert work.scheduler.passes(3) == FramePasses(frozenset({"face"}))
