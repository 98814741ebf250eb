"""Make ``src/gamyeon/models/ssdlite_person_int8.onnx``: the SSDLite person network's convolutions
with int8 weights and activations, without the graph's pre- and post-processing loops.

Why: the person detector runs ~9 SSDLite passes per detection frame (whole frame, tiles, refine
crops). The committed float graph spends ~15 % of each pass in its per-image ``Loop`` nodes
(an identity resize and the NMS) and cannot batch crops profitably; an int8 copy of the
convolutions alone runs a 300 x 300 crop ~2x faster on CPUs with VNNI, and batches of crops
share one call. gamyeon decodes nothing itself: the cut keeps the graph's own box decoding
(anchors, scale factors) and sigmoid, and only the per-class NMS (IoU 0.6, as the graph's) moves
to OpenCV (``detect/ssdlite.py``).

What it does, from the committed float model (checked by its sha256), with no other input:

1. cuts the graph: a new input ``image`` (uint8 ``[B, 300, 300, 3]`` RGB) is cast and transposed
   into the tensor the pre-processing loop produced (its resize is an identity at 300 x 300); the
   outputs are the decoded boxes ``boxes`` (``[B, 1917, 1, 4]``, normalised ``ymin, xmin, ymax,
   xmax``) and the person scores ``scores`` (``[B, 1917, 1]``), read before the NMS loop;
2. ONNX Runtime's ``quant_pre_process`` (folds the batch norms);
3. static quantization, QDQ format: per-channel int8 weights, uint8 activations, ranges from
   the minimum and maximum of activations seen on calibration crops; the box decoding and score
   nodes stay float. (MinMax, not the 99.999th percentile used for CenterFace: with percentile
   ranges the network lost persons in a night street crowd that the float one finds; MinMax
   ranges kept them. Keeping the first convolution or the box predictors in float changed
   nothing measurable.)

The calibration crops are cut here, deterministically, from photos that ship inside the
``scikit-image`` package (no evaluation data, nothing downloaded): whole photos and random square
crops of astronaut, camera, coffee, chelsea, rocket, cat, motorcycle, hubble_deep_field,
immunohistochemistry and the 100 LFW faces tiled into scenes; some darkened (night CCTV), some
blurred. Weights are not trained or changed beyond rounding.

Checks before writing: the cut float graph gives the same boxes as the committed graph on every
calibration crop (score >= 0.25, max difference 1e-3 of the crop); on ``camera.png`` the int8
network finds the cameraman where the float one does (IoU >= 0.9); and every person the float
network finds with score >= 0.5 on the calibration crops the int8 network finds too (IoU >= 0.5,
score >= 0.25).

usage (in a throwaway venv; none of these are gamyeon dependencies)::

    python3.11 -m venv /tmp/q8 && /tmp/q8/bin/pip install onnxruntime==1.32.0 onnx==1.23.2 \\
        ml_dtypes==0.6.0 sympy==1.14.0 scikit-image==0.26.0 opencv-python-headless==5.0.0.93 numpy==2.4.6
    /tmp/q8/bin/python tools/make_ssdlite_int8.py
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
from onnx import TensorProto, helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process
from skimage import data

log = logging.getLogger("make_ssdlite_int8")

MODELS = Path(__file__).resolve().parents[1] / "src" / "gamyeon" / "models"
SOURCE = MODELS / "ssdlite_person.onnx"
SOURCE_SHA256 = "7570cdf381745b1fe549c783655e67c5741e8f467b8b9ffade79b5c00b144d7d"
OUT = MODELS / "ssdlite_person_int8.onnx"
SIDE = 300
ANCHORS = 1917
#: where the committed graph's pre-processing loop hands over (float NCHW, 0-255) ...
PREPROCESSED = "Preprocessor/map/TensorArrayStack/TensorArrayGatherV3:0"
#: ... and what its NMS loop reads: decoded boxes and the person column of the sigmoid scores
BOXES = "Postprocessor/ExpandDims_1:0"
SCORES = "Postprocessor/Slice:0"
NMS_IOU = 0.6  # the graph's own (``non_max_suppression/iou_threshold``)
SEED = 20261206
CROPS_PER_PHOTO = 5


def rgb(image: Any) -> npt.NDArray[Any]:
    array = np.asarray(image)
    if array.ndim == 2:
        array = cv2.cvtColor(array.astype(np.uint8), cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(array[..., :3].astype(np.uint8))


def square(image: npt.NDArray[Any]) -> npt.NDArray[Any]:
    interp = cv2.INTER_AREA if max(image.shape[:2]) > SIDE else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(image, (SIDE, SIDE), interpolation=interp))


def photos() -> list[npt.NDArray[Any]]:
    out = [
        rgb(p)
        for p in (
            data.astronaut(),
            data.camera(),
            data.coffee(),
            data.chelsea(),
            data.rocket(),
            data.cat(),
            data.hubble_deep_field(),
            data.immunohistochemistry(),
        )
    ]
    out.append(rgb(data.stereo_motorcycle()[0]))
    lfw = data.lfw_subset()[:100]
    faces = [cv2.resize(rgb(np.clip(f * 255.0, 0, 255)), (60, 60)) for f in lfw]
    out.append(np.concatenate([np.concatenate(faces[r * 10 : r * 10 + 10], axis=1) for r in range(10)], axis=0))
    return out


def crops() -> list[npt.NDArray[Any]]:
    """Deterministic calibration crops (see the module docstring)."""
    rng = np.random.default_rng(SEED)
    out = []
    for photo in photos():
        h, w = photo.shape[:2]
        out.append(square(photo))
        for k in range(CROPS_PER_PHOTO):
            side = int(rng.integers(min(h, w) // 4, min(h, w) + 1))
            x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
            crop = square(photo[y : y + side, x : x + side])
            if k % 3 == 1:
                crop = (crop * rng.uniform(0.2, 0.6)).astype(np.uint8)
            if k % 3 == 2:
                crop = cv2.GaussianBlur(crop, (5, 5), 0)
            out.append(crop)
    return out


def cut(folder: Path) -> Path:
    """The committed graph between its two loops, fed uint8 NHWC crops (see the module docstring)."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    if digest != SOURCE_SHA256:
        raise SystemExit(f"{SOURCE} has sha256 {digest}; expected the committed model ({SOURCE_SHA256})")
    model = onnx.load(str(SOURCE))
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    needed: set[str] = set()
    stack = [BOXES, SCORES]
    while stack:
        name = stack.pop()
        if name in needed or name == PREPROCESSED:
            continue
        needed.add(name)
        node = producer.get(name)
        if node is not None:
            if node.op_type == "Loop":
                raise SystemExit(f"the cut still needs a loop ({node.name})")
            stack.extend(node.input)
    nodes = [
        helper.make_node("Cast", ["image"], ["image_float"], to=TensorProto.FLOAT, name="image_float"),
        helper.make_node("Transpose", ["image_float"], [PREPROCESSED], perm=[0, 3, 1, 2], name="image_nchw"),
    ]
    nodes += [n for n in graph.node if any(o in needed for o in n.output)]
    for n in nodes:
        n.name = n.name or f"{n.op_type}_{n.output[0]}"
    used = {i for n in nodes for i in n.input}
    core = helper.make_model(
        helper.make_graph(
            nodes,
            "ssdlite_person_core",
            [helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", SIDE, SIDE, 3])],
            [
                helper.make_tensor_value_info(BOXES, TensorProto.FLOAT, ["batch", ANCHORS, 1, 4]),
                helper.make_tensor_value_info(SCORES, TensorProto.FLOAT, ["batch", ANCHORS, 1]),
            ],
            [i for i in graph.initializer if i.name in used],
        ),
        opset_imports=[o for o in model.opset_import if o.domain == ""],
    )
    core.ir_version = model.ir_version
    onnx.checker.check_model(core)
    path = folder / "core.onnx"
    onnx.save(core, str(path))
    pre = folder / "pre.onnx"
    quant_pre_process(str(path), str(pre), skip_symbolic_shape=True)
    named = onnx.load(str(pre))
    for n in named.graph.node:
        n.name = n.name or f"{n.op_type}_{n.output[0]}"
    # the cut's outputs get short, stable names
    for n in named.graph.node:
        n.output[:] = ["boxes" if o == BOXES else "scores" if o == SCORES else o for o in n.output]
    for o in named.graph.output:
        o.name = "boxes" if o.name == BOXES else "scores" if o.name == SCORES else o.name
    out = folder / "named.onnx"
    onnx.save(named, str(out))
    return out


class Crops(CalibrationDataReader):  # type: ignore[misc]  # onnxruntime ships no type information
    def __init__(self) -> None:
        self._feeds = iter([{"image": c[None]} for c in crops()])

    def get_next(self) -> dict[str, npt.NDArray[Any]] | None:
        return next(self._feeds, None)


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def cut_rows(sess: ort.InferenceSession, crop: npt.NDArray[Any], threshold: float) -> npt.NDArray[Any]:
    """``[x1, y1, x2, y2, score]`` in crop pixels after NMS, as gamyeon decodes the cut graph."""
    boxes, scores = sess.run(["boxes", "scores"], {"image": crop[None]})
    b, s = np.clip(boxes[0, :, 0], 0.0, 1.0), scores[0, :, 0]
    keep = s >= threshold
    rows = np.stack([b[keep, 1], b[keep, 0], b[keep, 3], b[keep, 2]], axis=1) * SIDE
    xywh = np.concatenate([rows[:, :2], rows[:, 2:] - rows[:, :2]], axis=1)
    idx = np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), s[keep].tolist(), 0.0, NMS_IOU), dtype=np.int64).reshape(-1)
    kept: npt.NDArray[Any] = np.concatenate([rows, s[keep][:, None]], axis=1)[np.sort(idx)]
    return kept


