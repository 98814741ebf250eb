"""Person detection strategy on top of a square-input model (SSDLite by default, or the user's
YOLO export), and where a person's head is.

SSDLite sees 300 x 300 pixels. A whole CCTV frame squeezed to that size leaves a 60 px pedestrian
at 25-40 px, below what the network finds reliably, so -- as for faces -- passes are merged:

* **base** (every person detection frame): the whole frame (large, near persons) and overlapping
  square tiles of 0.6 x the frame's shorter side (small, far persons);
* **discovery** (about once per second, frames of 1080p and up): finer tiles, so persons under
  ~100 px tall on 1080p crowds are found; tracks it starts reach back to the previous discovery;
* **refine** (every detection frame): a magnified crop around each known person too small for the
  base tiles, so a person found by discovery keeps being observed at the detection rate.

Tiles cut large persons into parts the network also reports (legs, a torso). A box that ends on a
tile border inside the frame is joined with the box across that border (``join_cut``): the two
halves of a person cut by the border become one box, and on close views a fragment no longer
gets a head estimate of its own on the hair or the background. Then a box lying almost wholly
inside a larger one and as wide or as tall as it is such a part and is dropped (``drop_parts``),
while a smaller person standing behind someone (narrower *and* shorter) stays. A fragment with
no cut fragment across its border is kept as it is: a part of a person is still masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from gamyeon.detect.base import nms, to_detections
from gamyeon.detect.faces import TilePlan, plan_tiles
from gamyeon.types import Array, Box, Detection

KIND = "person"
MERGE_IOU = 0.5
#: base tile side in frame pixels: this share of the shorter side, at least BASE_MIN (a 960x540
#: frame gets 8 base tiles, 1080p to 8K ~10; their smallest persons come from the discovery tiles)
TILE_SHARE = 0.6
#: base tiles of small frames (shorter side < 500 px) are the model's 300 px, not magnified: 6
#: tiles at 640x360 instead of 8 of 240 px, and persons found as many (``measurements.md``);
#: persons under 0.3 x 300 px are then refined with a magnified crop of their own
BASE_MIN = 300
#: discovery (finer) tiles are made only when at least this large
TILE_MIN = 240
TILE_OVERLAP = 0.25  # of the tile side: persons up to a quarter tile tall are whole in some tile
#: a person shorter than this share of the base tile is refined with a magnified crop
SMALL_SHARE = 0.3
#: refine crop side as a multiple of the person's height (room to move until the next detection)
REFINE_CONTEXT = 2.5
#: part suppression: share of a box inside a larger one, and the width / height ratios that make
#: it a part of that person rather than someone smaller behind
PART_INSIDE = 0.85
PART_WIDTH, PART_HEIGHT = 0.6, 0.8

#: head geometry, as fractions of the person box (see ``head_box``)
HEAD_HEIGHT = 0.2  # of the person's height, for a standing person (head ~1/7.5 of body height)
HEAD_HEIGHT_OF_WIDTH = 0.45  # of the box width, for boxes cut short (upper body only, sitting)
HEAD_WIDTH = 0.6  # of the box width
HEAD_WIDTH_OF_HEIGHT = 0.18  # of the box height: thin side-on walkers still get a head-wide box
HEAD_ABOVE = 0.03  # of the height, above the box top: boxes are often tight on the hair


@dataclass(frozen=True, slots=True)
class Crop:
    """A model-sized square and the map from its pixels back to the image's."""

    square: Array
    x0: float
    y0: float
    sx: float
    sy: float


class PersonModel(Protocol):
    """A network that finds persons on square crops; ``side`` is the crop size it wants and
    ``batch`` how many crops one run should get."""

    side: int
    batch: int

    def run(self, crops: list[Array], threshold: float) -> list[Array]: ...


def head_box(person: Box) -> Box:
    """Where the head of a person detected as ``person`` is, generously.

    A standing person's head is the top ~13 % of the body; detector boxes are loose, arms and
    bags widen them, and walkers lean, so the estimate takes the top 20 % (more for boxes that
    are wide for their height, i.e. persons cut by the frame or sitting), 60 % of the width
    centred (at least 18 % of the height, at most the box width), starting a little above the
    box. It always lies within the box's columns and its top half (plus the small margin above).
    """
    w, h = person.width, person.height
    head_h = min(h * 0.5, max(HEAD_HEIGHT * h, HEAD_HEIGHT_OF_WIDTH * w))
    head_w = min(w, max(HEAD_WIDTH * w, HEAD_WIDTH_OF_HEIGHT * h))
    cx = (person.x1 + person.x2) / 2.0
    top = person.y1 - HEAD_ABOVE * h
    return Box(cx - head_w / 2.0, top, cx + head_w / 2.0, person.y1 + head_h)


