"""Closed-set identification and its statistics: rank-k hits, chance, Wilson intervals, and an
exact test against chance.

An attacker who holds a gallery of faces with known identities tries to name each probe (a masked
face) by its nearest gallery entries. What a masked face gives away is how much better than chance
that works, so every rate here comes with its chance level and a significance test:

- *chance* of a probe at rank k is the probability that k gallery entries drawn at random (without
  replacement) include one of the probe's identity: ``1 - C(G - s, k) / C(G, k)`` for a gallery of
  ``G`` entries of which ``s`` are the probe's identity (at rank 1 simply ``s / G``, the definition
  of ``shared/eval/reid_attack.py``). The reported chance is its mean over probes.
- the *p-value* has two forms, for two kinds of evidence:

  - *independent probes* (labelled photos, ``--gallery``: each picture masked on its own): the
    exact probability, if every probe hit only by chance (independently, each with its own chance),
    of at least as many hits as observed: the upper tail of a Poisson-binomial distribution,
    computed by dynamic programming over the probes (no normal approximation: galleries are small);
  - *exchangeable identities* (footage): a track keeps one mask on every frame, so the two probes
    of a track (its first and its second half) carry the same grid and noise and fall near the same
    gallery entry together, and every probe of a file is named from one gallery. Counting them as
    independent trials overstates the evidence: on a clip of three people masked at chance, "6 of 6"
    (binomial p = 0.0014) comes up about as often as "3 of 3 tracks", 1 in 27. The test is instead
    a permutation test over the identities: if the masked faces say nothing about who is who, the
    gallery's identity labels can be shuffled (one shuffle per file, applied to all its probes)
    without changing how likely the observed hit count is. The p-value is the share of shuffles
    with at least as many hits as the true labels; every shuffle is enumerated when a file has at
    most ``EXACT_IDENTITIES`` identities, otherwise ``PERMUTATIONS`` random shuffles (a fixed seed:
    the same data give the same p-value). It holds whatever the dependence between probes, and
    it is honest about small files: with ``m`` identities no result goes below ``1 / m!``, so a
    file needs six identities (720 shuffles) before the gate can flag it alone; files are pooled.
- the *interval* is Wilson's score interval of the hit rate (95 %), which stays inside [0, 1] and
  behaves at 0 and at n hits, where the normal interval does not.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from gamyeon.types import Array

#: two-sided 95 % normal quantile for the Wilson interval
Z95 = 1.959963984540054
#: the ranks reported
RANKS = (1, 5)
#: files with at most this many identities get every shuffle of the permutation test (8! = 40320)
EXACT_IDENTITIES = 8
#: random shuffles of the permutation test otherwise (the smallest p-value it can give is 1 / 20001)
PERMUTATIONS = 20_000
#: the shuffles' seed: a p-value is a function of the data alone
PERMUTATION_SEED = 20_241
#: shuffles evaluated at once (memory: chunk x probes x max(RANKS) indices)
_CHUNK = 2_000


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
    """The figure of independent ``(hit, chance)`` outcomes, one per probe (Poisson-binomial test)."""
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
class Probe:
    """One probe's answer: its identity and the identities of its nearest gallery entries."""

    #: probes of one group (one file) are shuffled together by the permutation test
    group: str
    label: str
    #: labels of the nearest allowed gallery entries, nearest first (``max(RANKS)`` of them at most)
    nearest: tuple[str, ...]
    #: chance of a hit at each of ``RANKS``
    chances: tuple[float, ...]

    def hit(self, rank: int) -> bool:
        return self.label in self.nearest[:rank]


@dataclass(frozen=True, slots=True)
class Outcomes:
    """Per-probe results of one attack, kept so that files can be pooled into one test.

    ``exchangeable``: the probes' p-value is the permutation test over identities (footage),
    otherwise the Poisson-binomial test of independent probes (photos); see the module docstring.
    """

    probes_: tuple[Probe, ...] = ()
    exchangeable: bool = False

    @classmethod
    def empty(cls, exchangeable: bool = False) -> Outcomes:
        return cls((), exchangeable)

    def __add__(self, other: Outcomes) -> Outcomes:
        if self.probes_ and other.probes_ and self.exchangeable != other.exchangeable:
            raise ValueError("cannot pool outcomes of independent probes with exchangeable ones")
        return Outcomes(self.probes_ + other.probes_, self.exchangeable or other.exchangeable)

    @property
    def probes(self) -> int:
        return len(self.probes_)

    @property
    def by_rank(self) -> dict[int, list[tuple[bool, float]]]:
        """``rank -> [(hit, chance) per probe]``"""
        return {r: [(p.hit(r), p.chances[i]) for p in self.probes_] for i, r in enumerate(RANKS)}

    def figure(self, rank: int) -> RankFigure:
        independent = rank_figure(rank, self.by_rank.get(rank, []))
        if not self.exchangeable or not self.probes_:
            return independent
        p_value, min_p_value = _cached_p_values(self.probes_, rank)
        return dataclasses.replace(independent, p_value=p_value, min_p_value=min_p_value)


