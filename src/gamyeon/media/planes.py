"""The planes of a decoded 4:2:0 frame as numpy arrays, and exact RGB conversions of crops of them
(swscale). ``mask.planar`` masks regions through them; its docstring says why a crop converts to
the very pixels a whole-frame conversion gives."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from gamyeon.media.geometry import Rect
from gamyeon.types import Array, Colour

#: sample formats handled in their own planes; others take the whole-frame RGB path
FORMATS = frozenset({"yuv420p", "yuvj420p"})


def supported(frame: av.VideoFrame) -> bool:
    """Whether ``frame`` can be masked in its own planes (4:2:0, 8 bit, even size)."""
    return frame.format.name in FORMATS and frame.width % 2 == 0 and frame.height % 2 == 0


@dataclasses.dataclass(frozen=True, slots=True)
class Reformatters:
    """swscale conversions of crops of one size: 4:2:0 to RGB and back."""

    to_rgb: VideoReformatter = dataclasses.field(default_factory=VideoReformatter)
    to_yuv: VideoReformatter = dataclasses.field(default_factory=VideoReformatter)


def plane_array(frame: av.VideoFrame, index: int) -> Array:
    """A writable numpy view (rows x samples, no padding) of one plane of ``frame``."""
    plane = frame.planes[index]
    data = np.frombuffer(memoryview(plane), np.uint8)  # VideoPlane exports a writable buffer
    rows: Array = data[: plane.line_size * plane.height].reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


class Planes:
    """The Y, U and V planes of one writable 4:2:0 frame, and the conversions of crops of them.

    ``frame`` itself is changed: ``make_writable`` first gives it buffers of its own (a decoder
    may still hold its pictures as references). The reformatters are the caller's, kept across
    frames: setting up a swscale context costs about 1 ms, more than converting a face's crop.
    """

    def __init__(self, frame: av.VideoFrame, colour: Colour, reformatters: Callable[[int, int], Reformatters]) -> None:
        frame.make_writable()
        self.format = frame.format.name
        self.colour = colour
        self.planes = [plane_array(frame, i) for i in range(3)]
        self._reformatters = reformatters

    def rgb(self, rect: Rect) -> tuple[av.VideoFrame, Array]:
        """An RGB frame of the pixels of ``rect`` (even coordinates), exactly as a whole-frame
        conversion gives them, and a writable view of its pixels."""
        x1, y1, x2, y2 = rect
        crop = av.VideoFrame(x2 - x1, y2 - y1, self.format)
        for i, source in enumerate(self.planes):
            step = 1 if i == 0 else 2
            plane_array(crop, i)[...] = source[y1 // step : y2 // step, x1 // step : x2 // step]
        crop.colorspace, crop.color_range = self.colour.space, self.colour.range
        rgb = self._reformatters(x2 - x1, y2 - y1).to_rgb.reformat(crop, format="rgb24")
        return rgb, rgb.to_ndarray()

    def paste(self, rgb: av.VideoFrame, at: Rect, areas: Sequence[Rect]) -> None:
        """Convert ``rgb`` (the pixels of ``at``) back and write the samples of ``areas`` (even
        rectangles inside ``at``, frame coordinates)."""
        back = self._reformatters(rgb.width, rgb.height).to_yuv.reformat(
            rgb, format=self.format, dst_colorspace=self.colour.space, dst_color_range=self.colour.range
        )
        for i, target in enumerate(self.planes):
            step = 1 if i == 0 else 2
            source = plane_array(back, i)
            for x1, y1, x2, y2 in areas:
                rows, cols = slice(y1 // step, y2 // step), slice(x1 // step, x2 // step)
                crop_rows = slice((y1 - at[1]) // step, (y2 - at[1]) // step)
                crop_cols = slice((x1 - at[0]) // step, (x2 - at[0]) // step)
                target[rows, cols] = source[crop_rows, crop_cols]
