"""The models a run loads: the face detectors and the other detectors its kinds need, and the
model files the processing record names.

Loading is kept apart from the frame loop because ``anonymize`` loads and checks every model its
jobs need before anything is recorded, and batch workers load them once per process.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

from gamyeon.detect.base import FrameDetector
from gamyeon.detect.face_models import FaceDetectors
from gamyeon.detect.ssdlite import model_path as person_model_path
from gamyeon.detect.text import model_path as text_model_path
from gamyeon.kinds import KINDS, KindRegistry
from gamyeon.kinds.spec import AnyDetectorSpec
from gamyeon.mask import silhouette
from gamyeon.options import Options
from gamyeon.policy import Policy

#: the loaded detectors beside faces that a run needs, by detector name (``gamyeon.kinds``);
#: each is a ``detect.base.FrameDetector``
OtherDetectors = Mapping[str, FrameDetector]


@functools.lru_cache(maxsize=8)
def _load(spec: AnyDetectorSpec, kinds: tuple[str, ...], threshold: float, model: Path | None) -> FrameDetector:
    """One detector per spec and configuration per process (``load_detectors`` says why)."""
    assert spec.load is not None  # load_detectors asks only for detectors with a loader
    detector: FrameDetector = spec.load(kinds, threshold, model)
    return detector


def load_detectors(
    policy: Policy, kinds: tuple[str, ...], models: Mapping[str, Path | None], registry: KindRegistry = KINDS
) -> OtherDetectors:
    """Load (once per process and configuration) the detectors beside faces that ``kinds`` need;
    ``models``: detector name -> model file (absent or None: the bundled one).

    ONNX Runtime sessions are safe to share between threads, and loading them per file would
    cost ~0.5 s each, so they are cached like the face detector is shared by one run.
    """
    out: dict[str, FrameDetector] = {}
    for name in registry.detectors_for(kinds):
        spec = registry.detector(name)
        if spec.load is not None:
            threshold = registry.threshold(policy, kinds, name)
            out[name] = _load(spec, registry.served(name, kinds), threshold, models.get(name))
    return out


def load_others(options: Options, video: bool) -> OtherDetectors:
    """``load_detectors`` for video (``video``) or still images, with the model files of
    ``--person-model`` / ``--person-precision`` and of ``--text-model`` / ``--text-precision``
    (int8 or float networks)."""
    text = text_model_path(options.text_model, options.text_precision, video)
    person = options.person_model or person_model_path(options.person_precision, video)
    return load_detectors(options.policy, options.kinds, {"person": person, "text": text})


def model_paths(options: Options) -> dict[str, Path]:
    """Every model file a run with ``options`` uses, by role (for the processing record): the
    face models for still images (``face``) and for video (``face_video``), and the person, text
    and silhouette models its kinds and policy need."""
    out = KINDS.model_paths(options)
    out.update(silhouette.model_paths(options.policy, options.kinds, options.silhouette_model))
    return out


def face_detectors(options: Options) -> FaceDetectors:
    """The run's face detectors; their threshold is the lowest of the kinds they serve."""
    threshold = min(options.policy.for_kind(k).threshold for k in options.kinds)
    return FaceDetectors(options.face_model, options.face_precision, threshold)
