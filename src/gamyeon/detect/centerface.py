"""CenterFace (Star-Clouds, MIT) on ONNX Runtime: an anchor-free face detector with stride 4.

The network sees raw 0..255 RGB values in NCHW layout; height and width must be multiples of 32.
Images are resized by a uniform factor and zero-padded to the next multiple of 32 (no aspect
distortion, unlike stretching), and boxes are mapped back to input pixels.

Two bundled copies (``models/PROVENANCE.md``): the float network, and an int8 one
(``tools/make_centerface_int8.py``) that runs 2-2.5x faster on CPUs with VNNI. Video uses the
int8 one by default (``--face-precision auto``): detection is most of a video's CPU time, and
on the evaluation data it covers as many faces (stills 0.974 vs 0.971 at >= 70 %, PETS09 1.000
both). ``auto`` keeps the float network wherever the int8 one was not measured or would not
pay: still images (a second of CPU does not matter), GPU providers (int8 QDQ graphs are a CPU
optimisation; on CUDA without TensorRT they run slower), and CPUs without VNNI (``has_vnni``:
ONNX Runtime's int8 kernels may saturate there).
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from gamyeon.detect.base import nms
from gamyeon.detect.onnx import PRECISIONS as onnx_precisions
from gamyeon.detect.onnx import bundled_path, chosen_path, nchw, session
from gamyeon.errors import ModelError
from gamyeon.types import Array

INPUT = "input.1"
OUTPUTS = ["537", "538", "539", "540"]  # heatmap, log-scale (h, w), offset (y, x), landmarks
STRIDE = 4
NMS_IOU = 0.3


#: --face-precision: auto (int8 for video on a CPU with VNNI, else float), fp32 or int8 for both
PRECISIONS = onnx_precisions
BUNDLED = {"fp32": "centerface.onnx", "int8": "centerface_int8.onnx"}


def default_model_path(precision: str = "fp32") -> Path:
    return bundled_path(BUNDLED, precision)


def model_path(own: Path | None, precision: str, video: bool) -> Path:
    """The CenterFace file for a video (``video``) or a still image (``onnx.chosen_path``; the
    module docstring says why ``auto`` picks what it picks)."""
    return chosen_path(BUNDLED, own, precision, video)


def padded_size(width: int, height: int) -> tuple[int, int]:
    return max(32, math.ceil(width / 32) * 32), max(32, math.ceil(height / 32) * 32)


class CenterFace:
    """One loaded CenterFace network. Thread-compatible: ONNX Runtime sessions allow concurrent runs."""

    def __init__(self, path: Path | None = None, threads: int | None = None) -> None:
        self.path = path or default_model_path()
        self.session = session(self.path, threads)
        names = [i.name for i in self.session.get_inputs()]
        if names != [INPUT] or [o.name for o in self.session.get_outputs()] != OUTPUTS:
            raise ModelError(
                f"{self.path} does not have CenterFace's layout: expected input {INPUT!r} and outputs "
                f"{OUTPUTS}, got {names} and {[o.name for o in self.session.get_outputs()]}"
            )

    def run(self, images: list[Array], threshold: float) -> list[Array]:
        """Detect faces on same-size RGB images already sized to multiples of 32.

        Returns one ``N x 5`` array ``[x1, y1, x2, y2, score]`` per image.
        """
        heat, scale, offset, _ = self.session.run(OUTPUTS, {INPUT: nchw(images)})
        return [decode(heat[b, 0], scale[b], offset[b], threshold) for b in range(len(images))]

    def detect(self, image: Array, factor: float, threshold: float) -> Array:
        """Faces on ``image`` (H x W x 3 RGB) seen at ``factor`` x its size, in ``image`` pixels."""
        height, width = image.shape[:2]
        sw, sh = max(1, round(width * factor)), max(1, round(height * factor))
        canvas = letterbox(image, sw, sh)
        rows = self.run([canvas], threshold)[0]
        return rescale(rows, sw / width, sh / height)


def letterbox(image: Array, width: int, height: int) -> Array:
    """``image`` resized to ``width`` x ``height`` and zero-padded to multiples of 32."""
    pw, ph = padded_size(width, height)
    canvas = np.zeros((ph, pw, 3), dtype=np.uint8)
    if (image.shape[1], image.shape[0]) == (width, height):
        canvas[:height, :width] = image
    else:
        interp = cv2.INTER_AREA if width < image.shape[1] else cv2.INTER_LINEAR
        src = image if image.flags["C_CONTIGUOUS"] else np.ascontiguousarray(image)
        canvas[:height, :width] = cv2.resize(src, (width, height), interpolation=interp)
    return canvas


def rescale(rows: Array, fx: float, fy: float) -> Array:
    if len(rows) == 0:
        return rows
    out = rows.copy()
    out[:, [0, 2]] /= fx
    out[:, [1, 3]] /= fy
    return out


def decode(heat: Array, scale: Array, offset: Array, threshold: float) -> Array:
    """Heatmap peaks -> boxes, vectorised; then NMS as in the reference implementation."""
    ys, xs = np.nonzero(heat > threshold)
    if len(ys) == 0:
        return np.zeros((0, 5), dtype=np.float32)
    h = np.exp(scale[0, ys, xs]) * STRIDE
    w = np.exp(scale[1, ys, xs]) * STRIDE
    cy = (ys + offset[0, ys, xs] + 0.5) * STRIDE
    cx = (xs + offset[1, ys, xs] + 0.5) * STRIDE
    rows = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, heat[ys, xs]], axis=1).astype(np.float32)
    return nms(rows, NMS_IOU)
