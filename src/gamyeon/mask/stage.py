"""The masking stage of a video run: seal and mask each decided frame, annotate it, encode it.

It runs on the decoding thread, between the look-ahead and the encoder thread. A thread of its
own was tried: on 2 cores it gave no measurable speed-up (960x540: 0.49-0.53x the
re-encode either way), and RSS then crept by 2.2 MiB per minute of 1080p video against 0.4
without it (``benchmarks/memtrace.py``): the frames it made writable were allocated on one
thread and freed on another, which fragments glibc's per-thread heaps.

Fail closed: a frame whose decoding or detection failed, or whose masking fails here, is written
fully black and flagged in the annotations, never with original pixels. Only an output that
cannot be written (``OSError``) aborts the file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from gamyeon.mask import planar
from gamyeon.mask.apply import apply_regions
from gamyeon.mask.planar import shifted
from gamyeon.mask.silhouette import Segmenter
from gamyeon.media.decode import DecodedFrame, to_rgb
from gamyeon.media.geometry import rotate_view, upright_size
from gamyeon.media.planes import supported
from gamyeon.operators import Shape
from gamyeon.policy import Policy
from gamyeon.types import Array, FrameResult, Region, TrackBox, VideoInfo

log = logging.getLogger(__name__)


class Sealer(Protocol):
    """Keeps the original pixels of regions before they are masked (``vault.writer.VaultWriter``):
    of 4:2:0 frames the decoder's own samples (``seal_planes``, half the samples of RGB and no
    conversion noise to store), of other frames the RGB pixels (``seal``); ``shapes`` tells it
    which kinds are masked with an ellipse, whose outside it need not keep."""

    def seal(
        self,
        frame: int,
        pts: int | None,
        view: Array,
        regions: list[Region],
        *,
        origin: tuple[int, int] = (0, 0),
        size: tuple[int, int] | None = None,
        shapes: Callable[[str], Shape] | None = None,
    ) -> None: ...

    def seal_planes(
        self,
        frame: int,
        pts: int | None,
        picture: av.VideoFrame,
        regions: list[Region],
        *,
        rotation: int,
        shapes: Callable[[str], Shape] | None = None,
    ) -> None: ...


class FrameSink(Protocol):
    """Where masked frames go, in order: a file's encoder thread (``media.encode.ThreadedWriter``)
    or a live stream's outputs (``gamyeon.live``)."""

    def wants(self, pts: int) -> bool:
        """Whether the frame at ``pts`` is encoded (a chunk of a long file encodes only its own)."""
        ...

    def write(self, image: Array | av.VideoFrame, pts: int) -> None: ...


class RegionNotes(Protocol):
    """Where each frame's regions are written (``annotations.JsonlWriter``)."""

    def write(self, result: FrameResult) -> None: ...


@dataclass(frozen=True, slots=True)
class Decided:
    """A frame whose regions are known; ``regions`` None: it fails closed for ``reason``.
    ``tracks``: the identity tracks on the frame (None: the run tracks no persons)."""

    item: DecodedFrame
    seconds: float
    regions: list[Region] | None
    reason: str | None = None
    tracks: Sequence[TrackBox] | None = None

    def result(self) -> FrameResult:
        """The frame's result once its regions are masked (or annotated only)."""
        assert self.regions is not None
        tracks = None if self.tracks is None else tuple(self.tracks)
        return FrameResult(self.item.index, self.item.pts, self.seconds, tuple(self.regions), tracks=tracks)


class MaskingStage:
    """Turns ``Decided`` frames into encoded, annotated output frames, in order."""

    def __init__(
        self,
        info: VideoInfo,
        policy: Policy,
        writer: FrameSink,
        notes: RegionNotes,
        account: Callable[[FrameResult], None],
        progress: Callable[[int], None],
        *,
        sealer: Sealer | None = None,
        segmenter: Segmenter | None = None,
    ) -> None:
        self.info = info
        self.policy = policy
        self.writer = writer
        self.notes = notes
        self.account = account
        self.progress = progress
        self.sealer = sealer
        self.segmenter = segmenter
        self.size = upright_size(info.width, info.height, info.rotation)
        self._planar = planar.PlanarMasker(info.colour, info.rotation)
        self._rgb = VideoReformatter()  # for the whole-frame path; kept across frames (decode.to_rgb)

    def handle(self, decided: Decided) -> None:
        item = decided.item
        if decided.regions is None or item.frame is None:
            result = self._fail_closed(decided, decided.reason or "decode failed")
        elif not self.writer.wants(item.pts):  # a chunk's warm-up frame: annotated, not encoded
            result = decided.result()
        else:
            try:
                out = self.mask(item, decided.regions) if decided.regions else item.frame
                self.writer.write(out, item.pts)
                result = decided.result()
            except OSError:  # the output cannot be written: abort the file
                raise
            except Exception as err:  # noqa: BLE001 - masking failed: fail closed, never original
                log.warning("masking failed on frame %d (%s); the frame will be fully masked", item.index, err)
                result = self._fail_closed(decided, f"masking failed: {err}")
        self.notes.write(result)
        self.account(result)
        self.progress(1)

    def _fail_closed(self, decided: Decided, reason: str) -> FrameResult:
        item = decided.item
        self.writer.write(np.zeros((self.info.height, self.info.width, 3), dtype=np.uint8), item.pts)
        return FrameResult.closed(item.index, item.pts, decided.seconds, reason)

    def _shape(self, kind: str) -> Shape:
        """How ``kind`` is masked: the sealer keeps only what the masking changes."""
        return self.policy.for_kind(kind).shape

    def _reach(self, region: Region, bounds: tuple[int, int, int, int]) -> int:
        x1, y1, x2, y2 = bounds
        return self.policy.for_kind(region.kind).operator.reach(y2 - y1, x2 - x1)

    def mask(self, item: DecodedFrame, regions: list[Region]) -> Array | av.VideoFrame:
        """The frame with ``regions`` sealed and masked: in its own planes around the regions
        when it is 4:2:0 (``mask.planar``), else through a whole-frame RGB copy."""
        frame = item.frame
        assert frame is not None

        def crop_work(view: Array, left: int, top: int, group: list[Region]) -> None:
            apply_regions(view, [shifted(r, -left, -top) for r in group], self.policy, self.segmenter)

        if supported(frame):
            if self.sealer is not None:  # before any sample changes
                self.sealer.seal_planes(
                    item.index, item.pts, frame, regions, rotation=self.info.rotation, shapes=self._shape
                )
            return self._planar.mask(frame, regions, self._reach, crop_work)
        rgb = to_rgb(frame, reformatter=self._rgb)
        view = rotate_view(rgb, self.info.rotation)
        if self.sealer is not None:
            self.sealer.seal(item.index, item.pts, view, regions, shapes=self._shape)
        crop_work(view, 0, 0, regions)
        return rgb
