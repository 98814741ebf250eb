"""Mask regions on a decoded 4:2:0 frame, converting only the pixels around them to RGB.

Operators work on RGB. Converting the whole frame to RGB and back costs about 6 ms per 960x540
frame here (swscale, both ways), more than the rest of the masking together, and the round trip
rewrites every pixel of the frame, masked or not. Instead, each group of nearby regions gets one
RGB crop: the YUV samples under it are converted, the regions are sealed and masked on the crop
in upright coordinates, the crop is converted back and only the samples under the regions'
masks are pasted into the frame. Every other sample leaves as the decoder gave it.

Why it is exact: swscale's 4:2:0 to RGB conversion takes each chroma sample for its 2x2 luma
block, so a crop starting on even coordinates converts to the very pixels a whole-frame
conversion gives (tested). The way back filters chroma across one row at the crop's edge, so a
crop reaches ``MARGIN`` pixels past what is pasted. Operators that read around their region
(blur) say how far (``Operator.reach``); groups are formed so no region reads pixels another
group writes.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Callable, Sequence

import av
import numpy as np

from gamyeon.media.geometry import Rect, to_stored
from gamyeon.media.planes import Planes, Reformatters
from gamyeon.types import Array, Colour, Region

#: pixels converted past the pasted area (swscale's RGB -> 4:2:0 chroma filter touches one row)
MARGIN = 8
#: regions closer than this join one group: a group's chroma must not be filtered with samples
#: that another group has already masked and converted back (that gave 1-6 levels of difference)
GAP = 4
#: crop sizes are rounded up to this many pixels, so a moving face keeps the same size from frame
#: to frame and swscale's set-up (1-2 ms, more than converting a face) is reused
QUANTUM = 64
#: crop sizes whose swscale set-ups are kept
KEEP = 16

#: works on one group: (upright RGB crop, its left and top in the upright frame, the group's regions)
Work = Callable[[Array, int, int, list[Region]], None]


def shifted(region: Region, dx: int, dy: int) -> Region:
    """``region`` moved by whole pixels (into a crop's coordinates)."""
    return dataclasses.replace(region, box=region.box.shifted(dx, dy), mask=region.mask.shifted(dx, dy))


def _even(rect: Rect, width: int, height: int) -> Rect:
    """``rect`` grown to even coordinates, clipped to a ``width`` x ``height`` frame (both even)."""
    x1, y1, x2, y2 = rect
    return max(0, x1 - x1 % 2), max(0, y1 - y1 % 2), min(width, x2 + x2 % 2), min(height, y2 + y2 % 2)


def _grow(rect: Rect, by: int, width: int, height: int) -> Rect:
    x1, y1, x2, y2 = rect
    return max(0, x1 - by), max(0, y1 - by), min(width, x2 + by), min(height, y2 + by)


def _fit(rect: Rect, width: int, height: int) -> Rect:
    """``rect`` (even) grown to a size in whole ``QUANTUM``s (or the frame's), kept in the frame."""
    x1, y1, x2, y2 = rect
    w = min(width, -(-(x2 - x1) // QUANTUM) * QUANTUM)
    h = min(height, -(-(y2 - y1) // QUANTUM) * QUANTUM)
    x1, y1 = min(x1, width - w), min(y1, height - h)
    return x1, y1, x1 + w, y1 + h


def _overlap(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _union(a: Rect, b: Rect) -> Rect:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def groups(reads: Sequence[Rect]) -> list[tuple[Rect, list[int]]]:
    """Join overlapping rectangles: (bounding rectangle, indexes in input order) per group."""
    out: list[tuple[Rect, list[int]]] = [(r, [i]) for i, r in enumerate(reads)]
    merged = True
    while merged:
        merged = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                if _overlap(out[i][0], out[j][0]):
                    rect = _union(out[i][0], out[j][0])
                    out[i] = (rect, sorted(out[i][1] + out[j][1]))
                    del out[j]
                    merged = True
                    break
            if merged:
                break
    return out


class PlanarMasker:
    """Masks 4:2:0 frames of one video in their own planes (see the module docstring)."""

    def __init__(self, colour: Colour, rotation: int) -> None:
        self.colour = colour
        self.rotation = rotation
        self._reformatters: OrderedDict[tuple[int, int], Reformatters] = OrderedDict()

    def reformatters(self, width: int, height: int) -> Reformatters:
        """The conversions for crops of this size, kept for the ``KEEP`` sizes used last (each
        swscale context is set up for one size; a face and a plate alternate between two)."""
        key = (width, height)
        found = self._reformatters.get(key)
        if found is None:
            found = self._reformatters[key] = Reformatters()
            if len(self._reformatters) > KEEP:
                self._reformatters.popitem(last=False)
        else:
            self._reformatters.move_to_end(key)
        return found

    def mask(
        self,
        frame: av.VideoFrame,
        regions: Sequence[Region],
        reach: Callable[[Region, Rect], int],
        work: Work,
    ) -> av.VideoFrame:
        """``frame`` (``supported``; changed in place and returned) with ``work`` done on every
        group of ``regions``.

        ``regions`` are in upright coordinates (the frame turned by ``rotation`` degrees CCW);
        ``reach(region, bounds)`` is how many pixels around its clipped mask ``bounds`` the region's
        operator reads. ``work`` gets an upright RGB view of each group's crop, whose changes under
        the regions' masks are written back; it must not write elsewhere. Regions whose masks,
        reads or chroma samples come within ``GAP`` pixels of each other share one crop.
        """
        turns = (self.rotation // 90) % 4
        stored_w, stored_h = frame.width, frame.height
        width, height = (stored_h, stored_w) if turns % 2 else (stored_w, stored_h)
        masks: list[Rect] = []
        reads: list[Rect] = []
        kept: list[Region] = []
        for region in regions:
            bounds = region.mask.pixel_bounds(width, height)
            if bounds[2] <= bounds[0] or bounds[3] <= bounds[1]:
                continue
            kept.append(region)
            masks.append(_even(bounds, width, height))
            read = _union(masks[-1], _grow(bounds, reach(region, bounds), width, height))
            reads.append(_grow(read, GAP, width, height))
        planes = Planes(frame, self.colour, self.reformatters)
        for read, members in groups(reads):
            crop = _fit(_even(_grow(read, MARGIN, width, height), width, height), width, height)
            stored = to_stored(crop, turns, stored_w, stored_h)
            rgb, pixels = planes.rgb(stored)
            work(np.rot90(pixels, turns), crop[0], crop[1], [kept[i] for i in members])
            planes.paste(rgb, stored, [to_stored(masks[i], turns, stored_w, stored_h) for i in members])
        return frame
