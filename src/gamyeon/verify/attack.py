"""The identity attack as an attacker runs it: identification against chance, calibrated on the
same footage, with the masked faces of a whole track, and the "parrot" attacker who masks his own
gallery with the same policy.

A fixed distance threshold (dlib's 0.6) says nothing on footage where the recognizer cannot tell
the people apart in the first place: on a real 640x360 stage clip the ORIGINAL faces of different
people were 0.39-0.64 apart, so masked faces fell "below 0.6" by chance. What matters is whether an
attacker names the right person more often than chance, so each attack here is closed-set
identification (``stats.py``), tested against chance by shuffling the identities (a track keeps
one mask, so its two probes are not independent trials; see ``stats.py``):

- **gallery and probes from the footage**: each track's identity-tested frames are split into
  their first and second half (in time). A probe is one half of one track; the gallery holds the
  other half of every track (both directions, so two probes per track), and a hit is the probe's
  own track ranked first (or within the first 5). Tracks seen in fewer than 2 tested frames
  cannot be split and are left out. Tracks are identities: a person whose track broke in two
  counts as two, which can only hide hits (an attacker's "wrong" answer is then the same person),
  never invent them.
- **the attacker combines a track's frames** in two ways: the mean descriptor of the half
  (``mean``), and the smallest distance between any probe frame and any gallery frame
  (``best``, best-of-k). Single frames (``frame``: one probe per frame, nearest gallery frame of
  the other half) are reported as information only: frames of one track are strongly correlated,
  so their count overstates the evidence.
- **the attacks**: ``originals`` (original probes against original gallery: can the recognizer
  tell these people apart at all?), ``plain`` (masked probes against the originals: the attacker
  holds ordinary photos) and ``parrot`` (masked probes against a masked gallery: the attacker knows
  the operator and anonymized his gallery, the other halves of the original tracks, the same way,
  in a run of his own: ``remask.py``). ``linkability`` (masked probes against the other half of
  the same output) is information only: a track keeps one mask from frame to frame by design (no
  flicker, nothing to average), and the annotations name the track anyway, so matching it says
  nothing about who the person is.

**Calibration first**: when the ``originals`` attack is not significantly above chance, the
recognizer cannot separate these people on this footage and a masked face that "matches" means
nothing: the result is "cannot measure here" with the reason, and the gate does not fail on it.
When even perfect identification could not reach significance, the result says so too: with
``m`` identities in a file, no shuffle test goes below ``1 / m!``, so a file alone needs six
people before the gate can flag it (files of one run are pooled). With one identity there is
nothing to identify against ("not measurable: one identity"; ``--gallery`` tests the policy on
labelled photos).

**The gate** fails when a calibrated ``plain`` or ``parrot`` attack identifies significantly
above chance at rank 1: p-value below ``alpha`` divided by the number of attack variants tested
(Bonferroni), so testing more ways does not raise the false-alarm rate above ``alpha``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gamyeon.types import Array, Box
from gamyeon.verify.stats import RANKS, Outcomes, RankFigure, identify

MEASURED = "measured"
CANNOT = "cannot measure here"
#: a calibration outcome only (reported as CANNOT): even perfect identification could not be significant
TOO_FEW = "too few"
NOT_MEASURABLE = "not measurable"

#: attack variants that make up the gate on footage, and on gallery photos
FOOTAGE_GATE = (("plain", "mean"), ("plain", "best"), ("parrot", "mean"), ("parrot", "best"))
GALLERY_GATE = (("plain", "photo"), ("parrot", "photo"))
#: the calibration tests (originals against originals)
FOOTAGE_CALIBRATION = (("originals", "mean"), ("originals", "best"))
GALLERY_CALIBRATION = (("originals", "photo"),)
#: linking faces of successive examined frames without annotations: the nearest face whose centre
#: is within this many face widths of the last one seen
LINK_DISTANCE = 1.0


@dataclass(frozen=True, slots=True)
class IdentitySample:
    """One identity-tested face: descriptors of the original face and of the output at its place."""

    frame: int
    track: str
    original: Array
    masked: Array
    #: where the face is (the parrot attacker's re-masked picture is described there)
    box: Box | None = None
    #: the same face in the parrot attacker's own masking of the original (``remask.py``)
    remasked: Array | None = None


class TrackLinker:
    """Tracks for faces when the output has no annotations: a face continues the track whose last
    face (in an earlier examined frame) is nearest, if its centre moved at most ``LINK_DISTANCE``
    face widths; otherwise it starts a new track. Greedy by distance, one face per track per frame.
    Simple on purpose: it only has to keep one person's faces together over a few seconds; a
    broken track costs hits (see the module docstring), never adds them."""

    def __init__(self, prefix: str = "v") -> None:
        self._last: dict[str, Box] = {}
        self._prefix = prefix

    def link(self, boxes: Sequence[Box]) -> list[str]:
        pairs: list[tuple[float, int, str]] = []
        for i, box in enumerate(boxes):
            cx, cy = box.center
            for track, last in self._last.items():
                lx, ly = last.center
                d = math.hypot(cx - lx, cy - ly) / max(1.0, max(box.width, last.width))
                if d <= LINK_DISTANCE:
                    pairs.append((d, i, track))
        names: list[str | None] = [None] * len(boxes)
        used: set[str] = set()
        for _, i, track in sorted(pairs):
            if names[i] is None and track not in used:
                names[i] = track
                used.add(track)
        out: list[str] = []
        for i, box in enumerate(boxes):
            name = names[i]
            if name is None:
                name = f"{self._prefix}{len(self._last) + 1}"
            self._last[name] = box
            out.append(name)
        return out


def _r4(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True, slots=True)
class Spread:
    """Summary of a set of distances."""

    count: int
    minimum: float | None
    median: float | None
    maximum: float | None

    @classmethod
    def of(cls, values: Sequence[float] | Array) -> Spread:
        arr = np.asarray(values, dtype=np.float64).ravel()
        if arr.size == 0:
            return cls(0, None, None, None)
        return cls(int(arr.size), float(arr.min()), float(np.median(arr)), float(arr.max()))

    def as_dict(self) -> dict[str, object]:
        return {"count": self.count, "min": _r4(self.minimum), "median": _r4(self.median), "max": _r4(self.maximum)}


@dataclass(frozen=True, slots=True)
class Distances:
    """Genuine against impostor distances (dlib ResNet, Euclidean) on the same footage or photos."""

    #: masked face vs its own original (same frame / photo)
    masked_genuine: Spread
    #: masked face vs the originals of the other identities
    masked_impostor: Spread
    #: original vs the same identity's other originals (other half of the track / other photos)
    original_genuine: Spread
    #: original vs the other identities' originals
    original_impostor: Spread

    def as_dict(self) -> dict[str, object]:
        return {
            "masked_vs_own_original": self.masked_genuine.as_dict(),
            "masked_vs_other_originals": self.masked_impostor.as_dict(),
            "original_vs_same_identity": self.original_genuine.as_dict(),
            "original_vs_other_identities": self.original_impostor.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class TrackFigure:
    """Per track: how many frames the attack had and how its probes fared (``mean`` variant)."""

    track: str
    frames: int
    masked_genuine_median: float
    plain_hits: int
    parrot_hits: int
    probes: int

    def as_dict(self) -> dict[str, object]:
        return {
            "track": self.track,
            "frames": self.frames,
            "masked_vs_own_original_median": round(self.masked_genuine_median, 4),
            "plain_rank1_hits": self.plain_hits,
            "parrot_rank1_hits": self.parrot_hits,
            "probes": self.probes,
        }


@dataclass(frozen=True, slots=True)
class IdentityAttack:
    """The identity attack on one file, on the pooled files, or on ``--gallery`` photos."""

    scope: str  # "footage" or "gallery"
    status: str  # MEASURED, CANNOT or NOT_MEASURABLE
    reason: str
    alpha: float
    identities: int = 0
    #: ``attack -> variant -> per-probe outcomes``
    outcomes: dict[str, dict[str, Outcomes]] = field(default_factory=dict)
    distances: Distances | None = None
    tracks: tuple[TrackFigure, ...] = ()
    #: the gate's tests and the calibration's tests, as (attack, variant)
    gate: tuple[tuple[str, str], ...] = ()
    calibration: tuple[tuple[str, str], ...] = ()
    #: its probes may join other files' in ``pooled``: measured, or too few identities alone
    #: (not when the recognizer cannot tell its originals apart)
    poolable: bool = False

    def figure(self, attack: str, variant: str, rank: int = 1) -> RankFigure | None:
        by_variant = self.outcomes.get(attack, {})
        return by_variant[variant].figure(rank) if variant in by_variant else None

    @property
    def measured(self) -> bool:
        return self.status == MEASURED

    @property
    def gate_alpha(self) -> float:
        return self.alpha / max(1, len(self.gate))

    def strongest(self) -> tuple[str, str, RankFigure] | None:
        """The gate test with the smallest rank-1 p-value: the attacker's best way."""
        best: tuple[str, str, RankFigure] | None = None
        for attack, variant in self.gate:
            fig = self.figure(attack, variant)
            if fig is not None and fig.probes and (best is None or fig.p_value < best[2].p_value):
                best = (attack, variant, fig)
        return best

    @property
    def leak(self) -> bool:
        """Identification significantly above chance by a calibrated attack."""
        if not self.measured:
            return False
        best = self.strongest()
        return best is not None and best[2].p_value < self.gate_alpha

    @property
    def probes(self) -> int:
        for by_variant in self.outcomes.values():
            for o in by_variant.values():
                return o.probes
        return 0

    def summary(self) -> str:
        """One line: the verdict of this attack."""
        if not self.measured:
            return f"{self.status}: {self.reason}"
        best = self.strongest()
        if best is None:
            return "measured, no probe"
        attack, variant, fig = best
        word = "LEAK" if self.leak else "at chance"
        return (
            f"{word}: strongest {attack} ({variant}) rank-1 {fig.hits}/{fig.probes} = {fig.rate:.3f} vs chance "
            f"{fig.chance:.3f}, p={fig.p_value:.3g} (gate p < {self.gate_alpha:.3g}); {self.identities} identities"
        )

    def as_dict(self) -> dict[str, object]:
        attacks: dict[str, object] = {}
        for attack, by_variant in self.outcomes.items():
            attacks[attack] = {
                variant: {f"rank{r}": o.figure(r).as_dict() for r in RANKS} for variant, o in by_variant.items()
            }
        best = self.strongest()
        return {
            "scope": self.scope,
            "status": self.status,
            "reason": self.reason,
            "summary": self.summary(),
            "identities": self.identities,
            "probes": self.probes,
            "alpha": self.alpha,
            "gate_alpha_per_test": self.gate_alpha,
            "gate_tests": [f"{a}/{v}" for a, v in self.gate],
            "calibration_tests": [f"{a}/{v}" for a, v in self.calibration],
            "leak": self.leak,
            "strongest": None if best is None else {"attack": best[0], "variant": best[1], **best[2].as_dict()},
            "attacks": attacks,
            "distances": None if self.distances is None else self.distances.as_dict(),
            "tracks": [t.as_dict() for t in self.tracks],
        }


