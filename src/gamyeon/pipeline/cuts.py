"""Shot changes: frames where the picture is replaced wholesale.

An edit, a camera switch in a DVR export or clips joined into one file start a new shot in which
every face is new. The small-face discovery pass runs about once a second, and the tracks it
starts reach back to the previous one, so in a long shot a small face is covered from its first
frame. A shot shorter than that interval may get no discovery pass at all, and its small faces
would never be seen. ``CutWatch`` notices the cut from the frames' grey thumbnails (the change
gate's, ``pipeline.gate.thumb_size``), and the cut frame gets every detector with its discovery
pass at once (``KindsScheduler.cut``), whose new tracks do not reach back into the shot before.

A cut changes the mean grey level of a 160-px thumbnail by tens of levels (53-90 between the dev
clips joined by ``benchmarks/``), consecutive frames of one shot by a few (at most 4 on the dev
videos, people and traffic moving; 6-9 on the demo's pan and zoom). Panning across a detailed
photo (scikit-image's coffee, 960 px wide) changes it by about 10 levels at 10 px a frame and 20
at 40 px a frame (the width crossed in a second at 25 fps); ``CUT_LEVEL`` lies above, below the
cuts. A whip pan that passes it costs an extra discovery pass, nothing else.
"""

from __future__ import annotations

import numpy as np

from gamyeon.types import Array

#: mean absolute grey-level change (0-255) of the thumbnail between two consecutive frames
CUT_LEVEL = 25.0


class CutWatch:
    """Tells, frame by frame in order, whether a frame starts a new shot (see the module)."""

    def __init__(self, level: float = CUT_LEVEL) -> None:
        self.level = level
        self._last: Array | None = None
        self.cuts = 0

    def cut(self, thumb: Array) -> bool:
        """Whether the frame whose grey thumbnail is ``thumb`` starts a new shot: its thumbnail
        differs from the previous frame's by more than ``level`` on average. The first frame is
        not a cut (the first detection runs every pass anyway)."""
        grey = thumb.astype(np.int16)  # kept widened: each thumbnail is compared twice
        last, self._last = self._last, grey
        if last is None or last.shape != grey.shape:
            return False
        change = float(np.abs(grey - last).mean())
        if change > self.level:
            self.cuts += 1
            return True
        return False
