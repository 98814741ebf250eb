"""Run each region's operator on an upright RGB view of a frame or of a crop of it."""

from __future__ import annotations

from gamyeon.detect.silhouette import load_segmenter
from gamyeon.mask.silhouette import Segmenter, silhouette_mask
from gamyeon.operators import Shape
from gamyeon.policy import Policy
from gamyeon.types import Array, Region


def apply_regions(view: Array, regions: list[Region], policy: Policy, segmenter: Segmenter | None = None) -> None:
    """Run each region's operator on the upright ``view`` (in place).

    Silhouette regions (``mask.silhouette``) are segmented first, all of them on the untouched
    picture (a face or a neighbour already pixelated would hide the person from the network), then
    every region is masked in order. ``segmenter`` None: the bundled model, when a region needs one.
    """
    inside: dict[int, Array] = {}
    for i, region in enumerate(regions):
        if policy.for_kind(region.kind).shape is Shape.SILHOUETTE:
            segmenter = segmenter or load_segmenter()
            inside[i] = silhouette_mask(view, region, segmenter)
    for i, region in enumerate(regions):
        kp = policy.for_kind(region.kind)
        seed = policy.mask_seed(region)
        if i in inside:
            kp.operator.apply_inside(view, region.mask, inside[i], seed)
        else:
            kp.operator.apply(view, region.mask, kp.shape, seed)