def _pairwise(a: Array, b: Array) -> Array:
    """Euclidean distances between the rows of ``a`` and of ``b``."""
    if a.size == 0 or b.size == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    # |a|^2 + |b|^2 - 2 a.b: memory N x M, not N x M x 128 (crowds give thousands of faces)
    squared = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * (a @ b.T)
    return np.asarray(np.sqrt(np.maximum(squared, 0.0)), dtype=np.float64)


def _calibrate(
    outcomes: dict[str, dict[str, Outcomes]], tests: Sequence[tuple[str, str]], gate_tests: int, alpha: float
) -> tuple[str, str]:
    """``(status, reason)`` from the originals-against-originals tests."""
    figs = [outcomes[a][v].figure(1) for a, v in tests if v in outcomes.get(a, {})]
    figs = [f for f in figs if f.probes]
    if not figs:
        return NOT_MEASURABLE, "no probe: no identity seen twice"
    level = alpha / len(tests)
    if min(f.min_p_value for f in figs) >= min(level, alpha / gate_tests):
        f = figs[0]
        return TOO_FEW, (
            f"too few identities/probes: even a perfect attack ({f.probes} probes at chance {f.chance:.2f}) would "
            f"have p={f.min_p_value:.3g}, not below the gate's {alpha / gate_tests:.3g}; files of one run are "
            "tested together, and --gallery tests the policy on labelled photos"
        )
    best = min(figs, key=lambda f: f.p_value)
    if best.p_value >= level:
        return CANNOT, (
            f"the recognizer cannot tell these {'people' if best.probes else 'faces'} apart even in the originals "
            f"(original vs original rank-1 {best.hits}/{best.probes} = {best.rate:.2f}, chance {best.chance:.2f}, "
            f"p={best.p_value:.3g} >= {level:.3g}): a masked face that matches means nothing here"
        )
    return MEASURED, (
        f"the recognizer tells the originals apart (rank-1 {best.hits}/{best.probes} = {best.rate:.2f}, chance "
        f"{best.chance:.2f}, p={best.p_value:.3g})"
    )


