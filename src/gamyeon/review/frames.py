"""Output frames as JPEG pictures, by frame number: how the page shows the video frame-exactly.

A ``<video>`` element cannot be told to show frame N (browsers seek to times, land on the nearest
decodable picture and differ in how), so the page asks for frame N and gets exactly that frame of
the output, decoded with PyAV and turned upright. Requests for the next frames continue decoding
where the last one stopped; any other frame seeks to the keyframe before it and decodes forward
to its timestamp (taken from the regions sidecar, which lists every frame's). The JPEGs of
recent frames are kept in a cache bounded in bytes.

Only the output is ever opened here: the original never reaches the page.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from PIL import Image

from gamyeon.errors import CorruptInputError
from gamyeon.media.decode import to_rgb
from gamyeon.media.geometry import rotate_view
from gamyeon.types import Array

#: bytes of JPEG kept per output (about 300 frames of 960x540)
CACHE_BYTES = 32 << 20
#: a request this many frames or fewer ahead of the decoder decodes forward instead of seeking
FORWARD = 48
JPEG_QUALITY = 90
THUMB_PX = 96


class FrameSource:
    """Decoded frames of one output video, by index; thread-safe."""

    def __init__(self, video: Path, pts: list[int | None], rotation: int, cache_bytes: int = CACHE_BYTES) -> None:
        self.video = video
        self.pts = pts
        self.rotation = rotation
        self._index = {p: i for i, p in enumerate(pts) if p is not None}
        self._lock = threading.Lock()
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._cached = 0
        self._limit = cache_bytes
        self._container: av.container.InputContainer | None = None
        self._frames: Iterator[av.VideoFrame] | None = None
        self._next = 0  # index of the frame ``_frames`` yields next

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container, self._frames, self._next = None, None, 0

    def _open(self, seek_pts: int | None) -> None:
        self._drop()
        try:
            self._container = av.open(str(self.video))
        except av.error.FFmpegError as err:
            raise CorruptInputError(f"cannot open {self.video}: {err}") from None
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        if seek_pts is not None:
            self._container.seek(seek_pts, stream=stream, backward=True, any_frame=False)
        self._frames = self._container.decode(stream)

    def _decode(self, index: int) -> Array:
        target = self.pts[index]
        ahead = index - self._next
        if self._frames is None or not 0 <= ahead <= FORWARD:
            seekable = target is not None and all(p is not None for p in self.pts)
            self._open(target if seekable and index > 0 else None)
            self._next = -1 if seekable and index > 0 else 0  # after a seek the position is learnt from pts
        assert self._frames is not None
        for frame in self._frames:
            position = (None if frame.pts is None else self._index.get(frame.pts)) if self._next < 0 else self._next
            if position is None:
                continue
            self._next = position + 1
            if position == index:
                return np.ascontiguousarray(rotate_view(to_rgb(frame), self.rotation))
            if position > index:
                break
        self._drop()
        raise CorruptInputError(f"frame {index} of {self.video} could not be decoded")

    def rgb(self, index: int) -> Array:
        """Frame ``index``, upright RGB."""
        if not 0 <= index < len(self.pts):
            raise IndexError(index)
        with self._lock:
            return self._decode(index)

    def jpeg(self, index: int) -> bytes:
        """Frame ``index`` as a JPEG (cached)."""
        with self._lock:
            hit = self._cache.get(index)
            if hit is not None:
                self._cache.move_to_end(index)
                return hit
        data = encode_jpeg(self.rgb(index))
        with self._lock:
            self._cache[index] = data
            self._cached += len(data)
            while self._cached > self._limit and len(self._cache) > 1:
                _, old = self._cache.popitem(last=False)
                self._cached -= len(old)
        return data

    def thumbnail(self, index: int, box: tuple[float, float, float, float]) -> bytes:
        """A small JPEG of ``box`` (grown a little for context) on frame ``index``, cut from the output."""
        image = self.rgb(index)
        height, width = image.shape[:2]
        x1, y1, x2, y2 = box
        pad = 0.25 * max(x2 - x1, y2 - y1)
        left, top = max(0, int(x1 - pad)), max(0, int(y1 - pad))
        right, bottom = min(width, int(x2 + pad) + 1), min(height, int(y2 + pad) + 1)
        crop = Image.fromarray(image[top:bottom, left:right] if right > left and bottom > top else image)
        crop.thumbnail((THUMB_PX, THUMB_PX))
        return _jpeg(crop)


def encode_jpeg(image: Array) -> bytes:
    return _jpeg(Image.fromarray(image))


def _jpeg(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()
