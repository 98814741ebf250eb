"""Property tests for temporal protection (gamyeon.track.temporal): no holes, coverage never shrinks.

Tracks are random sequences of observations (hypothesis); the expected values are derived from
the definitions in the module docstring (linear interpolation between neighbours up to
``max_gap`` apart, ``pad_before``/``pad_after`` extension, margins rising with the distance to the
nearest observation), never from a recorded run.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gamyeon.track.temporal import Estimate, TemporalConfig, TrackStore
from gamyeon.types import Box, Source

SETTINGS = settings(max_examples=120, deadline=None)
EPS = 1e-6


@dataclass(frozen=True)
class Obs:
    frame: int
    box: Box


def contains(outer: Box, inner: Box, eps: float = EPS) -> bool:
    return (
        outer.x1 <= inner.x1 + eps
        and outer.y1 <= inner.y1 + eps
        and outer.x2 >= inner.x2 - eps
        and outer.y2 >= inner.y2 - eps
    )


def covered(est: Estimate) -> Box:
    """The area an estimate protects before the kind's mask scale: box grown by its margin."""
    return est.box.padded(est.margin, est.margin)


def only(store: TrackStore, frame: int, track: int) -> Estimate | None:
    found = [e for e in store.estimates(frame) if e.track == track]
    assert len(found) <= 1, f"frame {frame}: {len(found)} estimates for one track"
    return found[0] if found else None


configs = st.builds(
    TemporalConfig,
    max_gap=st.integers(1, 12),
    pad_before=st.integers(0, 8),
    pad_after=st.integers(0, 8),
    growth=st.floats(0.0, 0.2),
    max_growth=st.floats(0.0, 1.0),
)

positions = st.floats(-50.0, 500.0, allow_nan=False)
box_sizes = st.floats(1.0, 120.0, allow_nan=False)


@st.composite
def any_box(draw: st.DrawFn) -> Box:
    x, y = draw(positions), draw(positions)
    return Box(x, y, x + draw(box_sizes), y + draw(box_sizes))


@st.composite
def track_within(draw: st.DrawFn, cfg: TemporalConfig, same_size: bool = False) -> list[Obs]:
    """Observations of one track whose consecutive frames are at most ``cfg.max_gap`` apart."""
    n = draw(st.integers(1, 6))
    frame = draw(st.integers(0, 40))
    w, h = draw(box_sizes), draw(box_sizes)
    out: list[Obs] = []
    for i in range(n):
        if i:
            frame += draw(st.integers(1, cfg.max_gap))
        if same_size:
            x, y = draw(positions), draw(positions)
            box = Box(x, y, x + w, y + h)
        else:
            box = draw(any_box())
        out.append(Obs(frame, box))
    return out


def store_with(cfg: TemporalConfig, obs: list[Obs], track: int = 1, kind: str = "face") -> TrackStore:
    store = TrackStore(cfg)
    for o in obs:
        store.add(kind, track, o.frame, o.box, 0.9)
    return store


@SETTINGS
@given(data=st.data(), cfg=configs)
def test_no_hole_from_first_minus_pad_to_last_plus_pad(data: st.DataObject, cfg: TemporalConfig) -> None:
    obs = data.draw(track_within(cfg))
    store = store_with(cfg, obs)
    first, last = obs[0].frame, obs[-1].frame
    for frame in range(first - cfg.pad_before, last + cfg.pad_after + 1):
        est = only(store, frame, 1)
        assert est is not None, f"hole at frame {frame} (observed {[o.frame for o in obs]})"
        assert est.kind == "face" and est.margin >= 0.0
    # and nothing beyond the pads
    assert only(store, first - cfg.pad_before - 1, 1) is None
    assert only(store, last + cfg.pad_after + 1, 1) is None