def full_rows(sess: ort.InferenceSession, crop: npt.NDArray[Any], threshold: float) -> npt.NDArray[Any]:
    boxes, scores, _, counts = sess.run(
        ["detection_boxes:0", "detection_scores:0", "detection_classes:0", "num_detections:0"],
        {"image_tensor:0": crop[None]},
    )
    n = int(counts[0])
    keep = scores[0, :n] >= threshold
    b = boxes[0, :n][keep]
    return np.concatenate([b[:, [1, 0, 3, 2]] * SIDE, scores[0, :n][keep][:, None]], axis=1)


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


def check(core: Path, out: Path) -> None:
    """Refuse a cut or a quantized model that loses what the committed graph finds (see above)."""
    full, flt, q8 = session(SOURCE), session(core), session(out)
    for crop in crops():
        a, b = full_rows(full, crop, 0.25), cut_rows(flt, crop, 0.25)
        if len(a) != len(b) or (len(a) and np.abs(np.sort(a, axis=0) - np.sort(b, axis=0)).max() > 0.3):
            raise SystemExit("the cut graph and the committed graph disagree")
    camera = square(rgb(data.camera()))
    a, b = cut_rows(flt, camera, 0.5), cut_rows(q8, camera, 0.25)
    if len(a) == 0 or best_iou(a[a[:, 4].argmax()], b) < 0.9:
        raise SystemExit("int8 model does not find the cameraman where the float model does")
    confident = lost = 0
    for crop in crops():
        a, b = cut_rows(flt, crop, 0.5), cut_rows(q8, crop, 0.25)
        for row in a:
            confident += 1
            lost += best_iou(row, b) < 0.5
    log.info("calibration crops: %d confident float persons, %d lost by int8", confident, lost)
    if lost:
        raise SystemExit(f"int8 model loses {lost} of {confident} confident float detections")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        core = cut(Path(tmp))
        model = onnx.load(str(core))
        float_nodes = [
            n.name for n in model.graph.node if n.name.startswith("Postprocessor") or n.op_type in ("Exp", "Sigmoid")
        ]
        staged = Path(tmp) / "int8.onnx"
        quantize_static(
            str(core),
            str(staged),
            Crops(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=float_nodes,
        )
        check(core, staged)
        OUT.write_bytes(staged.read_bytes())
    log.info("wrote %s sha256=%s", OUT, hashlib.sha256(OUT.read_bytes()).hexdigest())


if __name__ == "__main__":
    main()
