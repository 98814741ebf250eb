"""How one kind of region is masked: operator, shape, mask scale, detection threshold, outline.

A leaf module (no registry, no policy file parsing) so that the kind registry
(``gamyeon.kinds``) can declare each kind's default ``KindPolicy`` and ``gamyeon.policy`` can
ask the registry for them without an import cycle. ``gamyeon.policy`` re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gamyeon.errors import PolicyError
from gamyeon.mask.headshape import NONE, Outline
from gamyeon.operators import Operator, Shape


@dataclass(frozen=True, slots=True)
class KindPolicy:
    operator: Operator
    shape: Shape = Shape.BOX
    mask_scale: float = 1.3
    threshold: float = 0.2
    #: how far the mask reaches beyond the detected box on each side before ``mask_scale``
    outline: Outline = NONE

    def __post_init__(self) -> None:
        if not 1.0 <= self.mask_scale <= 4.0:
            raise PolicyError(f"mask_scale must be in 1.0..4.0, got {self.mask_scale}")
        if not 0.0 < self.threshold < 1.0:
            raise PolicyError(f"threshold must be in (0, 1), got {self.threshold}")

    def describe(self) -> dict[str, object]:
        return {
            "operator": self.operator.name,
            "params": self.operator.params(),
            "shape": self.shape.value,
            "mask_scale": self.mask_scale,
            "threshold": self.threshold,
            "outline": self.outline.describe(),
        }
