"""Where a face mask reaches beyond the face detector's box: the head outline.

A face detector's box runs from the forehead to the chin and from cheek to cheek. Masking only
that box (grown about its centre) leaves the hair, the ears and the outline of the head, and an
attacker who knows the operator (the "parrot" attack: he masks his own gallery the same way and
compares masked with masked) still names people above chance from them. A head is not a bigger
face centred on the face: the skull and hair reach well above the forehead, the ears stick out
sideways, and little lies below the chin. ``Outline`` grows the box by its own amount on each
side, in units of the face box, which keeps the cost in masked area well below that of a centred
scale large enough to reach the hair.

The default outline (``HEAD``) comes from head proportions, not from fitting any photo set. A
CenterFace box runs from about the hairline to the chin; the crown lies about a third of that
height above the hairline, and hair adds to it, so the mask reaches 0.4 box heights above the box
(plus the kind's ``mask_scale``). The ears and the hair beside them stick out about a fifth of the
box width beyond each cheek. Below, 0.08 box heights plus the scale gives the chin the same
margin as the centred 1.3 scale that faces used before, so no side of the mask shrank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gamyeon.types import Box

#: the largest reach accepted on any side, in face-box units (beyond that it is a body mask)
MAX_REACH = 2.0


@dataclass(frozen=True, slots=True)
class Outline:
    """How far the mask reaches beyond the face box on each side, as a fraction of the box's
    height (``top``, ``bottom``) or width (``sides``, each side)."""

    top: float = 0.0
    sides: float = 0.0
    bottom: float = 0.0

    def __post_init__(self) -> None:
        for name in ("top", "sides", "bottom"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"outline.{name}: expected a number, got {value!r}")
            if not 0.0 <= value <= MAX_REACH:
                raise ValueError(f"outline.{name}: expected 0..{MAX_REACH}, got {value}")

    @property
    def is_empty(self) -> bool:
        return self.top == self.sides == self.bottom == 0.0

    def around(self, box: Box) -> Box:
        """``box`` grown by the outline (the face box -> the head box)."""
        if self.is_empty:
            return box
        w, h = box.width, box.height
        return Box(box.x1 - self.sides * w, box.y1 - self.top * h, box.x2 + self.sides * w, box.y2 + self.bottom * h)

    def describe(self) -> dict[str, float]:
        return {"top": self.top, "sides": self.sides, "bottom": self.bottom}


#: no reach beyond the box (every kind but faces)
NONE = Outline()
#: the default for faces: hair above, ears beside, the jaw below (see the module docstring)
HEAD = Outline(top=0.4, sides=0.2, bottom=0.08)
