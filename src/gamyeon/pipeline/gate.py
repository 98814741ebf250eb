"""Skip detection passes on frames where nothing has changed and nothing is tracked.

Static CCTV mostly shows an empty scene: every scheduled detection pass finds what the last one
found, nothing. ``ChangeGate`` compares a small grey thumbnail of each frame due for detection
with the thumbnail of the last frame the detectors actually saw, and lets the pass be skipped
only when

* no track of any kind is alive (a person standing still stays tracked, and a live track keeps
  every detection on schedule, so tracks carry as without the gate);
* no thumbnail pixel changed by more than ``threshold`` grey levels (anything that moves into
  the picture, however small, changes some pixel of the thumbnail; sensor noise, averaged down
  to the thumbnail, stays far below);
* the frame is less than ``span`` frames after the last detection that ran: at least once a
  ``span`` (about a second) every detector runs, with its discovery pass.

The detection after skipped ones runs every detector with its discovery pass, and the tracks it
starts reach back to the last detection that ran (as a discovery pass's do), so what it finds
is masked on the skipped frames too, as a discovery pass's finds are.
"""

from __future__ import annotations

import numpy as np

from gamyeon.types import Array

#: the thumbnail's longer side in pixels
THUMB_SIDE = 160
#: grey levels (0-255) a thumbnail pixel must change by to count as a change
THRESHOLD = 12


def thumb_size(width: int, height: int, side: int = THUMB_SIDE) -> tuple[int, int]:
    """(width, height) of the thumbnail of a ``width`` x ``height`` frame."""
    scale = min(1.0, side / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


class ChangeGate:
    """Decides, frame by frame, whether a scheduled detection may be skipped (see the module)."""

    def __init__(self, span: int, threshold: int = THRESHOLD) -> None:
        """``span``: most frames from the last detection that ran to the next one (>= 1)."""
        self.span = max(1, span)
        self.threshold = threshold
        self._reference: Array | None = None
        self._last_run: int | None = None
        self.skipped = 0
        #: whether detections were skipped since the last one that ran
        self.pending = False

    def skips(self, index: int, thumb: Array, tracked: bool) -> bool:
        """Whether the detection due on frame ``index`` (``thumb``: its grey thumbnail) may be
        skipped; ``tracked``: some track is alive."""
        if tracked or self._reference is None or self._last_run is None:
            return False
        if index - self._last_run >= self.span or thumb.shape != self._reference.shape:
            return False
        change = np.abs(thumb.astype(np.int16) - self._reference.astype(np.int16))
        if int(change.max(initial=0)) > self.threshold:
            return False
        self.skipped += 1
        self.pending = True
        return True

    def reset(self) -> None:
        """The detection failed: nothing is known, so nothing is skipped until one runs."""
        self._reference = None
        self._last_run = None

    def ran(self, index: int, thumb: Array) -> None:
        """The detectors ran on frame ``index``: its thumbnail is the new reference."""
        self._reference = thumb
        self._last_run = index
        self.pending = False
