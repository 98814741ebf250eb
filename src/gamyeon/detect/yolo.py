"""Bring your own person detector: a YOLO-family ONNX export (``--person-model PATH.onnx``).

The layout accepted is the one Ultralytics' YOLOv8/v11 exports (and many others) use:

* input: ``[1 or B, 3, S, S]`` float32, RGB scaled to 0..1, the picture letterboxed (uniform
  resize, grey 114 padding) into the square; ``S`` from the model, 640 when it is dynamic;
* output: ``[B, 4 + C, N]`` -- for each of N candidates the box centre x, y, width and height in
  input pixels, then C class scores (already sigmoid, no separate objectness). ``[B, N, 4 + C]``
  is accepted too (some exporters transpose it).

Persons are class 0, as in COCO and in one-class person models. Decoding keeps candidates whose
person score passes the threshold, converts them to corners, undoes the letterbox and runs NMS.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from gamyeon.detect.base import nms
from gamyeon.detect.onnx import nchw, session
from gamyeon.errors import ModelError
from gamyeon.types import Array

log = logging.getLogger(__name__)

DEFAULT_SIDE = 640
PAD_VALUE = 114
NMS_IOU = 0.45
PERSON_CLASS = 0


def letterbox(image: Array, side: int) -> tuple[Array, float, int, int]:
    """``image`` resized uniformly into a ``side`` x ``side`` square, centred on grey padding;
    returns the square and the (scale, left, top) needed to map boxes back."""
    height, width = image.shape[:2]
    scale = min(side / width, side / height)
    sw, sh = max(1, round(width * scale)), max(1, round(height * scale))
    left, top = (side - sw) // 2, (side - sh) // 2
    canvas = np.full((side, side, 3), PAD_VALUE, dtype=np.uint8)
    src = image if image.flags["C_CONTIGUOUS"] else np.ascontiguousarray(image)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    canvas[top : top + sh, left : left + sw] = cv2.resize(src, (sw, sh), interpolation=interp)
    return canvas, scale, left, top


def decode(output: Array, threshold: float, class_id: int = PERSON_CLASS, iou: float = NMS_IOU) -> Array:
    """One image's raw output ``[4 + C, N]`` -> rows ``[x1, y1, x2, y2, score]`` in input pixels."""
    if output.ndim != 2 or output.shape[0] < 5:
        raise ModelError(f"YOLO output: expected [4 + C, N] with C >= 1, got shape {list(output.shape)}")
    if class_id >= output.shape[0] - 4:
        raise ModelError(f"YOLO output has {output.shape[0] - 4} classes; person class {class_id} is not one")
    scores = output[4 + class_id]
    keep = scores >= threshold
    if not np.any(keep):
        return np.zeros((0, 5), dtype=np.float32)
    cx, cy, w, h = (output[i, keep] for i in range(4))
    rows = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, scores[keep]], axis=1).astype(np.float32)
    rows = rows[(rows[:, 2] > rows[:, 0]) & (rows[:, 3] > rows[:, 1])]
    return nms(rows, iou)


class YoloPerson:
    """A user-supplied YOLO-format ONNX person detector behind the same ``run`` as SSDLite."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        self.path = path
        self.session = session(path, threads)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[1] != 3:
            raise ModelError(
                f"{path}: expected one [B, 3, S, S] image input (YOLO export), got "
                f"{[(i.name, i.shape) for i in inputs]}"
            )
        if not outputs or len(outputs[0].shape) != 3:
            raise ModelError(f"{path}: expected a [B, 4 + C, N] output (YOLO export), got {[o.shape for o in outputs]}")
        self.input = inputs[0].name
        self.output = outputs[0].name
        h, w = inputs[0].shape[2], inputs[0].shape[3]
        fixed = [d for d in (h, w) if isinstance(d, int) and d > 0]
        self.side = max(fixed) if fixed else DEFAULT_SIDE
        batch = inputs[0].shape[0]
        self.batch = batch if isinstance(batch, int) and batch > 0 else 8
        log.debug("YOLO person model %s: input %d px, batch %d", path.name, self.side, self.batch)

    def run(self, crops: list[Array], threshold: float) -> list[Array]:
        """Persons on crops (any size); one ``N x 5`` array per crop, in crop pixels."""
        out: list[Array] = []
        for start in range(0, len(crops), self.batch):
            chunk = crops[start : start + self.batch]
            boxed = [letterbox(c, self.side) for c in chunk]
            blob = nchw([b[0] for b in boxed], 1.0 / 255.0)
            if self.batch and len(chunk) < self.batch and self.session.get_inputs()[0].shape[0] == self.batch:
                pad = np.zeros((self.batch - len(chunk), *blob.shape[1:]), dtype=np.float32)
                blob = np.concatenate([blob, pad])
            (raw,) = self.session.run([self.output], {self.input: blob})
            for i, (_, scale, left, top) in enumerate(boxed):
                rows = decode(self._candidates(raw[i]), threshold)
                if len(rows):
                    rows[:, [0, 2]] = (rows[:, [0, 2]] - left) / scale
                    rows[:, [1, 3]] = (rows[:, [1, 3]] - top) / scale
                out.append(rows)
        return out

    @staticmethod
    def _candidates(raw: Array) -> Array:
        """``[4 + C, N]`` whichever way the exporter laid it out (N is the larger dimension)."""
        return raw if raw.shape[0] <= raw.shape[1] else raw.T
