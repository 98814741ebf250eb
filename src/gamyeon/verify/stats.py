"""Closed-set identification and its statistics: rank-k hits, chance, Wilson intervals, and an
exact test against chance.

An attacker who holds a gallery of faces with known identities tries to name each probe (a masked
face) by its nearest gallery entries. What a masked face gives away is how much better than chance
that works, so every rate here comes with its chance level and a significance test:

- *chance* of a probe at rank k is the probability that k gallery entries drawn at random (without
  replacement) include one of the probe's identity: ``1 - C(G - s, k) / C(G, k)`` for a gallery of
  ``G`` entries of which ``s`` are the probe's identity (at rank 1 simply ``s / G``, the definition
  of ``shared/eval/reid_attack.py``). The reported chance is its mean over probes.
- the *p-value* is the exact probability, if every probe hit only by chance (independently, each
  with its own chance), of at least as many hits as observed: the upper tail of a Poisson-binomial
  distribution, computed by dynamic programming over the probes (no normal approximation: galleries
  are small). Probes of one identity are not fully independent (the same face seen twice), which
  makes the test somewhat optimistic: it errs towards flagging, the safe side for a release gate.
- the *interval* is Wilson's score interval of the hit rate (95 %), which stays inside [0, 1] and
  behaves at 0 and at n hits, where the normal interval does not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gamyeon.types import Array

#: two-sided 95 % normal quantile for the Wilson interval
Z95 = 1.959963984540054
#: the ranks reported
RANKS = (1, 5)


def wilson(hits: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of ``hits / n``; ``(0, 1)`` when nothing was tried."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= hits <= n:
        raise ValueError(f"hits must be in [0, {n}], got {hits}")
    p = hits / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # exactly 0 / 1 at the ends (rounding would leave 1 - 1e-16)
    return (0.0 if hits == 0 else max(0.0, centre - half)), (1.0 if hits == n else min(1.0, centre + half))


def poisson_binomial_sf(hits: int, chances: Sequence[float]) -> float:
    """``P(X >= hits)`` for ``X`` the number of successes of independent trials with success
    probabilities ``chances`` (exact, O(n^2))."""
    if hits <= 0:
        return 1.0
    if hits > len(chances):
        return 0.0
    dist = np.zeros(len(chances) + 1, dtype=np.float64)
    dist[0] = 1.0
    for i, p in enumerate(chances):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"chance must be in [0, 1], got {p}")
        # after trial i, at most i + 1 successes
        dist[1 : i + 2] = dist[1 : i + 2] * (1.0 - p) + dist[0 : i + 1] * p
        dist[0] *= 1.0 - p
    return float(min(1.0, max(0.0, dist[hits:].sum())))


def rank_chance(gallery: int, same: int, rank: int) -> float:
    """Probability that ``rank`` entries drawn at random from a gallery of ``gallery`` entries,
    ``same`` of them the probe's identity, include at least one of them."""
    if gallery <= 0 or same <= 0:
        return 0.0
    k = min(rank, gallery)
    return 1.0 - math.comb(gallery - same, k) / math.comb(gallery, k)


@dataclass(frozen=True, slots=True)
class RankFigure:
    """Identification at one rank: hits among probes, against chance."""

    rank: int
    probes: int
    hits: int
    #: mean over probes of the per-probe chance
    chance: float
    #: Wilson 95 % interval of ``rate``
    ci: tuple[float, float]
    #: exact one-sided p-value of at least ``hits`` hits by chance
    p_value: float
    #: the p-value had every probe hit: below it no result can go (few identities, few probes)
    min_p_value: float

    @property
    def rate(self) -> float:
        return self.hits / self.probes if self.probes else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "rank": self.rank,
            "probes": self.probes,
            "hits": self.hits,
            "rate": round(self.rate, 4),
            "chance": round(self.chance, 4),
            "ci95": [round(self.ci[0], 4), round(self.ci[1], 4)],
            "p_value": _round_p(self.p_value),
            "min_p_value": _round_p(self.min_p_value),
        }


def _round_p(p: float) -> float:
    return float(f"{p:.3g}")


def rank_figure(rank: int, outcomes: Sequence[tuple[bool, float]]) -> RankFigure:
    """The figure of ``(hit, chance)`` outcomes, one per probe."""
    hits = sum(hit for hit, _ in outcomes)
    chances = [c for _, c in outcomes]
    n = len(outcomes)
    return RankFigure(
        rank=rank,
        probes=n,
        hits=hits,
        chance=float(np.mean(chances)) if n else 0.0,
        ci=wilson(hits, n),
        p_value=poisson_binomial_sf(hits, chances) if n else 1.0,
        min_p_value=poisson_binomial_sf(n, chances) if n else 1.0,
    )


@dataclass(frozen=True, slots=True)
class Outcomes:
    """Per-probe results of one attack, kept so that files can be pooled into one test."""

    #: ``rank -> [(hit, chance) per probe]``
    by_rank: dict[int, list[tuple[bool, float]]]

    @classmethod
    def empty(cls) -> Outcomes:
        return cls({r: [] for r in RANKS})

    def __add__(self, other: Outcomes) -> Outcomes:
        return Outcomes({r: self.by_rank.get(r, []) + other.by_rank.get(r, []) for r in RANKS})

    @property
    def probes(self) -> int:
        return len(self.by_rank.get(RANKS[0], []))

    def figure(self, rank: int) -> RankFigure:
        return rank_figure(rank, self.by_rank.get(rank, []))


def identify(distances: Array, probe_labels: Sequence[str], gallery_labels: Sequence[str], allowed: Array) -> Outcomes:
    """Closed-set identification of each probe (row of ``distances``) against the gallery
    (columns); ``allowed[i, j]`` says whether gallery entry ``j`` may answer probe ``i`` (False
    for the probe's own picture, left out as in leave-one-out). A probe with no allowed entry of its
    identity cannot be named by anyone and is skipped."""
    by_rank: dict[int, list[tuple[bool, float]]] = {r: [] for r in RANKS}
    labels = np.asarray(gallery_labels, dtype=object)
    for i, label in enumerate(probe_labels):
        columns = np.flatnonzero(allowed[i])
        if columns.size == 0:
            continue
        same = int(np.sum(labels[columns] == label))
        if same == 0:
            continue
        order = columns[np.argsort(distances[i, columns], kind="stable")]
        for rank in RANKS:
            hit = bool(np.any(labels[order[:rank]] == label))
            by_rank[rank].append((hit, rank_chance(int(columns.size), same, rank)))
    return Outcomes(by_rank)
