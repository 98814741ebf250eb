"""Masking operators, one small module each, behind one registry."""

from __future__ import annotations

from gamyeon.operators.base import Operator, Shape, ellipse_mask
from gamyeon.operators.blur import Blur
from gamyeon.operators.fill import Fill
from gamyeon.operators.pixelate import Pixelate

REGISTRY: dict[str, type[Operator]] = {cls.name: cls for cls in (Pixelate, Blur, Fill)}

__all__ = ["REGISTRY", "Blur", "Fill", "Operator", "Pixelate", "Shape", "ellipse_mask"]
