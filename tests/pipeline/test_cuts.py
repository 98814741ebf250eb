"""A new shot (an edit, spliced clips) is noticed on its first frame and gets every detector with
its discovery pass there, and the tracks found on it do not reach back into the shot before."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import av
import cv2
import numpy as np

from conftest import face_picture, make_video
from gamyeon.detect.centerface import CenterFace
from gamyeon.detect.faces import FaceDetector
from gamyeon.pipeline.cuts import CutWatch
from gamyeon.pipeline.frame import FrameWork
from gamyeon.pipeline.gate import thumb_size
from gamyeon.policy import Policy
from gamyeon.track.schedule import FramePasses, Plan
from gamyeon.track.temporal import TemporalConfig
from gamyeon.types import Array

WIDTH, HEIGHT, FPS = 320, 240, 25.0


def spliced(index: int, width: int, height: int) -> Array:
    """A face panning for 12 frames, then another shot: the same photo upside down and darker."""
    picture = face_picture(index, width, height)
    return picture if index < 12 else np.ascontiguousarray(picture[::-1] // 2)


def test_the_first_frame_of_a_new_shot_is_a_cut_and_no_other(tmp_path: Path) -> None:
    clip = tmp_path / "spliced.mp4"
    make_video(clip, size=(WIDTH, HEIGHT), frames=20, picture=spliced)
    watch = CutWatch()
    tw, th = thumb_size(WIDTH, HEIGHT)
    with av.open(str(clip)) as container:
        cuts = [
            i
            for i, frame in enumerate(container.decode(video=0))
            if watch.cut(frame.reformat(width=tw, height=th, format="gray").to_ndarray())
        ]
    assert cuts == [12]
    assert watch.cuts == 1


def test_a_cut_runs_every_detector_with_its_discovery_pass() -> None:
    plan = Plan.for_video(WIDTH, HEIGHT, FPS, None, "auto")
    work = FrameWork(None, Policy(), ("face",), plan, TemporalConfig.for_rate(FPS, 2), WIDTH, HEIGHT)  # type: ignore[arg-type]
    cut = work.scheduler.cut()
    assert cut == FramePasses(frozenset({"face"}), frozenset({"face"}), fresh=True)
    assert work.scheduler.full().fresh is False


def test_tracks_found_on_a_cut_do_not_reach_back_across_it() -> None:
    detector = FaceDetector(CenterFace())
    image = np.full((360, 640, 3), 128, dtype=np.uint8)
    image[100:250, 160:360] = face_picture(0, 200, 150)
    base = cv2.resize(image, (512, 288), interpolation=cv2.INTER_AREA)
    reached: dict[bool, list[int]] = {}
    for fresh in (False, True):
        plan = Plan.for_video(640, 360, FPS, None, "auto")
        temporal = dataclasses.replace(TemporalConfig.for_rate(FPS, plan.detect_every), reach_back=plan.discovery_every)
        work = FrameWork(detector, Policy(), ("face",), plan, temporal, 640, 360)
        passes = work.scheduler.cut() if fresh else work.scheduler.full()
        work.detect(60, passes, lambda: base, lambda: image)
        reached[fresh] = [f for f in range(60) if work.store.estimates(f)]
    assert reached[False] and min(reached[False]) <= 60 - plan.discovery_every + 1  # a discovery's reach
    assert reached[True] and min(reached[True]) == 60 - temporal.pad_before  # only the usual pad
