"""Person segmentation for silhouette masks: MediaPipe's selfie-segmentation network (general
256 x 256 model from PyPI's ``mediapipe`` 0.10.21, Apache-2.0) on ONNX Runtime.

The network was trained on selfies and video calls -- one or two people filling a phone or webcam
picture -- and is poor on whole CCTV frames, where persons are a few dozen pixels tall. So it is
only ever shown one person: the crop of a person region, padded to the model's square input. The
padding repeats the crop's edge pixels (``BORDER_REPLICATE``) so the person stands in a wider view
of the same background. Stretching the tall crop to a square (what MediaPipe does with whole
pictures) or black bars lose persons: on 19 person crops of the PETS09 dev clip, stretching found
(almost) nobody in 8, black bars in 1, edge padding in none.

The ONNX file is the tflite model converted by ``tools/extract_selfie_segmentation.py`` (ONNX
Runtime and MediaPipe agree to 5e-5). Input ``[1, 256, 256, 3]`` float RGB in [0, 1], output
``[1, 256, 256, 1]`` person probability.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from gamyeon.detect.onnx import session
from gamyeon.errors import ModelError
from gamyeon.types import Array, Box

#: probability above which a pixel belongs to the person (MediaPipe's own examples use 0.1-0.5;
#: the masks are grown by a safety margin afterwards, see ``gamyeon.mask.silhouette``)
THRESHOLD = 0.5


def default_model_path() -> Path:
    return Path(str(resources.files("gamyeon.models").joinpath("selfie_segmentation.onnx")))


class SelfieSegmenter:
    """One loaded network; ``segment`` takes an upright RGB image and a person box."""

    def __init__(self, path: Path | None = None, threads: int | None = None) -> None:
        self.path = path or default_model_path()
        self.session = session(self.path, threads)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        shape = inputs[0].shape if len(inputs) == 1 else []
        out_shape = outputs[0].shape if len(outputs) == 1 else []
        if (
            len(shape) != 4
            or shape[3] != 3
            or not isinstance(shape[1], int)
            or shape[1] != shape[2]
            or len(out_shape) != 4
            or out_shape[3] != 1
        ):
            raise ModelError(
                f"{self.path} does not have the selfie-segmentation layout: expected one [1, S, S, 3] input and "
                f"one [1, S, S, 1] output, got {[(i.name, i.shape) for i in inputs]} -> "
                f"{[(o.name, o.shape) for o in outputs]}"
            )
        self.input = inputs[0].name
        self.side = int(shape[1])

    def probabilities(self, crop: Array) -> Array:
        """Person probability (float32, the crop's height x width) of an RGB crop.

        The crop is padded to a square with its own edge pixels, centred, shown to the network
        at ``side`` x ``side``, and the answer is cut back to the crop.
        """
        height, width = crop.shape[:2]
        if height == 0 or width == 0:
            raise ValueError(f"empty crop {width}x{height}")
        side = max(height, width)
        left, top = (side - width) // 2, (side - height) // 2
        src = crop if crop.flags["C_CONTIGUOUS"] else np.ascontiguousarray(crop)
        square = cv2.copyMakeBorder(src, top, side - height - top, left, side - width - left, cv2.BORDER_REPLICATE)
        interp = cv2.INTER_AREA if side > self.side else cv2.INTER_LINEAR
        blob = cv2.resize(square, (self.side, self.side), interpolation=interp).astype(np.float32) / np.float32(255.0)
        out = self.session.run(None, {self.input: blob[None]})[0]
        prob = np.asarray(out, dtype=np.float32).reshape(self.side, self.side)
        if not np.isfinite(prob).all():
            raise ModelError(f"{self.path.name} returned non-finite probabilities")
        back = cv2.resize(prob, (side, side), interpolation=cv2.INTER_LINEAR)
        return np.asarray(back[top : top + height, left : left + width])

    def segment(self, image: Array, box: Box) -> Array:
        """Boolean mask over ``box.pixel_bounds`` of ``image``: True where the person is."""
        height, width = image.shape[:2]
        x1, y1, x2, y2 = box.pixel_bounds(width, height)
        return np.asarray(self.probabilities(image[y1:y2, x1:x2]) > THRESHOLD)


@functools.lru_cache(maxsize=2)
def load_segmenter(path: Path | None = None) -> SelfieSegmenter:
    """The segmenter for ``path`` (None: the bundled model), loaded once per process.

    ONNX Runtime sessions are safe to share between threads, and the person, face and text
    detectors are cached the same way; ``$GAMYEON_THREADS`` sets its thread count (``session``).
    """
    return SelfieSegmenter(path)
