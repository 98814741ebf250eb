"""``--person-model``: the YOLO-format decoder and NMS on a tiny ONNX model built here with
``onnx.helper`` and run by ONNX Runtime -- no mock: the model's output depends on its input.

The model holds five candidate boxes (and three empty ones) in 64 x 64 input pixels and two classes (person, other);
the class scores are multiplied by the mean brightness of the input image, so a white image
gives the scores below and a black one none:

===  ==============  ======  =====  ==========================================
 #   cx, cy, w, h    person  other  expected
===  ==============  ======  =====  ==========================================
 A   32, 32, 16, 32  0.90    0.05   kept
 B   33, 33, 16, 32  0.80    0.05   suppressed by NMS (overlaps A)
 C   10, 50,  8,  8  0.10    0.00   below the threshold
 D   50, 20, 10, 20  0.02    0.95   not a person
 E   50, 48,  8, 16  0.60    0.00   kept
===  ==============  ======  =====  ==========================================
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import make_video, probe
from gamyeon.cli import main
from gamyeon.detect.persons import PersonDetector
from gamyeon.detect.yolo import YoloPerson, decode, letterbox
from gamyeon.errors import ModelError

onnx = pytest.importorskip("onnx")
helper = onnx.helper
TP = onnx.TensorProto

CANDIDATES = np.array(
    [
        [32, 32, 16, 32, 0.90, 0.05],
        [33, 33, 16, 32, 0.80, 0.05],
        [10, 50, 8, 8, 0.10, 0.00],
        [50, 20, 10, 20, 0.02, 0.95],
        [50, 48, 8, 16, 0.60, 0.00],
        # padding: real exports have thousands of candidates (N > 4 + C tells the layouts apart)
        [5, 5, 2, 2, 0.00, 0.00],
        [6, 6, 2, 2, 0.00, 0.00],
        [7, 7, 2, 2, 0.00, 0.00],
    ],
    dtype=np.float32,
)


def build(path: Path, *, side: int | str = 64, transposed: bool = False, batch: int | str = 1) -> Path:
    """A YOLO-layout model: input [B, 3, S, S], output [1, 4 + C, N] (or [1, N, 4 + C])."""
    boxes = CANDIDATES[:, :4].T[None]  # [1, 4, N]
    scores = CANDIDATES[:, 4:].T[None]  # [1, C, N]
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["brightness"], keepdims=0),
        helper.make_node("Mul", ["scores", "brightness"], ["scaled"]),
        helper.make_node("Concat", ["boxes", "scaled"], ["raw"], axis=1),
    ]
    if transposed:
        nodes.append(helper.make_node("Transpose", ["raw"], ["output0"], perm=[0, 2, 1]))
        out_shape = [1, len(CANDIDATES), 6]
    else:
        nodes.append(helper.make_node("Identity", ["raw"], ["output0"]))
        out_shape = [1, 6, len(CANDIDATES)]
    graph = helper.make_graph(
        nodes,
        "tiny_yolo",
        [helper.make_tensor_value_info("images", TP.FLOAT, [batch, 3, side, side])],
        [helper.make_tensor_value_info("output0", TP.FLOAT, out_shape)],
        initializer=[
            helper.make_tensor("boxes", TP.FLOAT, boxes.shape, boxes.ravel().tolist()),
            helper.make_tensor("scores", TP.FLOAT, scores.shape, scores.ravel().tolist()),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def white(width: int, height: int) -> np.ndarray:
    return np.full((height, width, 3), 255, dtype=np.uint8)


def test_decode_thresholds_suppresses_and_picks_the_person_class() -> None:
    rows = decode(CANDIDATES.T, threshold=0.25)
    assert rows.shape == (2, 5)
    by_score = rows[np.argsort(-rows[:, 4])]
    np.testing.assert_allclose(by_score[0], [24, 16, 40, 48, 0.9], atol=1e-5)  # A, corners
    np.testing.assert_allclose(by_score[1], [46, 40, 54, 56, 0.6], atol=1e-5)  # E


def test_decode_rejects_a_missing_class() -> None:
    with pytest.raises(ModelError, match="person class 2"):
        decode(CANDIDATES.T, threshold=0.25, class_id=2)


@pytest.mark.parametrize("transposed", [False, True])
def test_model_output_is_decoded_and_unletterboxed(tmp_path: Path, transposed: bool) -> None:
    """A 128 x 64 crop is letterboxed into 64 x 64 (scale 0.5, 16 px grey bars above and below);
    boxes come back in crop pixels."""
    model = YoloPerson(build(tmp_path / "tiny.onnx", transposed=transposed))
    assert model.side == 64
    (rows,) = model.run([white(128, 64)], threshold=0.25)
    rows = rows[np.argsort(-rows[:, 4])]
    assert len(rows) == 2
    np.testing.assert_allclose(rows[0, :4], [48, 0, 80, 64], atol=1e-4)
    np.testing.assert_allclose(rows[1, :4], [92, 48, 108, 80], atol=1e-4)
    # the scores went through the model: x the input's mean, half white and half grey (114) bars
    brightness = (255 + 114) / 2 / 255
    np.testing.assert_allclose(rows[:, 4], [0.9 * brightness, 0.6 * brightness], atol=1e-5)


def test_scores_come_from_the_model_run(tmp_path: Path) -> None:
    """A black crop (only the grey letterbox bars are bright) lowers every score: nothing left."""
    model = YoloPerson(build(tmp_path / "tiny.onnx"))
    (rows,) = model.run([np.zeros((64, 64, 3), dtype=np.uint8)], threshold=0.25)
    assert len(rows) == 0


def test_letterbox_geometry() -> None:
    canvas, scale, left, top = letterbox(white(100, 50), 64)
    assert canvas.shape == (64, 64, 3) and scale == pytest.approx(0.64)
    assert (left, top) == (0, 16)
    assert (canvas[:16] == 114).all() and (canvas[16:48] == 255).all() and (canvas[48:] == 114).all()


def test_dynamic_input_size_defaults_to_640(tmp_path: Path) -> None:
    model = YoloPerson(build(tmp_path / "tiny.onnx", side="S", batch="B"))
    assert model.side == 640


def test_person_detector_runs_a_yolo_model(tmp_path: Path) -> None:
    detector = PersonDetector(YoloPerson(build(tmp_path / "tiny.onnx")), threshold=0.25)
    found = detector.whole(white(64, 64))
    assert sorted(round(d.score, 2) for d in found) == [0.6, 0.9]
    assert {d.kind for d in found} == {"person"}


def test_a_model_of_another_layout_is_a_one_line_error(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "not_yolo",
        [helper.make_tensor_value_info("x", TP.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TP.FLOAT, [1, 8])],
    )
    path = tmp_path / "bad.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), str(path))
    with pytest.raises(ModelError, match="image input"):
        YoloPerson(path)


def test_cli_person_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--kinds persons --person-model tiny.onnx`` end to end: person regions in the annotations."""
    model = build(tmp_path / "tiny.onnx")
    src, out = tmp_path / "in.mp4", tmp_path / "out.mp4"
    make_video(src, size=(96, 64), frames=4, picture=lambda i, w, h: white(w, h))
    code = main(["anonymize", str(src), "-o", str(out), "--kinds", "persons", "--person-model", str(model), "-q"])
    assert code == 0, capsys.readouterr().err
    lines = [json.loads(x) for x in Path(f"{out}.regions.jsonl").read_text().splitlines()]
    assert len(lines) == 4
    assert all(lines[i]["regions"] for i in range(4))
    assert {r["kind"] for line in lines for r in line["regions"]} == {"person"}
    bad = main(
        [
            "anonymize",
            str(src),
            "-o",
            str(tmp_path / "o2.mp4"),
            "--kinds",
            "persons",
            "--person-model",
            str(tmp_path / "missing.onnx"),
            "-q",
        ]
    )
    assert bad != 0
    assert "model file not found" in capsys.readouterr().err


