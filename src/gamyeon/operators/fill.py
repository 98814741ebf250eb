"""Solid fill: the strongest operator, nothing of the original survives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from gamyeon.operators.base import Operator
from gamyeon.types import Array


@dataclass(frozen=True, slots=True)
class Fill(Operator):
    name: ClassVar[str] = "fill"
    color: tuple[int, int, int] = (0, 0, 0)

    def __post_init__(self) -> None:
        if len(self.color) != 3 or not all(isinstance(c, int) and 0 <= c <= 255 for c in self.color):
            raise ValueError(f"fill.color must be three integers 0..255, got {self.color!r}")

    def replacement(self, frame: Array, bounds: tuple[int, int, int, int], seed: int | None = None) -> Array:
        x1, y1, x2, y2 = bounds
        out = np.empty((y2 - y1, x2 - x1, frame.shape[2]), dtype=frame.dtype)
        out[...] = np.asarray(self.color, dtype=frame.dtype)
        return out

    def params(self) -> dict[str, object]:
        return {"color": list(self.color)}
