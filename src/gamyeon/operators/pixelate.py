"""Pixelation (mosaic), the default: the region is reduced to a few blocks across.

Block size scales with the region so that every face, large or small, keeps at most ``blocks``
blocks across its longer side. Fixed-size mosaics (e.g. 16 px) leave large faces recognisable --
dlib's ResNet still matches them -- which is why the size is relative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import cv2

from gamyeon.operators.base import Operator, resize
from gamyeon.types import Array


@dataclass(frozen=True, slots=True)
class Pixelate(Operator):
    name: ClassVar[str] = "pixelate"
    blocks: int = 6
    min_block: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.blocks <= 64:
            raise ValueError(f"pixelate.blocks must be in 1..64, got {self.blocks}")
        if self.min_block < 1:
            raise ValueError(f"pixelate.min_block must be >= 1, got {self.min_block}")

    def block_size(self, height: int, width: int) -> int:
        return max(self.min_block, math.ceil(max(height, width) / self.blocks))

    def replacement(self, frame: Array, bounds: tuple[int, int, int, int]) -> Array:
        x1, y1, x2, y2 = bounds
        crop = frame[y1:y2, x1:x2]
        height, width = crop.shape[:2]
        block = self.block_size(height, width)
        small = resize(crop, max(1, math.ceil(width / block)), max(1, math.ceil(height / block)), cv2.INTER_AREA)
        return resize(small, width, height, cv2.INTER_NEAREST)

    def params(self) -> dict[str, object]:
        return {"blocks": self.blocks, "min_block": self.min_block}
