"""Temporal protection: turn sparse, per-detection-frame observations into a box on every frame.

The most common complaint about frame-by-frame anonymisers is a face that slips through for one
or two frames. With a bounded look-ahead, each frame is decided only once the detections of the
next ``lookahead`` frames are known, so every track is

* **interpolated** between two observations up to ``max_gap`` frames apart (missed detections,
  and the frames between detection frames when detection runs every k-th frame);
* **extended** ``pad`` frames before its first and after its last observation, drifting with the
  track's last known velocity;

and every estimated box is grown by a margin that rises with the distance (in frames) to the
nearest real observation and with the track's speed. Coverage never shrinks: an estimated box
always contains the linear interpolation of its neighbours.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gamyeon.types import Box, Source


@dataclass(frozen=True, slots=True)
class TemporalConfig:
    max_gap: int = 15
    pad_before: int = 8
    pad_after: int = 8
    #: margin per frame of distance to the nearest observation, as a fraction of box size
    growth: float = 0.03
    #: cap on that margin, as a fraction of box size
    max_growth: float = 0.5

    def __post_init__(self) -> None:
        if min(self.max_gap, self.pad_before, self.pad_after) < 0:
            raise ValueError("temporal gaps and pads must be >= 0")

    #: how far back a track first found by a sparse pass (the small-face discovery pass) is
    #: extended: the face may have been there, unseen, since the previous such pass
    reach_back: int = 0

    @property
    def lookahead(self) -> int:
        return max(self.max_gap, self.pad_before, self.reach_back)

    def for_period(self, every: int) -> TemporalConfig:
        """This config for a detector that runs every ``every`` frames (persons, plates): gaps
        and pads never shorter than 3 and 2 of its detection intervals, so one or two missed
        detections stay covered. A config without look-ahead (still images) stays as it is."""
        if self.lookahead == 0:
            return self
        return dataclasses.replace(
            self,
            max_gap=max(self.max_gap, 3 * every),
            pad_before=max(self.pad_before, 2 * every),
            pad_after=max(self.pad_after, 2 * every),
        )

    @classmethod
    def for_rate(cls, fps: float, detect_every: int) -> TemporalConfig:
        """Defaults scaled to the frame rate: gaps of ~0.5 s, pads of ~0.3 s, never below a few
        detection intervals (so a face missed on one or two detection frames stays covered)."""
        k = max(1, detect_every)
        fps = fps if fps > 0 else 25.0
        return cls(
            max_gap=max(3 * k, math.ceil(0.5 * fps)),
            pad_before=max(2 * k, math.ceil(0.3 * fps)),
            pad_after=max(2 * k, math.ceil(0.3 * fps)),
        )


@dataclass(frozen=True, slots=True)
class Observation:
    frame: int
    box: Box
    score: float


@dataclass(frozen=True, slots=True)
class Estimate:
    """A track's box on one frame, before the kind's mask scale is applied."""

    kind: str
    track: int
    box: Box
    margin: float  # pixels to add on every side for uncertainty: spread x box size + drift
    score: float
    source: Source
    #: the part of ``margin`` that scales with the box, as a fraction of its longer side, and the
    #: part from the track's speed (pixels): a box derived from this one (a person's head) is
    #: uncertain by ``spread`` of its *own* size plus the same ``drift``
    spread: float = 0.0
    drift: float = 0.0


@dataclass(slots=True)
class _Track:
    kind: str
    pad_before: int  # for the first observation; later segments use the config's pad_before
    observations: list[Observation] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)

    def add(self, obs: Observation) -> None:
        """Append ``obs``; a second look at the track's last frame replaces the first (the closing
        detection of a file's last frame after a follow-up look there: the whole detection saw
        the whole frame)."""
        if self.frames and obs.frame == self.frames[-1]:
            self.observations[-1] = obs
            return
        if self.frames and obs.frame < self.frames[-1]:
            raise ValueError(f"observations must arrive in frame order, got {obs.frame} after {self.frames[-1]}")
        self.observations.append(obs)
        self.frames.append(obs.frame)


def _speed(a: Observation, b: Observation) -> tuple[float, float]:
    """Centre velocity in pixels per frame from ``a`` to ``b``."""
    dt = max(1, b.frame - a.frame)
    (ax, ay), (bx, by) = a.box.center, b.box.center
    return (bx - ax) / dt, (by - ay) / dt


class TrackStore:
    """Observations of every live track, and the estimated box of each on any frame."""

    def __init__(self, config: TemporalConfig, per_kind: Mapping[str, TemporalConfig] | None = None) -> None:
        """``config`` applies to every kind not in ``per_kind`` (kinds detected at other rates)."""
        self.config = config
        self.per_kind = dict(per_kind or {})
        self._tracks: dict[int, _Track] = {}

    def config_for(self, kind: str) -> TemporalConfig:
        return self.per_kind.get(kind, self.config)

    @property
    def lookahead(self) -> int:
        """Frames a frame must wait for the observations that decide it, over every kind."""
        return max([self.config.lookahead, *(c.lookahead for c in self.per_kind.values())])

    def __len__(self) -> int:
        return len(self._tracks)

    def add(self, kind: str, track: int, frame: int, box: Box, score: float, *, reach_back: bool = False) -> None:
        """Record an observation. ``reach_back``: if this starts a new track, extend it back by
        the config's ``reach_back`` instead of ``pad_before``."""
        if track not in self._tracks:
            cfg = self.config_for(kind)
            pad = max(cfg.pad_before, cfg.reach_back) if reach_back else cfg.pad_before
            self._tracks[track] = _Track(kind, pad)
        self._tracks[track].add(Observation(frame, box, score))

    def live(self, frame: int) -> list[tuple[str, int, Observation]]:
        """(kind, track, last observation) of tracks observed within ``max_gap`` before ``frame``."""
        out = []
        for track_id, track in self._tracks.items():
            if track.observations and frame - track.frames[-1] <= self.config_for(track.kind).max_gap:
                out.append((track.kind, track_id, track.observations[-1]))
        return out

    def previous(self, track: int) -> Observation | None:
        """The observation of ``track`` before its last one (None: fewer than two)."""
        obs = self._tracks[track].observations if track in self._tracks else []
        return obs[-2] if len(obs) > 1 else None

    def chained(self, track: int, period: int, agree: Callable[[Box, Box, float], bool]) -> bool:
        """Whether ``track`` has several observations and no two successive ones ``agree``
        (called with both boxes and the number of ``period``-frame detection intervals between
        them): the tracker chained different things (pieces of one body seen by different
        tiles), not one object seen twice."""
        t = self._tracks.get(track)
        if t is None or len(t.observations) < 2:
            return False
        obs = t.observations
        return not any(agree(a.box, b.box, (b.frame - a.frame) / max(1, period)) for a, b in itertools.pairwise(obs))

    def recent(self, track: int, count: int) -> list[Observation]:
        """The last ``count`` observations of ``track``, oldest first (fewer when it has fewer)."""
        t = self._tracks.get(track)
        return t.observations[-count:] if t is not None else []

    def estimates(self, frame: int) -> list[Estimate]:
        out = []
        for track_id, track in self._tracks.items():
            est = self._estimate(track_id, track, frame)
            if est is not None:
                out.append(est)
        return out

    def _margin(self, cfg: TemporalConfig, box: Box, distance: int, speed: float) -> tuple[float, float, float]:
        """(margin, spread, drift): see ``Estimate``."""
        size = max(box.width, box.height)
        spread = min(cfg.growth * distance, cfg.max_growth)
        drift = 0.5 * speed * distance
        return size * spread + drift, spread, drift

    def _estimate(self, track_id: int, track: _Track, frame: int) -> Estimate | None:
        """The track's box on ``frame``: observed, interpolated, or extended from one or both sides."""
        cfg = self.config_for(track.kind)
        i = bisect.bisect_left(track.frames, frame)
        obs = track.observations
        if i < len(obs) and obs[i].frame == frame:
            o = obs[i]
            return Estimate(track.kind, track_id, o.box, 0.0, o.score, Source.DETECTED)
        prev = obs[i - 1] if i > 0 else None
        nxt = obs[i] if i < len(obs) else None
        if prev is not None and nxt is not None and nxt.frame - prev.frame <= cfg.max_gap:
            t = (frame - prev.frame) / (nxt.frame - prev.frame)
            vx, vy = _speed(prev, nxt)
            distance = min(frame - prev.frame, nxt.frame - frame)
            box = prev.box.lerp(nxt.box, t)
            margin, spread, drift = self._margin(cfg, box, distance, math.hypot(vx, vy))
            score = min(prev.score, nxt.score)
            return Estimate(track.kind, track_id, box, margin, score, Source.INTERPOLATED, spread, drift)
        after = self._extend_after(track_id, track, i, frame)
        before = self._extend_before(track_id, track, i, frame)
        if after is not None and before is not None:
            # Across a gap longer than max_gap, the pad_after of one segment can overlap the
            # pad_before of the next. Returning only the first left the later box unmasked on
            # those frames, so cover both boxes (still no bridging of the gap itself).
            return Estimate(
                track.kind,
                track_id,
                after.box.union(before.box),
                max(after.margin, before.margin),
                min(after.score, before.score),
                Source.EXTENDED,
                max(after.spread, before.spread),
                max(after.drift, before.drift),
            )
        return after if after is not None else before

    def _extend_after(self, track_id: int, track: _Track, i: int, frame: int) -> Estimate | None:
        """``frame`` within ``pad_after`` after the observation before it (index ``i - 1``)."""
        cfg = self.config_for(track.kind)
        obs = track.observations
        prev = obs[i - 1] if i > 0 else None
        if prev is None or frame - prev.frame > cfg.pad_after:
            return None
        before = obs[i - 2] if i > 1 and prev.frame - obs[i - 2].frame <= cfg.max_gap else None
        vx, vy = _speed(before, prev) if before is not None else (0.0, 0.0)
        distance = frame - prev.frame
        moved = prev.box.shifted(vx * distance, vy * distance)
        margin, spread, drift = self._margin(cfg, prev.box, distance, math.hypot(vx, vy))
        return Estimate(track.kind, track_id, prev.box.union(moved), margin, prev.score, Source.EXTENDED, spread, drift)

    def _extend_before(self, track_id: int, track: _Track, i: int, frame: int) -> Estimate | None:
        """``frame`` within ``pad_before`` before the observation after it (index ``i``)."""
        cfg = self.config_for(track.kind)
        obs = track.observations
        nxt = obs[i] if i < len(obs) else None
        pad = track.pad_before if i == 0 else cfg.pad_before
        if nxt is None or nxt.frame - frame > pad:
            return None
        after = obs[i + 1] if i + 1 < len(obs) and obs[i + 1].frame - nxt.frame <= cfg.max_gap else None
        vx, vy = _speed(nxt, after) if after is not None else (0.0, 0.0)
        distance = nxt.frame - frame
        moved = nxt.box.shifted(-vx * distance, -vy * distance)
        margin, spread, drift = self._margin(cfg, nxt.box, distance, math.hypot(vx, vy))
        return Estimate(track.kind, track_id, nxt.box.union(moved), margin, nxt.score, Source.EXTENDED, spread, drift)

    def prune(self, before: int) -> None:
        """Forget what can no longer affect frames >= ``before``."""
        for track_id in list(self._tracks):
            track = self._tracks[track_id]
            cfg = self.config_for(track.kind)
            horizon = before - max(cfg.max_gap, cfg.pad_after) - 1
            cut = bisect.bisect_left(track.frames, horizon)
            # keep one observation before the horizon for velocity / interpolation
            cut = max(0, cut - 1)
            if cut:
                del track.observations[:cut]
                del track.frames[:cut]
            if track.frames and track.frames[-1] < horizon:
                del self._tracks[track_id]
