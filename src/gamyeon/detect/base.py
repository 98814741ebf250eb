"""The detector contract shared by every kind.

Detectors never import operators or the pipeline; they only turn an RGB image into
``Detection`` values (the presidio split between analyzer and anonymizer).
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

from gamyeon.types import Array, Box, Detection


class Detector(Protocol):
    """Finds regions of some kinds on one upright RGB image (H x W x 3 uint8)."""

    kinds: tuple[str, ...]

    def detect(self, image: Array) -> list[Detection]: ...


class FrameDetector(Detector, Protocol):
    """A detector of another kind than faces (persons, plates/text) as ``pipeline.frame.FrameWork`` uses
    it: ``detect`` is the thorough still-image pass, ``detect_frame`` the budgeted pass run on a
    video frame when the kind's schedule says so. Both raise on failure, so the pipeline can
    fail the frame closed; neither changes the image."""

    def detect_frame(self, image: Array) -> list[Detection]: ...


def nms(boxes: Array, iou_threshold: float) -> Array:
    """Non-maximum suppression over rows ``[x1, y1, x2, y2, score]``; returns kept rows.

    Uses OpenCV's implementation rather than a home-made loop.
    """
    if len(boxes) == 0:
        return boxes.reshape(0, 5)
    xywh = np.stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1)
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), boxes[:, 4].tolist(), 0.0, iou_threshold)
    idx = np.asarray(keep, dtype=np.int64).reshape(-1)
    return boxes[np.sort(idx)]


def to_detections(kind: str, rows: Array) -> list[Detection]:
    out: list[Detection] = []
    for x1, y1, x2, y2, score in rows.tolist():
        if x2 > x1 and y2 > y1:
            out.append(Detection(kind=kind, box=Box(x1, y1, x2, y2), score=float(score)))
    return out
