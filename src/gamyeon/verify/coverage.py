"""How much of a face found in the original is masked in the output.

Two sources, in order of preference:

- **Annotations** (``OUTPUT.regions.jsonl``): the union of the ``mask`` boxes of that frame; a
  frame marked ``fail_closed`` is masked whole. This is what the anonymizer says it did; the
  identity attack and the residual scan check that it did.
- **Pixel change**, when there are no annotations (any anonymizer's output): a pixel counts as
  changed when its grey level, averaged over 3 x 3 pixels, differs from the original's by more
  than a threshold; a face pixel counts as masked when a changed pixel lies within 5 % of the
  face's side (masks change most pixels, so small unchanged gaps inside a pixelated block do not
  make a masked face look uncovered). The threshold is 3x the frame's 75th percentile of that
  difference (the encoder's noise: masks cover a small part of a frame), at least 8 and at most
  20 grey levels. Calibrated on the demo clip re-encoded at CRF 18: an untouched face showed at
  most 1 % changed pixels; gamyeon's pixelate, blur and fill changed 74-99 % before the 5 %
  closing and 100 % after; a light Gaussian blur (kernel 11) 3-60 % (before) -- which is why the
  identity attack, not coverage, is what catches a light blur.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from gamyeon.types import Array, Box

MIN_THRESHOLD = 8.0
MAX_THRESHOLD = 20.0
NOISE_FACTOR = 3.0
#: a changed pixel within this fraction of the face side covers its neighbours
CLOSE_FRACTION = 0.05


def mask_coverage(face: Box, masks: Sequence[Box], width: int, height: int) -> float:
    """Fraction of ``face`` (clipped to the frame) inside the union of ``masks``."""
    x1, y1, x2, y2 = face.pixel_bounds(width, height)
    if x2 <= x1 or y2 <= y1:
        return 1.0
    grid = np.zeros((y2 - y1, x2 - x1), dtype=bool)
    for mask in masks:
        mx1, my1, mx2, my2 = mask.pixel_bounds(width, height)
        ix1, iy1, ix2, iy2 = max(mx1, x1), max(my1, y1), min(mx2, x2), min(my2, y2)
        if ix2 > ix1 and iy2 > iy1:
            grid[iy1 - y1 : iy2 - y1, ix1 - x1 : ix2 - x1] = True
    return float(grid.mean())


class PixelChange:
    """The smoothed grey-level difference of one frame pair and its noise threshold."""

    def __init__(self, original: Array, output: Array) -> None:
        a = cv2.cvtColor(np.ascontiguousarray(original), cv2.COLOR_RGB2GRAY).astype(np.float32)
        b = cv2.cvtColor(np.ascontiguousarray(output), cv2.COLOR_RGB2GRAY).astype(np.float32)
        self.diff = cv2.blur(np.abs(a - b), (3, 3))
        noise = float(np.percentile(self.diff, 75))
        self.threshold = min(MAX_THRESHOLD, max(MIN_THRESHOLD, NOISE_FACTOR * noise))

    def coverage(self, face: Box) -> float:
        height, width = self.diff.shape
        x1, y1, x2, y2 = face.pixel_bounds(width, height)
        if x2 <= x1 or y2 <= y1:
            return 1.0
        radius = max(1, round(CLOSE_FRACTION * min(x2 - x1, y2 - y1)))
        # look a radius beyond the box so changes just outside it count for its border pixels
        px1, py1 = max(0, x1 - radius), max(0, y1 - radius)
        px2, py2 = min(width, x2 + radius), min(height, y2 + radius)
        changed = (self.diff[py1:py2, px1:px2] > self.threshold).astype(np.uint8)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        near = cv2.dilate(changed, kernel)
        return float(near[y1 - py1 : y2 - py1, x1 - px1 : x2 - px1].mean())
