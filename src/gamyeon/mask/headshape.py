"""Where a face mask reaches beyond the face detector's box: the head outline.

A face detector's box runs from the forehead to the chin and from cheek to cheek. Masking only
that box (grown about its centre) leaves the hair, the ears and the outline of the head, and an
attacker who knows the operator (the "parrot" attack: he masks his own gallery the same way and
compares masked with masked) still names people above chance from them. A head is not a bigger
face centred on the face: the skull and hair reach well above the forehead, the ears stick out
sideways, and little lies below the chin. ``Outline`` grows the box by its own amount on each
side, in units of the face box, which keeps the cost in masked area well below that of a centred
scale large enough to reach the hair.

The reach is added before the kind's centred ``mask_scale`` (1.3 for faces, unchanged), and only
where hair and ears are resolved: it grows linearly from nothing at a face-box height of
``from_px`` (16 px: a head there is a handful of pixels, hair and ears a pixel or two, and no face
recogniser works) to its full value at ``full_px`` (48 px: about where dlib's detector and
descriptor start to work, with one upsampling). Small faces -- crowds, CCTV -- therefore keep
exactly the mask they had, and the area cost falls on the close views where the attack works.

The default (``HEAD``) comes from head proportions, not from fitting any photo set. A CenterFace
box runs from about the hairline to the chin; the crown lies about a third of that height above
the hairline, and hair adds to it: 0.3 box heights above, which with the 1.3 scale puts the top
of the mask half a box height above the box. The ears and the hair beside them stick out about a
fifth of the box width beyond each cheek: 0.1 on each side, 0.28 with the scale. Nothing is added
below the chin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gamyeon.types import Box

#: the largest reach accepted on any side, in face-box units (beyond that it is a body mask)
MAX_REACH = 2.0
#: the largest face-box height accepted for the ramp's ends
MAX_PX = 4096.0


@dataclass(frozen=True, slots=True)
class Outline:
    """How far the mask reaches beyond the face box on each side, as a fraction of the box's
    height (``top``, ``bottom``) or width (``sides``, each side)."""

    top: float = 0.0
    sides: float = 0.0
    bottom: float = 0.0
    #: face-box height (pixels) below which nothing is added, and from which all of it is
    from_px: float = 16.0
    full_px: float = 48.0

    def __post_init__(self) -> None:
        for name in ("top", "sides", "bottom", "from_px", "full_px"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"outline.{name}: expected a number, got {value!r}")
            limit = MAX_REACH if name in ("top", "sides", "bottom") else MAX_PX
            if not 0.0 <= value <= limit:
                raise ValueError(f"outline.{name}: expected 0..{limit}, got {value}")
        if self.full_px < self.from_px:
            raise ValueError(f"outline.full_px: expected >= from_px ({self.from_px}), got {self.full_px}")

    def weight(self, height: float) -> float:
        """How much of the outline a face box ``height`` pixels high gets (0..1)."""
        if height >= self.full_px:
            return 1.0
        if height <= self.from_px:
            return 0.0
        return (height - self.from_px) / (self.full_px - self.from_px)

    @property
    def is_empty(self) -> bool:
        return self.top == self.sides == self.bottom == 0.0

    def around(self, box: Box) -> Box:
        """``box`` grown by the outline (the face box -> the head box)."""
        weight = 0.0 if self.is_empty else self.weight(box.height)
        if weight <= 0.0:
            return box
        w, h = box.width * weight, box.height * weight
        return Box(box.x1 - self.sides * w, box.y1 - self.top * h, box.x2 + self.sides * w, box.y2 + self.bottom * h)

    def describe(self) -> dict[str, float]:
        return {
            "top": self.top,
            "sides": self.sides,
            "bottom": self.bottom,
            "from_px": self.from_px,
            "full_px": self.full_px,
        }


#: no reach beyond the box (every kind but faces)
NONE = Outline()
#: the default for faces: hair above, ears beside, the jaw below (see the module docstring)
HEAD = Outline(top=0.3, sides=0.1, bottom=0.0)