@functools.lru_cache(maxsize=64)
def _cached_p_values(probes: tuple[Probe, ...], rank: int) -> tuple[float, float]:
    """``permutation_p_values`` once per outcome and rank: a report asks for the same figure
    several times (the gate, the summary, the JSON), and a crowd's frame variant takes a second."""
    return permutation_p_values(probes, rank)


def permutation_p_values(probes: Sequence[Probe], rank: int) -> tuple[float, float]:
    """The permutation test's p-value of the probes' rank-``rank`` hits, and the p-value had every
    probe hit (below which no result can go): one shuffle of each group's identity labels per draw,
    every shuffle when the groups' identities allow (``EXACT_IDENTITIES``), else ``PERMUTATIONS``
    random ones. A group's identities are the labels its probes carry or name: on footage every
    track is a probe, so that is every identity of the file."""
    groups = sorted({p.group for p in probes})
    index: dict[str, dict[str, int]] = {}
    offset = 0
    for g in groups:
        labels = sorted({x for p in probes if p.group == g for x in (p.label, *p.nearest)})
        index[g] = {label: offset + i for i, label in enumerate(labels)}
        offset += len(labels)
    width = max(len(p.nearest[:rank]) for p in probes)
    own = np.array([index[p.group][p.label] for p in probes], dtype=np.int64)
    # -1 pads probes with fewer gallery entries; it never equals a label
    near = np.full((len(probes), max(1, width)), -1, dtype=np.int64)
    for i, p in enumerate(probes):
        for j, label in enumerate(p.nearest[:rank]):
            near[i, j] = index[p.group][label]
    sizes = [len(index[g]) for g in groups]
    perfect = near.copy()
    perfect[:, 0] = own
    observed = _hits(near, own, np.arange(offset)[None, :])[0]
    exact = len(groups) == 1 and sizes[0] <= EXACT_IDENTITIES
    counts = np.zeros(2, dtype=np.int64)
    total = 0
    for shuffles in _shuffles(sizes, exact):
        counts[0] += int(np.sum(_hits(near, own, shuffles) >= observed))
        counts[1] += int(np.sum(_hits(perfect, own, shuffles) >= len(probes)))
        total += len(shuffles)
    if exact:  # the true labelling is one of the shuffles counted
        return float(counts[0] / total), float(counts[1] / total)
    return float((1 + counts[0]) / (1 + total)), float((1 + counts[1]) / (1 + total))


def _hits(near: Array, own: Array, shuffles: Array) -> Array:
    """Hits under each shuffle (a row maps every label index to its new index)."""
    padded = np.concatenate([shuffles, np.full((len(shuffles), 1), -2, dtype=np.int64)], axis=1)
    named = padded[:, near]  # shuffles x probes x width; -1 (padding) picks the -2 column
    return np.asarray(np.any(named == own[None, :, None], axis=2).sum(axis=1))


def _shuffles(sizes: Sequence[int], exact: bool) -> Iterator[Array]:
    """Chunks of label shuffles: each row permutes every group's block of label indices within it."""
    if exact:
        rows = np.array(list(itertools.permutations(range(sizes[0]))), dtype=np.int64).reshape(-1, sizes[0])
        for start in range(0, len(rows), _CHUNK):
            yield rows[start : start + _CHUNK]
        return
    rng = np.random.default_rng(PERMUTATION_SEED)
    offsets = np.cumsum([0, *sizes])[:-1]
    for start in range(0, PERMUTATIONS, _CHUNK):
        n = min(_CHUNK, PERMUTATIONS - start)
        blocks = [
            lo + rng.permuted(np.tile(np.arange(size), (n, 1)), axis=1) for lo, size in zip(offsets, sizes, strict=True)
        ]
        yield np.concatenate(blocks, axis=1).astype(np.int64)


def identify(
    distances: Array,
    probe_labels: Sequence[str],
    gallery_labels: Sequence[str],
    allowed: Array,
    group: str | None = None,
) -> Outcomes:
    """Closed-set identification of each probe (row of ``distances``) against the gallery
    (columns); ``allowed[i, j]`` says whether gallery entry ``j`` may answer probe ``i`` (False
    for the probe's own picture, left out as in leave-one-out). A probe with no allowed entry of its
    identity cannot be named by anyone and is skipped. With a ``group`` (one per file, the same for
    every attack on it) the outcomes take the permutation test, shuffled per group; without one,
    the test of independent probes."""
    probes: list[Probe] = []
    labels = np.asarray(gallery_labels, dtype=object)
    for i, label in enumerate(probe_labels):
        columns = np.flatnonzero(allowed[i])
        if columns.size == 0:
            continue
        same = int(np.sum(labels[columns] == label))
        if same == 0:
            continue
        order = columns[np.argsort(distances[i, columns], kind="stable")]
        probes.append(
            Probe(
                group=group or "",
                label=str(label),
                nearest=tuple(str(x) for x in labels[order[: max(RANKS)]]),
                chances=tuple(rank_chance(int(columns.size), same, r) for r in RANKS),
            )
        )
    return Outcomes(tuple(probes), exchangeable=group is not None)
