"""Refinement crops around small faces: joined where cheaper without losing any crop's view,
batched per input size without changing what one crop alone finds. The picture is
scikit-image's astronaut (Eileen Collins, public domain), face at about x 170-290, y 40-200."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gamyeon.detect.centerface import CenterFace, default_model_path
from gamyeon.detect.faces import Crop, FaceDetector, merge_crops, refine_crop, refine_reach

skimage_data = pytest.importorskip("skimage.data")

crops = st.builds(
    lambda x, y, side, factor: Crop(x, y, x + side, y + side, factor),
    st.integers(0, 400),
    st.integers(0, 300),
    st.integers(48, 200),
    st.floats(2.0, 4.0),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(crops, max_size=12))
def test_joined_crops_hold_every_crop_at_its_magnification_for_no_more_cost(given_crops: list[Crop]) -> None:
    joined = merge_crops(given_crops)
    assert len(joined) <= len(given_crops)
    assert sum(c.cost for c in joined) <= sum(c.cost for c in given_crops) + 1e-6
    for c in given_crops:
        assert any(
            j.left <= c.left and j.top <= c.top and j.right >= c.right and j.bottom >= c.bottom and j.factor >= c.factor
            for j in joined
        ), (c, joined)


def test_crops_of_one_face_are_joined_and_far_apart_crops_are_not() -> None:
    a = refine_crop((100.0, 100.0, 108.0, 108.0), 640, 480)
    b = refine_crop((101.0, 102.0, 109.0, 110.0), 640, 480)  # the same face, a stale track
    far = refine_crop((500.0, 300.0, 508.0, 308.0), 640, 480)
    assert len(merge_crops([a, b, far])) == 2


def test_a_face_that_moved_less_than_its_reach_stays_inside_its_crop() -> None:
    for side in (4.0, 8.0, 15.0, 30.0):
        crop = refine_crop((300.0, 200.0, 300.0 + side, 200.0 + side), 960, 540)
        shift = refine_reach(side)
        moved = (300.0 + shift, 200.0 + shift, 300.0 + side + shift, 200.0 + side + shift)
        assert crop.left <= moved[0] and moved[2] <= crop.right + 1, (side, crop, moved)
        assert crop.top <= moved[1] and moved[3] <= crop.bottom + 1, (side, crop, moved)


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(CenterFace(default_model_path("int8")))


@pytest.fixture(scope="module")
def street() -> npt.NDArray[np.uint8]:
    """A 640 x 480 grey picture with the astronaut at 1/8 scale twice: faces of about 14 px at
    (20-36, 5-25) + offsets, as a small face far from the camera."""
    image = np.full((480, 640, 3), 110, dtype=np.uint8)
    small = cv2.resize(skimage_data.astronaut(), (64, 64), interpolation=cv2.INTER_AREA)
    image[100:164, 100:164] = small
    image[300:364, 480:544] = small
    return image


FACES = [(121.0, 105.0, 137.0, 125.0), (501.0, 305.0, 517.0, 325.0)]


def test_refining_finds_small_faces_batched_as_one_crop_at_a_time(
    detector: FaceDetector, street: npt.NDArray[np.uint8]
) -> None:
    together = detector.around(street, FACES)
    apart = np.concatenate([detector.around(street, [box]) for box in FACES])
    assert len(together) == len(apart) >= 2
    order = np.lexsort(together.T[::-1])
    assert np.allclose(together[order], apart[np.lexsort(apart.T[::-1])], atol=1e-3)
    found = [d for d in detector.merge(together) if d.score > 0.5]
    for x1, y1, x2, y2 in FACES:
        assert any(abs(d.box.x1 - x1) < 6 and abs(d.box.y2 - y2) < 8 for d in found), (found, (x1, y1, x2, y2))


def test_refining_a_face_twice_finds_it_once(detector: FaceDetector, street: npt.NDArray[np.uint8]) -> None:
    stale = (FACES[0][0] + 2, FACES[0][1] + 1, FACES[0][2] + 2, FACES[0][3] + 1)
    found = [d for d in detector.merge(detector.around(street, [FACES[0], stale])) if d.score > 0.5]
    assert len(found) == 1, found
