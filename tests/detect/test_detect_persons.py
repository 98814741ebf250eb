"""Person detection (SSDLite-MobileNetV2 on ONNX Runtime, both bundled files: the full float
graph and the cut int8 one) on real photographs shipped with scikit-image, and the head-fallback
geometry (property tests).

``camera.png`` (the cameraman, public domain) shows one standing man filling the left half of the
512 x 512 picture from his hair (y ~ 60) to the bottom edge; ``astronaut.png`` (Eileen Collins,
NASA, public domain) a head-and-shoulders portrait.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gamyeon.detect.centerface import default_model_path as centerface_path
from gamyeon.detect.persons import (
    PersonDetector,
    cut_sides,
    drop_parts,
    fine_tile,
    head_box,
    join_cut,
    tile_plan,
)
from gamyeon.detect.ssdlite import BUNDLED, SsdLitePerson, default_model_path, model_path
from gamyeon.errors import ModelError
from gamyeon.types import Box, Detection

skimage_data = pytest.importorskip("skimage.data")

#: where the cameraman is, generously (hair to the bottom edge, elbow to tripod leg)
CAMERAMAN = Box(0.0, 40.0, 330.0, 512.0)
#: his body without the arms and tripod: what any box of the whole person contains
CAMERAMAN_BODY = Box(60.0, 80.0, 250.0, 480.0)


@pytest.fixture(scope="module", params=sorted(BUNDLED))
def model(request: pytest.FixtureRequest) -> SsdLitePerson:
    return SsdLitePerson(default_model_path(str(request.param)))


@pytest.fixture(scope="module")
def camera() -> npt.NDArray[np.uint8]:
    return np.asarray(cv2.cvtColor(skimage_data.camera(), cv2.COLOR_GRAY2RGB))


def inside(a: Box, b: Box) -> float:
    """Fraction of ``a`` inside ``b``."""
    ix = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    iy = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    return ix * iy / a.area if a.area > 0 else 0.0


def confident(found: list[Detection], score: float = 0.5) -> list[Detection]:
    return [d for d in found if d.score >= score]


def test_ssdlite_finds_the_cameraman(model: SsdLitePerson, camera: npt.NDArray[np.uint8]) -> None:
    found = confident(PersonDetector(model).detect(camera))
    body = [d for d in found if d.box.height > 350 and inside(CAMERAMAN_BODY, d.box) > 0.95]
    assert len(body) == 1, found
    assert body[0].kind == "person" and body[0].score > 0.9
    if model.cut:
        # the int8 network also reports a weak box (score 0.3) on the top-right tile, from his
        # camera arm into the background, which the tile-border join merges into his box: more
        # is masked beside him, nothing away from him
        assert all(d.box.x1 < CAMERAMAN.x2 and d.box.width < 480 for d in found), found
    else:
        assert 150 < body[0].box.width < 350  # a whole body, not a part
        # tiles see parts of him (tripod, legs); nothing is found anywhere else in the picture
        assert all(inside(d.box, CAMERAMAN) > 0.9 for d in found), found
    assert np.array_equal(camera, cv2.cvtColor(skimage_data.camera(), cv2.COLOR_GRAY2RGB))  # image untouched


def test_ssdlite_raw_output_is_in_crop_pixels(model: SsdLitePerson, camera: npt.NDArray[np.uint8]) -> None:
    crop = cv2.resize(camera, (300, 300), interpolation=cv2.INTER_AREA)
    (rows,) = model.run([crop], 0.5)
    assert rows.shape == (1, 5)
    x1, y1, x2, y2, score = rows[0]
    assert score > 0.9 and 0 <= x1 < x2 <= 200 and y1 < 60 and y2 > 280


def test_tiles_find_a_small_distant_person(model: SsdLitePerson, camera: npt.NDArray[np.uint8]) -> None:
    """The cameraman shrunk to ~70 px tall in a 768 x 576 CCTV-sized frame: too small for the
    whole-frame pass at 300 x 300, found by the tiled pass."""
    frame = np.full((576, 768, 3), 120, dtype=np.uint8)
    small = cv2.resize(camera, (80, 80), interpolation=cv2.INTER_AREA)
    frame[400:480, 500:580] = small
    detector = PersonDetector(model, threshold=0.3)
    whole = confident(detector.whole(frame), 0.3)
    tiled = confident(detector.detect_frame(frame), 0.3)
    target = Box(495.0, 400.0, 580.0, 485.0)
    assert not [d for d in whole if inside(d.box, target) > 0.5]
    hits = [d for d in tiled if inside(d.box, target) > 0.7]
    assert len(hits) == 1, tiled
    assert 50 < hits[0].box.height < 85, hits[0].box


def test_the_bundled_files_have_their_layouts() -> None:
    assert not SsdLitePerson(default_model_path("fp32")).cut
    cut = SsdLitePerson(default_model_path("int8"))
    assert cut.cut and cut.batch > 1
    assert model_path("fp32") == default_model_path("fp32") and model_path("int8") == default_model_path("int8")
    assert model_path() in {default_model_path("fp32"), default_model_path("int8")}


def test_cut_int8_graph_agrees_with_the_full_float_graph(camera: npt.NDArray[np.uint8]) -> None:
    """The cameraman, and a person a third the size at another place of a grey crop: both
    networks find each (IoU >= 0.8), and a batch gives what single runs give."""
    full, cut = SsdLitePerson(default_model_path("fp32")), SsdLitePerson(default_model_path("int8"))
    whole = cv2.resize(camera, (300, 300), interpolation=cv2.INTER_AREA)
    small = np.full((300, 300, 3), 110, dtype=np.uint8)
    small[150:250, 180:280] = cv2.resize(camera, (100, 100), interpolation=cv2.INTER_AREA)
    crops = [whole, small, np.full((300, 300, 3), 110, dtype=np.uint8)]
    a, b = full.run(crops, 0.5), cut.run(crops, 0.25)
    for want, got in zip(a[:2], b[:2], strict=True):
        assert len(want) >= 1
        for row in want:
            assert max(iou(row, other) for other in got) >= 0.8, (want, got)
    assert len(a[2]) == 0 and len(b[2]) == 0
    singles = [cut.run([c], 0.25)[0] for c in crops]
    for one, batched in zip(singles, b, strict=True):
        assert np.allclose(one, batched, atol=0.05)


def iou(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return float(ix * iy / union)


def test_tile_plan_covers_the_frame() -> None:
    plan = tile_plan(768, 576, 300)
    assert plan.tile == 345  # 0.6 x 576
    xs = {x for x, _ in plan.origins}
    ys = {y for _, y in plan.origins}
    assert min(xs) == 0 and max(xs) + plan.tile == 768
    assert min(ys) == 0 and max(ys) + plan.tile == 576


def test_small_frames_get_unmagnified_base_tiles_and_large_ones_keep_discovery() -> None:
    plan = tile_plan(640, 360, 300)
    assert plan.tile == 300 and len(plan.origins) == 6
    assert fine_tile(640, 360) is None
    assert fine_tile(1600, 900) == 270  # finer tiles still come from 900 px frames up


def test_ssdlite_rejects_a_model_of_another_layout() -> None:
    with pytest.raises(ModelError, match="SSD object-detection layout"):
        SsdLitePerson(centerface_path())


boxes = st.builds(
    lambda x, y, w, h: Box(x, y, x + w, y + h),
    st.floats(-500, 2000),
    st.floats(-500, 2000),
    st.floats(1, 800),
    st.floats(1, 1200),
)


@given(boxes)
def test_head_lies_in_the_top_half_within_the_columns(person: Box) -> None:
    head = head_box(person)
    eps = 1e-6 * max(1.0, abs(person.x1), abs(person.x2), abs(person.y1), abs(person.y2))
    assert head.width > 0 and head.height > 0
    assert person.x1 - eps <= head.x1 and head.x2 <= person.x2 + eps
    assert head.y1 >= person.y1 - 0.05 * person.height - eps and head.y1 <= person.y1 + eps
    assert head.y2 <= person.y1 + 0.5 * person.height + eps
    assert abs(head.center[0] - person.center[0]) <= eps + 1e-9 * person.width


@given(boxes, st.floats(0.1, 10), st.floats(-300, 300), st.floats(-300, 300))
def test_head_moves_and_scales_with_the_person(person: Box, k: float, dx: float, dy: float) -> None:
    """The estimate depends only on the box: shift or scale the person, the head follows."""
    head = head_box(person)
    moved = head_box(Box(person.x1 * k + dx, person.y1 * k + dy, person.x2 * k + dx, person.y2 * k + dy))
    want = (head.x1 * k + dx, head.y1 * k + dy, head.x2 * k + dx, head.y2 * k + dy)
    tol = 1e-6 * (1 + max(abs(v) for v in want))
    assert all(abs(a - b) <= tol for a, b in zip(moved.as_list(9), want, strict=True))


@given(st.floats(20, 600), st.floats(0.2, 0.5))
def test_a_standing_persons_head_is_covered(height: float, aspect: float) -> None:
    """For an upright person (box width 0.2-0.5 of the height), the real head -- the top ~13 %,
    about 0.1 of the height wide, centred -- lies inside the estimate."""
    person = Box(100.0, 50.0, 100.0 + aspect * height, 50.0 + height)
    head = head_box(person)
    cx = person.center[0]
    real = Box(cx - 0.05 * height, person.y1, cx + 0.05 * height, person.y1 + 0.13 * height)
    assert inside(real, head) == pytest.approx(1.0)
    assert head.area <= 0.25 * person.area  # a head, not half the body


def test_head_of_an_upper_body_box_is_larger() -> None:
    """A head-and-shoulders box (as wide as tall) gets a head ~45 % of its height, not 20 %."""
    head = head_box(Box(0.0, 0.0, 200.0, 200.0))
    assert head.height == pytest.approx(0.45 * 200 + 0.03 * 200)


def test_downscaled_tiles_map_back_to_frame_pixels(model: SsdLitePerson, camera: npt.NDArray[np.uint8]) -> None:
    """On a 1920 x 1080 frame the 648 px base tiles are cut from one downscaled copy: a person in
    the lower right comes back at his place in frame pixels, from the tiles as from the crop path."""
    frame = np.full((1080, 1920, 3), 120, dtype=np.uint8)
    frame[700:1000, 1500:1800] = cv2.resize(camera, (300, 300), interpolation=cv2.INTER_AREA)
    detector = PersonDetector(model, threshold=0.5)
    plan = tile_plan(1920, 1080, model.side)
    assert plan.tile == 648
    squares = detector.tiles(frame, plan)
    assert all(c.square.shape == (300, 300, 3) for c in squares)
    rows = detector.run_squares(squares)
    target = Box(1500.0, 700.0, 1800.0, 1000.0)
    hits = [r for r in rows.tolist() if inside(Box(*r[:4]), target) > 0.9 and (r[3] - r[1]) > 200]
    assert hits, rows
    direct = detector.run_squares([detector.crop(frame, 1272, 432, 648, 648)])  # the last tile, resized alone
    best = max(hits, key=lambda r: r[4])
    assert any(Box(*best[:4]).iou(Box(*r[:4])) > 0.8 for r in direct.tolist()), (best, direct)


def test_parts_of_a_person_are_dropped_but_not_people_behind() -> None:
    rows = np.array(
        [
            [100, 100, 200, 400, 0.9],  # a person
            [105, 250, 195, 400, 0.6],  # his legs (as wide as he is): a part
            [100, 110, 150, 390, 0.5],  # his left half (as tall as he is): a part
            [150, 150, 180, 230, 0.7],  # a smaller person behind him (narrower and shorter): kept
            [400, 100, 450, 200, 0.8],  # someone else
        ],
        dtype=np.float32,
    )
    kept = drop_parts(rows)
    assert kept[:, 4].tolist() == pytest.approx([0.9, 0.7, 0.8])


def test_halves_of_a_person_cut_by_a_tile_border_become_one_box() -> None:
    # 960 x 540 frame, two tile rows: y 0-324 and y 216-540; the border at y=324 cut a person
    # into a top half (tile row 0, ends at 323) and a bottom half (tile row 1, starts at 217)
    crops = [(0.0, 0.0, 960.0, 540.0), (486.0, 0.0, 324.0, 324.0), (486.0, 216.0, 324.0, 324.0)]
    rows = np.array(
        [
            [610, 141, 789, 323, 0.97],  # top half, from the upper tile
            [595, 217, 790, 401, 0.96],  # bottom half, from the lower tile
            [100, 300, 180, 500, 0.80],  # someone whole, from the whole-frame pass
        ],
        dtype=np.float32,
    )
    owners = np.array([1, 2, 0])
    sides = cut_sides(rows, owners, crops, 960, 540)
    assert sides.tolist() == [[False, False, False, True], [False, True, False, False], [False] * 4]
    joined = drop_parts(join_cut(rows, sides, reach=32.0))
    assert joined[:, :4].tolist() == [[595, 141, 790, 401], [100, 300, 180, 500]]


def test_only_cut_boxes_are_joined_and_frame_edges_do_not_cut() -> None:
    crops = [(0.0, 0.0, 400.0, 400.0), (0.0, 0.0, 240.0, 240.0), (0.0, 160.0, 240.0, 240.0)]
    rows = np.array(
        [
            [20, 60, 120, 238, 0.9],  # cut at the bottom of the upper tile (y=240)
            [30, 242, 120, 398, 0.8],  # a whole person below it (not cut: the frame's edge is no cut)
            [0, 0, 10, 50, 0.5],  # at the frame's top-left corner: no cut either
        ],
        dtype=np.float32,
    )
    sides = cut_sides(rows, np.array([1, 0, 1]), crops, 400, 400)
    assert sides[:, 3].tolist() == [True, False, False] and not sides[2].any()
    joined = join_cut(rows, sides, reach=24.0)
    assert joined.tolist() == rows.tolist()  # two persons stay two, each keeps a head
