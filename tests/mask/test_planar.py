"""Masking in a frame's own 4:2:0 planes (``mask.planar``) gives the whole-frame RGB path's
result under the masks, and leaves every other sample exactly as decoded."""

from __future__ import annotations

import av
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gamyeon.mask import planar
from gamyeon.media import geometry, planes
from gamyeon.media.encode import from_rgb, tag
from gamyeon.operators import Blur, Fill, Operator, Pixelate, Shape
from gamyeon.types import Box, Colour, Region, Source

SETTINGS = settings(max_examples=60, deadline=None)

OPERATORS: dict[str, tuple[Operator, Shape]] = {
    "pixelate": (Pixelate(), Shape.ELLIPSE),
    "blur": (Blur(min_kernel=9), Shape.BOX),
    "fill": (Fill(color=(250, 10, 120)), Shape.ELLIPSE),
    "fillbox": (Fill(), Shape.BOX),
}
COLOURS = [Colour(), Colour(space=1, range=1, primaries=1, trc=1), Colour(space=1, range=2), Colour(space=6, range=1)]


def yuv_frame(width: int, height: int, fmt: str, colour: Colour, seed: int) -> av.VideoFrame:
    """A 4:2:0 frame of smooth gradients plus noise, tagged with ``colour``."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, width)[None, :]
    y = np.linspace(0, 1, height)[:, None]
    luma = (40 + 150 * (x * 0.6 + y * 0.4) + rng.normal(0, 12, (height, width))).clip(16, 235)
    chroma = (128 + 60 * (x[:, ::2] - y[::2]) + rng.normal(0, 8, (height // 2, width // 2))).clip(16, 240)
    data = np.concatenate([luma.ravel(), chroma.ravel(), (255 - chroma).ravel()]).astype(np.uint8)
    frame = av.VideoFrame.from_ndarray(data.reshape(-1, width), format=fmt)
    tag(frame, colour)
    return frame


@st.composite
def regions(draw: st.DrawFn, width: int, height: int) -> list[Region]:
    out = []
    for _ in range(draw(st.integers(1, 4))):
        w = draw(st.floats(1.0, width * 0.8))
        h = draw(st.floats(1.0, height * 0.8))
        x1 = draw(st.floats(-w / 2, width - w / 2))
        y1 = draw(st.floats(-h / 2, height - h / 2))
        box = Box(x1, y1, x1 + w, y1 + h)
        kind = draw(st.sampled_from(sorted(OPERATORS)))
        out.append(Region(kind, box.clipped(width, height), box, 1.0, None, Source.DETECTED))
    return out


def apply(view: npt.NDArray[np.uint8], group: list[Region]) -> None:
    for region in group:
        operator, shape = OPERATORS[region.kind]
        operator.apply(view, region.mask, shape)


def reach(region: Region, bounds: tuple[int, int, int, int]) -> int:
    x1, y1, x2, y2 = bounds
    return OPERATORS[region.kind][0].reach(y2 - y1, x2 - x1)


@SETTINGS
@given(data=st.data())
def test_planar_masking_equals_the_whole_frame_path_under_the_masks_and_nothing_else_changes(
    data: st.DataObject,
) -> None:
    width = 2 * data.draw(st.integers(4, 48), label="half width")
    height = 2 * data.draw(st.integers(4, 40), label="half height")
    rotation = data.draw(st.sampled_from([0, 90, 180, 270]), label="rotation")
    fmt = data.draw(st.sampled_from(sorted(planes.FORMATS)), label="format")
    colour = data.draw(st.sampled_from(COLOURS), label="colour")
    frame = yuv_frame(width, height, fmt, colour, data.draw(st.integers(0, 9), label="seed"))
    upright = (height, width) if rotation % 180 else (width, height)
    found = data.draw(regions(*upright), label="regions")
    before = frame.to_ndarray()

    # the reference: the whole frame to RGB, every region masked upright, back to YUV
    rgb = frame.to_ndarray(format="rgb24")
    apply(np.rot90(rgb, rotation // 90), found)
    expected = from_rgb(av.VideoFrame.from_ndarray(rgb, format="rgb24"), fmt, colour).to_ndarray()

    def work(view: npt.NDArray[np.uint8], left: int, top: int, group: list[Region]) -> None:
        apply(view, [planar.shifted(r, -left, -top) for r in group])

    out = planar.PlanarMasker(colour, rotation).mask(frame, found, reach, work)
    got = out.to_ndarray()
    assert out.format.name == fmt and (out.width, out.height) == (width, height)
    assert (out.colorspace, out.color_range) == (frame.colorspace, frame.color_range)

    # which samples may change: the masks' even-aligned pixel bounds, in stored coordinates
    pasted = np.zeros((height, width), dtype=bool)
    for region in found:
        x1, y1, x2, y2 = region.mask.pixel_bounds(*upright)
        if x2 > x1 and y2 > y1:
            sx1, sy1, sx2, sy2 = geometry.to_stored(
                (x1 - x1 % 2, y1 - y1 % 2, x2 + x2 % 2, y2 + y2 % 2), rotation // 90, width, height
            )
            pasted[sy1:sy2, sx1:sx2] = True
    chroma = pasted[::2, ::2]
    where = np.concatenate([pasted.ravel(), chroma.ravel(), chroma.ravel()]).reshape(before.shape)
    assert np.array_equal(got[~where], before[~where]), "a sample outside every mask changed"
    assert np.array_equal(got[where], expected[where]), "under the masks the result differs from the RGB path"


@settings(max_examples=100, deadline=None)
@given(
    width=st.integers(1, 30),
    height=st.integers(1, 30),
    turns=st.integers(0, 3),
    data=st.data(),
)
def test_to_stored_maps_an_upright_rectangle_onto_the_same_pixels(
    width: int, height: int, turns: int, data: st.DataObject
) -> None:
    stored = np.arange(width * height).reshape(height, width)
    upright = np.rot90(stored, turns)
    uh, uw = upright.shape
    x1 = data.draw(st.integers(0, uw - 1))
    y1 = data.draw(st.integers(0, uh - 1))
    x2 = data.draw(st.integers(x1 + 1, uw))
    y2 = data.draw(st.integers(y1 + 1, uh))
    sx1, sy1, sx2, sy2 = geometry.to_stored((x1, y1, x2, y2), turns, width, height)
    assert np.array_equal(np.rot90(stored[sy1:sy2, sx1:sx2], turns), upright[y1:y2, x1:x2])


def test_groups_join_only_overlapping_rectangles_and_keep_the_order() -> None:
    rects = [(0, 0, 10, 10), (50, 50, 60, 60), (8, 8, 20, 20), (19, 0, 30, 5), (100, 0, 110, 10)]
    assert planar.groups(rects) == [((0, 0, 30, 20), [0, 2, 3]), ((50, 50, 60, 60), [1]), ((100, 0, 110, 10), [4])]


@pytest.mark.parametrize(
    ("fmt", "size", "ok"),
    [
        ("yuv420p", (64, 48), True),
        ("yuvj420p", (64, 48), True),
        ("yuv420p", (64, 47), False),
        ("yuv444p", (64, 48), False),
    ],
)
def test_supported_formats(fmt: str, size: tuple[int, int], ok: bool) -> None:
    assert planes.supported(av.VideoFrame(size[0], size[1], fmt)) is ok
