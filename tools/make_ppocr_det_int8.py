"""Make ``src/gamyeon/models/ppocrv6_det_small_int8.onnx``: the PP-OCR DB text detector in int8.

Why: the text (plate) pass is the most expensive detection pass of the default kinds on video,
and ONNX Runtime runs an int8 copy of the network several times faster on CPUs with VNNI
(AVX512-VNNI / AVX-VNNI). gamyeon uses it for video by default (``--text-precision auto``);
still images keep the float network.

What it does, from the committed float model (checked by its sha256), with no other input:

1. converts the opset-11 graph to opset 13 (per-channel ``QuantizeLinear`` needs ``axis``);
2. ONNX Runtime's ``quant_pre_process`` (shape inference, graph clean-up);
3. static quantization, QDQ format: per-channel int8 weights, uint8 activations, ranges from
   the 99.999th percentile of activations seen on calibration scenes. The last layers (the
   head's transposed convolutions and the sigmoid that make the probability map) stay float:
   the map is thresholded at 0.3 and scored against 0.5, and rounding it costs text lines at
   their edges for almost no time.

The calibration scenes are built here, deterministically, from photos that ship inside the
``scikit-image`` package (no evaluation data, nothing downloaded): its photos as backgrounds,
with licence-plate-like plates (light or yellow rectangles with a dark border and 4-8 letters
and digits) and lines of text (signs, captions) drawn on them with OpenCV's Hershey fonts and
Pillow's bundled font, 8-120 px tall, some tilted, some scenes darkened, blurred or
JPEG-compressed. Weights are not trained or changed beyond rounding.

Checks before writing, on scenes of another seed than the calibration ones: of the text lines
the float model finds (DB post-processing as gamyeon runs it), at most 2 % are less than 70 %
covered by the int8 model's lines, and none on a plate.

usage (in a throwaway venv; none of these are gamyeon dependencies; ``PYTHONPATH=src`` for the
DB post-processing the check shares with gamyeon)::

    python3.11 -m venv /tmp/q8 && /tmp/q8/bin/pip install onnxruntime==1.32.0 onnx==1.23.2 \\
        ml_dtypes==0.6.0 sympy==1.14.0 scikit-image==0.26.0 opencv-python-headless==5.0.0.93 \\
        numpy==2.4.6 pillow==13.0.0
    PYTHONPATH=src /tmp/q8/bin/python tools/make_ppocr_det_int8.py

Calibration keeps every activation of the scenes it sees at once, so they are served two at a
time (peak ~1 GB); it takes ~80 CPU-seconds. Two runs wrote byte-identical files.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import string
import tempfile
from collections.abc import Iterator
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
from PIL import Image, ImageDraw, ImageFont
from skimage import data

log = logging.getLogger("make_ppocr_det_int8")

MODELS = Path(__file__).resolve().parents[1] / "src" / "gamyeon" / "models"
SOURCE = MODELS / "ppocrv6_det_small.onnx"
SOURCE_SHA256 = "090f04ab"  # prefix, as in PROVENANCE.md; the full digest is checked below
OUT = MODELS / "ppocrv6_det_small_int8.onnx"
INPUT = "x"
SCENE_W, SCENE_H = 640, 352  # histogram calibration needs one input size; multiples of 32
SCENES = 64
SEED = 20261206
STRIDE = 2
CHECK_SEED = 20261207
CHECK_SCENES = 48
BIN_THRESHOLD = 0.3
BOX_THRESHOLD = 0.5
#: float text lines the int8 model may miss on the check scenes (a share), and plates (none)
MAX_LOST_LINES = 0.02
#: a float text line is kept when the int8 lines cover this share of it (as masks would)
COVERED = 0.7
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_COMPLEX)
WORDS = ("EXIT", "PARKING", "Open 24h", "SALE", "Bus 143", "STOP", "Coffee", "No entry", "TAXI", "Pharmacy", "7-ELEVEN")


def rgb(image: Any) -> npt.NDArray[Any]:
    array = np.asarray(image)
    if array.ndim == 2:
        array = cv2.cvtColor(array.astype(np.uint8), cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(array[..., :3].astype(np.uint8))


def backgrounds() -> list[npt.NDArray[Any]]:
    images = [
        data.coffee(),
        data.chelsea(),
        data.rocket(),
        data.camera(),
        data.astronaut(),
        data.coins(),
        data.immunohistochemistry(),
        data.text(),
        data.page(),
        data.stereo_motorcycle()[0],
        data.brick(),
        data.grass(),
    ]
    return [cv2.resize(rgb(i), (SCENE_W, SCENE_H), interpolation=cv2.INTER_AREA) for i in images]


def plate(rng: np.random.Generator, height: int) -> npt.NDArray[Any]:
    """A plate: light or yellow rectangle, dark border, 4-8 letters and digits."""
    chars = string.ascii_uppercase + string.digits
    text = "".join(chars[int(rng.integers(len(chars)))] for _ in range(int(rng.integers(4, 9))))
    font = FONTS[int(rng.integers(len(FONTS)))]
    scale = cv2.getFontScaleFromHeight(font, max(4, int(height * 0.6)), 2)
    thick = max(1, round(height / 12))
    (tw, th), _ = cv2.getTextSize(text, font, scale, thick)
    width = int(tw + height * 0.5)
    ground = (235, 235, 235) if rng.random() < 0.6 else (240, 200, 40)
    card = np.full((height, width, 3), ground, dtype=np.uint8)
    cv2.rectangle(card, (0, 0), (width - 1, height - 1), (20, 20, 20), max(1, height // 14))
    cv2.putText(card, text, (int(height * 0.25), (height + th) // 2), font, scale, (15, 15, 15), thick, cv2.LINE_AA)
    return card


def caption(rng: np.random.Generator, image: npt.NDArray[Any], height: int) -> None:
    """A line of text (a sign, a caption) drawn on ``image`` with Pillow's bundled font."""
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=height)
    word = WORDS[int(rng.integers(len(WORDS)))]
    x = int(rng.integers(0, max(1, SCENE_W - height * len(word) // 2)))
    y = int(rng.integers(0, max(1, SCENE_H - height)))
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    if rng.random() < 0.5:
        left, top, right, bottom = draw.textbbox((x, y), word, font=font)
        back = tuple(255 - c for c in colour)
        draw.rectangle((left - 4, top - 4, right + 4, bottom + 4), fill=back)
    draw.text((x, y), word, font=font, fill=colour)
    image[:] = np.asarray(canvas)


def scenes(seed: int, count: int) -> tuple[list[npt.NDArray[Any]], list[list[tuple[int, int, int, int]]]]:
    """Deterministic scenes and, for each, the boxes of the plates drawn on it (see the docstring)."""
    rng = np.random.default_rng(seed)
    grounds = backgrounds()
    out, plates = [], []
    for i in range(count):
        scene = grounds[i % len(grounds)].copy()
        boxes = []
        for _ in range(int(rng.integers(1, 5))):
            card = plate(rng, int(rng.integers(8, 60)))
            if rng.random() < 0.3:
                angle = float(rng.uniform(-12, 12))
                h, w = card.shape[:2]
                rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
                card = cv2.warpAffine(card, rot, (w, h), borderMode=cv2.BORDER_REPLICATE)
            h, w = card.shape[:2]
            if w >= SCENE_W or h >= SCENE_H:
                continue
            x, y = int(rng.integers(0, SCENE_W - w)), int(rng.integers(0, SCENE_H - h))
            scene[y : y + h, x : x + w] = card
            boxes.append((x, y, x + w, y + h))
        for _ in range(int(rng.integers(0, 4))):
            caption(rng, scene, int(rng.integers(10, 120)))
        if i % 5 == 1:
            scene = (scene * rng.uniform(0.2, 0.6)).astype(np.uint8)  # night
        if i % 5 == 2:
            scene = cv2.GaussianBlur(scene, (3, 3), 0)  # soft focus
        if i % 5 == 3:
            _ok, jpeg = cv2.imencode(".jpg", scene, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 60))])
            scene = cv2.imdecode(jpeg, cv2.IMREAD_UNCHANGED)  # compression
        out.append(np.ascontiguousarray(scene))
        plates.append(boxes)
    return out, plates


