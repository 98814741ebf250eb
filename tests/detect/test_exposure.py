"""Dark pictures are brightened for the face detector only (``gamyeon.detect.exposure``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from conftest import face_picture, make_video
from gamyeon.cli import main
from gamyeon.detect import exposure
from gamyeon.detect.centerface import CenterFace, default_model_path
from gamyeon.detect.faces import FaceDetector

skimage_data = pytest.importorskip("skimage.data")


@settings(max_examples=60, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40), st.just(3))), st.floats(0.02, 1.0))
def test_only_dark_pictures_change_and_only_upwards(image: npt.NDArray[np.uint8], dim: float) -> None:
    dark = (image * dim).astype(np.uint8)
    before = dark.copy()
    gain = exposure.gain_for(dark)
    out = exposure.lifted(dark, gain)
    assert np.array_equal(dark, before)  # the input (the frame that is encoded) is never touched
    sampled = dark[:: exposure.STEP, :: exposure.STEP]  # gain_for looks at every STEP-th row and column
    if np.percentile(sampled, 99) >= exposure.DARK:
        assert gain == 1.0 and out is dark
    else:
        assert 1.0 < gain <= exposure.MAX_GAIN and out is not dark
        assert (out >= dark).all()  # brightened, never darkened, saturating at 255


def test_ordinary_photos_are_left_as_they_are() -> None:
    for name in ("astronaut", "coffee", "chelsea"):
        image = np.ascontiguousarray(getattr(skimage_data, name)()[..., :3])
        assert exposure.gain_for(image) == 1.0
        assert exposure.lifted(image, 1.0) is image


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_a_night_picture_is_detected_as_confidently_as_by_day(precision: str) -> None:
    """The astronaut at 8 % brightness (99th percentile ~20): the int8 network alone drops from
    0.89 to 0.73 on it; brightened first, both networks score it as in daylight."""
    detector = FaceDetector(CenterFace(default_model_path(precision)))
    day = skimage_data.astronaut()
    night = (day * 0.08).astype(np.uint8)
    day_score = max(d.score for d in detector.detect(day))
    night_found = [d for d in detector.detect(night) if d.score > 0.5]
    assert len(night_found) == 1
    assert night_found[0].score >= day_score - 0.03
    assert exposure.gain_for(night) == exposure.MAX_GAIN


def night_face(index: int, width: int, height: int) -> npt.NDArray[np.uint8]:
    """The panning astronaut at 5 % brightness: a face at night, ~25 x 30 px at 128 x 96."""
    return (face_picture(index, width, height) * 0.05).astype(np.uint8)


def test_a_face_in_a_night_video_is_masked_on_every_frame(tmp_path: Path) -> None:
    """End to end with the int8 network, which finds nothing on these frames without brightening
    (the float network still scores the first one 0.64)."""
    clip, out = tmp_path / "night.mp4", tmp_path / "out.mp4"
    make_video(clip, size=(128, 96), frames=8, picture=night_face)
    assert main(["anonymize", str(clip), "-o", str(out), "-q", "--kinds", "faces", "--face-precision", "int8"]) == 0
    lines = [json.loads(line) for line in out.with_name("out.mp4.regions.jsonl").read_text().splitlines()]
    assert len(lines) == 8
    for line in lines:
        faces = [r for r in line["regions"] if r["kind"] == "face"]
        assert faces, f"frame {line['frame']}: no face masked"
        x1, y1, x2, y2 = faces[0]["box"]
        # the face: x 175-275, y 55-180 of the 512 x 384 crop, scaled to 128 x 96, panning 2 px a frame
        cx, cy = (x1 + x2) / 2 - 2 * line["frame"], (y1 + y2) / 2
        assert 40 <= cx <= 72 and 12 <= cy <= 48, (line["frame"], faces[0]["box"])
