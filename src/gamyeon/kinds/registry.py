"""``KindRegistry``: the pipeline's questions about kinds, answered from their specs.

Like presidio's ``RecognizerRegistry`` hands its analyzer the recognizers for the requested
entities, the registry hands the pipeline the detectors, trackers, thresholds, schedules and
default policies for the requested region kinds. Kinds unknown to it are ignored by these
answers (as the string tables they replace did); ``parse`` rejects unknown ``--kinds`` names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from gamyeon.errors import PolicyError
from gamyeon.kindpolicy import KindPolicy
from gamyeon.kinds.spec import AnyDetectorSpec, KindSpec, Mode

if TYPE_CHECKING:
    from gamyeon.options import Options


class _Policy(Protocol):
    """What the registry reads of a ``policy.Policy`` (which imports the registry)."""

    def for_kind(self, kind: str) -> KindPolicy: ...


class KindRegistry:
    """Kind and detector specs, in a fixed order: the order detectors run in and kinds are listed."""

    def __init__(self, detectors: Iterable[AnyDetectorSpec], kinds: Iterable[KindSpec]) -> None:
        self._detectors: Mapping[str, AnyDetectorSpec] = MappingProxyType({d.name: d for d in detectors})
        self._kinds: Mapping[str, KindSpec] = MappingProxyType({k.name: k for k in kinds})
        groups: dict[str, list[str]] = {}
        for spec in self._kinds.values():
            if spec.detector not in self._detectors:
                raise ValueError(f"kind {spec.name!r}: unknown detector {spec.detector!r}")
            if spec.derived_from is not None:
                source = self._kinds.get(spec.derived_from)
                if source is None or source.derived_from is not None:
                    raise ValueError(f"kind {spec.name!r}: {spec.derived_from!r} is no tracked kind")
                if source.detector != spec.detector:
                    raise ValueError(f"kind {spec.name!r}: its detector is its source's, {source.detector!r}")
            for group in spec.groups:
                groups.setdefault(group, []).append(spec.name)
        self._groups: Mapping[str, tuple[str, ...]] = MappingProxyType({g: tuple(k) for g, k in groups.items()})
        modes: dict[str, tuple[KindSpec, Mode]] = {}
        for spec in self._kinds.values():
            for mode in spec.modes:
                if mode.name in modes:
                    raise ValueError(f"kind {spec.name!r}: mode {mode.name!r} is {modes[mode.name][0].name!r}'s")
                modes[mode.name] = (spec, mode)
        self._modes: Mapping[str, tuple[KindSpec, Mode]] = MappingProxyType(modes)

    # ------------------------------------------------------------ specs

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    @property
    def detectors(self) -> tuple[str, ...]:
        return tuple(self._detectors)

    def kind(self, name: str) -> KindSpec:
        return self._kinds[name]

    def detector(self, name: str) -> AnyDetectorSpec:
        return self._detectors[name]

    # ------------------------------------------------------------ detection and tracking

    def detectors_for(self, kinds: Iterable[str]) -> tuple[str, ...]:
        """The detectors region ``kinds`` need, in the registry's fixed order."""
        needed = {self._kinds[k].detector for k in kinds if k in self._kinds}
        return tuple(d for d in self._detectors if d in needed)

    def tracked_kinds(self, kinds: Iterable[str]) -> tuple[str, ...]:
        """The detection kinds that get a tracker, in the order asked: a derived kind (heads)
        comes from its source's tracks (persons)."""
        return tuple(dict.fromkeys(self._kinds[k].tracked for k in kinds if k in self._kinds))

    def detected_kinds(self, detector: str) -> tuple[str, ...]:
        """The kinds ``detector``'s detections can have (its tracked kinds)."""
        return tuple(k.name for k in self._kinds.values() if k.detector == detector and k.derived_from is None)

    def served(self, detector: str, kinds: Iterable[str]) -> tuple[str, ...]:
        """The kinds among ``kinds`` that ``detector`` serves, in the registry's order."""
        asked = set(kinds)
        return tuple(k.name for k in self._kinds.values() if k.detector == detector and k.name in asked)

    def outputs(self, tracked: str, kinds: Iterable[str]) -> tuple[str, ...]:
        """The region kinds among ``kinds`` made from ``tracked``'s estimates: the kind itself
        first, then the kinds derived from it (a person's body before its head), the order in
        which their regions are masked."""
        asked = set(kinds)
        derived = [k.name for k in self._kinds.values() if k.derived_from == tracked]
        return tuple(k for k in (tracked, *derived) if k in asked)

    def threshold(self, policy: _Policy, kinds: Iterable[str], detector: str) -> float:
        """Score ``detector`` must report for ``kinds``: the lowest threshold of those it serves
        (persons: of person and head)."""
        return min(policy.for_kind(k).threshold for k in self.served(detector, kinds))

    def track_threshold(self, policy: _Policy, kinds: Iterable[str], tracked: str) -> float:
        """Score a detection of ``tracked`` needs to be tracked: the lowest threshold of the kinds
        asked for that are made from its tracks (persons: of person and head)."""
        return min(policy.for_kind(k).threshold for k in self.outputs(tracked, kinds))

    def model_paths(self, options: Options) -> dict[str, Path]:
        """The detector model files a run with ``options`` uses, by role (for the processing
        record): the face detectors' always (a run loads them whatever its kinds), the others'
        when its kinds need them, in the registry's order."""
        needed = self.detectors_for(options.kinds)
        out: dict[str, Path] = {}
        for name, spec in self._detectors.items():
            if spec.load is None or name in needed:
                out.update(spec.model_paths(options))
        return out

    # ------------------------------------------------------------ policy and --kinds

    def default_policies(self) -> dict[str, KindPolicy]:
        """The default ``KindPolicy`` of every kind (a fresh dict: policies replace entries)."""
        return {name: spec.policy for name, spec in self._kinds.items()}

    @property
    def groups(self) -> Mapping[str, tuple[str, ...]]:
        """``--kinds`` names -> the region kinds they select."""
        return self._groups

    @property
    def default_groups(self) -> tuple[str, ...]:
        """The ``--kinds`` names of the kinds protected by default."""
        return tuple(dict.fromkeys(k.groups[0] for k in self._kinds.values() if k.default))

    @property
    def default_kinds(self) -> tuple[str, ...]:
        """The region kinds protected by default (``--kinds`` not given)."""
        return self.select(self.default_groups)

    @property
    def silhouette_kinds(self) -> tuple[str, ...]:
        """The kinds a segmentation mask can be computed for."""
        return tuple(k.name for k in self._kinds.values() if k.silhouette)

    def names(self, value: str | None) -> tuple[str, ...]:
        """``--kinds`` text -> its names (the defaults when not given); rejects an empty list."""
        names = self.default_groups if value is None else tuple(n.strip() for n in value.split(",") if n.strip())
        if not names:
            raise PolicyError(f"--kinds: expected some of {sorted(self._groups)}, got nothing")
        return names

    def select(self, names: Iterable[str]) -> tuple[str, ...]:
        """``--kinds`` names -> region kinds, in the order named; rejects unknown names with the
        list of valid ones."""
        kinds: list[str] = []
        for name in names:
            if name not in self._groups:
                raise PolicyError(f"--kinds: unknown kind {name!r}; expected some of {sorted(self._groups)}")
            kinds.extend(k for k in self._groups[name] if k not in kinds)
        return tuple(kinds)

    # ------------------------------------------------------------ --person-mode

    @property
    def modes(self) -> tuple[str, ...]:
        """The ``--person-mode`` choices, in the registry's order of the kinds declaring them."""
        return tuple(self._modes)

    def mode(self, name: str) -> tuple[KindSpec, Mode]:
        """The kind a ``--person-mode`` choice selects, and the choice; rejects unknown names."""
        try:
            return self._modes[name]
        except KeyError:
            raise PolicyError(f"--person-mode: expected one of {list(self._modes)}, got {name!r}") from None

    def with_mode(self, kinds: Sequence[str], name: str) -> tuple[str, ...]:
        """Region ``kinds`` with ``--person-mode name`` applied: its kind takes the place of the
        first other kind made from the same tracks that declares a mode (``persons`` become
        ``heads`` in head mode, and back in body mode), or is added when there is none."""
        wanted, _mode = self.mode(name)
        rivals = {
            k.name for k in self._kinds.values() if k.modes and k.tracked == wanted.tracked and k.name != wanted.name
        }
        out = list(kinds)
        present = [i for i, k in enumerate(out) if k in rivals]
        if present:
            out[present[0]] = wanted.name
        elif wanted.name not in out:
            out.append(wanted.name)
        return tuple(dict.fromkeys(out))

    def parse(self, value: str | None) -> tuple[str, ...]:
        """``--kinds faces,plates`` -> region kinds (``policy.parse_kinds`` adds ``--person-mode``)."""
        return self.select(self.names(value))
