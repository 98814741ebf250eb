"""Text and plate detection (PP-OCRv6 DB detection on ONNX Runtime, gamyeon's own DB
post-processing) on a real photograph shipped with scikit-image, and on a plate rendered onto
another one. Recognition is never run: results carry boxes and scores, no characters.

Every detection test runs on both bundled networks, the float one and the int8 one video uses
by default on CPUs with VNNI.

``page.png`` is a photographed book page: a heading "Region-based segmentation" (y ~ 10-35)
over five lines of body text and a line of code, 384 x 191 px.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from gamyeon.detect.text import (
    PpOcrDet,
    ReusedProbability,
    TextDetector,
    TextLine,
    changed_cells,
    db_lines,
    default_model_path,
    is_plate_like,
    plate_box,
)
from gamyeon.kinds import VideoToken
from gamyeon.types import Box, Detection

skimage_data = pytest.importorskip("skimage.data")

HEADING = Box(0.0, 5.0, 300.0, 40.0)
PLATE = Box(250.0, 200.0, 370.0, 240.0)  # where the rendered plate goes on the cat photo


@pytest.fixture(scope="module", params=["fp32", "int8"])
def model(request: pytest.FixtureRequest) -> PpOcrDet:
    """Both bundled networks: every test here holds for the float one and the int8 one."""
    return PpOcrDet(default_model_path(request.param))


@pytest.fixture(scope="module")
def page() -> npt.NDArray[np.uint8]:
    return np.asarray(cv2.cvtColor(skimage_data.page(), cv2.COLOR_GRAY2RGB))


@pytest.fixture(scope="module")
def car_plate() -> npt.NDArray[np.uint8]:
    """A plate (white, black border, 'AB 1234') rendered onto scikit-image's chelsea photo."""
    image = np.ascontiguousarray(skimage_data.chelsea())  # 451 x 300, a cat: no text anywhere
    x1, y1, x2, y2 = (int(v) for v in PLATE.as_list(0))
    cv2.rectangle(image, (x1, y1), (x2, y2), (245, 245, 245), -1)
    cv2.rectangle(image, (x1, y1), (x2, y2), (20, 20, 20), 2)
    cv2.putText(image, "AB 1234", (x1 + 8, y2 - 11), cv2.FONT_HERSHEY_SIMPLEX, 0.75, (10, 10, 10), 2, cv2.LINE_AA)
    return image


def inside(a: Box, b: Box) -> float:
    ix = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    iy = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    return ix * iy / a.area if a.area > 0 else 0.0


def test_text_lines_of_a_book_page(model: PpOcrDet, page: npt.NDArray[np.uint8]) -> None:
    found = TextDetector(model, ("text",)).detect(page)
    assert len(found) >= 6, found
    assert {d.kind for d in found} == {"text"}
    heading = [d for d in found if inside(d.box, HEADING) > 0.8]
    assert len(heading) == 1 and heading[0].box.width > 200, found
    for d in found:  # lines: wide, short, inside the page
        assert d.box.width > 3 * d.box.height and 0.5 <= d.score <= 1.0, d
        assert d.box.x1 >= -5 and d.box.x2 <= page.shape[1] + 5
    assert np.array_equal(page, cv2.cvtColor(skimage_data.page(), cv2.COLOR_GRAY2RGB))  # image untouched


def test_long_lines_are_not_plates(model: PpOcrDet, page: npt.NDArray[np.uint8]) -> None:
    """Body text lines are far longer than a plate's: asking for plates only finds none."""
    found = TextDetector(model, ("plate",)).detect(page)
    assert [d for d in found if d.box.width > 150] == []


