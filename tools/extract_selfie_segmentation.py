"""Build ``src/gamyeon/models/selfie_segmentation.onnx`` from MediaPipe's selfie-segmentation model
in PyPI's ``mediapipe`` 0.10.21 wheel (Apache-2.0, (c) The MediaPipe Authors), with its license.

Which model: the wheel ships two, ``selfie_segmentation.tflite`` (general, 256 x 256 input) and
``selfie_segmentation_landscape.tflite`` (144 x 256, for 16:9 video calls). gamyeon segments one
upright person crop at a time, about 2.5 times as tall as wide, padded to the model's aspect ratio:
in the square model the person is 256 px tall and fills ~40 % of the input; in the landscape one
they would be 144 px tall and fill ~22 %. So the general (square) model is taken.

Why a converted copy: gamyeon runs every model on ONNX Runtime, and never downloads weights at run
time. The tflite graph has one MediaPipe custom op, ``Convolution2DTransposeBias`` (its last 2x
upsampling: a transposed convolution with stride 2, a 2 x 2 kernel, SAME padding, 16 -> 1
channels, plus a bias), which neither the stock TFLite interpreter nor tf2onnx knows. The script
gives tf2onnx a handler that writes it as an ONNX ``ConvTranspose`` with the same kernel, stride
and bias (stride = kernel, so the windows do not overlap and no padding is involved) between
NHWC <-> NCHW transposes; everything else is converted by tf2onnx as is (``HardSwish`` needs opset
14). The fp16 weights (tflite ``DEQUANTIZE`` ops) become float32; no weight changes otherwise.
Input ``input_1``: float32 ``[1, 256, 256, 3]`` RGB in [0, 1]; output ``activation_10``: float32
``[1, 256, 256, 1]``, the person probability (the graph ends in a sigmoid).

Check: without MediaPipe's op resolver the original cannot run, so the reference is MediaPipe
itself, ``mp.solutions.selfie_segmentation`` (model_selection=0, the general model), on
scikit-image's ``astronaut.png`` (public domain, NASA) resized to 256 x 256, so that MediaPipe's
own resize is the identity and its [0, 1] input scaling is the one gamyeon uses. The largest
difference must stay below 1e-3 and both must give the same mask at 0.5 (measured: 4.6e-5, same).

Reproducibility: tf2onnx's graph optimizer visits nodes in an order that changes from run to run
(it walks sets of node objects), so a re-run can write a file whose sha256 is not the committed
one: re-runs gave files that differ in the names tf2onnx makes up and in one no-op ``Reshape``
kept or removed, with bit-identical outputs. Each run is checked against MediaPipe as above; the
committed file's sha256 is in ``src/gamyeon/models/PROVENANCE.md``.

Run it in a throwaway venv outside gamyeon's dependencies. tf2onnx 1.16.1 pins protobuf ~3.20
but converts this model with 4.25, which MediaPipe (the reference only, installed without its
dependencies: jax, sounddevice ... are not needed) requires::

    python3.11 -m venv .venv-selfie                      # gitignored (.venv-*/)
    .venv-selfie/bin/pip install "tensorflow-cpu==2.15.1" "tf2onnx==1.16.1" onnxruntime "numpy<2" \\
        "opencv-python-headless==4.10.0.84" "scikit-image<0.25" absl-py attrs flatbuffers matplotlib
    .venv-selfie/bin/pip install "protobuf==4.25.8"      # pip warns about tf2onnx's pin: expected
    .venv-selfie/bin/pip install --no-deps "mediapipe==0.10.21"
    .venv-selfie/bin/python tools/extract_selfie_segmentation.py [--wheel-dir DIR]

The wheel is the cp311 manylinux_2_28 x86_64 one (what pip picks for CPython 3.11 on Linux x86_64).
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

log = logging.getLogger("extract_selfie_segmentation")

PACKAGE = "mediapipe==0.10.21"
WHEEL = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"
MODEL = "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite"
MODEL_SHA256 = "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c"
LICENSE = "mediapipe-0.10.21.dist-info/LICENSE"
CUSTOM_OP = "TFL_Convolution2DTransposeBias"
#: the custom op's options in the tflite file: padding 1 (SAME), stride_width 2, stride_height 2
CUSTOM_OPTIONS = bytes([1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0])
OPSET = 14
SIDE = 256
MAX_DIFF = 1e-3
MODELS = Path(__file__).resolve().parents[1] / "src" / "gamyeon" / "models"
OUT = MODELS / "selfie_segmentation.onnx"
LICENSE_OUT = MODELS / "LICENSE.mediapipe.txt"


def fetch(wheel_dir: Path) -> tuple[bytes, str]:
    """Download the wheel from PyPI (no dependencies), check both hashes; return (tflite, license)."""
    wheel = fetch_wheel(PACKAGE, WHEEL, WHEEL_SHA256, wheel_dir)
    with zipfile.ZipFile(wheel) as zf:
        model = zf.read(MODEL)
        license_text = zf.read(LICENSE).decode("utf-8")
    digest = hashlib.sha256(model).hexdigest()
    if digest != MODEL_SHA256:
        raise SystemExit(f"unexpected model sha256 {digest}, expected {MODEL_SHA256}")
    return model, license_text


def check_custom_op(model: bytes) -> None:
    """Refuse a model whose custom op is not the stride-2, 2 x 2, SAME one the handler writes."""
    from tf2onnx.tflite.Model import Model

    root = Model.GetRootAsModel(model, 0)
    graph = root.Subgraphs(0)
    found = 0
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = root.OperatorCodes(op.OpcodeIndex()).CustomCode()
        if code is None:
            continue
        if "TFL_" + code.decode() != CUSTOM_OP:
            raise SystemExit(f"unexpected custom op {code!r}")
        options = op.CustomOptionsAsNumpy().tobytes()
        kernel = graph.Tensors(op.Inputs(1)).ShapeAsNumpy().tolist()
        if options != CUSTOM_OPTIONS or kernel[1:3] != [2, 2]:
            raise SystemExit(f"{code!r}: options {list(options)}, kernel {kernel}; the handler expects stride 2, 2x2")
        found += 1
    if found != 1:
        raise SystemExit(f"expected one {CUSTOM_OP} op, found {found}")


def transpose_conv_bias(ctx: Any, node: Any, name: str, args: Any) -> Any:
    """tf2onnx handler: MediaPipe's ``Convolution2DTransposeBias`` (NHWC input, OHWI kernel, bias)
    as ONNX ``ConvTranspose`` (NCHW input, IOHW kernel, bias), stride 2, 2 x 2 kernel."""
    from tf2onnx import utils

    x, kernel, bias = node.input
    x_nchw = ctx.make_node("Transpose", [x], attr={"perm": [0, 3, 1, 2]}, op_name_scope=node.name)
    w_iohw = ctx.make_node("Transpose", [kernel], attr={"perm": [3, 0, 1, 2]}, op_name_scope=node.name)
    ctx.replace_inputs(node, [x_nchw.output[0], w_iohw.output[0], bias])
    node.type = "ConvTranspose"
    node.domain = ""
    node.set_attr("strides", [2, 2])
    node.set_attr("kernel_shape", [2, 2])
    node.set_attr("pads", [0, 0, 0, 0])
    ctx.insert_new_node_on_output(
        "Transpose", node.output[0], name=utils.make_name(f"{node.name}_nhwc"), perm=[0, 2, 3, 1]
    )
    return node


def convert(model: bytes) -> Any:
    import tf2onnx

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "selfie_segmentation.tflite"
        path.write_bytes(model)
        onnx_model, _ = tf2onnx.convert.from_tflite(
            str(path), opset=OPSET, custom_op_handlers={CUSTOM_OP: (transpose_conv_bias, [])}
        )
    return onnx_model


def verify(onnx_path: Path) -> None:
    """ONNX Runtime and MediaPipe give the same probabilities on a package-shipped photo."""
    import cv2
    import mediapipe as mp
    import numpy as np
    import onnxruntime as ort
    from skimage import data

    image = cv2.resize(np.asarray(data.astronaut()), (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as segmenter:
        want = np.asarray(segmenter.process(image).segmentation_mask, dtype=np.float64)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    blob = (image.astype(np.float32) / 255.0)[None]
    got = np.asarray(sess.run(None, {sess.get_inputs()[0].name: blob})[0][0, :, :, 0], dtype=np.float64)
    diff = float(np.abs(got - want).max())
    disagree = float(((got > 0.5) != (want > 0.5)).mean())
    log.info("astronaut.png: max |onnx - mediapipe| = %.2e, masks differ on %.4f of the pixels", diff, disagree)
    log.info("person share: onnx %.3f, mediapipe %.3f", float((got > 0.5).mean()), float((want > 0.5).mean()))
    if diff > MAX_DIFF or disagree > 0:
        raise SystemExit(f"ONNX Runtime and MediaPipe differ by {diff} ({disagree} of the mask)")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel-dir", type=Path, default=None, help="folder holding (or to receive) the wheel")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model, license_text = fetch(args.wheel_dir or Path(tmp))
    import onnx

    check_custom_op(model)
    onnx_model = convert(model)
    onnx.checker.check_model(onnx_model)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(onnx_model, str(OUT))
    header = (
        "selfie_segmentation.onnx is MediaPipe 0.10.21's\n"
        "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite (the general 256x256 selfie\n"
        "segmentation model, (c) The MediaPipe Authors), converted to ONNX by\n"
        "tools/extract_selfie_segmentation.py.\n"
        "Modification notice (Apache-2.0 section 4b): the file was converted from TFLite to ONNX with\n"
        "tf2onnx; its fp16 weights are stored as float32 and MediaPipe's custom op\n"
        "Convolution2DTransposeBias is written as the equivalent ONNX ConvTranspose. No weights were\n"
        "changed.\n"
        "Below: the LICENSE file of the mediapipe 0.10.21 wheel (Apache-2.0, and notices for other\n"
        "parts of MediaPipe that gamyeon does not ship).\n\n"
    )
    LICENSE_OUT.write_text(header + license_text, encoding="utf-8")
    verify(OUT)
    log.info("wrote %s sha256=%s and %s", OUT, hashlib.sha256(OUT.read_bytes()).hexdigest(), LICENSE_OUT)


if __name__ == "__main__":
    main()
