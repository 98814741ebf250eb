"""Face detection strategies on top of CenterFace: whole-image passes and tiled upscaled passes.

CenterFace finds faces from roughly 10 px upwards at the size it is shown. CCTV faces are often
5-20 px, so small faces need the image shown larger: the image is cut into overlapping tiles,
each upscaled, and all tiles go through the network in one batch. Large faces (which tiles would
cut) come from a whole-image pass. Results of all passes are merged by NMS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from gamyeon.detect import exposure
from gamyeon.detect.base import nms, to_detections
from gamyeon.detect.centerface import CenterFace, padded_size
from gamyeon.types import Array, Detection

KIND = "face"
MERGE_IOU = 0.3
WHOLE_MAX_PIXELS = 2_500_000


@dataclass(frozen=True, slots=True)
class TilePlan:
    """Where the tiles of one pass lie, in source pixels, and how much they are magnified."""

    factor: float
    tile: int  # tile side in source pixels
    origins: tuple[tuple[int, int], ...]


def plan_tiles(width: int, height: int, factor: float, tile_px: int = 640, overlap: int = 48) -> TilePlan:
    """Cover a ``width`` x ``height`` image with square tiles that become ``tile_px`` when magnified.

    Tiles overlap by ``overlap`` source pixels, so any face up to that size lies wholly inside at
    least one tile. The last row/column is aligned to the image edge, so all tiles have one size
    and can be batched.
    """
    tile = max(32, int(tile_px / factor))
    tile = min(tile, max(width, height))

    def starts(length: int) -> list[int]:
        if length <= tile:
            return [0]
        step = max(1, tile - overlap)
        n = math.ceil((length - tile) / step) + 1
        return sorted({min(i * step, length - tile) for i in range(n)})

    origins = tuple((x, y) for y in starts(height) for x in starts(width))
    return TilePlan(factor=factor, tile=tile, origins=origins)


class FaceDetector:
    """Faces on upright RGB images, by one or several CenterFace passes."""

    kinds = (KIND,)

    def __init__(self, model: CenterFace, threshold: float = 0.3, batch: int = 4) -> None:
        self.model = model
        self.threshold = threshold
        self.batch = batch

    def whole(self, image: Array, factor: float = 1.0) -> Array:
        """One pass over the whole image at ``factor`` x its size."""
        return self.model.detect(image, factor, self.threshold)

    def tiled(self, image: Array, plan: TilePlan) -> Array:
        """One pass over magnified tiles; rows in ``image`` pixels."""
        height, width = image.shape[:2]
        tw = min(plan.tile, width)
        th = min(plan.tile, height)
        out_w, out_h = max(1, round(tw * plan.factor)), max(1, round(th * plan.factor))
        pw, ph = padded_size(out_w, out_h)
        rows: list[Array] = []
        for start in range(0, len(plan.origins), self.batch):
            chunk = plan.origins[start : start + self.batch]
            canvases = []
            for x, y in chunk:
                crop = np.ascontiguousarray(image[y : y + th, x : x + tw])
                canvas = np.zeros((ph, pw, 3), dtype=np.uint8)
                canvas[:out_h, :out_w] = cv2.resize(crop, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
                canvases.append(canvas)
            for (x, y), found in zip(chunk, self.model.run(canvases, self.threshold), strict=True):
                if len(found):
                    found = found.copy()
                    found[:, [0, 2]] = found[:, [0, 2]] * (tw / out_w) + x
                    found[:, [1, 3]] = found[:, [1, 3]] * (th / out_h) + y
                    rows.append(found)
        return np.concatenate(rows) if rows else np.zeros((0, 5), dtype=np.float32)

    def magnified(self, image: Array, factor: float) -> Array:
        """The whole image at ``factor`` x, in one pass while that stays under ``WHOLE_MAX_PIXELS``
        (tiles overlap, so one pass is cheaper), else in batched tiles (bounded memory)."""
        height, width = image.shape[:2]
        if width * height * factor * factor <= WHOLE_MAX_PIXELS:
            return self.whole(image, factor)
        return self.tiled(image, plan_tiles(width, height, factor))

    def around(self, image: Array, boxes: list[tuple[float, float, float, float]]) -> Array:
        """Magnified crops around known small faces (``x1, y1, x2, y2`` in ``image`` pixels).

        Each crop is six face sizes wide (room for motion until the next detection frame) and
        magnified so the face is about 40 px, where CenterFace is reliable.
        """
        height, width = image.shape[:2]
        rows: list[Array] = []
        for x1, y1, x2, y2 in boxes:
            side = max(x2 - x1, y2 - y1, 1.0)
            crop_side = int(min(max(48.0, 6.0 * side), max(width, height)))
            factor = min(4.0, max(2.0, 40.0 / side), 320.0 / crop_side)
            cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
            left = int(min(max(cx - crop_side / 2.0, 0.0), max(width - crop_side, 0)))
            top = int(min(max(cy - crop_side / 2.0, 0.0), max(height - crop_side, 0)))
            crop = image[top : top + crop_side, left : left + crop_side]
            found = self.model.detect(np.ascontiguousarray(crop), factor, self.threshold)
            if len(found):
                found = found.copy()
                found[:, [0, 2]] += left
                found[:, [1, 3]] += top
                rows.append(found)
        return np.concatenate(rows) if rows else np.zeros((0, 5), dtype=np.float32)

    def merge(self, *passes: Array) -> list[Detection]:
        rows = [p for p in passes if len(p)]
        if not rows:
            return []
        return to_detections(KIND, nms(np.concatenate(rows), MERGE_IOU))

    def detect(self, image: Array) -> list[Detection]:
        """Thorough multi-scale detection for still images (speed matters less than recall)."""
        image = exposure.lifted(image, exposure.gain_for(image))  # see exposure.py: dark pictures
        height, width = image.shape[:2]
        longest = max(height, width)
        passes = []
        # Large faces: the whole image no larger than ~1280 px (CenterFace misses faces much
        # larger than its training crops), plus a downscaled view for close-ups.
        passes.append(self.whole(image, min(1.0, 1280 / longest)))
        if longest > 720:
            passes.append(self.whole(image, 640 / longest))
        # Small faces: native tiles, and 2x tiles while the image is not huge.
        if longest > 1280:
            passes.append(self.tiled(image, plan_tiles(width, height, 1.0)))
        if width * height <= 4_000_000:
            passes.append(self.tiled(image, plan_tiles(width, height, 2.0)))
        return self.merge(*passes)