#: a face whose longer side is under this share of a head estimate's is someone farther away
#: (about 4x the distance), not that person's face
OWN_MIN_SIZE = 0.25
#: a head estimate this much (share of its area) under a face's mask is that face's head
OWN_COVERED = 0.5
#: two successive detections of one person track agree when the box moved and changed width by
#: at most this share of its size per detection interval (a jogging person at ~4 detections/s)
AGREE_STEP = 0.5


def _overlap(a: Box, b: Box) -> float:
    ix = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    iy = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    return ix * iy


def face_owns_head(face: Box, face_mask: Box, head: Box) -> bool:
    """Whether a face region (detector box ``face``, masked area ``face_mask``) is the face of the
    person whose head estimate is ``head``, so the head fallback is not needed.

    The face must be of a plausible size for that head (``OWN_MIN_SIZE``: a small face inside a
    near person's generous head estimate belongs to someone behind, whose face does not protect
    the near person), and either its centre lies in the head estimate or its mask already covers
    most of the estimate (``OWN_COVERED``; a person box that starts at the shoulders puts the face
    just below its head estimate). A neighbour's face passes neither test: heads of people side by
    side are about two face widths apart, beyond a head estimate's half-width.
    """
    if max(face.width, face.height) < OWN_MIN_SIZE * max(head.width, head.height):
        return False
    cx, cy = face.center
    if head.x1 <= cx <= head.x2 and head.y1 <= cy <= head.y2:
        return True
    return head.area > 0 and _overlap(face_mask, head) >= OWN_COVERED * head.area


def detections_agree(a: Box, b: Box, intervals: float) -> bool:
    """Whether two detections ``intervals`` detection periods apart can be one person: the centre
    moved, and the width changed, by at most ``AGREE_STEP`` of the box size per interval."""
    size = max(a.width, a.height, b.width, b.height, 1.0)
    (ax, ay), (bx, by) = a.center, b.center
    step = (float(np.hypot(ax - bx, ay - by)) + abs(a.width - b.width)) / size
    return step <= AGREE_STEP * max(1.0, intervals)


def base_tile(width: int, height: int) -> int:
    return int(max(BASE_MIN, min(width, height) * TILE_SHARE))


def tile_plan(width: int, height: int, side: int, tile: int | None = None) -> TilePlan:
    """Square tiles (default: 0.6 x the shorter side), each shown to the model at ``side`` px."""
    tile = tile or base_tile(width, height)
    return plan_tiles(width, height, side / tile, tile_px=side, overlap=int(tile * TILE_OVERLAP))


def fine_tile(width: int, height: int) -> int | None:
    """Tile side of the discovery pass: half the base tile, when that is still >= TILE_MIN."""
    tile = base_tile(width, height) // 2
    return tile if tile >= TILE_MIN else None


#: a box edge this close to an interior tile border (share of the tile side) was cut by it
CUT_MARGIN = 0.05
#: boxes across a border are one person when their extents along it overlap this much (of the smaller)
CUT_ALONG = 0.5
#: only boxes at least this share of the crop long across the border count as cut (close views)
CUT_FILL = 0.5


def cut_sides(
    rows: Array, owners: Array, crops: Sequence[tuple[float, float, float, float]], width: int, height: int
) -> Array:
    """Which sides (left, top, right, bottom) of each row end on a border of its crop that lies
    inside the frame *and* belong to a box at least ``CUT_FILL`` of the crop long across that
    border: a large person the crop could not hold. Smaller boxes touching a border are left
    alone; the tile overlap shows them whole in a neighbouring tile (measured: joining those too
    cost PETS09 0.7 % of its covered heads)."""
    sides = np.zeros((len(rows), 4), dtype=bool)
    for i, (row, owner) in enumerate(zip(rows, owners, strict=True)):
        x0, y0, w, h = crops[int(owner)]
        margin = CUT_MARGIN * max(w, h)
        tall, wide = row[3] - row[1] >= CUT_FILL * h, row[2] - row[0] >= CUT_FILL * w
        sides[i] = (
            wide and x0 > 0 and row[0] <= x0 + margin,
            tall and y0 > 0 and row[1] <= y0 + margin,
            wide and x0 + w < width and row[2] >= x0 + w - margin,
            tall and y0 + h < height and row[3] >= y0 + h - margin,
        )
    return sides


def _along(a1: float, a2: float, b1: float, b2: float) -> float:
    inter = min(a2, b2) - max(a1, b1)
    return inter / max(1e-6, min(a2 - a1, b2 - b1))


