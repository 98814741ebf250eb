"""What to protect and how: kind -> operator, shape, mask scale, detection threshold.

A policy is validated once, when it is loaded, into typed frozen values; stages never look at raw
dicts. It comes from defaults, an optional TOML file (``--policy``) and CLI flags, in that order
of precedence (flags win). Example file::

    [kinds.face]
    operator = "pixelate"      # pixelate | blur | fill
    shape = "box"              # box | ellipse (| silhouette, for kinds.person only)
    mask_scale = 1.3
    threshold = 0.2
    [kinds.face.outline]      # reach beyond the face box, in face-box units (see headshape)
    top = 0.3
    sides = 0.1
    bottom = 0.0
    [kinds.face.params]
    blocks = 6
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gamyeon.errors import PolicyError
from gamyeon.infra.tomlfile import read_toml
from gamyeon.kindpolicy import KindPolicy as KindPolicy
from gamyeon.kinds import KINDS
from gamyeon.mask.headshape import Outline
from gamyeon.operators import REGISTRY, Operator, Pixelate, Shape
from gamyeon.types import Region

#: Names accepted by ``--kinds`` -> region kinds they enable (the registry's; see
#: ``gamyeon.kinds.builtin`` for what each protects and why).
KIND_GROUPS: Mapping[str, tuple[str, ...]] = KINDS.groups
#: what ``--kinds`` protects when not given (``KindSpec.default``)
DEFAULT_KINDS: tuple[str, ...] = KINDS.default_groups
DEFAULT_REGION_KINDS: tuple[str, ...] = KINDS.default_kinds
#: ``--person-mode``: the head of persons whose face is not found, the whole person box, or the
#: person's silhouette (the kinds that declare them: ``KindSpec.modes``)
PERSON_MODES: tuple[str, ...] = KINDS.modes


def _default_kinds() -> dict[str, KindPolicy]:
    """The registry's default policy per kind (``gamyeon.kinds.builtin`` says why)."""
    return KINDS.default_policies()


#: the mask secret of a policy that was given none: random per process, so unknown to anyone
_PROCESS_SECRET = secrets.token_bytes(32)