def test_a_plate_is_found_and_grown_to_the_plate(model: PpOcrDet, car_plate: npt.NDArray[np.uint8]) -> None:
    found = TextDetector(model, ("plate", "text")).detect(car_plate)
    plates = [d for d in found if d.kind == "plate"]
    assert len(plates) == 1, found
    assert inside(PLATE, plates[0].box) > 0.9, (plates[0].box, PLATE)  # the whole plate, border included
    assert plates[0].box.area < 3 * PLATE.area  # not the car
    assert all(inside(d.box, PLATE.scaled(1.5)) > 0.5 for d in found), found  # nothing on the cat


def test_text_mode_reports_the_plate_line_as_text(model: PpOcrDet, car_plate: npt.NDArray[np.uint8]) -> None:
    found = TextDetector(model, ("text",)).detect_frame(car_plate)
    assert [d.kind for d in found] == ["text"]
    assert inside(found[0].box, PLATE) > 0.8


def test_db_post_processing_unclips_a_text_kernel() -> None:
    """A 60 x 10 kernel of probability 0.9 becomes one line grown by area * 1.6 / perimeter
    (~6.8 px) on every side, scaled by the map-to-image factor."""
    prob = np.zeros((64, 96), dtype=np.float32)
    prob[20:30, 10:70] = 0.9
    (line,) = db_lines(prob, 2.0, 2.0, 0.5)
    assert 0.75 < line.score <= 0.9  # the dilated contour takes in a 1 px rim of zeros, as in DB
    assert line.tilt < 1.0
    # x: 10..70 grown ~7 -> ~3..77, doubled
    assert line.box.x1 == pytest.approx(6, abs=3) and line.box.x2 == pytest.approx(154, abs=3)
    assert line.box.y1 == pytest.approx(26, abs=3) and line.box.y2 == pytest.approx(74, abs=3)
    assert db_lines(prob, 1.0, 1.0, 0.95) == []  # below the box threshold


def line(w: float, h: float, tilt: float = 0.0, x: float = 100.0, y: float = 100.0) -> TextLine:
    return TextLine(Box(x, y, x + w, y + h), 0.8, max(w, h), min(w, h), tilt)


@pytest.mark.parametrize(
    ("w", "h", "tilt", "plate"),
    [
        (90, 30, 0, True),  # US plate line
        (120, 25, 5, True),  # EU plate line
        (60, 36, 0, True),  # two-line plate
        (300, 25, 0, False),  # a sentence
        (30, 30, 0, False),  # a single glyph / logo
        (90, 30, 45, False),  # steeply tilted
        (700, 150, 0, False),  # a shop sign across the picture
    ],
)
def test_plate_shape(w: float, h: float, tilt: float, plate: bool) -> None:
    assert is_plate_like(line(w, h, tilt), 1280, 720) is plate


def test_plate_box_grows_around_the_line() -> None:
    text = line(90, 30)
    grown = plate_box(text)
    assert grown.width == pytest.approx(90 * 1.25) and grown.height == pytest.approx(30 * 2.0)
    assert grown.center == pytest.approx(text.box.center)
    assert inside(text.box, grown) == pytest.approx(1.0)
    tilted = plate_box(dataclasses.replace(text, tilt=10.0))
    assert tilted.height > grown.height  # a tilted plate needs a taller axis-aligned box


def test_detector_kinds_are_validated(model: PpOcrDet) -> None:
    with pytest.raises(ValueError, match="plate"):
        TextDetector(model, ("face",))


def test_detections_have_no_text(model: PpOcrDet, car_plate: npt.NDArray[np.uint8]) -> None:
    """Only kind, box and score leave the detector: nothing that could hold recognised characters."""
    found = TextDetector(model, ("plate",)).detect(car_plate)
    assert found and all(isinstance(d, Detection) for d in found)
    assert {f.name for f in dataclasses.fields(Detection)} == {"kind", "box", "score"}


def _plain_cat() -> npt.NDArray[np.uint8]:
    return np.ascontiguousarray(skimage_data.chelsea())


