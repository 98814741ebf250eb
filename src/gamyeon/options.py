"""Everything a run can be told, as one frozen value shared by the CLI and the Python API."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

from gamyeon.detect import ssdlite as person_detection
from gamyeon.detect import text as text_detection
from gamyeon.detect.centerface import PRECISIONS
from gamyeon.errors import UsageError
from gamyeon.media.encode import EncodeSettings
from gamyeon.policy import DEFAULT_REGION_KINDS, Policy

SMALL_FACE_MODES = ("auto", "always", "never")
FACE_PRECISIONS = PRECISIONS
TEXT_PRECISIONS = text_detection.PRECISIONS
PERSON_PRECISIONS = person_detection.PRECISIONS
COPY_EMPTY_MODES = ("auto", "never")
CHANGE_GATE_MODES = ("auto", "never")
#: ``Options`` fields that do not change what an output contains: where side files go, which key
#: (a batch checks the key by its fingerprint), how the run reports, and its legal record
NOT_IN_OUTPUT = frozenset({"annotations", "key_file", "quiet", "seal_key", "vault", "processing"})
#: the legal bases a processing may name (``--basis``)
BASES = ("statistics", "research", "public-record", "consent", "law")


@dataclass(frozen=True, slots=True)
class Processing:
    """Why and for whom data is processed, and until when it may be kept; ``ledger`` is where
    the records go (a path or URL; None: the default ledger)."""

    purpose: str | None = None
    basis: str | None = None
    recipient: str | None = None
    retain_until: date | None = None
    ledger: str | None = None

    def __post_init__(self) -> None:
        if self.basis is not None and self.basis not in BASES:
            raise UsageError(f"--basis: expected one of {', '.join(BASES)}, got {self.basis!r}")

    def as_payload(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "basis": self.basis,
            "recipient": self.recipient,
            "retain_until": None if self.retain_until is None else self.retain_until.isoformat(),
        }


def retention(until: str | None, days: int | None) -> date | None:
    """The retention deadline from ``--retain-until YYYY-MM-DD`` or ``--retain-days N``."""
    if until is not None and days is not None:
        raise UsageError("give --retain-until or --retain-days, not both")
    if days is not None:
        if days < 1:
            raise UsageError(f"--retain-days: expected a positive number of days, got {days}")
        return datetime.now(UTC).date() + timedelta(days=days)
    if until is None:
        return None
    try:
        return date.fromisoformat(until)
    except ValueError:
        raise UsageError(f"--retain-until: expected a date like 2029-12-31, got {until!r}") from None


@dataclass(frozen=True, slots=True)
class Options:
    #: region kinds to protect (see ``policy.KIND_GROUPS``); default faces, heads and plates
    kinds: tuple[str, ...] = DEFAULT_REGION_KINDS
    policy: Policy = field(default_factory=Policy)
    #: run detection every k-th frame; None: chosen from the frame rate (about 10 per second)
    detect_every: int | None = None
    #: tiled, magnified passes for faces too small for one whole-frame pass
    small_faces: str = "auto"
    encode: EncodeSettings = field(default_factory=EncodeSettings)
    #: "auto": copy the source's GOPs in which nothing is masked instead of re-encoding them
    #: (H.264 sources into h264 mp4/mov/mkv outputs); "never": encode every frame
    copy_empty: str = "auto"
    #: "auto": skip scheduled detections on frames unchanged since the last one that ran while
    #: no track is alive, with a full detection at least once a second; "never": every one runs
    change_gate: str = "auto"
    keep_audio: bool = False
    keep_metadata: bool = False
    #: frame rate for raw .h264/.h265 streams, which carry no timestamps
    fps: Fraction | None = None
    #: annotations sidecar; None: ``<output>.regions.jsonl``
    annotations: Path | None = None
    exports: tuple[str, ...] = ()
    #: master key file for pseudonyms; None: a new key stored in the key store
    key_file: Path | None = None
    #: a CenterFace-layout ONNX file instead of the bundled ones (for video and still images)
    face_model: Path | None = None
    #: which bundled CenterFace: auto (int8 for video on a CPU with VNNI, else float), fp32 or int8
    face_precision: str = "auto"
    #: a YOLO-format ONNX person detector instead of the bundled SSDLite
    person_model: Path | None = None
    #: a PP-OCR DB-layout ONNX text detector instead of the bundled PP-OCRv6 det
    text_model: Path | None = None
    #: which bundled text detector: auto (int8 for video on a CPU with VNNI, else float), fp32 or int8
    text_precision: str = "auto"
    person_precision: str = "auto"
    #: a selfie-segmentation-layout ONNX model for silhouette masks instead of the bundled MediaPipe one
    silhouette_model: Path | None = None
    quiet: bool = False
    #: seal the original pixels of every region with this master key (also used for pseudonyms)
    seal_key: Path | None = None
    #: where the vault goes; None: ``<output>.vault`` (a folder of vaults for several inputs)
    vault: Path | None = None
    #: purpose, legal basis, recipient, retention and ledger location of this processing
    processing: Processing = field(default_factory=Processing)

    def __post_init__(self) -> None:
        if self.detect_every is not None and not 1 <= self.detect_every <= 100:
            raise UsageError(f"--detect-every: expected 1..100, got {self.detect_every}")
        if self.small_faces not in SMALL_FACE_MODES:
            raise UsageError(f"--small-faces: expected one of {list(SMALL_FACE_MODES)}, got {self.small_faces!r}")
        if self.copy_empty not in COPY_EMPTY_MODES:
            raise UsageError(f"--copy-empty: expected one of {list(COPY_EMPTY_MODES)}, got {self.copy_empty!r}")
        if self.change_gate not in CHANGE_GATE_MODES:
            raise UsageError(f"--change-gate: expected one of {list(CHANGE_GATE_MODES)}, got {self.change_gate!r}")
        if self.face_precision not in FACE_PRECISIONS:
            raise UsageError(f"--face-precision: expected one of {list(FACE_PRECISIONS)}, got {self.face_precision!r}")
        if self.face_model is not None and self.face_precision != "auto":
            raise UsageError("--face-precision selects a bundled model; it cannot be combined with --face-model")
        if self.text_precision not in TEXT_PRECISIONS:
            raise UsageError(f"--text-precision: expected one of {list(TEXT_PRECISIONS)}, got {self.text_precision!r}")
        if self.text_model is not None and self.text_precision != "auto":
            raise UsageError("--text-precision selects a bundled model; it cannot be combined with --text-model")
        if self.person_precision not in PERSON_PRECISIONS:
            raise UsageError(
                f"--person-precision: expected one of {list(PERSON_PRECISIONS)}, got {self.person_precision!r}"
            )
        if self.person_model is not None and self.person_precision != "auto":
            raise UsageError("--person-precision selects a bundled model; it cannot be combined with --person-model")
        if self.fps is not None and not 0 < self.fps <= 1000:
            raise UsageError(f"--fps: expected a rate in (0, 1000], got {self.fps}")
        for kind in self.kinds:
            self.policy.for_kind(kind)

    def output_settings(self) -> dict[str, object]:
        """Every setting that changes an output's pixels, annotations or exports, as JSON values.

        Derived from the fields themselves, so a field added later counts unless it is listed in
        ``NOT_IN_OUTPUT``: a resumed batch then refuses to mix settings rather than silently
        ignoring the new one.
        """
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name not in NOT_IN_OUTPUT}


def _plain(value: object) -> object:
    """A JSON-ready copy of an option value (policies by their description)."""
    if isinstance(value, Policy):
        return value.describe()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
