"""Tracking with the real norfair library (gamyeon.track.tracker.KindTracker): ids stay with a moving
face, separate faces get separate ids, and no detection is ever dropped."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gamyeon.track.tracker import KindTracker, Tracked, centre_distance
from gamyeon.types import Box, Detection

SETTINGS = settings(max_examples=40, deadline=None)


def face(x: float, y: float, size: float, score: float = 0.9) -> Detection:
    return Detection("face", Box(x, y, x + size, y + size), score)


def feed(tracker: KindTracker, frames: list[tuple[int, list[Detection]]]) -> list[list[Tracked]]:
    """Run detection frames in order, with ``period`` = frames since the previous detection frame."""
    out = []
    previous: int | None = None
    for index, dets in frames:
        period = index - previous if previous is not None else 1
        previous = index
        out.append(tracker.update(dets, index, period))
    return out


def steady(k: int, size: float, step: float, angle: float, n: int) -> list[tuple[int, list[Detection]]]:
    """A face moving ``step`` box sizes per detection interval, detected every ``k``-th frame."""
    v = step * size / k  # pixels per frame
    return [
        (i * k, [face(2000 + v * i * k * math.cos(angle), 2000 + v * i * k * math.sin(angle), size)]) for i in range(n)
    ]


@SETTINGS
@given(
    k=st.integers(1, 8),
    size=st.floats(8.0, 300.0),
    step=st.floats(0.0, 0.5),  # up to FAST_MOTION: half a box per detection interval
    angle=st.floats(0.0, 2 * math.pi),
)
def test_a_steadily_moving_face_keeps_one_track(k: int, size: float, step: float, angle: float) -> None:
    tracker = KindTracker("face", itertools.count(1), max_gap_frames=15)
    results = feed(tracker, steady(k, size, step, angle, n=25))
    ids = {r[0].track for r in results}
    assert len(ids) == 1, f"track ids {sorted(ids)} for one face"


@pytest.mark.xfail(
    strict=True,
    reason="finding: norfair's default Kalman filter (velocity variance 1 px^2) learns velocity too "
    "slowly, so a face moving 0.8 box sizes per detection interval drifts past distance 1.0 and gets "
    "a new id every few detections, although centre_distance is documented to handle fast faces",
)
def test_a_fast_steady_face_keeps_one_track() -> None:
    tracker = KindTracker("face", itertools.count(1), max_gap_frames=15)
    results = feed(tracker, steady(3, 40.0, 0.8, 0.3, n=40))
    assert len({r[0].track for r in results}) == 1


@SETTINGS
@given(k=st.integers(1, 6), size=st.floats(10.0, 120.0), jitter=st.floats(0.0, 0.05), seed=st.integers(0, 2**31))
def test_two_far_apart_faces_get_two_stable_ids(k: int, size: float, jitter: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    tracker = KindTracker("face", itertools.count(1), max_gap_frames=15)
    frames = []
    for i in range(15):
        dx, dy, ex, ey = rng.normal(0.0, jitter * size, 4)
        # 10 box sizes apart; given in both orders so ids cannot just follow list position
        dets = [face(100 + dx, 100 + dy, size), face(100 + 10 * size + ex, 100 + ey, size)]
        frames.append((i * k, dets if i % 2 == 0 else dets[::-1]))
    results = feed(tracker, frames)
    left = {next(t.track for t in r if t.detection.box.x1 < 100 + 5 * size) for r in results}
    right = {next(t.track for t in r if t.detection.box.x1 >= 100 + 5 * size) for r in results}
    assert len(left) == 1 and len(right) == 1
    assert left != right


frame_dets = st.lists(
    st.builds(
        face,
        x=st.floats(0.0, 1000.0),
        y=st.floats(0.0, 1000.0),
        size=st.floats(1.0, 200.0),
        score=st.floats(0.01, 1.0),
    ),
    max_size=7,
)


@SETTINGS
@given(frames=st.lists(frame_dets, min_size=1, max_size=10), k=st.integers(1, 5))
def test_every_detection_gets_a_track_and_no_track_is_shared_on_a_frame(frames: list[list[Detection]], k: int) -> None:
    tracker = KindTracker("face", itertools.count(1), max_gap_frames=10)
    results = feed(tracker, [(i * k, dets) for i, dets in enumerate(frames)])
    for dets, tracked in zip(frames, results, strict=True):
        assert [t.detection for t in tracked] == dets  # none dropped, same order
        ids = [t.track for t in tracked]
        assert len(set(ids)) == len(ids), f"two detections of one frame share a track: {ids}"
        assert all(isinstance(i, int) and i >= 1 for i in ids)


@SETTINGS
@given(a=st.lists(frame_dets, min_size=1, max_size=6), b=st.lists(frame_dets, min_size=1, max_size=6))
def test_ids_are_unique_across_trackers_sharing_a_counter(a: list[list[Detection]], b: list[list[Detection]]) -> None:
    counter = itertools.count(1)
    faces = KindTracker("face", counter, max_gap_frames=10)
    plates = KindTracker("plate", counter, max_gap_frames=10)
    n = max(len(a), len(b))
    a_ids: set[int] = set()
    b_ids: set[int] = set()
    for i in range(n):
        # the same boxes in both trackers: each tracker must still use its own ids
        dets = a[i] if i < len(a) else []
        a_ids |= {t.track for t in faces.update(dets, i, 1)}
        b_ids |= {t.track for t in plates.update(dets + (b[i] if i < len(b) else []), i, 1)}
    assert not a_ids & b_ids


def test_centre_distance_is_zero_for_the_same_box_and_relative_to_size() -> None:
    boxes = np.array([[10, 10, 50, 50], [10, 10, 20, 20]], dtype=np.float64)
    d = centre_distance(boxes, boxes)
    assert d.shape == (2, 2)
    assert d[0, 0] == 0.0 and d[1, 1] == 0.0
    # moving a box by its own width is distance 1, whatever its size
    for size in (4.0, 40.0, 400.0):
        a = np.array([[0, 0, size, size]])
        b = np.array([[size, 0, 2 * size, size]])
        assert centre_distance(a, b)[0, 0] == pytest.approx(1.0)