def join_cut(rows: Array, sides: Array, reach: float) -> Array:
    """Join each box cut by a tile border with the boxes across that border that are cut on the
    facing side, overlap it along the border (``CUT_ALONG``) and reach within ``reach`` pixels of
    its cut edge: the halves of one person that two tiles each saw a part of. Rows keep their
    order; a joined row takes the larger score. Boxes that are not cut are never joined, so two
    whole persons one above the other stay two (and keep a head each)."""
    out = rows.copy()
    for i in range(len(rows)):
        if not sides[i].any():
            continue
        x1, y1, x2, y2 = (float(v) for v in rows[i, :4])
        for j in range(len(rows)):
            if j == i or not sides[j].any():
                continue
            bx1, by1, bx2, by2 = (float(v) for v in rows[j, :4])
            vertical = _along(x1, x2, bx1, bx2) >= CUT_ALONG
            horizontal = _along(y1, y2, by1, by2) >= CUT_ALONG
            across = (
                (sides[i, 3] and sides[j, 1] and vertical and by1 <= y2 + reach and by2 > y2)
                or (sides[i, 1] and sides[j, 3] and vertical and by2 >= y1 - reach and by1 < y1)
                or (sides[i, 2] and sides[j, 0] and horizontal and bx1 <= x2 + reach and bx2 > x2)
                or (sides[i, 0] and sides[j, 2] and horizontal and bx2 >= x1 - reach and bx1 < x1)
            )
            if across:
                out[i, :4] = (min(out[i, 0], bx1), min(out[i, 1], by1), max(out[i, 2], bx2), max(out[i, 3], by2))
                out[i, 4] = max(out[i, 4], rows[j, 4])
    return out


def drop_parts(rows: Array) -> Array:
    """Drop boxes that are parts of a larger box's person (see the module docstring)."""
    if len(rows) < 2:
        return rows
    areas = (rows[:, 2] - rows[:, 0]) * (rows[:, 3] - rows[:, 1])
    order = np.argsort(-areas)
    kept: list[int] = []
    for i in order:
        x1, y1, x2, y2 = rows[i, :4]
        w, h = x2 - x1, y2 - y1
        part = False
        for j in kept:
            px1, py1, px2, py2 = rows[j, :4]
            ix = max(0.0, min(x2, px2) - max(x1, px1))
            iy = max(0.0, min(y2, py2) - max(y1, py1))
            if ix * iy >= PART_INSIDE * w * h and (w >= PART_WIDTH * (px2 - px1) or h >= PART_HEIGHT * (py2 - py1)):
                part = True
                break
        if not part:
            kept.append(int(i))
    return rows[np.sort(np.asarray(kept, dtype=np.int64))]


