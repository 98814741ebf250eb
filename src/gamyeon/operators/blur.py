"""Gaussian blur with a kernel proportional to the region.

Light blurs (kernel 11-21 px) leave faces matchable by face recognition, and blur is partly
invertible, so the kernel is at least half the region's longer side and never below
``min_kernel``. The blur reads a margin of surrounding pixels so edges do not smear inwards
from reflected copies of the face itself; only the region's pixels are written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2

from gamyeon.operators.base import Operator, contiguous
from gamyeon.types import Array


def odd(value: float) -> int:
    k = max(1, round(value))
    return k if k % 2 == 1 else k + 1


@dataclass(frozen=True, slots=True)
class Blur(Operator):
    name: ClassVar[str] = "blur"
    ratio: float = 0.5
    min_kernel: int = 41

    def __post_init__(self) -> None:
        if not 0.0 < self.ratio <= 4.0:
            raise ValueError(f"blur.ratio must be in (0, 4], got {self.ratio}")
        if self.min_kernel < 1:
            raise ValueError(f"blur.min_kernel must be >= 1, got {self.min_kernel}")

    def kernel(self, height: int, width: int) -> int:
        return odd(max(self.min_kernel, self.ratio * max(height, width)))

    def reach(self, height: int, width: int) -> int:
        return self.kernel(height, width) // 2

    def replacement(self, frame: Array, bounds: tuple[int, int, int, int], seed: int | None = None) -> Array:
        x1, y1, x2, y2 = bounds
        fh, fw = frame.shape[:2]
        k = self.kernel(y2 - y1, x2 - x1)
        pad = self.reach(y2 - y1, x2 - x1)
        ex1, ey1, ex2, ey2 = max(0, x1 - pad), max(0, y1 - pad), min(fw, x2 + pad), min(fh, y2 + pad)
        blurred = cv2.GaussianBlur(contiguous(frame[ey1:ey2, ex1:ex2]), (k, k), 0, borderType=cv2.BORDER_REPLICATE)
        return blurred[y1 - ey1 : y2 - ey1, x1 - ex1 : x2 - ex1]

    def params(self) -> dict[str, object]:
        return {"ratio": self.ratio, "min_kernel": self.min_kernel}