@SETTINGS
@given(data=st.data(), cfg=configs)
def test_every_estimate_has_the_right_source_and_covers_its_observations(
    data: st.DataObject, cfg: TemporalConfig
) -> None:
    obs = data.draw(track_within(cfg))
    store = store_with(cfg, obs)
    by_frame = {o.frame: o for o in obs}
    for o in obs:
        est = only(store, o.frame, 1)
        assert est is not None and est.source is Source.DETECTED
        assert est.box == o.box and est.margin == 0.0
    for a, b in itertools.pairwise(obs):
        for frame in range(a.frame + 1, b.frame):
            assert frame not in by_frame
            est = only(store, frame, 1)
            assert est is not None and est.source is Source.INTERPOLATED
            expected = a.box.lerp(b.box, (frame - a.frame) / (b.frame - a.frame))
            assert contains(covered(est), expected), (frame, est, expected)
    for frame in range(obs[0].frame - cfg.pad_before, obs[0].frame):
        est = only(store, frame, 1)
        assert est is not None and est.source is Source.EXTENDED
        assert contains(covered(est), obs[0].box)
    for frame in range(obs[-1].frame + 1, obs[-1].frame + cfg.pad_after + 1):
        est = only(store, frame, 1)
        assert est is not None and est.source is Source.EXTENDED
        assert contains(covered(est), obs[-1].box)


@SETTINGS
@given(data=st.data(), cfg=configs)
def test_margin_grows_with_distance_to_the_nearest_observation(data: st.DataObject, cfg: TemporalConfig) -> None:
    """For a box of constant size, the margin is 0 on observations and never shrinks as the
    distance (in frames) to the nearest observation grows."""
    obs = data.draw(track_within(cfg, same_size=True))
    store = store_with(cfg, obs)
    frames = [o.frame for o in obs]

    def margin_at(frame: int) -> float:
        est = only(store, frame, 1)
        assert est is not None
        assert est.margin >= 0.0
        return est.margin

    # segments: the lead-in, each gap between two observations, the tail
    segments: list[list[int]] = [list(range(frames[0], frames[0] - cfg.pad_before - 1, -1))]
    for a, b in itertools.pairwise(frames):
        mid = (a + b) / 2
        segments.append([f for f in range(a, b + 1) if f <= mid])  # distance grows from a
        segments.append([f for f in range(b, a - 1, -1) if f >= mid])  # distance grows from b
    segments.append(list(range(frames[-1], frames[-1] + cfg.pad_after + 1)))
    for seg in segments:
        margins = [margin_at(f) for f in seg]
        assert margins[0] == 0.0
        assert all(m2 >= m1 - EPS for m1, m2 in itertools.pairwise(margins)), (seg, margins)
        if cfg.growth > 0 and cfg.max_growth > 0:
            assert all(m > 0 for m in margins[1:]), (seg, margins)


@SETTINGS
@given(cfg=configs, a=any_box(), b=any_box(), start=st.integers(0, 30), extra=st.integers(1, 30))
def test_gap_longer_than_max_gap_is_not_bridged(cfg: TemporalConfig, a: Box, b: Box, start: int, extra: int) -> None:
    """Two observations more than ``max_gap`` apart are two segments: each is extended by its pads
    (and those frames cover its box), the frames in between beyond the pads get nothing."""
    end = start + cfg.max_gap + extra
    store = store_with(cfg, [Obs(start, a), Obs(end, b)])
    for frame in range(start + 1, end):
        est = only(store, frame, 1)
        near_a = frame - start <= cfg.pad_after
        near_b = end - frame <= cfg.pad_before
        if not (near_a or near_b):
            assert est is None, f"frame {frame} bridged across a gap of {end - start} > {cfg.max_gap}"
            continue
        assert est is not None and est.source is Source.EXTENDED
        if near_a:
            assert contains(covered(est), a), f"frame {frame} misses the box seen {frame - start} frames before"
        if near_b:
            assert contains(covered(est), b), f"frame {frame} misses the box seen {end - frame} frames later"


@st.composite
def scenes(draw: st.DrawFn) -> tuple[TemporalConfig, list[tuple[int, int, Box]]]:
    """Several tracks, each with gaps that may or may not exceed ``max_gap``; (frame, track, box)."""
    cfg = draw(configs)
    rows: list[tuple[int, int, Box]] = []
    for track in range(1, draw(st.integers(1, 4)) + 1):
        frame = draw(st.integers(0, 20))
        for _ in range(draw(st.integers(1, 6))):
            rows.append((frame, track, draw(any_box())))
            frame += draw(st.integers(1, 2 * cfg.max_gap + cfg.pad_after + 2))
    rows.sort(key=lambda r: (r[0], r[1]))
    return cfg, rows


