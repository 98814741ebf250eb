"""The identity attack's statistics and decisions, on known cases.

The statistics are checked against brute-force enumeration and scipy; the attack's decisions
(measured / cannot measure / not measurable, leak or not) on descriptor sets built with numpy
whose structure is known: separable people, masks that keep or destroy identity, and people the
recognizer cannot tell apart.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from gamyeon.errors import GamyeonError
from gamyeon.types import Box
from gamyeon.verify.attack import (
    CANNOT,
    MEASURED,
    NOT_MEASURABLE,
    IdentitySample,
    TrackLinker,
    footage_attack,
    gallery_attack,
    pooled,
)
from gamyeon.verify.gallery import read_gallery
from gamyeon.verify.stats import (
    Outcomes,
    Probe,
    identify,
    permutation_p_values,
    poisson_binomial_sf,
    rank_chance,
    rank_figure,
    wilson,
)

ALPHA = 0.01


def test_wilson_interval_known_values() -> None:
    lo, hi = wilson(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.7225, abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson(11, 10)


def test_poisson_binomial_tail_matches_enumeration_and_binomial() -> None:
    rng = np.random.default_rng(7)
    chances = list(rng.uniform(0.05, 0.6, size=9))
    for hits in range(len(chances) + 2):
        brute = 0.0
        for outcome in itertools.product((0, 1), repeat=len(chances)):
            if sum(outcome) >= hits:
                brute += math.prod(p if o else 1 - p for o, p in zip(outcome, chances, strict=True))
        assert poisson_binomial_sf(hits, chances) == pytest.approx(brute, abs=1e-12)
    stats = pytest.importorskip("scipy.stats")
    for n, p, k in ((20, 0.154, 4), (6, 1 / 3, 6), (40, 0.25, 17)):
        assert poisson_binomial_sf(k, [p] * n) == pytest.approx(float(stats.binom.sf(k - 1, n, p)), rel=1e-9)
    assert poisson_binomial_sf(0, [0.5]) == 1.0 and poisson_binomial_sf(2, [0.5]) == 0.0


def test_rank_chance_matches_enumeration() -> None:
    for gallery, same, rank in ((10, 1, 1), (10, 3, 5), (7, 2, 3), (4, 1, 5), (13, 4, 5)):
        members = range(gallery)  # the first `same` are the probe's identity
        draws = list(itertools.combinations(members, min(rank, gallery)))
        brute = sum(any(m < same for m in d) for d in draws) / len(draws)
        assert rank_chance(gallery, same, rank) == pytest.approx(brute)
    assert rank_chance(10, 3, 1) == pytest.approx(0.3)
    assert rank_chance(5, 0, 1) == 0.0


def test_rank_figure_of_a_perfect_and_a_chance_attack() -> None:
    perfect = rank_figure(1, [(True, 1 / 3)] * 6)
    assert perfect.rate == 1.0 and perfect.p_value == pytest.approx((1 / 3) ** 6)
    assert perfect.min_p_value == perfect.p_value
    none = rank_figure(1, [(False, 0.25)] * 8)
    assert none.p_value == 1.0 and none.chance == 0.25 and none.ci[0] == 0.0


def test_identify_leaves_out_what_is_not_allowed() -> None:
    labels = ["a", "a", "b", "b", "c"]
    points = np.array([[0.0], [0.1], [5.0], [5.1], [9.0]])
    d = np.abs(points - points.T)
    others = ~np.eye(5, dtype=bool)
    out = identify(d, labels, labels, others)
    ones = out.by_rank[1]
    # "c" has no other photo: nobody can name it, so it is not a probe
    assert len(ones) == 4 and all(hit for hit, _ in ones)
    assert [c for _, c in ones] == pytest.approx([0.25] * 4)
    # with its own photo allowed, every probe hits itself: why leave-one-out matters
    assert all(hit for hit, _ in identify(d, labels, labels, np.ones((5, 5), dtype=bool)).by_rank[1])


def _samples(
    centres: np.ndarray, frames: int, spread: float, masked: str, rng: np.random.Generator
) -> list[IdentitySample]:
    """Tracks ``t0..`` around ``centres``; the masked descriptor keeps identity (``keep``: small
    noise around the original) or not (``destroy``: one common point plus noise)."""
    samples = []
    common = rng.normal(0, 0.3, size=centres.shape[1])
    for t, centre in enumerate(centres):
        for f in range(frames):
            original = centre + rng.normal(0, spread, size=centre.shape)
            if masked == "keep":
                out = original + rng.normal(0, 0.02, size=centre.shape)
                again = original + rng.normal(0, 0.02, size=centre.shape)
            else:
                out = common + rng.normal(0, 0.05, size=centre.shape)
                again = common + rng.normal(0, 0.05, size=centre.shape)
            samples.append(IdentitySample(f * 10 + t, f"t{t}", original, out, remasked=again))
    return samples


def test_attack_flags_masks_that_keep_identity_and_passes_masks_that_do_not() -> None:
    rng = np.random.default_rng(1)
    centres = rng.normal(0, 0.3, size=(7, 128))
    keep = footage_attack(_samples(centres, 8, 0.02, "keep", rng), ALPHA)
    assert keep.status == MEASURED and keep.identities == 7
    assert keep.leak and "LEAK" in keep.summary()
    plain = keep.figure("plain", "mean")
    assert plain is not None and plain.hits == plain.probes == 14 and plain.chance == pytest.approx(1 / 7)
    # every one of the 7! shuffles of the identities is tried; only the true one names all 14
    assert plain.p_value == pytest.approx(1 / math.factorial(7))
    destroy = footage_attack(_samples(centres, 8, 0.02, "destroy", rng), ALPHA)
    assert destroy.status == MEASURED and not destroy.leak, destroy.summary()
    parrot = destroy.figure("parrot", "best")
    assert parrot is not None and parrot.p_value > ALPHA / 4
    linkability = destroy.figure("linkability", "mean")
    assert linkability is not None and ("linkability", "mean") not in destroy.gate  # information only
    without_parrot = footage_attack(
        [replace(x, remasked=None) for x in _samples(centres, 8, 0.02, "destroy", rng)], ALPHA
    )
    assert without_parrot.figure("parrot", "mean") is None and "parrot attack not run" in without_parrot.reason
    assert {a for a, _ in without_parrot.gate} == {"plain"}
    d = destroy.as_dict()
    assert d["status"] == MEASURED and d["leak"] is False and len(d["tracks"]) == 7  # type: ignore[arg-type]
    json.dumps(d)


def test_no_false_alarm_where_the_recognizer_cannot_tell_the_originals_apart() -> None:
    """Every track's faces are draws from one distribution (within-person variation as large as
    between persons): even masks that keep every descriptor unchanged must not be called a leak."""
    rng = np.random.default_rng(2)
    centre = rng.normal(0, 0.3, size=(1, 128))
    samples = []
    for t in range(7):
        for f in range(8):
            original = centre[0] + rng.normal(0, 0.2, size=128)
            samples.append(IdentitySample(f, f"t{t}", original, original.copy()))
    result = footage_attack(samples, ALPHA)
    assert result.status == CANNOT and "cannot tell" in result.reason
    assert not result.leak
    assert not pooled([result], ALPHA).leak


def test_one_identity_is_not_measurable_and_two_are_too_few() -> None:
    rng = np.random.default_rng(3)
    one = footage_attack(_samples(rng.normal(0, 0.3, size=(1, 128)), 6, 0.02, "keep", rng), ALPHA)
    assert one.status == NOT_MEASURABLE and "one identity" in one.reason and "--gallery" in one.reason
    assert not one.leak
    two = footage_attack(_samples(rng.normal(0, 0.3, size=(2, 128)), 6, 0.02, "keep", rng), ALPHA)
    assert two.status == CANNOT and "too few" in two.reason and not two.leak
    assert footage_attack([], ALPHA).status == NOT_MEASURABLE


def test_pooling_tests_small_files_together_and_leaves_out_uncalibrated_ones() -> None:
    """Four people per file cannot be significant alone (no shuffle test goes below 1/4! = 0.042);
    three such files together can. A file whose originals the recognizer cannot tell apart
    contributes nothing, and neither does a file of one identity."""
    rng = np.random.default_rng(4)
    small = [footage_attack(_samples(rng.normal(0, 0.3, size=(4, 128)), 6, 0.02, "keep", rng), ALPHA) for _ in range(3)]
    assert all(a.status == CANNOT and "too few" in a.reason and not a.leak for a in small)
    both = pooled(small, ALPHA)
    fig = both.figure("plain", "mean")
    assert both.status == MEASURED and fig is not None and fig.probes == 24 and both.leak, both.summary()
    centre = rng.normal(0, 0.3, size=128)
    alike = [
        IdentitySample(f, f"t{t}", o, o.copy())
        for t in range(7)
        for f in range(6)
        for o in [centre + rng.normal(0, 0.2, size=128)]
    ]
    blind = footage_attack(alike, ALPHA)
    one = footage_attack(_samples(rng.normal(0, 0.3, size=(1, 128)), 6, 0.02, "keep", rng), ALPHA)
    assert blind.status == CANNOT and not blind.poolable and one.status == NOT_MEASURABLE
    assert pooled([small[0], blind, one], ALPHA).status == CANNOT  # the small file alone again
    with_blind = pooled([*small, blind, one], ALPHA)
    assert with_blind.figure("plain", "mean").probes == 24 and "2 could not be" in with_blind.reason  # type: ignore[union-attr]
    assert pooled([one], ALPHA).status == NOT_MEASURABLE


def _probes(group: str, nearest_of: dict[str, str]) -> list[Probe]:
    """Two probes per identity that name the same gallery identity (one mask per track)."""
    return [Probe(group, own, (named,), (1 / len(nearest_of),)) for own, named in nearest_of.items() for _ in (0, 1)]


def test_permutation_test_counts_shuffles_exactly() -> None:
    # three people named right: only the true labelling of 3! names all six probes
    right = _probes("f", {"a": "a", "b": "b", "c": "c"})
    assert permutation_p_values(right, 1) == (pytest.approx(1 / 6), pytest.approx(1 / 6))
    # one right (2 hits): every shuffle with at least one fixed point does as well: 4 of 6
    one = _probes("f", {"a": "a", "b": "c", "c": "b"})
    assert permutation_p_values(one, 1)[0] == pytest.approx(4 / 6)
    # everyone named "a" (a hub): any shuffle gives 2 hits, so nothing is evidence
    hub = _probes("f", {"a": "a", "b": "a", "c": "a"})
    assert permutation_p_values(hub, 1)[0] == 1.0
    # the binomial test of six "independent" probes calls 6 of 6 significant
    assert rank_figure(1, [(True, 1 / 3)] * 6).p_value == pytest.approx(1 / 729)


def test_permutation_test_sampled_matches_brute_force_over_two_files() -> None:
    rng = np.random.default_rng(8)
    names = ["a", "b", "c", "d"]
    probes = _probes("x", dict(zip(names, rng.permutation(names), strict=True)))
    probes += _probes("y", {n: n for n in names})
    observed = sum(p.hit(1) for p in probes)
    tally = 0
    for px in itertools.permutations(names):
        for py in itertools.permutations(names):
            move = {"x": dict(zip(names, px, strict=True)), "y": dict(zip(names, py, strict=True))}
            tally += sum(p.label == move[p.group][p.nearest[0]] for p in probes) >= observed
    brute = tally / 24**2
    sampled, floor = permutation_p_values(probes, 1)
    assert sampled == pytest.approx(brute, abs=0.01) and floor == pytest.approx(1 / 24**2, abs=5e-4)
    assert permutation_p_values(probes, 1) == (sampled, floor)  # seeded: the same data, the same p


def test_permutation_test_keeps_its_false_alarm_rate_where_probes_come_in_pairs() -> None:
    """Masks at chance, one mask per track: each track's two probes name the same random
    identity. The shuffle test flags at most its level (the binomial test's excess on such pairs
    is in ``test_permutation_test_counts_shuffles_exactly``: 1/27 against a nominal 1/729)."""
    rng = np.random.default_rng(9)
    names = [f"p{i}" for i in range(5)]
    level, trials = 0.05, 400
    shuffled = 0
    for t in range(trials):
        probes = _probes(str(t), {n: str(rng.choice(names)) for n in names})
        shuffled += permutation_p_values(probes, 1)[0] <= level
    assert shuffled / trials <= level + 0.02


def test_outcomes_of_footage_and_photos_do_not_mix() -> None:
    photo = identify(np.zeros((2, 2)), ["a", "b"], ["a", "b"], np.ones((2, 2), dtype=bool))
    clip = identify(np.zeros((2, 2)), ["a", "b"], ["a", "b"], np.ones((2, 2), dtype=bool), "f")
    assert not photo.exchangeable and clip.exchangeable
    assert (Outcomes.empty() + clip).exchangeable
    with pytest.raises(ValueError, match="cannot pool"):
        _ = photo + clip


def test_gallery_attack_leave_one_out() -> None:
    rng = np.random.default_rng(5)
    labels = [f"p{i}" for i in range(6) for _ in range(3)]
    centres = {name: rng.normal(0, 0.3, size=128) for name in set(labels)}
    originals = np.stack([centres[name] + rng.normal(0, 0.03, size=128) for name in labels])
    common = rng.normal(0, 0.3, size=128)
    masked = np.stack([common + rng.normal(0, 0.05, size=128) for _ in labels])
    result = gallery_attack(labels, originals, masked, ALPHA)
    assert result.status == MEASURED and not result.leak
    fig = result.figure("originals", "photo")
    assert fig is not None and fig.hits == 18 and fig.chance == pytest.approx(2 / 17)
    leaky = gallery_attack(labels, originals, originals + 0.01, ALPHA)
    assert leaky.leak
    assert gallery_attack(["a", "a"], originals[:2], masked[:2], ALPHA).status == NOT_MEASURABLE


def test_track_linker_follows_a_moving_face() -> None:
    linker = TrackLinker()
    first = linker.link([Box(0, 0, 50, 50), Box(200, 0, 250, 50)])
    second = linker.link([Box(210, 5, 260, 55), Box(20, 5, 70, 55)])
    assert second == [first[1], first[0]]
    third = linker.link([Box(500, 300, 550, 350)])
    assert third[0] not in first


def test_read_gallery_layouts(tmp_path: Path) -> None:
    folders = tmp_path / "folders"
    for person in ("ann", "bob"):
        (folders / person).mkdir(parents=True)
        (folders / person / "1.jpg").write_bytes(b"x")
        (folders / person / "notes.txt").write_text("not a photo")
    assert [(p.name, who) for p, who in read_gallery(folders)] == [("1.jpg", "ann"), ("1.jpg", "bob")]
    flat = tmp_path / "flat"
    flat.mkdir()
    for name in ("a.jpg", "b.png"):
        (flat / name).write_bytes(b"x")
    (flat / "identities.json").write_text(json.dumps({"identity": {"a.jpg": "ann", "b.png": "bob"}}))
    assert [who for _, who in read_gallery(flat)] == ["ann", "bob"]
    (flat / "identities.json").write_text(json.dumps({"identity": {"a.jpg": "ann", "c.png": "bob"}}))
    with pytest.raises(GamyeonError, match="missing"):
        read_gallery(flat)
    (flat / "identities.json").write_text(json.dumps({"identity": {"a.jpg": "ann", "b.png": "ann"}}))
    with pytest.raises(GamyeonError, match="two or more"):
        read_gallery(flat)
    with pytest.raises(GamyeonError):
        read_gallery(tmp_path / "nowhere")


def test_cli_rejects_bad_identity_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gamyeon.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["verify", str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4"), "--alpha", "0.7"])
    assert stop.value.code == 2 and "significance level" in capsys.readouterr().err
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "b.jpg").write_bytes(b"y")
    code = main(["verify", str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg"), "--gallery", str(tmp_path / "none")])
    assert code == 2 and "--gallery" in capsys.readouterr().err


def test_pairwise_distances_match_numpy() -> None:
    from gamyeon.verify.attack import _pairwise

    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(5, 128)), rng.normal(size=(7, 128))
    expected = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    assert np.allclose(_pairwise(a, b), expected, atol=1e-9)
    assert _pairwise(a, np.zeros((0, 128))).shape == (5, 0)


def test_identity_frames_are_spread_over_face_tracks(tmp_path: Path) -> None:
    from gamyeon.verify.sampling import TrackSpans, plan

    def spans(tracks: dict[str, tuple[int, int, str]]) -> TrackSpans:
        notes = tmp_path / "n.jsonl"
        lines = []
        for i in range(200):
            regions = [
                {"track": t, "kind": kind, "source": "detected", "box": [0, 0, 1, 1], "mask": [0, 0, 1, 1]}
                for t, (a, b, kind) in tracks.items()
                if a <= i <= b
            ]
            lines.append(json.dumps({"frame": i, "regions": regions}))
        notes.write_text("\n".join(lines) + "\n")
        return TrackSpans.read(notes)

    two = plan(200, 4, spans({"a": (10, 90, "face"), "b": (100, 190, "head"), "p": (0, 199, "person")}), 8)
    assert two.frames is not None
    chosen = [f for f, why in two.frames.items() if why == "identity"]
    assert sum(10 <= f <= 90 for f in chosen) >= 6 and sum(100 <= f <= 190 for f in chosen) >= 6
    assert "for the identity attack" in two.description
    one = plan(200, 4, spans({"a": (10, 90, "face"), "p": (0, 199, "person")}), 8)
    assert one.frames is not None and "identity" not in one.frames.values()
