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
from gamyeon.detect.centerface import CenterFace, letterbox, padded_size, rescale
from gamyeon.types import Array, Detection

KIND = "face"
MERGE_IOU = 0.3
WHOLE_MAX_PIXELS = 2_500_000
#: refine crops per network call (a 320 x 320 input is ~1.2 MB as float32)
REFINE_BATCH = 16


@dataclass(frozen=True, slots=True)
class TilePlan:
    """Where the tiles of one pass lie, in source pixels, and how much they are magnified."""

    factor: float
    tile: int  # tile side in source pixels
    origins: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Crop:
    """A rectangle of source pixels (``right``/``bottom`` exclusive) shown magnified ``factor`` x."""

    left: int
    top: int
    right: int
    bottom: int
    factor: float

    @property
    def cost(self) -> float:
        """Pixels of the network input it becomes (the network's cost grows with them)."""
        return (self.right - self.left) * (self.bottom - self.top) * self.factor**2

    def union(self, other: Crop) -> Crop:
        """The smallest crop holding both, at the larger magnification: whatever either would
        show, it shows at least as large."""
        return Crop(
            min(self.left, other.left),
            min(self.top, other.top),
            max(self.right, other.right),
            max(self.bottom, other.bottom),
            max(self.factor, other.factor),
        )


def refine_crop(box: tuple[float, float, float, float], width: int, height: int) -> Crop:
    """The square crop of a ``width`` x ``height`` image that refines a small face ``box``
    (``x1, y1, x2, y2``): six face sizes wide, at least 48 px, centred on the face and shifted
    inside the image; magnified so the face is about 40 px (2x to 4x), the crop at most 320 px.
    """
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1, 1.0)
    crop_side = int(min(max(48.0, 6.0 * side), max(width, height)))
    factor = min(4.0, max(2.0, 40.0 / side), 320.0 / crop_side)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    left = int(min(max(cx - crop_side / 2.0, 0.0), max(width - crop_side, 0)))
    top = int(min(max(cy - crop_side / 2.0, 0.0), max(height - crop_side, 0)))
    return Crop(left, top, min(left + crop_side, width), min(top + crop_side, height), factor)


def refine_reach(side: float) -> float:
    """How far (pixels) the centre of a face of this size can move from where its refine crop
    was centred and the face still lie wholly inside the crop (away from the image edges)."""
    return (max(48.0, 6.0 * max(side, 1.0)) - max(side, 1.0)) / 2.0


def merge_crops(crops: list[Crop]) -> list[Crop]:
    """Join crops into their union wherever the union costs no more than the crops apart
    (``Crop.cost``): neighbours' crops and the crops of a face and of its stale former track
    overlap, and one larger input is cheaper than several. Every crop lies inside one of the
    returned crops, at its magnification or more, so nothing a crop would show is lost.

    Greedy, one sweep: a crop that grew is compared again with the crops after it (not with
    those before), so a crowd's crops cost O(n^2) comparisons, not O(n^3)."""
    out = list(crops)
    i = 0
    while i < len(out):
        j = i + 1
        while j < len(out):
            union = out[i].union(out[j])
            if union.cost <= out[i].cost + out[j].cost:
                out[i] = union
                del out[j]
                j = i + 1
            else:
                j += 1
        i += 1
    return out


def crops_around(boxes: list[tuple[float, float, float, float]], width: int, height: int) -> list[Crop]:
    """The refine crops (``refine_crop``) of small faces ``boxes`` in a ``width`` x ``height``
    image, overlapping ones joined (``merge_crops``)."""
    return merge_crops([refine_crop(box, width, height) for box in boxes])


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
        """Magnified crops around known small faces (``x1, y1, x2, y2`` in ``image`` pixels):
        ``refine`` on their ``crops_around``."""
        height, width = image.shape[:2]
        return self.refine(image, crops_around(boxes, width, height))

    def refine(self, image: Array, crops: list[Crop]) -> Array:
        """Faces in ``crops`` of ``image``, each magnified by its factor; rows in ``image`` pixels.

        A refine crop (``refine_crop``) is six face sizes wide (room for motion until the next
        detection frame), magnified so the face is about 40 px, where CenterFace is reliable.
        Crops that become the same network input size go through the network in one batch: one
        call per size costs about a fifth less than one call per crop.
        """
        groups: dict[tuple[int, int], list[tuple[Array, int, int, float, float]]] = {}
        for c in crops:
            crop = np.ascontiguousarray(image[c.top : c.bottom, c.left : c.right])
            ch, cw = crop.shape[:2]
            sw, sh = max(1, round(cw * c.factor)), max(1, round(ch * c.factor))
            canvas = letterbox(crop, sw, sh)
            groups.setdefault((canvas.shape[0], canvas.shape[1]), []).append((canvas, c.left, c.top, sw / cw, sh / ch))
        rows: list[Array] = []
        for group in groups.values():
            for start in range(0, len(group), REFINE_BATCH):
                chunk = group[start : start + REFINE_BATCH]
                found_all = self.model.run([c[0] for c in chunk], self.threshold)
                for (_, left, top, fx, fy), found in zip(chunk, found_all, strict=True):
                    if len(found):
                        found = rescale(found, fx, fy)
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
