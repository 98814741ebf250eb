"""Face descriptors for the identity attack (``attack.py``).

dlib's ResNet face descriptor (the model behind ``face_recognition``, models from
``face-recognition-models``) maps a face to 128 numbers; dlib calls two faces closer than 0.6
(Euclidean) the same person. The attacker is assumed to know where the face was: descriptors are
computed on the original and on the output at the same place. ``closest`` gives each face's
distance to its own original (also at every face a detector still finds there), reported as
information: whether 0.6 separates people depends on the footage, which is why the gate is
identification against chance, calibrated on the originals (``attack.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gamyeon.errors import ModelError
from gamyeon.types import Array, Box


def _models() -> Any:
    try:
        import face_recognition_models
    except ImportError:
        raise ModelError("verify needs dlib's face models: pip install face-recognition-models") from None
    return face_recognition_models


class FaceEmbedder:
    """128-d dlib ResNet descriptors of faces at given boxes, aligned with the 5-point landmark
    model (the alignment ``face_recognition`` uses by default)."""

    def __init__(self) -> None:
        import dlib  # deferred: a large native module that only verify needs

        frm = _models()
        self._dlib: Any = dlib
        self.shape_model = str(frm.pose_predictor_five_point_model_location())
        self.encoder_model = str(frm.face_recognition_model_location())
        self._shapes: Any = dlib.shape_predictor(self.shape_model)
        self._encoder: Any = dlib.face_recognition_model_v1(self.encoder_model)

    def descriptors(self, image: Array, boxes: Sequence[Box]) -> Array:
        """``len(boxes) x 128`` descriptors of the faces at ``boxes`` in ``image`` (RGB uint8)."""
        if not boxes:
            return np.zeros((0, 128), dtype=np.float64)
        image = np.ascontiguousarray(image)
        shapes = self._dlib.full_object_detections()
        for box in boxes:
            rect = self._dlib.rectangle(round(box.x1), round(box.y1), round(box.x2) - 1, round(box.y2) - 1)
            shapes.append(self._shapes(image, rect))
        return np.asarray(self._encoder.compute_face_descriptor(image, shapes), dtype=np.float64)


def closest(reference: Array, candidates: Array) -> float:
    """The smallest Euclidean distance from ``reference`` (128,) to any row of ``candidates``."""
    return float(np.min(np.linalg.norm(candidates - reference[None, :], axis=1)))
