"""Time in a live run: each frame's deadline, the look-ahead that fits in the delay budget, the
measured delay and rate, and the reconnection back-off.

A file run decides a frame once the detections of the next ``lookahead`` frames are known
(``track/temporal.py``). Live, waiting costs delay: a frame leaves ``lookahead / fps`` seconds
after it arrived at the earliest, plus the time to detect the frame that completes its look-ahead,
mask and encode it. So the look-ahead is what fits in the delay budget once a processing reserve
is kept: ``floor((max_delay - reserve) * fps)`` frames, never more than the file run would use.
Every frame has a deadline, its arrival plus ``max_delay``; the session sends a frame that cannot
be decided by then fully masked (or drops it), never as it came.
"""

from __future__ import annotations

import collections
import math
import random
import time
from dataclasses import dataclass

from gamyeon.live.config import Timing


@dataclass(frozen=True, slots=True)
class Budget:
    """One connection's timing, fixed once its frame rate is known."""

    max_delay: float
    reserve: float
    fps: float
    #: frames a frame waits for (the file run's look-ahead, cut to what the budget allows)
    lookahead: int
    #: what the file run would have used
    wanted: int

    @classmethod
    def of(cls, timing: Timing, fps: float, wanted: int) -> Budget:
        reserve = timing.processing_reserve
        fits = max(0, math.floor((timing.max_delay - reserve) * fps + 1e-9))
        return cls(timing.max_delay, reserve, fps, min(wanted, fits), wanted)

    def deadline(self, arrived: float) -> float:
        return arrived + self.max_delay

    def stale(self, arrived: float, now: float) -> bool:
        """Whether a frame taken up at ``now`` can no longer be detected and still leave in
        time: more than ``max_delay - reserve`` has passed since it arrived."""
        return now - arrived > self.max_delay - self.reserve

    def describe(self) -> str:
        return (
            f"look-ahead {self.lookahead} frame(s) = {self.lookahead / self.fps:.2f} s at {self.fps:g} fps "
            f"(the file run would wait {self.wanted}), processing reserve {self.reserve:.2f} s, "
            f"max delay {self.max_delay:.2f} s"
        )


class Window:
    """Values over the last ``seconds``: rate, mean, high percentile and maximum."""

    def __init__(self, seconds: float = 10.0) -> None:
        self.seconds = seconds
        self._items: collections.deque[tuple[float, float]] = collections.deque()

    def add(self, value: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._items.append((now, value))
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._items and self._items[0][0] < now - self.seconds:
            self._items.popleft()

    def rate(self, now: float | None = None) -> float:
        """Values added per second over the window (the frame rate, for arrivals)."""
        now = time.monotonic() if now is None else now
        self._trim(now)
        if len(self._items) < 2:
            return 0.0
        span = now - self._items[0][0]
        return (len(self._items) - 1) / span if span > 0 else 0.0

    def stats(self, now: float | None = None) -> dict[str, float | None]:
        """last, mean, p95 and max of the values in the window (None when empty)."""
        now = time.monotonic() if now is None else now
        self._trim(now)
        if not self._items:
            return {"last": None, "mean": None, "p95": None, "max": None}
        values = sorted(v for _, v in self._items)
        p95 = values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)]
        return {
            "last": self._items[-1][1],
            "mean": sum(values) / len(values),
            "p95": p95,
            "max": values[-1],
        }


class Backoff:
    """Waits between reconnection attempts: doubling from ``first`` up to ``longest``, with up to
    20 % random jitter so cameras lost together do not all knock at once."""

    def __init__(self, first: float, longest: float) -> None:
        self.first, self.longest = first, longest
        self.attempts = 0

    def next(self) -> float:
        wait = min(self.longest, self.first * 2.0**self.attempts)
        self.attempts += 1
        return wait * (1.0 + 0.2 * random.random())  # jitter, not secrecy

    def reset(self) -> None:
        self.attempts = 0


class Histogram:
    """Every value since the start, in bins of ``step`` seconds (bounded memory over days):
    mean, percentiles and maximum of the whole run, where ``Window`` shows the last seconds."""

    def __init__(self, step: float = 0.005, top: float = 30.0) -> None:
        self.step = step
        self._bins = [0] * (int(top / step) + 1)
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, value: float) -> None:
        self._bins[min(len(self._bins) - 1, max(0, int(value / self.step)))] += 1
        self.count += 1
        self.total += value
        self.max = max(self.max, value)

    def quantile(self, share: float) -> float | None:
        """The upper edge of the bin holding the ``share`` quantile."""
        if not self.count:
            return None
        wanted = math.ceil(share * self.count)
        seen = 0
        for i, n in enumerate(self._bins):
            seen += n
            if seen >= wanted:
                return min(self.max, (i + 1) * self.step)
        return self.max

    def stats(self) -> dict[str, float | None]:
        if not self.count:
            return {"mean": None, "p50": None, "p95": None, "p99": None, "max": None}
        return {
            "mean": self.total / self.count,
            "p50": self.quantile(0.5),
            "p95": self.quantile(0.95),
            "p99": self.quantile(0.99),
            "max": self.max,
        }
