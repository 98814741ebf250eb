"""Thumbnails of flagged frames for the report, cut from the anonymized output only.

The report is evidence that must be safe to hand to a reviewer: it shows what the anonymized
output shows and never a pixel of the original, so these functions take only the output frame.
(Where the output itself leaks, the thumbnail shows that leak: the report then holds personal
data like the output does, which is why ``--no-thumbnails`` exists.)
"""

from __future__ import annotations

import cv2
import numpy as np

from gamyeon.types import Array, Box
from gamyeon.verify.result import Evidence, FrameCheck

OVERVIEW_WIDTH = 400
CROP_SIDE = 96
MAX_CROPS = 6
LEAK_COLOR = (230, 30, 30)  # RGB: a leak (uncovered or still detectable)
MATCH_COLOR = (255, 160, 0)  # RGB: covered but re-identifiable


def png(image: Array) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("PNG encoding failed")
    return bytes(data.tobytes())


def crop_size(width: int, height: int) -> tuple[int, int]:
    """The size a ``width`` x ``height`` crop is shown at: longer side ``CROP_SIDE``."""
    scale = CROP_SIDE / max(width, height, 1)
    return max(1, round(width * scale)), max(1, round(height * scale))


def crop(output: Array, box: Box) -> Array:
    """The region ``box`` of ``output``, resized so its longer side is ``CROP_SIDE`` (area
    averaging down, nearest neighbour up, so small faces stay as blocky as they are)."""
    height, width = output.shape[:2]
    x1, y1, x2, y2 = box.pixel_bounds(width, height)
    region = np.ascontiguousarray(output[y1:y2, x1:x2])
    if region.size == 0:
        return np.zeros((1, 1, 3), dtype=np.uint8)
    size = crop_size(x2 - x1, y2 - y1)
    interpolation = cv2.INTER_AREA if size[0] < x2 - x1 else cv2.INTER_NEAREST
    return np.asarray(cv2.resize(region, size, interpolation=interpolation))


def overview(output: Array, check: FrameCheck) -> Array:
    """The output frame at most ``OVERVIEW_WIDTH`` wide with flagged faces outlined."""
    height, width = output.shape[:2]
    scale = min(1.0, OVERVIEW_WIDTH / width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.ascontiguousarray(cv2.resize(output, size, interpolation=cv2.INTER_AREA))
    for face in check.faces:
        if not (face.leak or face.reidentifiable):
            continue
        color = LEAK_COLOR if face.leak else MATCH_COLOR
        p1 = (round(face.box.x1 * scale), round(face.box.y1 * scale))
        p2 = (round(face.box.x2 * scale), round(face.box.y2 * scale))
        cv2.rectangle(small, p1, p2, color, 2)
    return small


def make_evidence(output: Array, check: FrameCheck) -> Evidence:
    """Evidence of a flagged frame from ``output`` (the anonymized frame, upright RGB)."""
    flagged = [f.box for f in check.faces if f.leak or f.reidentifiable][:MAX_CROPS]
    return Evidence(
        frame=check.index,
        time=check.time,
        overview_png=png(overview(output, check)),
        crops=tuple((box, png(crop(output, box))) for box in flagged),
    )