def blob(image: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """As gamyeon feeds the network: RGB scaled to [-1, 1], NCHW."""
    scaled = (image.astype(np.float32) - 127.5) / 127.5
    return np.ascontiguousarray(scaled.transpose(2, 0, 1)[None])


class Scenes(CalibrationDataReader):  # type: ignore[misc]  # onnxruntime ships no type information
    """The calibration scenes, served ``STRIDE`` at a time: ONNX Runtime keeps every activation of
    the scenes it is given at once (~280 MB a scene here) and merges the histograms between strides."""

    def __init__(self) -> None:
        self._scenes = scenes(SEED, SCENES)[0]
        self._feeds: Iterator[dict[str, npt.NDArray[Any]]] = iter(())

    def __len__(self) -> int:
        return len(self._scenes)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._feeds = iter([{INPUT: blob(s)} for s in self._scenes[start_index:end_index]])

    def get_next(self) -> dict[str, npt.NDArray[Any]] | None:
        return next(self._feeds, None)


def prepared(folder: Path) -> Path:
    """The float model at opset 13, cleaned up, every node named (for reproducible names)."""
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


def head_nodes(path: Path) -> list[str]:
    """The nodes after the head's first transposed convolution: they stay float."""
    model = onnx.load(str(path))
    names = [n.name for n in model.graph.node]
    first = next(i for i, n in enumerate(model.graph.node) if n.op_type == "ConvTranspose")
    return names[first:]


def lines(session: ort.InferenceSession, image: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Text lines as axis-aligned ``[x1, y1, x2, y2]`` (DB post-processing as in gamyeon)."""
    from gamyeon.detect.text import db_lines

    (prob,) = session.run(None, {INPUT: blob(image)})
    found = db_lines(np.asarray(prob[0, 0], dtype=np.float32), 1.0, 1.0, BOX_THRESHOLD)
    return np.asarray([[t.box.x1, t.box.y1, t.box.x2, t.box.y2] for t in found], dtype=np.float32).reshape(-1, 4)


def covered(box: npt.NDArray[Any], others: npt.NDArray[Any]) -> float:
    """The share of ``box``'s area inside the union of ``others`` (what masking them would hide)."""
    x1, y1 = int(box[0]), int(box[1])
    x2, y2 = max(x1 + 1, int(np.ceil(box[2]))), max(y1 + 1, int(np.ceil(box[3])))
    mask = np.zeros((y2 - y1, x2 - x1), dtype=bool)
    for o in others:
        ox1, oy1 = max(x1, int(o[0])), max(y1, int(o[1]))
        ox2, oy2 = min(x2, int(np.ceil(o[2]))), min(y2, int(np.ceil(o[3])))
        if ox2 > ox1 and oy2 > oy1:
            mask[oy1 - y1 : oy2 - y1, ox1 - x1 : ox2 - x1] = True
    return float(mask.mean())


def inside(line: npt.NDArray[Any], box: tuple[int, int, int, int]) -> bool:
    cx, cy = (line[0] + line[2]) / 2, (line[1] + line[3]) / 2
    return bool(box[0] <= cx <= box[2] and box[1] <= cy <= box[3])


def check(out: Path) -> None:
    """Refuse a quantized model that loses what the float model finds (see the module docstring)."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    ref = ort.InferenceSession(str(SOURCE), options, providers=["CPUExecutionProvider"])
    q8 = ort.InferenceSession(str(out), options, providers=["CPUExecutionProvider"])
    total = lost = plates = plates_lost = 0
    for scene, boxes in zip(*scenes(CHECK_SEED, CHECK_SCENES), strict=True):
        a, b = lines(ref, scene), lines(q8, scene)
        for row in a:
            total += 1
            missed = covered(row, b) < COVERED
            lost += missed
            if any(inside(row, box) for box in boxes):
                plates += 1
                plates_lost += missed
    log.info("check scenes: %d float text lines (%d on plates), int8 lost %d (%d)", total, plates, lost, plates_lost)
    if lost > MAX_LOST_LINES * total or plates_lost:
        raise SystemExit(f"int8 model loses {lost} of {total} float text lines, {plates_lost} of {plates} on plates")


def quantize(named: Path, staged: Path, cache: Path | None) -> None:
    """Static quantization of ``named`` into ``staged`` (see the module docstring); ``cache``: a
    file for the calibrated ranges (reused when present: calibration takes minutes)."""
    quantize_static(
        str(named),
        str(staged),
        Scenes(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        calibrate_method=CalibrationMethod.Percentile,
        nodes_to_exclude=head_nodes(named),
        extra_options={"CalibStridedMinMax": STRIDE},
        calibration_cache_path=cache,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--cache", type=Path, help="keep the calibrated ranges in this file (and reuse them)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        named = prepared(Path(tmp))
        staged = Path(tmp) / "int8.onnx"
        quantize(named, staged, args.cache)
        check(staged)
        args.out.write_bytes(staged.read_bytes())
    log.info("wrote %s sha256=%s", args.out, hashlib.sha256(args.out.read_bytes()).hexdigest())


if __name__ == "__main__":
    main()
