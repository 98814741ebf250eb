"""Face detectors independent of the one that masked the faces (CenterFace), used by verify.

Two detectors of unrelated design, so that a face one of them misses the other may still find:

- dlib's HOG + linear SVM frontal face detector (``dlib.get_frontal_face_detector``). Its window
  is 80 x 80 px; the picture is upsampled once on frames up to 640 x 480, so it sees frontal faces
  from about 80 px (40 px on small frames).
- MTCNN (``mtcnn.py``), a CNN cascade over an image pyramid, from 20 px (``min_face``), any pose
  it was trained on.

A face both find counts. A face only one finds counts when MTCNN finds it again on a crop
rescaled so the face is 100 px: score >= 0.95 for an MTCNN hit, >= 0.7 (MTCNN's own default) for
a HOG hit. A real face is found at any scale; a texture that looks like a face at one scale mostly
is not. On the dev set and the demo clip this removed every false positive seen -- a mission patch
HOG scored 0.2 (faces score about 1), a drum's tiger stripes MTCNN scored 0.951 (0.892 on the
crop), a car headlight 0.931 (nothing on the crop) -- and kept the real faces (0.95-1.0 on the
crop, down to 13 px). The same rule applies to the original (faces to check) and to the output
(faces still detectable).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from gamyeon.types import Array, Box
from gamyeon.verify.mtcnn import Mtcnn, MtcnnConfig

log = logging.getLogger(__name__)

#: frames up to this many pixels get one 2x upsampling in the HOG pass (cost x4)
HOG_UPSAMPLE_MAX_PIXELS = 640 * 480
#: boxes of two detectors overlapping this much (IoU) are the same face
SAME_FACE_IOU = 0.3
#: a hit of one detector is confirmed by MTCNN on a crop where the face is this many px
CONFIRM_SIDE = 100
#: MTCNN's own default final threshold, for confirming a HOG hit
HOG_CONFIRM_SCORE = 0.7


@dataclass(frozen=True, slots=True)
class FaceHit:
    """A face found by one or more detectors; ``box`` is MTCNN's when it found it (the whole face,
    forehead to chin), HOG's otherwise (eyebrows to mouth)."""

    box: Box
    found_by: tuple[str, ...]
    score: float


def same_face(a: Box, b: Box) -> bool:
    """Overlapping enough, or one box's centre inside the other (HOG boxes are tighter)."""
    if a.iou(b) >= SAME_FACE_IOU:
        return True
    ax, ay = a.center
    bx, by = b.center
    return (b.x1 <= ax <= b.x2 and b.y1 <= ay <= b.y2) or (a.x1 <= bx <= a.x2 and a.y1 <= by <= a.y2)


def merge_hits(groups: dict[str, list[tuple[Box, float]]]) -> list[FaceHit]:
    """One ``FaceHit`` per face over the detectors' hits, first detector's box winning."""
    merged: list[tuple[Box, list[str], float]] = []
    for name, hits in groups.items():
        for box, score in hits:
            for entry in merged:
                if same_face(entry[0], box):
                    if name not in entry[1]:
                        entry[1].append(name)
                    break
            else:
                merged.append((box, [name], score))
    return [FaceHit(box, tuple(names), score) for box, names, score in merged]


class IndependentFaces:
    """dlib HOG + MTCNN on upright RGB pictures."""

    def __init__(self, min_face: int = 20, mtcnn_threshold: float = 0.95) -> None:
        import dlib  # deferred: a large native module that only verify needs

        self._dlib: Any = dlib
        self._hog: Any = dlib.get_frontal_face_detector()
        self.mtcnn = Mtcnn(MtcnnConfig(min_face=min_face))
        self.mtcnn_threshold = mtcnn_threshold
        self.min_face = min_face

    @staticmethod
    def hog_upsample(width: int, height: int) -> int:
        return 1 if width * height <= HOG_UPSAMPLE_MAX_PIXELS else 0

    def hog(self, image: Array, upsample: int | None = None) -> list[tuple[Box, float]]:
        """HOG faces; ``upsample`` times 2x (None: once on frames up to ``HOG_UPSAMPLE_MAX_PIXELS``)."""
        height, width = image.shape[:2]
        times = self.hog_upsample(width, height) if upsample is None else upsample
        rects, scores, _ = self._hog.run(np.ascontiguousarray(image), times, 0.0)
        out: list[tuple[Box, float]] = []
        for rect, score in zip(rects, scores, strict=True):
            box = Box(float(rect.left()), float(rect.top()), float(rect.right() + 1), float(rect.bottom() + 1))
            box = box.clipped(width, height)
            if box.area > 0:
                out.append((box, float(score)))
        return out

    def cnn(self, image: Array) -> list[tuple[Box, float]]:
        rows = self.mtcnn.detect(image)
        return [
            (Box(float(x1), float(y1), float(x2), float(y2)), float(s))
            for x1, y1, x2, y2, s in rows.tolist()
            if s >= self.mtcnn_threshold
        ]

    def confirmed(self, image: Array, box: Box, score: float) -> bool:
        """Whether MTCNN finds a face scoring at least ``score`` on a crop of twice ``box`` scaled
        so the face is ``CONFIRM_SIDE`` px: a real face is found at any scale, a texture that looks
        like a face at one scale mostly is not (see the module docstring)."""
        height, width = image.shape[:2]
        cx, cy = box.center
        side = max(box.width, box.height)
        x1, y1, x2, y2 = Box(cx - side, cy - side, cx + side, cy + side).pixel_bounds(width, height)
        if x2 <= x1 or y2 <= y1:
            return False
        scale = CONFIRM_SIDE / side
        crop = cv2.resize(
            np.ascontiguousarray(image[y1:y2, x1:x2]),
            (max(1, round((x2 - x1) * scale)), max(1, round((y2 - y1) * scale))),
            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        )
        rows = self.mtcnn.detect(np.ascontiguousarray(crop))
        return bool(len(rows)) and float(rows[:, 4].max()) >= score

    def detect(self, image: Array) -> list[FaceHit]:
        """Faces both detectors find, plus faces one finds that MTCNN confirms on a magnified crop."""
        hits = merge_hits({"mtcnn": self.cnn(image), "hog": self.hog(image)})
        kept: list[FaceHit] = []
        for hit in hits:
            if len(hit.found_by) > 1:
                kept.append(hit)
            elif hit.found_by == ("mtcnn",):
                if self.confirmed(image, hit.box, self.mtcnn_threshold):
                    kept.append(hit)
            elif self.confirmed(image, hit.box, HOG_CONFIRM_SCORE):
                kept.append(hit)
        return kept

    def describe(self) -> str:
        return (
            f"dlib HOG frontal face detector (upsampled once on frames up to {HOG_UPSAMPLE_MAX_PIXELS} px) and "
            f"MTCNN (faces from {self.min_face} px, final score >= {self.mtcnn_threshold:g}); "
            "a face found by one detector only counts when MTCNN finds it again on a crop rescaled to 100 px"
        )
