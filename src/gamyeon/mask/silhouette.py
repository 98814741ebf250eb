"""Which pixels of a person region a silhouette mask covers (``--person-mode silhouette``,
``[kinds.person] shape = "silhouette"``).

Body-box masking hides the whole person box, and with it the background around the person that
a model trained on the output could have used. A silhouette keeps that background, but a
segmentation network misses pixels (hair against a dark wall, a bag, motion blur), and a missed
face defeats the purpose. So the masked pixels are, within the region's mask box:

* the segmentation of the mask box crop (``detect.silhouette``), **dilated** by ``DILATION`` x the
  person's height: outlines, loose clothing, limbs the network cut off, and the few frames of
  motion between the box estimate and the person;
* **union the head area**: the head estimated from the person box (``detect.persons.head_box``)
  grown by as much as the mask box grows the person box (motion margins included), so a face is
  masked even where the segmentation misses it. Never fewer pixels than that.

It **fails closed**: when the model raises, or returns a mask too small to be a person (under
``MIN_SHARE`` of the crop: the network did not see one), or the person is too small to segment
(under ``MIN_HEIGHT`` pixels), the whole mask box is masked, as in body mode. Such fallbacks are
logged at debug level and are not failures: the frame is masked at least as much as asked.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from gamyeon.detect.persons import head_box
from gamyeon.detect.silhouette import default_model_path, load_segmenter
from gamyeon.policy import Policy
from gamyeon.types import Array, Box, Region

log = logging.getLogger(__name__)

#: dilation radius as a share of the person's height (~8 px on a 100 px tall person): covers the
#: outline pixels the network puts on the wrong side at 0.5 and a little movement
DILATION = 0.08
#: a segmentation covering less of the crop than this is no person: mask the whole box instead
#: (on PETS09 the network marks a median 26 % of a person's mask box; 7.5 % of the boxes fall below)
MIN_SHARE = 0.08
#: persons shorter than this (pixels) are masked whole: the network sees a blur of a few dozen
#: pixels magnified to 256, and a silhouette would save almost nothing
MIN_HEIGHT = 24.0
#: the dilation runs on a mask of at most this many pixels on its longer side: OpenCV's elliptic
#: dilation costs radius x pixels, 36 ms for a 600 px tall person and 160 ms at 1000 px; the
#: network's own answer has 256 px across anyway
DILATE_SIDE = 256


class Segmenter(Protocol):
    """What ``silhouette_mask`` needs of a segmentation model (``detect.silhouette.SelfieSegmenter``)."""

    def segment(self, image: Array, box: Box) -> Array: ...


def head_area(person: Box, mask: Box) -> Box:
    """The head of ``person`` grown, on each side, by as much as ``mask`` grows ``person``.

    The mask box is the person box scaled by the kind's mask scale plus motion margins (larger for
    interpolated and extended regions), so the head may be anywhere that far from its estimate.
    """
    head = head_box(person)
    top = max(0.0, person.y1 - mask.y1)
    return Box(
        head.x1 - max(0.0, person.x1 - mask.x1),
        head.y1 - top,
        head.x2 + max(0.0, mask.x2 - person.x2),
        head.y2 + top,
    )


def _fill(inside: Array, area: Box, origin: tuple[int, int]) -> None:
    """Set ``inside`` (a mask whose pixel (0, 0) is image pixel ``origin``) True over ``area``,
    rounded outwards to whole pixels."""
    ox, oy = origin
    height, width = inside.shape
    x1 = min(max(math.floor(area.x1) - ox, 0), width)
    y1 = min(max(math.floor(area.y1) - oy, 0), height)
    x2 = min(max(math.ceil(area.x2) - ox, x1), width)
    y2 = min(max(math.ceil(area.y2) - oy, y1), height)
    inside[y1:y2, x1:x2] = True


def silhouette_mask(image: Array, region: Region, segmenter: Segmenter) -> Array:
    """Boolean mask over ``region.mask.pixel_bounds`` of ``image``: the pixels to mask (see the
    module docstring). ``image`` is the upright RGB frame before any region is masked."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = region.mask.pixel_bounds(width, height)
    if x2 <= x1 or y2 <= y1:
        return np.zeros((max(y2 - y1, 0), max(x2 - x1, 0)), dtype=bool)
    whole = np.ones((y2 - y1, x2 - x1), dtype=bool)
    person = region.box
    if person.height < MIN_HEIGHT:
        log.debug("silhouette of %s: under %.0f px tall; masking the whole box", person, MIN_HEIGHT)
        return whole
    try:
        found = np.asarray(segmenter.segment(image, region.mask))
    except Exception as err:  # noqa: BLE001 - fail closed on any model failure: the whole box is masked
        log.debug("silhouette of %s %s: segmentation failed (%s); masking the whole box", region.kind, person, err)
        return whole
    if found.shape != whole.shape or found.dtype != np.bool_:
        log.debug(
            "silhouette of %s: mask %s %s for a %s box; masking the whole box",
            person,
            found.dtype,
            found.shape,
            whole.shape,
        )
        return whole
    share = float(found.mean())
    if share < MIN_SHARE:
        log.debug("silhouette of %s: %.3f of the box is person; masking the whole box", person, share)
        return whole
    inside = dilate(found, DILATION * person.height)
    _fill(inside, head_area(person, region.mask), (x1, y1))
    return inside


def dilate(mask: Array, radius: float) -> Array:
    """``mask`` grown by ``radius`` pixels (an elliptic kernel), at most ``DILATE_SIDE`` px across.

    A larger mask is shrunk first so that a low-resolution pixel is set when any pixel under it
    is, dilated there by two pixels more, enlarged back and joined with the original: every pixel
    of ``mask`` and of its exact dilation is kept, and ~6 % more near the outline (measured).
    """
    height, width = mask.shape
    scale = max(height, width) / DILATE_SIDE
    if scale <= 1.0:
        small, r = mask.astype(np.uint8), max(1, math.ceil(radius))
    else:
        size = (math.ceil(width / scale), math.ceil(height / scale))
        small = (cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)
        r = math.ceil(radius / scale) + 2  # + 2: enlarging back shifts by < 1 px; discrete ellipses differ
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    grown = cv2.dilate(small, kernel)
    if scale <= 1.0:
        return np.asarray(grown.astype(bool))
    return np.asarray(cv2.resize(grown, (width, height), interpolation=cv2.INTER_NEAREST).astype(bool) | mask)


def segmenter_for(policy: Policy, kinds: tuple[str, ...], path: Path | None = None) -> Segmenter | None:
    """The person segmenter (``path``, or the bundled model) when ``kinds`` mask persons by their
    silhouette, loaded once per process (``detect.silhouette.load_segmenter``); None otherwise."""
    return load_segmenter(path) if policy.uses_silhouette(kinds) else None


def model_paths(policy: Policy, kinds: tuple[str, ...], path: Path | None = None) -> dict[str, Path]:
    """``{"silhouette": file}`` when ``kinds`` mask persons by their silhouette (for the processing
    record), else nothing."""
    return {"silhouette": path or default_model_path()} if policy.uses_silhouette(kinds) else {}