class PersonDetector:
    """Persons on upright RGB images by a whole-image pass plus a tiled pass."""

    kinds: tuple[str, ...] = (KIND,)

    def __init__(self, model: PersonModel, threshold: float = 0.25) -> None:
        self.model = model
        self.threshold = threshold
        self.batch = max(1, model.batch)

    def _square(self, crop: Array) -> Array:
        side = self.model.side
        src = crop if crop.flags["C_CONTIGUOUS"] else np.ascontiguousarray(crop)
        if src.shape[0] == side and src.shape[1] == side:
            return src
        interp = cv2.INTER_AREA if max(src.shape[:2]) > side else cv2.INTER_LINEAR
        return np.asarray(cv2.resize(src, (side, side), interpolation=interp))

    def run_squares(self, items: list[Crop]) -> Array:
        """Run the model on ``side`` x ``side`` squares, in batches; each item says how its pixels
        map back to the image (``x0 + u * sx``, ``y0 + v * sy``). Rows in image pixels."""
        return self.run_owned(items)[0]

    def run_owned(self, items: list[Crop]) -> tuple[Array, Array]:
        """``run_squares``, and for each row the index of the item it came from."""
        rows: list[Array] = []
        owners: list[Array] = []
        for start in range(0, len(items), self.batch):
            chunk = items[start : start + self.batch]
            found_all = self.model.run([c.square for c in chunk], self.threshold)
            for k, (c, found) in enumerate(zip(chunk, found_all, strict=True)):
                if len(found):
                    found = found.copy()
                    found[:, [0, 2]] = found[:, [0, 2]] * c.sx + c.x0
                    found[:, [1, 3]] = found[:, [1, 3]] * c.sy + c.y0
                    rows.append(found)
                    owners.append(np.full(len(found), start + k, dtype=np.int64))
        if not rows:
            return np.zeros((0, 5), dtype=np.float32), np.zeros(0, dtype=np.int64)
        return np.concatenate(rows), np.concatenate(owners)

    def crop(self, image: Array, x: int, y: int, w: int, h: int) -> Crop:
        """The region ``(x, y, w, h)`` of ``image`` stretched to the model's square (as SSD was trained)."""
        side = self.model.side
        return Crop(self._square(image[y : y + h, x : x + w]), float(x), float(y), w / side, h / side)

    def tiles(self, image: Array, plan: TilePlan) -> list[Crop]:
        """The tiles of ``plan`` as model squares. Downscaling tiles are cut from one downscaled
        copy of the image instead of being resized one by one (an 8K frame's 2160 px tiles cost
        ~0.2 s each to resize separately)."""
        height, width = image.shape[:2]
        tw, th = min(plan.tile, width), min(plan.tile, height)
        side = self.model.side
        factor = side / plan.tile
        if factor >= 1.0 or tw != th:
            return [self.crop(image, x, y, tw, th) for x, y in plan.origins]
        sw, sh = max(side, round(width * factor)), max(side, round(height * factor))
        src = image if image.flags["C_CONTIGUOUS"] else np.ascontiguousarray(image)
        scaled = cv2.resize(src, (sw, sh), interpolation=cv2.INTER_AREA)
        fx, fy = width / sw, height / sh
        out = []
        for x, y in plan.origins:
            u = min(round(x / fx), sw - side)
            v = min(round(y / fy), sh - side)
            square = np.ascontiguousarray(scaled[v : v + side, u : u + side])
            out.append(Crop(square, u * fx, v * fy, fx, fy))
        return out

    def passes(self, image: Array, plans: list[TilePlan], extra: Sequence[tuple[int, int, int, int]] = ()) -> Array:
        height, width = image.shape[:2]
        items = [self.crop(image, 0, 0, width, height)]
        regions: list[tuple[float, float, float, float]] = [(0.0, 0.0, float(width), float(height))]
        for plan in plans:
            tw, th = min(plan.tile, width), min(plan.tile, height)
            if (tw, th) != (width, height):
                items.extend(self.tiles(image, plan))
                regions.extend((float(x), float(y), float(tw), float(th)) for x, y in plan.origins)
        items.extend(self.crop(image, *e) for e in extra)
        regions.extend((float(x), float(y), float(w), float(h)) for x, y, w, h in extra)
        rows, owners = self.run_owned(items)
        if not len(rows):
            return rows
        sides = cut_sides(rows, owners, regions, width, height)
        # duplicates go first (the sides ride along as extra columns), then cut halves are joined
        kept = nms(np.concatenate([rows[:, :5], sides.astype(rows.dtype)], axis=1), MERGE_IOU)
        reach = CUT_MARGIN * max(r[2] for r in regions[1:]) if len(regions) > 1 else 0.0
        return drop_parts(join_cut(kept[:, :5], kept[:, 5:9] > 0.5, 2.0 * reach))

    def is_small(self, person: Box, width: int, height: int) -> bool:
        """Whether a person this large is too small for the base tiles to keep finding."""
        return person.height < SMALL_SHARE * base_tile(width, height)

    @staticmethod
    def around(person: Box, width: int, height: int) -> tuple[int, int, int, int]:
        """A square crop ``(x, y, w, h)`` centred on a small person, with room to move."""
        side = int(min(max(person.height * REFINE_CONTEXT, 64.0), width, height))
        cx, cy = person.center
        x = int(min(max(cx - side / 2.0, 0.0), width - side))
        y = int(min(max(cy - side / 2.0, 0.0), height - side))
        return x, y, side, side

    def whole(self, image: Array) -> list[Detection]:
        """The whole-image pass alone (what one 300 x 300 look at the frame finds)."""
        height, width = image.shape[:2]
        return to_detections(KIND, self.run_squares([self.crop(image, 0, 0, width, height)]))

    def detect_frame(self, image: Array, discovery: bool = False, small: Sequence[Box] = ()) -> list[Detection]:
        """Video frames: whole frame and base tiles; with ``discovery`` also the finer tiles; a
        magnified crop around each of the ``small`` persons already tracked."""
        height, width = image.shape[:2]
        plans = [tile_plan(width, height, self.model.side)]
        fine = fine_tile(width, height)
        if discovery and fine is not None:
            plans.append(tile_plan(width, height, self.model.side, fine))
        extra = [self.around(b, width, height) for b in small]
        return to_detections(KIND, self.passes(image, plans, extra))

    def detect(self, image: Array) -> list[Detection]:
        """Still images: the video passes with discovery tiles always on."""
        return self.detect_frame(image, discovery=True)