@dataclass(frozen=True, slots=True)
class Policy:
    """``secret`` seeds the operators' randomness (``mask_seed``); it is never described or
    printed. ``gamyeon.api`` sets it from the run's pseudonym key (``keyed``); without one a
    random per-process secret is used, so masks are unpredictable but not reproducible."""

    kinds: Mapping[str, KindPolicy] = field(default_factory=_default_kinds)
    secret: bytes | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for kind, kp in self.kinds.items():
            if kp.shape is Shape.SILHOUETTE and kind not in KINDS.silhouette_kinds:
                where = _silhouette_kinds()
                raise PolicyError(f"kinds.{kind}: shape 'silhouette' is for {where}; use box or ellipse for {kind}")

    def for_kind(self, kind: str) -> KindPolicy:
        try:
            return self.kinds[kind]
        except KeyError:
            raise PolicyError(f"no policy for kind {kind!r}; expected one of {sorted(self.kinds)}") from None

    def describe(self) -> dict[str, object]:
        return {kind: kp.describe() for kind, kp in sorted(self.kinds.items())}

    def keyed(self, secret: bytes) -> Policy:
        """A copy whose masks are seeded from ``secret`` (e.g. derived from the run's key)."""
        if not isinstance(secret, bytes) or len(secret) < 16:
            raise PolicyError(f"mask secret: expected at least 16 bytes, got {type(secret).__name__}")
        return dataclasses.replace(self, secret=secret)

    def mask_seed(self, region: Region) -> int:
        """The seed of ``region``'s operator: HMAC-SHA256 of the policy secret over the region's
        kind and track, so one track keeps one mosaic grid and noise pattern on every frame
        (perturbing each frame anew would let an attacker average them away), different tracks
        get independent ones, and without the secret nobody can recompute them -- an attacker
        who pixelates his own gallery cannot reproduce the grid a given face was masked with.
        A region without a track (none in practice) is keyed by its mask's position."""
        secret = self.secret if self.secret is not None else _PROCESS_SECRET
        ident = str(region.track) if region.track is not None else ",".join(f"{v:.0f}" for v in region.mask.as_list(0))
        digest = hmac.new(secret, f"mask-seed:{region.kind}:{ident}".encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big")

    def uses_silhouette(self, kinds: tuple[str, ...]) -> bool:
        """Whether a run protecting region ``kinds`` masks persons by their silhouette."""
        return any(k in kinds and self.for_kind(k).shape is Shape.SILHOUETTE for k in KINDS.silhouette_kinds)

    def with_person_mode(self, person_mode: str | None) -> Policy:
        """A copy with ``--person-mode`` applied to the shape of the kind it selects, as its
        ``kinds.Mode`` says: ``silhouette`` sets the person shape, ``body`` (the person *box*)
        turns a silhouette from a policy file back into a box; ``head``, None and unknown
        names change nothing (``parse_kinds`` handles the kinds and rejects unknown names)."""
        if person_mode not in KINDS.modes:
            return self
        spec, mode = KINDS.mode(person_mode)
        current = self.kinds.get(spec.name)
        if current is None or mode.silhouette is None:
            return self
        if mode.silhouette:
            shape = Shape.SILHOUETTE
        elif current.shape is Shape.SILHOUETTE:
            shape = Shape.BOX
        else:
            return self
        return dataclasses.replace(self, kinds={**self.kinds, spec.name: dataclasses.replace(current, shape=shape)})

    def with_overrides(
        self,
        *,
        operator: str | None = None,
        shape: str | None = None,
        mask_scale: float | None = None,
        threshold: float | None = None,
    ) -> Policy:
        """A copy with the CLI flags applied to every kind."""
        new: dict[str, KindPolicy] = {}
        for kind, kp in self.kinds.items():
            changes: dict[str, Any] = {}
            if operator is not None and operator != kp.operator.name:
                changes["operator"] = make_operator(operator, {})
            if shape is not None:
                changes["shape"] = parse_shape(shape)
            if mask_scale is not None:
                changes["mask_scale"] = float(mask_scale)
            if threshold is not None:
                changes["threshold"] = float(threshold)
            new[kind] = dataclasses.replace(kp, **changes)
        return dataclasses.replace(self, kinds=new)


def _silhouette_kinds() -> str:
    """Where a silhouette may be asked for, for error messages: "persons only (kinds.person, or
    --person-mode silhouette)" with the built-in kinds."""
    groups = " and ".join(KINDS.kind(k).groups[0] for k in KINDS.silhouette_kinds)
    tables = ", ".join(f"kinds.{k}" for k in KINDS.silhouette_kinds)
    modes = " or ".join(f"--person-mode {name}" for name in KINDS.modes if KINDS.mode(name)[1].silhouette)
    return f"{groups} only ({tables}, or {modes})"


def parse_shape(value: str) -> Shape:
    try:
        return Shape(value)
    except ValueError:
        raise PolicyError(f"shape: expected one of {[s.value for s in Shape]}, got {value!r}") from None


def make_operator(name: str, params: Mapping[str, Any]) -> Operator:
    cls = REGISTRY.get(name)
    if cls is None:
        raise PolicyError(f"operator: expected one of {sorted(REGISTRY)}, got {name!r}")
    allowed = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise PolicyError(f"unknown parameter(s) {unknown} for operator {name}; expected some of {sorted(allowed)}")
    clean = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    try:
        return cls(**clean)
    except (TypeError, ValueError) as err:
        raise PolicyError(f"operator {name}: {err}") from None


_KIND_KEYS = {"operator", "shape", "mask_scale", "threshold", "params", "outline"}
_OUTLINE_KEYS = ("top", "sides", "bottom", "from_px", "full_px")


def parse_outline(kind: str, table: object, base: Outline) -> Outline:
    """``[kinds.KIND.outline]`` -> ``Outline``; sides not given keep ``base``'s reach."""
    if not isinstance(table, Mapping):
        raise PolicyError(f"kinds.{kind}.outline: expected a table, got {type(table).__name__}")
    unknown = sorted(set(table) - set(_OUTLINE_KEYS))
    if unknown:
        raise PolicyError(f"kinds.{kind}.outline: unknown key(s) {unknown}; expected some of {list(_OUTLINE_KEYS)}")
    try:
        return dataclasses.replace(base, **table)
    except (TypeError, ValueError) as err:
        raise PolicyError(f"kinds.{kind}.{err}") from None


def _kind_from_table(kind: str, table: Mapping[str, Any], base: KindPolicy | None) -> KindPolicy:
    if not isinstance(table, Mapping):
        raise PolicyError(f"kinds.{kind}: expected a table, got {type(table).__name__}")
    unknown = sorted(set(table) - _KIND_KEYS)
    if unknown:
        raise PolicyError(f"kinds.{kind}: unknown key(s) {unknown}; expected some of {sorted(_KIND_KEYS)}")
    base = base or KindPolicy(operator=Pixelate())
    params = table.get("params", {})
    if not isinstance(params, Mapping):
        raise PolicyError(f"kinds.{kind}.params: expected a table")
    op_name = table.get("operator", base.operator.name)
    if not isinstance(op_name, str):
        raise PolicyError(f"kinds.{kind}.operator: expected a string, got {op_name!r}")
    operator = base.operator
    if op_name != base.operator.name:
        operator = make_operator(op_name, params)
    elif params:  # the parameters not given keep the kind's defaults (a face's mosaic noise, say)
        operator = make_operator(op_name, {**base.operator.params(), **params})
    shape = parse_shape(str(table["shape"])) if "shape" in table else base.shape
    try:
        mask_scale = float(table.get("mask_scale", base.mask_scale))
        threshold = float(table.get("threshold", base.threshold))
    except (TypeError, ValueError):
        raise PolicyError(f"kinds.{kind}: mask_scale and threshold must be numbers") from None
    outline = parse_outline(kind, table["outline"], base.outline) if "outline" in table else base.outline
    return KindPolicy(operator=operator, shape=shape, mask_scale=mask_scale, threshold=threshold, outline=outline)


def policy_from_mapping(data: Mapping[str, Any]) -> Policy:
    unknown = sorted(set(data) - {"kinds"})
    if unknown:
        raise PolicyError(f"unknown top-level key(s) {unknown}; expected 'kinds'")
    kinds_table = data.get("kinds", {})
    if not isinstance(kinds_table, Mapping):
        raise PolicyError("'kinds' must be a table")
    kinds = dict(_default_kinds())
    for kind, table in kinds_table.items():
        kinds[kind] = _kind_from_table(kind, table, kinds.get(kind))
    return Policy(kinds=kinds)


def load_policy(path: str | Path) -> Policy:
    path = Path(path)
    data = read_toml(path, "policy file", PolicyError)
    return policy_from_mapping(data)


def parse_kinds(value: str | None, person_mode: str | None = None) -> tuple[str, ...]:
    """``--kinds faces,plates`` -> region kinds; rejects unknown names with the list of valid ones.

    ``person_mode`` (``--person-mode``) says how persons are protected: ``body`` masks the whole
    person (``heads`` become ``persons``; added when no person kind was named), ``head`` only
    the head of persons whose face is not found (``persons`` become ``heads``). ``silhouette``
    selects the same kinds as ``body``; ``Policy.with_person_mode`` sets the person shape. The
    kinds declare their modes (``kinds.Mode``); ``KindRegistry.with_mode`` applies them.
    """
    names = KINDS.names(value)
    if person_mode is not None:
        KINDS.mode(person_mode)  # an unknown mode is reported before unknown kinds
    kinds = KINDS.select(names)
    return kinds if person_mode is None else KINDS.with_mode(kinds, person_mode)
