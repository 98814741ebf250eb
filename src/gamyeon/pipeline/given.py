"""Regions given from outside instead of detect -> track -> estimate: the reviewed regions of
``gamyeon review``'s re-render.

``GivenRegions`` stands where ``frame.FrameWork`` stands in ``video.anonymize_video`` and answers the
same questions, but runs no detector: each frame's regions come from a table made beforehand, so
nothing is looked ahead for. A frame the table cannot give regions for raises, and the pipeline
fails that frame closed (fully masked), as it does for any stage that fails.
"""

from __future__ import annotations

from collections.abc import Callable

from gamyeon.figures import Tally
from gamyeon.track.schedule import FramePasses
from gamyeon.types import Array, FrameResult, Region, TrackBox


class _NoDetection:
    """The scheduler of a run without detectors: no pass is ever due."""

    def passes(self, index: int) -> FramePasses:
        return FramePasses()

    def closing(self) -> FramePasses:
        return FramePasses()

    def cut(self) -> FramePasses:
        return FramePasses()


class GivenRegions:
    """Each frame's regions from ``table`` (frame index -> regions, in masking order)."""

    #: frames wait in the pipeline's buffer about as long as in a detecting run. Nothing needs
    #: the wait, but without it the same re-render of a 20-frame clip gave x264 outputs that
    #: differed from the run before in 7 of 15 runs on the loaded 2-core machine (FFV1 outputs
    #: did not differ; the cause was not found); with it, 15 of 15 were byte-identical
    lookahead = 16

    def __init__(
        self, table: Callable[[int], list[Region]], tracks: Callable[[int], list[TrackBox] | None] | None = None
    ) -> None:
        """``tracks``: frame index -> the identity tracks to report on it (None: the run tracks
        no persons), carried into the new sidecar as they were."""
        self._table = table
        self._tracks = tracks
        self.scheduler = _NoDetection()
        self.tally = Tally()

    def detect(
        self, index: int, passes: FramePasses, base_image: Callable[[], Array], full_image: Callable[[], Array]
    ) -> None:
        """Nothing to detect: the regions are given."""

    def regions(self, index: int) -> list[Region]:
        return self._table(index)

    def tracks(self, index: int) -> list[TrackBox] | None:
        return None if self._tracks is None else self._tracks(index)

    def account(self, result: FrameResult) -> None:
        self.tally.frame(result)

    def forget_before(self, index: int) -> None:
        """Nothing is kept between frames."""
