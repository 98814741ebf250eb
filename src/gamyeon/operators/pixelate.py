"""Pixelation (mosaic), the default: the region is reduced to a few blocks across.

Block size scales with the region so that every face, large or small, keeps at most ``blocks``
blocks across its longer side. Fixed-size mosaics (e.g. 16 px) leave large faces recognisable --
dlib's ResNet still matches them -- which is why the size is relative.

Against an attacker who knows the operator (he pixelates his own gallery the same way and
compares mosaic with mosaic), the block grid must not be a function of the face box alone: a grid
anchored at the region's corner gives every photo of a face the same canonical mosaic, which the
attacker reproduces on his gallery. Two seeded perturbations, drawn from the ``seed`` the caller
passes (one per track, derived from a secret the attacker does not have):

* ``shift`` (on by default): the grid starts at a random offset of 0..block-1 pixels on each
  axis, so which features fall into which block is unknown to anyone without the secret. On
  augmented copies of the dev identity photos it took the parrot attack's rank-1 from well above
  chance to chance (see the ``reid`` benchmark section);
* ``noise`` (0 here; the default policy sets it for faces and heads, ``kinds.builtin.MOSAIC_NOISE``):
  Gaussian noise of that standard deviation (grey levels, per channel) on every block's colour.
  It drowns colour differences (skin tone, hair colour). On photos of different occasions the
  shift alone already brought the parrot attack to chance; against an attacker who holds another
  picture of the same moment, whose mosaic differs from the output's only by the grid, the shift
  is not enough and the noise is what brings the attack back to chance.

One track keeps one grid and one noise pattern on every frame: no flicker, and no averaging of
independently perturbed frames (a new offset per frame would let an attacker combine frames into
a finer mosaic). Without a seed the grid is anchored at the corner and no noise is added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from gamyeon.operators.base import Operator, resize
from gamyeon.types import Array


@dataclass(frozen=True, slots=True)
class Pixelate(Operator):
    name: ClassVar[str] = "pixelate"
    blocks: int = 6
    min_block: int = 4
    shift: bool = True
    noise: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.blocks, bool) or not isinstance(self.blocks, int) or not 1 <= self.blocks <= 64:
            raise ValueError(f"pixelate.blocks: expected an integer in 1..64, got {self.blocks!r}")
        if isinstance(self.min_block, bool) or not isinstance(self.min_block, int) or self.min_block < 1:
            raise ValueError(f"pixelate.min_block: expected an integer >= 1, got {self.min_block!r}")
        if not isinstance(self.shift, bool):
            raise ValueError(f"pixelate.shift: expected true or false, got {self.shift!r}")
        if (
            isinstance(self.noise, bool)
            or not isinstance(self.noise, int | float)
            or not math.isfinite(self.noise)
            or not 0.0 <= self.noise <= 128.0
        ):
            raise ValueError(f"pixelate.noise: expected a number in 0..128, got {self.noise!r}")

    def block_size(self, height: int, width: int) -> int:
        return max(self.min_block, math.ceil(max(height, width) / self.blocks))

    @property
    def seeded(self) -> bool:
        return self.shift or self.noise > 0.0

    def replacement(self, frame: Array, bounds: tuple[int, int, int, int], seed: int | None = None) -> Array:
        x1, y1, x2, y2 = bounds
        crop = frame[y1:y2, x1:x2]
        height, width = crop.shape[:2]
        block = self.block_size(height, width)
        rng = np.random.default_rng(seed) if seed is not None and self.seeded else None
        ox, oy = (int(v) for v in rng.integers(0, block, size=2)) if rng is not None and self.shift else (0, 0)
        rows, cols = math.ceil((height + oy) / block), math.ceil((width + ox) / block)
        # the crop placed at (oy, ox) of a whole number of blocks; the margins repeat the edge
        # pixels, so a part block holds only colours of the region (leaning to its edge pixels)
        # (OpenCV's replicated border: the same pixels as numpy's "edge" pad, at half the cost
        # for the small regions of a crowd)
        padded = cv2.copyMakeBorder(
            crop, oy, rows * block - height - oy, ox, cols * block - width - ox, cv2.BORDER_REPLICATE
        )
        small = resize(padded, cols, rows, cv2.INTER_AREA)  # whole blocks: each cell is its block's mean
        if rng is not None and self.noise > 0.0:
            noisy = small + rng.normal(0.0, self.noise, size=small.shape)
            small = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
        big = np.repeat(np.repeat(small, block, axis=0), block, axis=1)
        return big[oy : oy + height, ox : ox + width]

    def params(self) -> dict[str, object]:
        return {"blocks": self.blocks, "min_block": self.min_block, "shift": self.shift, "noise": self.noise}
