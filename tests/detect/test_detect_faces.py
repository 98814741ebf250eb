"""Face detection (CenterFace through gamyeon.detect.faces) on real photographs shipped with
scikit-image. The astronaut portrait (Eileen Collins, public domain) has one face at about
x 175-275, y 55-180 of the 512 x 512 picture (checked by eye on a saved crop).
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from gamyeon.detect import onnx
from gamyeon.detect.centerface import CenterFace, default_model_path
from gamyeon.detect.faces import FaceDetector, plan_tiles
from gamyeon.types import Box, Detection

skimage_data = pytest.importorskip("skimage.data")

#: where the astronaut's face is, generously (hair to chin, ear to ear)
FACE_AREA = Box(170.0, 40.0, 290.0, 200.0)


@pytest.fixture(scope="module", params=["fp32", "int8"])
def detector(request: pytest.FixtureRequest) -> FaceDetector:
    """Both bundled networks: every test here holds for the float one and the int8 one."""
    return FaceDetector(CenterFace(default_model_path(request.param)))


@pytest.fixture(scope="module")
def astronaut() -> npt.NDArray[np.uint8]:
    image: npt.NDArray[np.uint8] = skimage_data.astronaut()
    assert image.shape == (512, 512, 3) and image.dtype == np.uint8
    return image


def confident(found: list[Detection], score: float = 0.5) -> list[Detection]:
    return [d for d in found if d.score > score]


def overlap(a: Box, b: Box) -> float:
    """Fraction of ``a`` inside ``b``."""
    ix = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    iy = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    return ix * iy / a.area if a.area > 0 else 0.0


def assert_is_the_face(det: Detection, area: Box, scale: float = 1.0) -> None:
    box = det.box
    assert overlap(box, area) > 0.8, f"{box} is not on the face {area}"
    # a face box, not a head-and-shoulders box nor a patch of skin
    assert 60 * scale <= box.width <= 150 * scale and 70 * scale <= box.height <= 180 * scale, box


def test_finds_the_astronauts_face(detector: FaceDetector, astronaut: npt.NDArray[np.uint8]) -> None:
    found = confident(detector.detect(astronaut))
    assert len(found) == 1, found
    assert found[0].kind == "face"
    assert_is_the_face(found[0], FACE_AREA)
    assert np.array_equal(astronaut, skimage_data.astronaut())  # detection never changes the image


def test_finds_the_face_on_a_rotated_strided_view(detector: FaceDetector, astronaut: npt.NDArray[np.uint8]) -> None:
    """A portrait-mode video frame is handed over as an upright ``np.rot90`` view (not contiguous)."""
    view = np.rot90(astronaut)  # 90 degrees counter-clockwise: (x, y) -> (y, 511 - x)
    assert not view.flags["C_CONTIGUOUS"]
    found = confident(detector.detect(view))
    assert len(found) == 1, found
    rotated_area = Box(FACE_AREA.y1, 512 - FACE_AREA.x2, FACE_AREA.y2, 512 - FACE_AREA.x1)
    box = found[0].box
    assert overlap(box, rotated_area) > 0.8, (box, rotated_area)
    assert 60 <= box.height <= 150 and 70 <= box.width <= 180, box


def test_tiled_pass_finds_a_tiny_face(detector: FaceDetector, astronaut: npt.NDArray[np.uint8]) -> None:
    """At 1/8 scale (64 x 64) the face is about 12 x 16 px, CCTV-sized."""
    small = cv2.resize(astronaut, (64, 64), interpolation=cv2.INTER_AREA)
    height, width = small.shape[:2]
    rows = detector.tiled(small, plan_tiles(width, height, 2.0))
    found = confident(detector.merge(rows))
    assert len(found) == 1, found
    area = Box(FACE_AREA.x1 / 8, FACE_AREA.y1 / 8, FACE_AREA.x2 / 8, FACE_AREA.y2 / 8)
    assert overlap(found[0].box, area) > 0.8, (found[0].box, area)
    assert 6 <= found[0].box.width <= 20 and 7 <= found[0].box.height <= 24, found[0].box


def test_plan_tiles_cover_the_image_with_equal_tiles() -> None:
    for width, height, factor in [(64, 64, 2.0), (1920, 1080, 2.0), (1280, 720, 1.0), (33, 4000, 3.0)]:
        plan = plan_tiles(width, height, factor)
        covered = np.zeros((height, width), dtype=bool)
        for x, y in plan.origins:
            assert x >= 0 and y >= 0
            covered[y : y + plan.tile, x : x + plan.tile] = True
        assert covered.all(), (width, height, factor)


@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket"])
def test_no_confident_face_on_photos_without_people(detector: FaceDetector, name: str) -> None:
    image = np.ascontiguousarray(getattr(skimage_data, name)()[..., :3])
    assert confident(detector.detect(image)) == []


def test_vnni_is_read_from_the_cpu_flags() -> None:
    zen4 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni avx512_bf16\nbugs\t\t: sysret_ss_attrs\n"
    alder = "flags\t\t: fpu avx2 avx_vnni\n"
    haswell = "flags\t\t: fpu sse2 avx avx2 fma\n"
    arm = "processor\t: 0\nFeatures\t: fp asimd asimddp\n"
    assert onnx.vnni_in(zen4) and onnx.vnni_in(alder)
    assert not onnx.vnni_in(haswell) and not onnx.vnni_in(arm) and not onnx.vnni_in("")
