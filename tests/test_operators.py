"""Property tests for the masking operators: they change pixels inside their region and nowhere else.

Frames, boxes and operator parameters are random (hypothesis); boxes may lie partly or wholly
outside the frame, have zero size or fractional coordinates. The reference for "the region" is
``Box.pixel_bounds`` and, for ellipses, ``ellipse_mask`` -- the same definitions the operators use,
whose own properties (inside the frame, covering every touched pixel) are tested here too.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gamyeon.operators import REGISTRY, Blur, Fill, Operator, Pixelate, Shape, ellipse_mask
from gamyeon.types import Box

SETTINGS = settings(max_examples=150, deadline=None)

sizes = st.integers(min_value=1, max_value=64)
coords = st.floats(min_value=-80.0, max_value=150.0, allow_nan=False, allow_infinity=False)
extents = st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=120.0, allow_nan=False))
shapes = st.sampled_from(list(Shape))


@st.composite
def boxes(draw: st.DrawFn) -> Box:
    """Boxes anywhere around a <= 64 px frame: inside, straddling an edge, outside, empty."""
    x1, y1 = draw(coords), draw(coords)
    if draw(st.booleans()):  # integer corners are the common case; keep them well represented
        x1, y1 = float(round(x1)), float(round(y1))
    return Box(x1, y1, x1 + draw(extents), y1 + draw(extents))


colors = st.tuples(*(st.integers(0, 255),) * 3)
operators: st.SearchStrategy[Operator] = st.one_of(
    st.builds(Pixelate, blocks=st.integers(1, 64), min_block=st.integers(1, 12)),
    st.builds(Blur, ratio=st.floats(0.05, 4.0), min_kernel=st.integers(1, 61)),
    st.builds(Fill, color=colors),
)


def noise(height: int, width: int, seed: int) -> np.ndarray:
    """A random RGB frame: every pixel differs from its neighbours, so any write is visible."""
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def region_mask(frame_shape: tuple[int, ...], box: Box, shape: Shape) -> np.ndarray:
    """Boolean H x W mask of the pixels an operator may change for ``box`` and ``shape``."""
    height, width = frame_shape[:2]
    x1, y1, x2, y2 = box.pixel_bounds(width, height)
    mask = np.zeros((height, width), dtype=bool)
    if x2 > x1 and y2 > y1:
        mask[y1:y2, x1:x2] = ellipse_mask(y2 - y1, x2 - x1) if shape is Shape.ELLIPSE else True
    return mask


def column_runs(crop: np.ndarray) -> int:
    """Number of runs of identical adjacent columns (distinct block columns across)."""
    if crop.shape[1] == 0:
        return 0
    changes = np.any(crop[:, 1:] != crop[:, :-1], axis=(0, 2))
    return 1 + int(np.count_nonzero(changes))


def test_registry_names_every_operator() -> None:
    assert REGISTRY == {"pixelate": Pixelate, "blur": Blur, "fill": Fill}


@SETTINGS
@given(width=sizes, height=sizes, box=boxes())
def test_clipped_and_pixel_bounds_lie_inside_the_frame(width: int, height: int, box: Box) -> None:
    clipped = box.clipped(width, height)
    assert 0.0 <= clipped.x1 <= clipped.x2 <= width
    assert 0.0 <= clipped.y1 <= clipped.y2 <= height
    x1, y1, x2, y2 = box.pixel_bounds(width, height)
    assert all(isinstance(v, int) for v in (x1, y1, x2, y2))
    assert 0 <= x1 <= x2 <= width
    assert 0 <= y1 <= y2 <= height
    # rounding is outwards: the integer bounds cover every part of the box that is in the frame
    if clipped.area > 0:
        assert x1 <= clipped.x1 and clipped.x2 <= x2
        assert y1 <= clipped.y1 and clipped.y2 <= y2
        assert (x1, y1, x2, y2) == clipped.pixel_bounds(width, height)
    # ... and no wider than that: at most the pixels the box touches
    if x2 > x1:
        assert x1 == max(0, math.floor(box.x1)) and x2 == min(width, math.ceil(box.x2))


@SETTINGS
@given(width=sizes, height=sizes)
def test_ellipse_mask_is_symmetric_and_never_empty(width: int, height: int) -> None:
    mask = ellipse_mask(height, width)
    assert mask.shape == (height, width)
    assert mask.any()
    assert np.array_equal(mask, mask[::-1, :]) and np.array_equal(mask, mask[:, ::-1])
    if width >= 3 and height >= 3:  # the corners of the box lie outside its inscribed ellipse
        assert not mask[0, 0] and not mask[-1, -1]


@SETTINGS
@given(width=sizes, height=sizes, box=boxes(), op=operators, shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_no_pixel_outside_the_region_changes(
    width: int, height: int, box: Box, op: Operator, shape: Shape, seed: int
) -> None:
    frame = noise(height, width, seed)
    before = frame.copy()
    op.apply(frame, box, shape)
    assert frame.dtype == np.uint8 and frame.shape == before.shape
    outside = ~region_mask(frame.shape, box, shape)
    assert np.array_equal(frame[outside], before[outside])


@SETTINGS
@given(width=sizes, height=sizes, box=boxes(), color=colors, shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_fill_paints_every_pixel_of_the_region(
    width: int, height: int, box: Box, color: tuple[int, int, int], shape: Shape, seed: int
) -> None:
    frame = noise(height, width, seed)
    Fill(color=color).apply(frame, box, shape)
    inside = region_mask(frame.shape, box, shape)
    assert np.all(frame[inside] == np.asarray(color, dtype=np.uint8))


@SETTINGS
@given(
    width=sizes,
    height=sizes,
    box=boxes(),
    blocks=st.integers(1, 64),
    min_block=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_pixelate_leaves_at_most_blocks_columns_and_rows(
    width: int, height: int, box: Box, blocks: int, min_block: int, seed: int
) -> None:
    frame = noise(height, width, seed)
    op = Pixelate(blocks=blocks, min_block=min_block)
    op.apply(frame, box, Shape.BOX)
    x1, y1, x2, y2 = box.pixel_bounds(width, height)
    crop = frame[y1:y2, x1:x2]
    assert column_runs(crop) <= blocks
    assert column_runs(crop.transpose(1, 0, 2)) <= blocks
    # and blocks are never narrower than min_block: a w-wide region has at most ceil(w / min_block)
    assert column_runs(crop) <= math.ceil((x2 - x1) / min_block)
    assert column_runs(crop.transpose(1, 0, 2)) <= math.ceil((y2 - y1) / min_block)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(8, 64))
def test_pixelate_and_blur_do_change_a_noisy_region(seed: int, size: int) -> None:
    """Guards the properties above against an operator that silently does nothing."""
    for op in (Pixelate(), Blur()):
        frame = noise(size, size, seed)
        before = frame.copy()
        op.apply(frame, Box(0, 0, size, size))
        assert not np.array_equal(frame, before), op


@SETTINGS
@given(
    width=sizes,
    height=sizes,
    turns=st.integers(0, 3),
    box=boxes(),
    op=operators,
    shape=shapes,
    seed=st.integers(0, 2**32 - 1),
)
def test_apply_on_a_rotated_view_writes_only_the_mapped_region(
    width: int, height: int, turns: int, box: Box, op: Operator, shape: Shape, seed: int
) -> None:
    """Rotated videos are masked through ``np.rot90`` views (strided, not C-contiguous)."""
    base = noise(height, width, seed)
    before = base.copy()
    view = np.rot90(base, turns)
    assert np.shares_memory(view, base)
    expected_view = np.ascontiguousarray(view).copy()
    op.apply(expected_view, box, shape)  # the same operation on a contiguous copy
    op.apply(view, box, shape)
    assert np.array_equal(view, expected_view)
    # the underlying array holds the result, and changed only where the view's region maps to
    assert np.array_equal(base, np.rot90(expected_view, -turns))
    allowed = np.rot90(region_mask(view.shape, box, shape), -turns)
    assert np.array_equal(base[~allowed], before[~allowed])


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: Pixelate(blocks=0), "blocks"),
        (lambda: Pixelate(min_block=0), "min_block"),
        (lambda: Blur(ratio=0.0), "ratio"),
        (lambda: Blur(min_kernel=0), "min_kernel"),
        (lambda: Fill(color=(0, 0, 256)), "color"),
        (lambda: Fill(color=(0, 0)), "color"),  # type: ignore[arg-type]
    ],
)
def test_invalid_parameters_are_rejected(factory: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        factory()  # type: ignore[operator]
