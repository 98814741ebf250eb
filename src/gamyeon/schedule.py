"""Which frames get which detection passes.

Detection is the expensive stage. With the look-ahead gap filling of ``temporal.py`` a face seen
on detection frames k apart is covered on every frame between, so by default detection runs
about 10 times per second (every frame at 10 fps, every 3rd at 30 fps). After a detection that
shows fast motion the next frame is detected too. The magnified small-face pass is costlier
still and runs about once per second (``auto``), on every detection frame while small faces are
being tracked, on every detection frame (``always``) or never.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BASE_MAX_SIDE = 1280  # whole-frame pass: no larger than this (CenterFace misses huge faces)
SMALL_FACE_PX = 24  # faces below this (frame pixels) are 'small'


@dataclass(frozen=True, slots=True)
class Plan:
    detect_every: int
    small_every: int  # in frames; 0: never
    base_factor: float
    small_factor: float

    @classmethod
    def for_video(cls, width: int, height: int, fps: float, detect_every: int | None, small_faces: str) -> Plan:
        fps = fps if fps > 0 else 25.0
        k = detect_every or max(1, round(fps / 10))
        longest = max(width, height)
        base = min(1.0, BASE_MAX_SIDE / longest)
        # magnify small frames 2x; large frames are looked at in native-resolution tiles
        small_factor = 2.0 if longest <= 1280 else 1.0
        if small_faces == "never":
            small_every = 0
        elif small_faces == "always":
            small_every = k
        else:
            small_every = max(k, k * math.ceil(fps / k))
        return cls(detect_every=k, small_every=small_every, base_factor=base, small_factor=small_factor)


class Scheduler:
    """Decides, frame by frame, whether to detect and whether to run the small-face pass."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._next = 0
        self._next_small = 0
        self.small_tracks_alive = False

    def wants(self, index: int) -> tuple[bool, bool]:
        """(detect?, small-face pass?) for frame ``index``; frames arrive in order."""
        if index < self._next:
            return False, False
        small = False
        if self.plan.small_every and (index >= self._next_small or self.small_tracks_alive):
            small = True
            self._next_small = index + self.plan.small_every
        self._next = index + self.plan.detect_every
        return True, small

    def hurry(self, index: int) -> None:
        """Detect again on the next frame (fast motion seen at ``index``)."""
        self._next = min(self._next, index + 1)