def test_video_pass_reuses_the_map_where_nothing_changed(model: PpOcrDet) -> None:
    """The same frame again: the network runs on no pixel, and the map is the full pass's."""
    cat = _plain_cat()
    reused = ReusedProbability(model)
    first = reused.probability(cat, 1.0)
    after_first = reused.pixels_run
    again = reused.probability(cat, 1.0)
    assert after_first == first.size and reused.pixels_run == after_first
    assert np.array_equal(first, again)
    assert np.array_equal(first, model.probability(cat, 1.0))


def test_video_pass_finds_a_plate_that_appears(model: PpOcrDet, car_plate: npt.NDArray[np.uint8]) -> None:
    """A plate appearing on an otherwise unchanged frame makes the network run again and find it."""
    detector = TextDetector(model, ("plate", "text"))
    assert detector.detect_frame(_plain_cat()) == []
    assert detector.detect_frame(_plain_cat()) == []
    before = detector.video.pixels_run
    found = detector.detect_frame(car_plate)
    assert detector.video.pixels_run > before
    plates = [d for d in found if d.kind == "plate"]
    assert len(plates) == 1 and inside(PLATE, plates[0].box) > 0.9, found
    assert found == TextDetector(model, ("plate", "text")).detect_frame(car_plate)


def test_each_video_keeps_its_own_map(model: PpOcrDet, car_plate: npt.NDArray[np.uint8]) -> None:
    """One detector serves every file and camera of a process: what it saw of one video decides
    nothing about another, whatever the order of their frames."""
    detector = TextDetector(model, ("plate", "text"))
    cat = _plain_cat()
    size = model.network_input(cat, 1.0)[..., 0].size
    first, second = VideoToken(), VideoToken()
    assert detector.detect_frame(cat, first) == detector.detect_frame(cat, first) == []
    assert detector.reuse_for(first).pixels_run == size  # the second pass reused the first's map
    assert detector.detect_frame(cat, second) == []
    assert detector.reuse_for(second).pixels_run == size  # its own first pass: the network ran
    alone = TextDetector(model, ("plate", "text"))
    frames = [cat, car_plate, car_plate, cat]
    expected = [alone.detect_frame(f, first) for f in frames]
    mixed = TextDetector(model, ("plate", "text"))
    got = []
    for f in frames:
        mixed.detect_frame(car_plate if f is cat else cat, second)  # another video between each
        got.append(mixed.detect_frame(f, first))
    assert got == expected and any(expected)


def test_video_pass_sees_the_whole_frame_periodically(model: PpOcrDet) -> None:
    cat = _plain_cat()
    reused = ReusedProbability(model, full_every=3)
    size = model.network_input(cat, 1.0)[..., 0].size
    runs = []
    for _ in range(6):
        before = reused.pixels_run
        reused.probability(cat, 1.0)
        runs.append(reused.pixels_run - before)
    assert runs == [size, 0, 0, size, 0, 0]


def test_changed_cells_ignore_noise_and_find_a_change() -> None:
    rng = np.random.default_rng(0)
    old = rng.integers(60, 200, size=(128, 192), dtype=np.uint8)
    noisy = np.clip(old.astype(np.int16) + rng.integers(-6, 7, size=old.shape), 0, 255).astype(np.uint8)
    assert not changed_cells(old, noisy).any()  # grain below the level
    new = noisy.copy()
    new[70:80, 100:110] = 255  # inside the cell of rows 64-96, columns 96-128
    cells = changed_cells(old, new)
    assert cells.shape == (4, 6) and cells[2, 3] and cells.sum() == 1


def test_int8_and_float_maps_agree_on_a_plate(car_plate: npt.NDArray[np.uint8]) -> None:
    """The int8 network's probability map is the float one's, rounded: the same pixels are text."""
    maps = [PpOcrDet(default_model_path(p)).probability(car_plate, 1.0) for p in ("fp32", "int8")]
    text_a, text_b = maps[0] > 0.3, maps[1] > 0.3
    assert text_a.sum() > 100
    assert (text_a & text_b).sum() / (text_a | text_b).sum() > 0.8
