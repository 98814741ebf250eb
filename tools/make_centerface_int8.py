"""Make ``src/gamyeon/models/centerface_int8.onnx``: CenterFace with int8 weights and activations.

Why: on a 2-core CPU, ONNX Runtime needs about half of gamyeon's CPU time for CenterFace alone,
and an int8 network runs the same passes ~2x (512 x 288) to ~2.5x (1440 x 832) faster on CPUs
with VNNI (AVX512-VNNI / AVX-VNNI; measured on this project's build machine). gamyeon uses it
for video by default (``--face-precision auto``); still images keep the float model, where
speed matters less than the last borderline face.

What it does, from the committed float model (checked by its sha256), with no other input:

1. converts the opset-9 graph to opset 13 (per-channel ``QuantizeLinear`` needs ``axis``);
2. ONNX Runtime's ``quant_pre_process`` (folds the batch norms into the convolutions);
3. static quantization, QDQ format: per-channel int8 weights, uint8 activations, ranges from
   the 99.999th percentile of activations seen on calibration scenes.

The calibration scenes are built here, deterministically, from photos that ship inside the
``scikit-image`` package (no evaluation data, nothing downloaded): its backgrounds (coffee,
chelsea, rocket, camera, astronaut, hubble, immunohistochemistry), with its 100 LFW face crops
(``data.lfw_subset``, 25 x 25 grey) and the astronaut's face pasted at 10-180 px, some scenes
darkened, some blurred. Weights are not trained or changed beyond rounding.

Checks before writing: on ``astronaut.png`` the int8 and float models find the same face
(IoU >= 0.9) and every face the float model finds with score >= 0.5 on the calibration
scenes is found by the int8 model (IoU >= 0.3).

usage (in a throwaway venv; none of these are gamyeon dependencies)::

    python3.11 -m venv /tmp/q8 && /tmp/q8/bin/pip install onnxruntime==1.32.0 onnx==1.23.2 \\
        ml_dtypes==0.6.0 sympy==1.14.0 scikit-image==0.26.0 opencv-python-headless==5.0.0.93 numpy==2.4.6
    /tmp/q8/bin/python tools/make_centerface_int8.py

The output is byte-identical across runs with the same package versions (checked twice).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
from onnx import version_converter
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process
from skimage import data

log = logging.getLogger("make_centerface_int8")

MODELS = Path(__file__).resolve().parents[1] / "src" / "gamyeon" / "models"
SOURCE = MODELS / "centerface.onnx"
SOURCE_SHA256 = "5aaf17b3"  # prefix, as in PROVENANCE.md; the full digest is checked below
OUT = MODELS / "centerface_int8.onnx"
INPUT = "input.1"
OUTPUTS = ["537", "538", "539", "540"]
SCENE_W, SCENE_H = 640, 384  # histogram calibration needs one input size
SCENES = 48
SEED = 20261124


def rgb(image: Any) -> npt.NDArray[Any]:
    array = np.asarray(image)
    if array.ndim == 2:
        array = cv2.cvtColor(array.astype(np.uint8), cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(array[..., :3].astype(np.uint8))


def faces() -> list[npt.NDArray[Any]]:
    """Face crops: the astronaut's face and scikit-image's 100 LFW faces (the first half of
    ``lfw_subset``; the second half are non-faces: CenterFace finds 95 and 0 of them)."""
    lfw = data.lfw_subset()[:100]
    out = [rgb(data.astronaut()[10:230, 130:320])]
    out += [rgb(np.clip(face * 255.0, 0, 255)) for face in lfw]
    return out


def backgrounds() -> list[npt.NDArray[Any]]:
    images = [
        data.coffee(),
        data.chelsea(),
        data.rocket(),
        data.camera(),
        data.astronaut(),
        data.hubble_deep_field(),
        data.immunohistochemistry(),
    ]
    return [cv2.resize(rgb(i), (SCENE_W, SCENE_H), interpolation=cv2.INTER_AREA) for i in images]


def scenes() -> list[npt.NDArray[Any]]:
    """Deterministic calibration scenes (see the module docstring)."""
    rng = np.random.default_rng(SEED)
    crops, grounds = faces(), backgrounds()
    out = []
    for i in range(SCENES):
        scene = grounds[i % len(grounds)].copy()
        for _ in range(int(rng.integers(2, 7))):
            face = crops[int(rng.integers(len(crops)))]
            side = int(rng.integers(10, 180))
            h = max(1, round(side * face.shape[0] / face.shape[1]))
            patch = cv2.resize(face, (side, h), interpolation=cv2.INTER_LINEAR)
            x, y = int(rng.integers(0, SCENE_W - side)), int(rng.integers(0, max(1, SCENE_H - h)))
            patch = patch[: SCENE_H - y]
            scene[y : y + patch.shape[0], x : x + side] = patch
        if i % 4 == 1:
            scene = (scene * rng.uniform(0.25, 0.6)).astype(np.uint8)  # night CCTV
        if i % 4 == 2:
            scene = cv2.GaussianBlur(scene, (5, 5), 0)  # soft focus / compression
        out.append(scene)
    return out


def blob(image: npt.NDArray[Any]) -> npt.NDArray[Any]:
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None].astype(np.float32))


class Scenes(CalibrationDataReader):  # type: ignore[misc]  # onnxruntime ships no type information
    def __init__(self) -> None:
        self._feeds = iter([{INPUT: blob(s)} for s in scenes()])

    def get_next(self) -> dict[str, npt.NDArray[Any]] | None:
        return next(self._feeds, None)


def prepared(folder: Path) -> Path:
    """The float model at opset 13, batch norms folded, every node named (for reproducible names)."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    if not digest.startswith(SOURCE_SHA256):
        raise SystemExit(f"{SOURCE} has sha256 {digest}; expected the committed model ({SOURCE_SHA256}...)")
    op13 = folder / "op13.onnx"
    onnx.save(version_converter.convert_version(onnx.load(str(SOURCE)), 13), str(op13))
    pre = folder / "pre.onnx"
    quant_pre_process(str(op13), str(pre), skip_symbolic_shape=True)
    model = onnx.load(str(pre))
    for node in model.graph.node:
        node.name = node.name or f"{node.op_type}_{node.output[0]}"
    named = folder / "named.onnx"
    onnx.save(model, str(named))
    return named