def test_a_detector_failing_at_run_time_fails_the_frame_closed(tmp_path: Path) -> None:
    """A model that loads (dynamic input) but cannot run on the 640 px input gamyeon gives it:
    every frame whose person detection fails is written black and flagged; no original pixels."""
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["images", "shape"], ["flat"]),  # only valid for 64 x 64 inputs
            helper.make_node("ReduceMean", ["flat"], ["brightness"], keepdims=0),
            helper.make_node("Mul", ["scores", "brightness"], ["scaled"]),
            helper.make_node("Concat", ["boxes", "scaled"], ["output0"], axis=1),
        ],
        "broken_yolo",
        [helper.make_tensor_value_info("images", TP.FLOAT, [1, 3, "S", "S"])],
        [helper.make_tensor_value_info("output0", TP.FLOAT, [1, 6, len(CANDIDATES)])],
        initializer=[
            helper.make_tensor("shape", TP.INT64, [2], [1, 3 * 64 * 64]),
            helper.make_tensor("boxes", TP.FLOAT, [1, 4, len(CANDIDATES)], CANDIDATES[:, :4].T.ravel().tolist()),
            helper.make_tensor("scores", TP.FLOAT, [1, 2, len(CANDIDATES)], CANDIDATES[:, 4:].T.ravel().tolist()),
        ],
    )
    model = tmp_path / "broken.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), str(model))
    src, out = tmp_path / "in.mp4", tmp_path / "out.mp4"
    make_video(src, size=(96, 64), frames=8, picture=lambda i, w, h: white(w, h))
    summary = tmp_path / "summary.json"
    argv = ["anonymize", str(src), "-o", str(out), "--kinds", "faces,persons", "--person-model", str(model)]
    assert main([*argv, "--summary-json", str(summary), "-q"]) == 0
    lines = [json.loads(x) for x in Path(f"{out}.regions.jsonl").read_text().splitlines()]
    failed = [line["frame"] for line in lines if line["fail_closed"]]
    assert failed and failed[0] == 0  # the first frame is a person detection frame
    assert json.loads(summary.read_text())[0]["fail_closed_frames"] == len(failed)
    frames = probe(out, keep_frames=True).frames
    assert len(frames) == 8
    for i in failed:
        assert frames[i].max() < 10, i  # black, not the white original
