"""Quality gates for persons and plates on the shared evaluation set (``../shared/evaldata/dev``),
run in-process on a sample so they stay fast. Skipped when the set is absent; nothing from it is
copied anywhere. The full black-box figures come from ``benchmarks/run.py --only kinds``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from gamyeon.detect.persons import PersonDetector
from gamyeon.detect.ssdlite import SsdLitePerson
from gamyeon.detect.text import PpOcrDet, TextDetector
from gamyeon.policy import Policy
from gamyeon.types import Box

DEV = Path(__file__).resolve().parents[3] / "shared" / "evaldata" / "dev"
pytestmark = [
    pytest.mark.evaldata,
    pytest.mark.skipif(not (DEV / "annotations.json").is_file(), reason=f"{DEV} not present"),
]


def annotations() -> dict[str, Any]:
    return dict(json.loads((DEV / "annotations.json").read_text(encoding="utf-8")))


def covered(gt: list[float], masks: list[Box], width: int, height: int) -> float:
    """Share of the ground-truth box's pixels inside the union of ``masks``."""
    x1, y1 = max(int(gt[0]), 0), max(int(gt[1]), 0)
    x2, y2 = min(math.ceil(gt[2]), width), min(math.ceil(gt[3]), height)
    if x2 <= x1 or y2 <= y1:
        return 1.0
    hit = np.zeros((y2 - y1, x2 - x1), dtype=bool)
    for m in masks:
        a, b, c, d = m.pixel_bounds(width, height)
        hit[max(b - y1, 0) : max(d - y1, 0), max(a - x1, 0) : max(c - x1, 0)] = True
    return float(hit.mean())


def test_plates_are_covered_on_a_sample_of_dev_stills() -> None:
    images = [i for i in annotations()["images"] if i.get("plates")][::11]  # 21 of 222, all three countries
    kp = Policy().for_kind("plate")
    detector = TextDetector(PpOcrDet(), ("plate",), threshold=kp.threshold)
    scores = []
    for im in images:
        pixels = np.asarray(Image.open(DEV / im["file"]).convert("RGB"))
        height, width = pixels.shape[:2]
        masks = [d.box.scaled(kp.mask_scale) for d in detector.detect(pixels)]
        scores += [covered(gt, masks, width, height) for gt in im["plates"]]
    share = float(np.mean(np.array(scores) >= 0.7))
    assert share >= 0.9, (share, scores)


def test_persons_are_covered_on_sampled_pets_frames() -> None:
    video = next(v for v in annotations()["videos"] if v["file"].startswith("videos/pets09"))
    gt = json.loads((DEV / video["gt"]).read_text(encoding="utf-8"))["frames"]
    wanted = set(range(1, video["frames"] + 1, 53))  # 15 frames across the clip
    kp = Policy().for_kind("person")
    detector = PersonDetector(SsdLitePerson(), threshold=kp.threshold)
    scores = []
    with av.open(str(DEV / video["file"])) as container:
        for number, frame in enumerate(container.decode(video=0), start=1):
            if number not in wanted:
                continue
            pixels = frame.to_ndarray(format="rgb24")
            height, width = pixels.shape[:2]
            masks = [d.box.scaled(kp.mask_scale) for d in detector.detect_frame(pixels)]
            scores += [covered(g, masks, width, height) for g in (gt.get(str(number)) or {}).get("persons", [])]
    # single frames, no tracking or interpolation: the full pipeline reaches 0.99 on the whole clip
    share = float(np.mean(np.array(scores) >= 0.7))
    assert len(scores) > 60 and share >= 0.85, (share, len(scores))
