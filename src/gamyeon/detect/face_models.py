"""The face detectors of one run: one for video, one for still images, each loaded on first use.

Video and stills may use different CenterFace files (``centerface.model_path``: int8 for video,
float for stills by default). Loading a network costs ~0.3 s, so each file is loaded once per
run (or per batch worker) and shared by every file of its kind; when both kinds resolve to the
same file they share one detector.
"""

from __future__ import annotations

from pathlib import Path

from gamyeon.detect.centerface import CenterFace, model_path
from gamyeon.detect.faces import FaceDetector


class FaceDetectors:
    """The CenterFace detectors for ``own`` (a user's file) or the bundled copy ``precision``
    selects, sharing one score threshold."""

    def __init__(self, own: Path | None, precision: str, threshold: float) -> None:
        self.own = own
        self.precision = precision
        self.threshold = threshold
        self._loaded: dict[Path, FaceDetector] = {}

    def path(self, video: bool) -> Path:
        return model_path(self.own, self.precision, video)

    def get(self, video: bool) -> FaceDetector:
        """The detector for video (``video``) or for still images, loaded (and checked) now if new."""
        path = self.path(video)
        if path not in self._loaded:
            self._loaded[path] = FaceDetector(CenterFace(path), threshold=self.threshold)
        return self._loaded[path]