def snapshot(store: TrackStore, frame: int) -> list[Estimate]:
    return sorted(store.estimates(frame), key=lambda e: e.track)


@SETTINGS
@given(scene=scenes(), data=st.data())
def test_prune_never_changes_estimates_at_or_after_the_prune_point(
    scene: tuple[TemporalConfig, list[tuple[int, int, Box]]], data: st.DataObject
) -> None:
    """Like the pipeline: observations arrive in frame order, and ``prune(p)`` is called once every
    observation up to ``p + lookahead`` is in. Pruned and unpruned stores must agree on every
    frame >= p, including for observations added after the prune."""
    cfg, rows = scene
    last = rows[-1][0] + cfg.pad_after + 2
    point = data.draw(st.integers(0, last))
    full, pruned = TrackStore(cfg), TrackStore(cfg)
    for frame, track, box in rows:
        full.add("face", track, frame, box, 0.5)
    done = False
    for frame, track, box in rows:
        if not done and frame > point + cfg.lookahead:
            pruned.prune(point)
            done = True
        pruned.add("face", track, frame, box, 0.5)
    if not done:
        pruned.prune(point)
    for frame in range(point, last + 1):
        assert snapshot(pruned, frame) == snapshot(full, frame), f"frame {frame} changed by prune({point})"


def test_prune_forgets_old_tracks() -> None:
    cfg = TemporalConfig(max_gap=3, pad_before=2, pad_after=2)
    store = store_with(cfg, [Obs(0, Box(0, 0, 10, 10)), Obs(2, Box(1, 0, 11, 10))])
    store.add("face", 2, 50, Box(0, 0, 10, 10), 0.9)
    assert len(store) == 2
    store.prune(40)
    assert len(store) == 1
    assert store.recent(1, 1) == [] and [o.box for o in store.recent(2, 1)] == [Box(0, 0, 10, 10)]


@pytest.mark.parametrize("frames", [(5, 3), (5, 5, 4), (0, 7, 6)])
def test_observations_out_of_order_raise(frames: tuple[int, ...]) -> None:
    store = TrackStore(TemporalConfig())
    *good, bad = frames
    for f in good:
        store.add("face", 1, f, Box(0, 0, 10, 10), 0.9)
    with pytest.raises(ValueError, match="frame order"):
        store.add("face", 1, bad, Box(0, 0, 10, 10), 0.9)
    # other tracks are independent
    store.add("face", 2, bad, Box(0, 0, 10, 10), 0.9)


def test_a_second_look_at_the_last_frame_replaces_the_first() -> None:
    """A file's last frame can get a follow-up look and then the closing detection: the track
    keeps one observation there, the closing one."""
    store = TrackStore(TemporalConfig())
    store.add("face", 1, 4, Box(0, 0, 10, 10), 0.9)
    store.add("face", 1, 5, Box(1, 0, 11, 10), 0.5)
    store.add("face", 1, 5, Box(2, 0, 12, 10), 0.8)
    assert [(o.frame, o.box, o.score) for o in store.recent(1, 3)] == [
        (4, Box(0, 0, 10, 10), 0.9),
        (5, Box(2, 0, 12, 10), 0.8),
    ]


@pytest.mark.parametrize("field", ["max_gap", "pad_before", "pad_after"])
def test_negative_gaps_and_pads_are_rejected(field: str) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        TemporalConfig(**{field: -1})


@pytest.mark.parametrize(("fps", "every"), [(25.0, 1), (29.97, 3), (60.0, 2), (0.0, 5), (10.0, 8)])
def test_for_rate_covers_a_few_detection_intervals(fps: float, every: int) -> None:
    cfg = TemporalConfig.for_rate(fps, every)
    assert cfg.max_gap >= 3 * every  # two missed detection frames in a row stay bridged
    assert min(cfg.pad_before, cfg.pad_after) >= 2 * every
    assert cfg.lookahead >= max(cfg.max_gap, cfg.pad_before)