def _shown(status: str) -> str:
    """The status a calibration outcome is reported as: "too few" is a way of "cannot measure"."""
    return CANNOT if status == TOO_FEW else status


def identities(samples: Sequence[IdentitySample]) -> int:
    """Tracks the footage attack can use: seen in two or more examined frames (the parrot
    attacker's re-masking is only worth its cost with two or more)."""
    counts: dict[str, int] = {}
    for s in samples:
        counts[s.track] = counts.get(s.track, 0) + 1
    return sum(n >= 2 for n in counts.values())


def footage_attack(samples: Sequence[IdentitySample], alpha: float) -> IdentityAttack:
    """The attack on one file's identity-tested faces (see the module docstring)."""
    by_track: dict[str, list[IdentitySample]] = {}
    for s in sorted(samples, key=lambda s: s.frame):
        by_track.setdefault(s.track, []).append(s)
    tracks = {t: v for t, v in by_track.items() if len(v) >= 2}
    if not samples:
        return IdentityAttack("footage", NOT_MEASURABLE, "no face large enough for the recognizer", alpha)
    if len(tracks) < 2:
        why = "one identity" if len(tracks) == 1 else "no face seen in two or more examined frames"
        return IdentityAttack(
            "footage",
            NOT_MEASURABLE,
            f"{why} (identification needs others to tell it from); --gallery tests the policy on labelled photos",
            alpha,
            identities=len(tracks),
            distances=_footage_distances(tracks, samples),
        )
    names = sorted(tracks)
    halves: dict[tuple[str, int], list[IdentitySample]] = {}
    for t in names:
        frames = tracks[t]
        cut = len(frames) // 2
        halves[(t, 0)], halves[(t, 1)] = frames[:cut], frames[cut:]

    def stack(t: str, h: int, kind: str) -> Array:
        return np.stack([getattr(s, kind) for s in halves[(t, h)]])

    outcomes: dict[str, dict[str, Outcomes]] = {}
    group = _group_of(samples)
    attacks = [
        ("originals", "original", "original"),
        ("plain", "masked", "original"),
        ("linkability", "masked", "masked"),
    ]
    parrot = all(s.remasked is not None for t in names for s in tracks[t])
    if parrot:
        attacks.append(("parrot", "masked", "remasked"))
    for attack, probe_kind, gallery_kind in attacks:
        mean, best, frame = Outcomes.empty(), Outcomes.empty(), Outcomes.empty()
        for h in (0, 1):
            g = 1 - h
            probes = {t: stack(t, h, probe_kind) for t in names}
            gallery = {t: stack(t, g, gallery_kind) for t in names}
            means = np.stack([gallery[t].mean(axis=0) for t in names])
            d_mean = _pairwise(np.stack([probes[t].mean(axis=0) for t in names]), means)
            d_best = np.array([[float(_pairwise(probes[t], gallery[u]).min()) for u in names] for t in names])
            everything = np.ones((len(names), len(names)), dtype=bool)
            mean = mean + identify(d_mean, names, names, everything, group)
            best = best + identify(d_best, names, names, everything, group)
            frame_labels = [t for t in names for _ in range(len(probes[t]))]
            gallery_labels = [t for t in names for _ in range(len(gallery[t]))]
            d_frames = _pairwise(
                np.concatenate([probes[t] for t in names]), np.concatenate([gallery[t] for t in names])
            )
            frame = frame + identify(d_frames, frame_labels, gallery_labels, np.ones_like(d_frames, dtype=bool), group)
        outcomes[attack] = {"mean": mean, "best": best, "frame": frame}
    gate = FOOTAGE_GATE if parrot else tuple(t for t in FOOTAGE_GATE if t[0] != "parrot")
    status, reason = _calibrate(outcomes, FOOTAGE_CALIBRATION, len(gate), alpha)
    poolable = status in (MEASURED, TOO_FEW)
    if not parrot:
        reason += "; parrot attack not run"
    return IdentityAttack(
        "footage",
        _shown(status),
        reason,
        alpha,
        identities=len(names),
        outcomes=outcomes,
        distances=_footage_distances(tracks, samples),
        tracks=tuple(_track_figures(names, tracks, outcomes)),
        gate=gate,
        calibration=FOOTAGE_CALIBRATION,
        poolable=poolable,
    )


