"""How much of the picture a run masks, read from its ``OUTPUT.regions.jsonl`` sidecar.

Over-masking destroys what pseudonymized footage is for (training data), so the share of the frame
that the masks cover is a figure to keep next to every coverage figure. Per frame, the ``mask``
boxes of a kind are unioned on the pixel grid (overlapping boxes count once), then divided by the
frame area; ``total`` is the union over all kinds. Means are over every frame of the sidecar,
frames without regions counting as 0.

A fail-closed frame is written black, so its whole area is lost: it counts as 1.0 in ``total``
(and is counted in ``fail_closed``), but in no kind, since no region masked it.

``masked_area(sidecar, width, height)`` is the function; run as a script for a quick look::

    python benchmarks/benchlib/area.py OUTPUT.regions.jsonl WIDTH HEIGHT
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def union_grid(boxes: Iterable[Sequence[float]], width: int, height: int) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """The pixels of a ``width`` x ``height`` frame under the union of ``[x1, y1, x2, y2]`` boxes.

    A pixel counts when the box touches it (floor of the start, ceil of the end), as a mask
    operator changes every pixel it touches.
    """
    grid = np.zeros((height, width), dtype=bool)
    for x1, y1, x2, y2 in boxes:
        c1, c2 = max(0, math.floor(x1)), min(width, math.ceil(x2))
        r1, r2 = max(0, math.floor(y1)), min(height, math.ceil(y2))
        if c2 > c1 and r2 > r1:
            grid[r1:r2, c1:c2] = True
    return grid


def _union_fraction(boxes: Iterable[Sequence[float]], width: int, height: int) -> float:
    """Fraction of the ``width`` x ``height`` frame covered by the union of the boxes (``union_grid``)."""
    return float(union_grid(boxes, width, height).mean())


def masked_area(sidecar: Path, width: int, height: int) -> dict[str, Any]:
    """Per-kind and total masked-area fractions of a regions sidecar.

    Returns ``{"frames": N, "fail_closed": F, "total": {"mean": m, "max": x},
    "kinds": {kind: {"mean": m, "max": x, "frames": frames_with_that_kind}}}``, fractions in
    ``[0, 1]``. ``width``/``height`` are the upright (displayed) picture size the boxes refer to.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    totals: list[float] = []
    per_kind: dict[str, list[float]] = {}
    present: dict[str, int] = {}
    fail_closed = 0
    with sidecar.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            record = json.loads(line)
            by_kind: dict[str, list[Sequence[float]]] = {}
            for region in record["regions"]:
                by_kind.setdefault(region["kind"], []).append(region["mask"])
            frame_index = len(totals)
            for kind, boxes in by_kind.items():
                if kind not in per_kind:
                    per_kind[kind] = [0.0] * frame_index
                per_kind[kind].append(_union_fraction(boxes, width, height))
                present[kind] = present.get(kind, 0) + 1
            for kind, values in per_kind.items():
                if kind not in by_kind:
                    values.append(0.0)
            if record.get("fail_closed"):
                fail_closed += 1
                totals.append(1.0)
            else:
                totals.append(_union_fraction((b for bs in by_kind.values() for b in bs), width, height))

    def summary(values: list[float]) -> dict[str, float]:
        return {"mean": sum(values) / len(values) if values else 0.0, "max": max(values, default=0.0)}

    return {
        "frames": len(totals),
        "fail_closed": fail_closed,
        "total": summary(totals),
        "kinds": {k: {**summary(v), "frames": present[k]} for k, v in sorted(per_kind.items())},
    }


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    result = masked_area(Path(argv[0]), int(argv[1]), int(argv[2]))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