def heat_boxes(session: ort.InferenceSession, image: npt.NDArray[Any], threshold: float) -> npt.NDArray[Any]:
    """Peaks of the heatmap as ``[x1, y1, x2, y2, score]`` (decoding as in gamyeon, without NMS)."""
    heat, scale, offset, _ = session.run(OUTPUTS, {INPUT: blob(image)})
    ys, xs = np.nonzero(heat[0, 0] > threshold)
    h = np.exp(scale[0, 0, ys, xs]) * 4
    w = np.exp(scale[0, 1, ys, xs]) * 4
    cy = (ys + offset[0, 0, ys, xs] + 0.5) * 4
    cx = (xs + offset[0, 1, ys, xs] + 0.5) * 4
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, heat[0, 0, ys, xs]], axis=1)


def best_iou(box: npt.NDArray[Any], others: npt.NDArray[Any]) -> float:
    if len(others) == 0:
        return 0.0
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return float((inter / ((box[2] - box[0]) * (box[3] - box[1]) + areas - inter)).max())


def check(out: Path) -> None:
    """Refuse a quantized model that loses what the float model finds (see the module docstring)."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    ref = ort.InferenceSession(str(SOURCE), options, providers=["CPUExecutionProvider"])
    q8 = ort.InferenceSession(str(out), options, providers=["CPUExecutionProvider"])
    astronaut = cv2.resize(rgb(data.astronaut()), (512, 512))
    a, b = heat_boxes(ref, astronaut, 0.5), heat_boxes(q8, astronaut, 0.5)
    if len(a) == 0 or len(b) == 0 or best_iou(a[a[:, 4].argmax()], b) < 0.9:
        raise SystemExit("int8 model does not find the astronaut's face where the float model does")
    confident = lost = 0
    for scene in scenes():
        a, b = heat_boxes(ref, scene, 0.5), heat_boxes(q8, scene, 0.3)
        for row in a[a[:, 4] >= 0.5]:
            confident += 1
            lost += best_iou(row, b) < 0.3
    log.info("calibration scenes: %d confident float peaks, %d lost by int8", confident, lost)
    if lost:
        raise SystemExit(f"int8 model loses {lost} of {confident} confident float detections")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        named = prepared(Path(tmp))
        staged = Path(tmp) / "int8.onnx"
        quantize_static(
            str(named),
            str(staged),
            Scenes(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=CalibrationMethod.Percentile,
        )
        check(staged)
        OUT.write_bytes(staged.read_bytes())
    log.info("wrote %s sha256=%s", OUT, hashlib.sha256(OUT.read_bytes()).hexdigest())


if __name__ == "__main__":
    main()