def _group_of(samples: Sequence[IdentitySample]) -> str:
    """A name for one file's probes in the permutation test, the same on every run of the same
    data (a digest of its original descriptors), so pooled files are shuffled each on its own."""
    digest = hashlib.sha256()
    for s in samples:
        digest.update(s.track.encode())
        digest.update(np.ascontiguousarray(s.original, dtype=np.float64).tobytes())
    return digest.hexdigest()[:16]


def _track_figures(
    names: list[str], tracks: dict[str, list[IdentitySample]], outcomes: dict[str, dict[str, Outcomes]]
) -> list[TrackFigure]:
    """Per-track hits of the ``mean`` variant: probes are ordered half 0 of every track, then half 1."""
    out = []
    n = len(names)
    plain = outcomes["plain"]["mean"].by_rank[1]
    parrot = outcomes["parrot"]["mean"].by_rank[1] if "parrot" in outcomes else []
    for i, t in enumerate(names):
        frames = tracks[t]
        genuine = [float(np.linalg.norm(s.masked - s.original)) for s in frames]
        rows = [i, i + n]
        out.append(
            TrackFigure(
                track=t,
                frames=len(frames),
                masked_genuine_median=float(np.median(genuine)),
                plain_hits=sum(plain[r][0] for r in rows if r < len(plain)),
                parrot_hits=sum(parrot[r][0] for r in rows if r < len(parrot)),
                probes=2,
            )
        )
    return out


