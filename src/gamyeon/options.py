"""Everything a run can be told, as one frozen value shared by the CLI and the Python API."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from gamyeon.errors import UsageError
from gamyeon.media.encode import EncodeSettings
from gamyeon.policy import Policy

SMALL_FACE_MODES = ("auto", "always", "never")


@dataclass(frozen=True, slots=True)
class Options:
    kinds: tuple[str, ...] = ("face",)
    policy: Policy = field(default_factory=Policy)
    #: run detection every k-th frame; None: chosen from the frame rate (about 10 per second)
    detect_every: int | None = None
    #: tiled, magnified passes for faces too small for one whole-frame pass
    small_faces: str = "auto"
    encode: EncodeSettings = field(default_factory=EncodeSettings)
    keep_audio: bool = False
    keep_metadata: bool = False
    #: frame rate for raw .h264/.h265 streams, which carry no timestamps
    fps: Fraction | None = None
    #: annotations sidecar; None: ``<output>.regions.jsonl``
    annotations: Path | None = None
    exports: tuple[str, ...] = ()
    #: master key file for pseudonyms; None: a new key stored in the key store
    key_file: Path | None = None
    face_model: Path | None = None
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.detect_every is not None and not 1 <= self.detect_every <= 100:
            raise UsageError(f"--detect-every: expected 1..100, got {self.detect_every}")
        if self.small_faces not in SMALL_FACE_MODES:
            raise UsageError(f"--small-faces: expected one of {list(SMALL_FACE_MODES)}, got {self.small_faces!r}")
        if self.fps is not None and not 0 < self.fps <= 1000:
            raise UsageError(f"--fps: expected a rate in (0, 1000], got {self.fps}")
        for kind in self.kinds:
            self.policy.for_kind(kind)
