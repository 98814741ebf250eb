"""The operator contract: change pixels inside one region of a frame, and nowhere else.

Operators mutate the frame they are given in place (frames are owned by the pipeline and never
shared), which avoids copying a full frame per region. Everything outside the region's pixel
bounds -- and, for ellipses, outside the ellipse -- is left byte-identical; a property test
holds every operator to that.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import Enum
from typing import ClassVar

import cv2
import numpy as np

from gamyeon.types import Box


class Shape(str, Enum):
    BOX = "box"
    ELLIPSE = "ellipse"


def ellipse_mask(height: int, width: int) -> np.ndarray:
    """Boolean mask of the ellipse inscribed in a ``height`` x ``width`` box.

    Pixel centres are tested against the ellipse equation, so the mask is symmetric and never
    empty for a non-empty box.
    """
    if height <= 0 or width <= 0:
        return np.zeros((max(height, 0), max(width, 0)), dtype=bool)
    ys = (np.arange(height, dtype=np.float32) + 0.5 - height / 2.0) / (height / 2.0)
    xs = (np.arange(width, dtype=np.float32) + 0.5 - width / 2.0) / (width / 2.0)
    mask = ys[:, None] ** 2 + xs[None, :] ** 2 <= 1.0
    mask[height // 2, width // 2] = True
    return mask


class Operator(ABC):
    """Replaces the pixels of a region with something that no longer identifies anyone."""

    name: ClassVar[str]

    def apply(self, frame: np.ndarray, box: Box, shape: Shape = Shape.BOX) -> None:
        """Mask ``box`` of ``frame`` (H x W x 3 uint8, RGB) in place."""
        height, width = frame.shape[:2]
        x1, y1, x2, y2 = box.pixel_bounds(width, height)
        if x2 <= x1 or y2 <= y1:
            return
        crop = frame[y1:y2, x1:x2]
        replaced = self.replacement(frame, (x1, y1, x2, y2))
        if shape is Shape.ELLIPSE:
            inside = ellipse_mask(y2 - y1, x2 - x1)
            crop[inside] = replaced[inside]
        else:
            crop[...] = replaced

    @abstractmethod
    def replacement(self, frame: np.ndarray, bounds: tuple[int, int, int, int]) -> np.ndarray:
        """The new pixels for ``frame[y1:y2, x1:x2]`` (same shape, uint8). Must not mutate ``frame``."""

    def params(self) -> dict[str, object]:
        """The operator's parameters, for reports and the processing record."""
        return {}


def contiguous(crop: np.ndarray) -> np.ndarray:
    """OpenCV needs C-contiguous input; rotated frames are strided views."""
    return crop if crop.flags["C_CONTIGUOUS"] else np.ascontiguousarray(crop)


def resize(image: np.ndarray, width: int, height: int, interpolation: int) -> np.ndarray:
    return cv2.resize(contiguous(image), (width, height), interpolation=interpolation)