def _footage_distances(tracks: dict[str, list[IdentitySample]], samples: Sequence[IdentitySample]) -> Distances:
    labels = [s.track for s in samples]
    originals = np.stack([s.original for s in samples])
    masked = np.stack([s.masked for s in samples])
    genuine = np.linalg.norm(masked - originals, axis=1)
    same = np.equal.outer(np.array(labels, dtype=object), np.array(labels, dtype=object))
    d_mo = _pairwise(masked, originals)
    d_oo = _pairwise(originals, originals)
    # same identity, other half of the track: frames close in time are near-copies
    half = np.zeros(len(samples), dtype=np.int64)
    index = {id(s): i for i, s in enumerate(samples)}
    for frames in tracks.values():
        for k, s in enumerate(frames):
            half[index[id(s)]] = int(k >= len(frames) // 2)
    other_half = same & np.not_equal.outer(half, half)
    return Distances(
        masked_genuine=Spread.of(genuine),
        masked_impostor=Spread.of(d_mo[~same]),
        original_genuine=Spread.of(d_oo[other_half]),
        original_impostor=Spread.of(d_oo[~same]),
    )


def gallery_attack(labels: Sequence[str], originals: Array, masked: Array, alpha: float) -> IdentityAttack:
    """Leave-one-out closed-set identification over labelled photos (the method of
    ``shared/eval/reid_attack.py``): each photo is a probe against every OTHER photo."""
    n = len(labels)
    identities = len(set(labels))
    if identities < 2:
        return IdentityAttack(
            "gallery", NOT_MEASURABLE, f"{identities} identity in the gallery: needs two or more", alpha, identities
        )
    others = ~np.eye(n, dtype=bool)
    outcomes = {
        "originals": {"photo": identify(_pairwise(originals, originals), labels, labels, others)},
        "plain": {"photo": identify(_pairwise(masked, originals), labels, labels, others)},
        "parrot": {"photo": identify(_pairwise(masked, masked), labels, labels, others)},
    }
    status, reason = _calibrate(outcomes, GALLERY_CALIBRATION, len(GALLERY_GATE), alpha)
    status = _shown(status)
    lab = np.array(labels, dtype=object)
    same = np.equal.outer(lab, lab)
    d_oo = _pairwise(originals, originals)
    distances = Distances(
        masked_genuine=Spread.of(np.linalg.norm(masked - originals, axis=1)),
        masked_impostor=Spread.of(_pairwise(masked, originals)[~same]),
        original_genuine=Spread.of(d_oo[same & others]),
        original_impostor=Spread.of(d_oo[~same]),
    )
    return IdentityAttack(
        "gallery",
        status,
        reason,
        alpha,
        identities=identities,
        outcomes=outcomes,
        distances=distances,
        gate=GALLERY_GATE,
        calibration=GALLERY_CALIBRATION,
    )


def pooled(attacks: Sequence[IdentityAttack], alpha: float) -> IdentityAttack:
    """Every file's probes in one test, calibrated again on the pooled originals: the
    permutation test shuffles each file's identities on their own, so several files too small to
    be tested alone can be tested together. Files whose originals the recognizer cannot tell
    apart, or with one identity, contribute nothing."""
    joined = [a for a in attacks if a.poolable]
    if not joined:
        reasons = sorted({f"{a.status}: {a.reason}" for a in attacks})
        status = CANNOT if any(a.status == CANNOT for a in attacks) else NOT_MEASURABLE
        return IdentityAttack(
            "footage", status, "; ".join(reasons) or "no file", alpha, sum(a.identities for a in attacks)
        )
    outcomes: dict[str, dict[str, Outcomes]] = {}
    for a in joined:
        for attack, by_variant in a.outcomes.items():
            slot = outcomes.setdefault(attack, {})
            for variant, o in by_variant.items():
                slot[variant] = slot.get(variant, Outcomes.empty()) + o
    gate = tuple(t for t in FOOTAGE_GATE if all(t in a.gate for a in joined))
    for attack, variant in FOOTAGE_GATE:
        if (attack, variant) not in gate:
            outcomes.get(attack, {}).pop(variant, None)
    outcomes = {k: v for k, v in outcomes.items() if v}
    status, why = _calibrate(outcomes, FOOTAGE_CALIBRATION, len(gate), alpha)
    skipped = len(attacks) - len(joined)
    reason = f"{len(joined)} file(s) pooled" + (f", {skipped} could not be (see each file)" if skipped else "")
    return IdentityAttack(
        "footage",
        _shown(status),
        reason if status == MEASURED else f"{reason}: {why}",
        alpha,
        identities=sum(a.identities for a in joined),
        outcomes=outcomes,
        gate=gate,
        calibration=FOOTAGE_CALIBRATION,
        poolable=status in (MEASURED, TOO_FEW),
    )
