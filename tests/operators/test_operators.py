"""Property tests for the masking operators: they change pixels inside their region and nowhere else.

Frames, boxes and operator parameters are random (hypothesis); boxes may lie partly or wholly
outside the frame, have zero size or fractional coordinates. The reference for "the region" is
``Box.pixel_bounds`` and, for ellipses, ``ellipse_mask`` -- the same definitions the operators use,
whose own properties (inside the frame, covering every touched pixel) are tested here too.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gamyeon.operators import REGISTRY, Blur, Fill, Operator, Pixelate, Shape, ellipse_mask
from gamyeon.operators.base import copy_where
from gamyeon.types import Box

SETTINGS = settings(max_examples=150, deadline=None)

sizes = st.integers(min_value=1, max_value=64)
coords = st.floats(min_value=-80.0, max_value=150.0, allow_nan=False, allow_infinity=False)
extents = st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=120.0, allow_nan=False))
shapes = st.sampled_from(list(Shape))


@st.composite
def boxes(draw: st.DrawFn) -> Box:
    """Boxes anywhere around a <= 64 px frame: inside, straddling an edge, outside, empty."""
    w, h = draw(extents), draw(extents)
    if draw(st.booleans()):
        x1, y1 = draw(coords), draw(coords)
    else:  # straddling the top or left edge, where clipping would change an ellipse
        x1 = -w * draw(st.floats(0.0, 1.0))
        y1 = -h * draw(st.floats(0.0, 1.0)) if draw(st.booleans()) else draw(coords)
    if draw(st.booleans()):  # integer corners are the common case; keep them well represented
        x1, y1 = float(round(x1)), float(round(y1))
    return Box(x1, y1, x1 + w, y1 + h)


colors = st.tuples(*(st.integers(0, 255),) * 3)
operators: st.SearchStrategy[Operator] = st.one_of(
    st.builds(
        Pixelate,
        blocks=st.integers(1, 64),
        min_block=st.integers(1, 12),
        shift=st.booleans(),
        noise=st.one_of(st.just(0.0), st.floats(0.0, 128.0)),
    ),
    st.builds(Blur, ratio=st.floats(0.05, 4.0), min_kernel=st.integers(1, 61)),
    st.builds(Fill, color=colors),
)


def noise(height: int, width: int, seed: int) -> npt.NDArray[np.uint8]:
    """A random RGB frame: every pixel differs from its neighbours, so any write is visible."""
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def region_mask(frame_shape: tuple[int, ...], box: Box, shape: Shape) -> npt.NDArray[np.bool_]:
    """Boolean H x W mask of the pixels an operator may (and, for Fill, must) change.

    For ellipses, the ellipse is inscribed in the box's whole outward-rounded pixel box, also
    where that reaches past the frame: a face cut by the frame edge keeps its own shape. Pixel
    centres inside the ellipse count, plus the box's centre pixel (never empty).
    """
    height, width = frame_shape[:2]
    x1, y1, x2, y2 = box.pixel_bounds(width, height)
    mask = np.zeros((height, width), dtype=bool)
    if x2 <= x1 or y2 <= y1:
        return mask
    if shape is not Shape.ELLIPSE:  # BOX, and SILHOUETTE, which an operator alone masks as the box
        mask[y1:y2, x1:x2] = True
        return mask
    fx1, fy1 = math.floor(box.x1), math.floor(box.y1)
    w, h = max(math.ceil(box.x2), fx1) - fx1, max(math.ceil(box.y2), fy1) - fy1
    ys = np.arange(height, dtype=np.float64)[:, None]
    xs = np.arange(width, dtype=np.float64)[None, :]
    inside = ((ys + 0.5 - (fy1 + h / 2)) / (h / 2)) ** 2 + ((xs + 0.5 - (fx1 + w / 2)) / (w / 2)) ** 2 <= 1.0
    cx, cy = fx1 + w // 2, fy1 + h // 2
    if 0 <= cx < width and 0 <= cy < height:
        inside[cy, cx] = True
    mask[y1:y2, x1:x2] = inside[y1:y2, x1:x2]
    return mask


def column_runs(crop: npt.NDArray[np.uint8]) -> int:
    """Number of runs of identical adjacent columns (distinct block columns across)."""
    if crop.shape[1] == 0:
        return 0
    changes = np.any(crop[:, 1:] != crop[:, :-1], axis=(0, 2))
    return 1 + int(np.count_nonzero(changes))


def test_registry_names_every_operator() -> None:
    assert dict(REGISTRY) == {"pixelate": Pixelate, "blur": Blur, "fill": Fill}


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
    # corner pixel centres lie outside the inscribed ellipse once (1 - 1/n)^2 > 1/2, i.e. n >= 4
    if width >= 4 and height >= 4:
        assert not mask[0, 0] and not mask[-1, -1]


@SETTINGS
@given(height=sizes, width=sizes, data=st.data())
def test_ellipse_mask_window_is_a_slice_of_the_whole_mask(height: int, width: int, data: st.DataObject) -> None:
    r0 = data.draw(st.integers(0, height))
    r1 = data.draw(st.integers(r0, height))
    c0 = data.draw(st.integers(0, width))
    c1 = data.draw(st.integers(c0, width))
    window = ellipse_mask(height, width, rows=(r0, r1), cols=(c0, c1))
    assert np.array_equal(window, ellipse_mask(height, width)[r0:r1, c0:c1])


def test_ellipse_of_a_face_cut_by_the_frame_edge_keeps_its_shape() -> None:
    """A face half outside the frame (box x -50..50 in a 100 px frame): the visible half of its
    ellipse is masked, not a smaller ellipse squeezed into the visible half."""
    frame = np.full((100, 100, 3), 200, dtype=np.uint8)
    Fill().apply(frame, Box(-50, 0, 50, 100), Shape.ELLIPSE)
    # pixel (x=2, y=10): ((2.5 - 0) / 50)^2 + ((10.5 - 50) / 50)^2 = 0.63 <= 1, inside the face
    assert frame[10, 2].tolist() == [0, 0, 0]
    # pixel (x=45, y=5): (45.5 / 50)^2 + (44.5 / 50)^2 = 1.62 > 1, outside the face
    assert frame[5, 45].tolist() == [200, 200, 200]
    assert frame[50, 0:50].tolist() == [[0, 0, 0]] * 50


def test_pipeline_ellipse_mask_of_a_face_cut_by_the_frame_edge() -> None:
    from gamyeon.pipeline.frame import mask_for

    frame = np.full((100, 100, 3), 200, dtype=np.uint8)
    face = Box(-40.0, 20.0, 40.0, 80.0)  # a face half outside the left edge
    Fill().apply(frame, mask_for(face, 0.0, 1.3), Shape.ELLIPSE)
    # the face's own ellipse (inscribed in the face box) must be covered where it is visible
    must = region_mask(frame.shape, face, Shape.ELLIPSE)
    assert np.all(frame[must] == 0)


@SETTINGS
@given(
    width=sizes,
    height=sizes,
    box=boxes(),
    op=operators,
    shape=shapes,
    seed=st.integers(0, 2**32 - 1),
    mask_seed=st.one_of(st.none(), st.integers(0, 2**64 - 1)),
)
def test_no_pixel_outside_the_region_changes(
    width: int, height: int, box: Box, op: Operator, shape: Shape, seed: int, mask_seed: int | None
) -> None:
    frame = noise(height, width, seed)
    before = frame.copy()
    op.apply(frame, box, shape, mask_seed)
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
    shift=st.booleans(),
)
def test_pixelate_leaves_at_most_blocks_columns_and_rows(
    width: int, height: int, box: Box, blocks: int, min_block: int, seed: int, shift: bool
) -> None:
    """At most ``blocks`` blocks across; a shifted grid may cut one more, partial, block."""
    frame = noise(height, width, seed)
    op = Pixelate(blocks=blocks, min_block=min_block, shift=shift)
    op.apply(frame, box, Shape.BOX, seed)
    x1, y1, x2, y2 = box.pixel_bounds(width, height)
    crop = frame[y1:y2, x1:x2]
    extra = 1 if shift else 0
    assert column_runs(crop) <= blocks + extra
    assert column_runs(crop.transpose(1, 0, 2)) <= blocks + extra
    # and blocks are never narrower than min_block: a w-wide region has at most ceil(w / min_block)
    assert column_runs(crop) <= math.ceil((x2 - x1) / min_block) + extra
    assert column_runs(crop.transpose(1, 0, 2)) <= math.ceil((y2 - y1) / min_block) + extra


@SETTINGS
@given(
    width=sizes,
    height=sizes,
    box=boxes(),
    blocks=st.integers(1, 64),
    seed=st.integers(0, 2**32 - 1),
    noise_sd=st.sampled_from([0.0, 3.0]),
)
def test_pixelate_is_the_mean_of_each_block_of_the_edge_padded_grid(
    width: int, height: int, box: Box, blocks: int, seed: int, noise_sd: float
) -> None:
    """The mosaic, written out with numpy: the region placed at the seeded offset in a whole
    number of blocks, margins repeating its edge pixels, each block its mean (plus the seeded
    noise), cut back to the region."""
    frame = noise(height, width, seed)
    op = Pixelate(blocks=blocks, noise=noise_sd)
    bounds = box.pixel_bounds(width, height)
    x1, y1, x2, y2 = bounds
    if x2 <= x1 or y2 <= y1:
        return
    crop = frame[y1:y2, x1:x2]
    h, w = crop.shape[:2]
    block = op.block_size(h, w)
    rng = np.random.default_rng(seed)
    ox, oy = (int(v) for v in rng.integers(0, block, size=2))
    rows, cols = math.ceil((h + oy) / block), math.ceil((w + ox) / block)
    padded = np.pad(crop, ((oy, rows * block - h - oy), (ox, cols * block - w - ox), (0, 0)), mode="edge")
    means = padded.reshape(rows, block, cols, block, 3).astype(np.float64).mean(axis=(1, 3))
    small = np.clip(np.rint(means), 0, 255)
    if noise_sd > 0.0:
        small = np.clip(np.rint(small.astype(np.uint8) + rng.normal(0.0, noise_sd, size=small.shape)), 0, 255)
    expected = np.repeat(np.repeat(small.astype(np.uint8), block, axis=0), block, axis=1)[oy : oy + h, ox : ox + w]
    got = op.replacement(frame, bounds, seed)
    assert got.shape == expected.shape
    assert int(np.abs(got.astype(np.int16) - expected.astype(np.int16)).max(initial=0)) <= 1  # rounding of the mean


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
    op.apply(expected_view, box, shape, seed)  # the same operation on a contiguous copy
    op.apply(view, box, shape, seed)
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
        (lambda: Pixelate(noise=-1.0), "noise"),
        (lambda: Pixelate(noise=float("nan")), "noise"),
        (lambda: Pixelate(shift=1), "shift"),  # type: ignore[arg-type]
        (lambda: Blur(ratio=0.0), "ratio"),
        (lambda: Blur(min_kernel=0), "min_kernel"),
        (lambda: Fill(color=(0, 0, 256)), "color"),
        (lambda: Fill(color=(0, 0)), "color"),  # type: ignore[arg-type]
    ],
)
def test_invalid_parameters_are_rejected(factory: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        factory()  # type: ignore[operator]


@SETTINGS
@given(turns=st.integers(0, 3), seed=st.integers(0, 2**16), data=st.data())
def test_copy_where_matches_boolean_indexing_on_any_view(turns: int, seed: int, data: st.DataObject) -> None:
    """OpenCV's fast masked copy for packed views, numpy's for rotated ones: the same pixels."""
    frame = noise(40, 56, seed)
    view = np.rot90(frame, turns)
    h, w = view.shape[:2]
    y1, x1 = data.draw(st.integers(0, h - 1)), data.draw(st.integers(0, w - 1))
    y2, x2 = data.draw(st.integers(y1 + 1, h)), data.draw(st.integers(x1 + 1, w))
    target = view[y1:y2, x1:x2]
    rng = np.random.default_rng(seed + 1)
    source = rng.integers(0, 256, size=target.shape, dtype=np.uint8)
    where = rng.random(target.shape[:2]) < 0.5
    expected = frame.copy()
    np.rot90(expected, turns)[y1:y2, x1:x2][where] = source[where]
    copy_where(target, source, where)
    assert np.array_equal(frame, expected)
