"""Upright and stored frame coordinates: a frame is stored as decoded and shown turned by its
display matrix's rotation (degrees counter-clockwise, a multiple of 90)."""

from __future__ import annotations

import numpy as np

from gamyeon.types import Array

Rect = tuple[int, int, int, int]  # x1, y1, x2, y2 (exclusive), integer pixels


def rotate_view(image: Array, rotation: int) -> Array:
    """Upright view (no copy) of a frame whose display matrix rotates it ``rotation`` degrees CCW."""
    return np.rot90(image, (rotation // 90) % 4)


def upright_size(width: int, height: int, rotation: int) -> tuple[int, int]:
    return (height, width) if (rotation // 90) % 2 else (width, height)


def to_stored(rect: Rect, turns: int, width: int, height: int) -> Rect:
    """An upright-frame rectangle in the coordinates of the stored frame (``width`` x ``height``,
    stored size) whose upright view is ``np.rot90(stored, turns)``."""
    x1, y1, x2, y2 = rect
    turns %= 4
    if turns == 0:
        return rect
    if turns == 1:  # upright[i, j] = stored[j, W - 1 - i]
        return width - y2, x1, width - y1, x2
    if turns == 2:  # upright[i, j] = stored[H - 1 - i, W - 1 - j]
        return width - x2, height - y2, width - x1, height - y1
    return y1, height - x2, y2, height - x1  # upright[i, j] = stored[H - 1 - j, i]
