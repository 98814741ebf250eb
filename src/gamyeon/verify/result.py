"""The values verification produces: per face, per frame, per file, and the whole run.

One ``VerifyResult`` flows from the scan to the HTML and JSON reports and, via ``as_dict()``, to
whatever else records it (the ledger). Everything is plain data; nothing holds pixels of the
original: the only pictures kept are ``Evidence`` thumbnails, cut from the anonymized output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gamyeon.errors import UsageError
from gamyeon.options import Options
from gamyeon.types import Box
from gamyeon.verify.attack import IdentityAttack, IdentitySample, pooled
from gamyeon.verify.sampling import IDENTITY_FRAMES

#: dlib's ResNet: two descriptors closer than this are the same person (dlib, face_recognition);
#: information only (see ``attack.py`` for why a fixed threshold cannot be the gate)
MATCH_THRESHOLD = 0.6
#: the identity gate's significance level: identification above chance with p below it fails
DEFAULT_ALPHA = 0.01
#: flagged frames shown per file in the report
DEFAULT_THUMBNAILS = 24


@dataclass(frozen=True, slots=True)
class VerifyOptions:
    """What ``verify`` checks and how strictly.

    ``sample``: ``None`` = automatic (see ``sampling.py``), ``0`` = every frame, ``N`` = N evenly
    spaced frames (plus frames at track boundaries when annotations are available).
    """

    #: regions sidecar of a single anonymized file; None: ``ANONYMIZED.regions.jsonl`` if present
    annotations: Path | None = None
    sample: int | None = None
    #: the gate: fail when more than this fraction of face instances leak
    max_leak_rate: float = 0.0
    #: optional extra gate (off by default): fail when more than this fraction of identity-tested
    #: faces is within ``match_threshold`` of its own original. A fixed threshold raises false
    #: alarms where the recognizer cannot tell the people apart (see ``attack.py``)
    max_match_rate: float | None = None
    #: the identity gate: fail when a calibrated attack identifies above chance with a p-value
    #: below this (shared by the attack variants, Bonferroni)
    alpha: float = DEFAULT_ALPHA
    #: frames per face track examined for the identity attack (``sampling.py``)
    identity_frames: int = IDENTITY_FRAMES
    #: a controller's identity-labelled photos (one folder per person, or ``identities.json``)
    #: to test the masking policy on (``gallery.py``)
    gallery: Path | None = None
    #: the policy the output was made with, as ``anonymize`` options (None: gamyeon's defaults):
    #: the parrot attacker masks his own pictures with it (``remask.py``), and so does ``--gallery``
    attacker_options: Options | None = None
    #: the parrot attacker's key file (None: a fresh random key per run, as a real attacker's own
    #: key would be); fixing it makes a run reproducible (tests, an auditor re-running a report)
    attacker_key: Path | None = None
    #: run the parrot attack on videos (anonymizes the examined frames of the original once more)
    parrot: bool = True
    #: a face in the original counts as covered when at least this fraction of its box was masked
    min_coverage: float = 0.7
    match_threshold: float = MATCH_THRESHOLD
    #: smallest face side (px) the identity attack is run on; dlib's descriptor is noise below it
    min_identity_face: int = 40
    #: smallest face side (px) the MTCNN pass looks for
    min_face: int = 20
    #: MTCNN's final confidence a face needs to count
    mtcnn_threshold: float = 0.95
    #: flagged frames whose thumbnails go into the report, per file (0: none)
    max_thumbnails: int = DEFAULT_THUMBNAILS
    quiet: bool = False

    def __post_init__(self) -> None:
        for name in ("max_leak_rate", "max_match_rate", "min_coverage"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise UsageError(f"--{name.replace('_', '-')}: expected a fraction in [0, 1], got {value}")
        if self.sample is not None and self.sample < 0:
            raise UsageError(f"--sample: expected a frame count >= 0 or 'all', got {self.sample}")
        if not 0.0 < self.match_threshold < 2.0:
            raise UsageError(f"match threshold: expected a distance in (0, 2), got {self.match_threshold}")
        if self.min_face < 12:
            raise UsageError(f"min_face: MTCNN sees faces from 12 px, got {self.min_face}")
        if self.max_thumbnails < 0:
            raise UsageError(f"max_thumbnails: expected >= 0, got {self.max_thumbnails}")
        if not 0.0 < self.alpha < 0.5:
            raise UsageError(f"--alpha: expected a significance level in (0, 0.5), got {self.alpha}")
        if self.identity_frames < 0:
            raise UsageError(f"--identity-frames: expected >= 0, got {self.identity_frames}")


@dataclass(frozen=True, slots=True)
class FaceCheck:
    """One face instance: found in the original (``box``), or only in the output (``output_only``)."""

    box: Box
    #: detectors that found it in the original (empty for an output-only face)
    found_by: tuple[str, ...]
    #: fraction of ``box`` masked in the output (annotations or pixel change); None if output-only
    coverage: float | None
    #: detectors that still find a face here in the anonymized output
    residual: tuple[str, ...]
    #: dlib ResNet distance between the original face and the output at the same place (closest
    #: candidate); None when the face is too small or only in the output
    distance: float | None
    uncovered: bool
    #: information: ``distance`` below the match threshold (not the gate, see ``attack.py``)
    reidentifiable: bool
    #: the track the identity attack filed this face under (annotations' or verify's own)
    track: str | None = None

    @property
    def output_only(self) -> bool:
        return not self.found_by

    @property
    def leak(self) -> bool:
        return self.uncovered or bool(self.residual)

    def as_dict(self) -> dict[str, object]:
        return {
            "box": self.box.as_list(),
            "found_by": list(self.found_by),
            "coverage": None if self.coverage is None else round(self.coverage, 4),
            "residual": list(self.residual),
            "distance": None if self.distance is None else round(self.distance, 4),
            "uncovered": self.uncovered,
            "reidentifiable": self.reidentifiable,
            "track": self.track,
            "leak": self.leak,
        }


@dataclass(frozen=True, slots=True)
class FrameCheck:
    index: int
    time: float | None
    faces: tuple[FaceCheck, ...]
    #: why this frame was sampled: "even", "track-start", "track-end", "gap", "all", "image"
    reason: str
    fail_closed: bool = False

    @property
    def leaks(self) -> int:
        return sum(f.leak for f in self.faces)

    @property
    def matches(self) -> int:
        return sum(f.reidentifiable for f in self.faces)

    @property
    def flagged(self) -> bool:
        return any(f.leak or f.reidentifiable for f in self.faces)

    def as_dict(self) -> dict[str, object]:
        return {
            "frame": self.index,
            "time": None if self.time is None else round(self.time, 6),
            "reason": self.reason,
            "fail_closed": self.fail_closed,
            "faces": len(self.faces),
            "leaks": self.leaks,
            "reidentifiable": self.matches,
            "checks": [f.as_dict() for f in self.faces],
        }


@dataclass(frozen=True, slots=True)
class Evidence:
    """A flagged frame as shown in the report: PNGs cut from the anonymized output only."""

    frame: int
    time: float | None
    #: the whole output frame, downscaled, flagged faces outlined
    overview_png: bytes
    #: (box in output pixels, PNG of that region of the output) per flagged face
    crops: tuple[tuple[Box, bytes], ...]


@dataclass(slots=True)
class FileResult:
    """Verification of one original / anonymized pair."""

    original: str
    anonymized: str
    media: str  # "video" or "image"
    width: int = 0
    height: int = 0
    frames_total: int = 0
    sampling: str = ""
    coverage_method: str = ""  # "annotations" or "pixels"
    annotations: str | None = None
    frames: list[FrameCheck] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    undecodable: int = 0  # sampled frames that could not be decoded in one of the files
    seconds: float = 0.0
    #: descriptors of every identity-tested face (not serialized: the attack's input)
    samples: list[IdentitySample] = field(default_factory=list)
    #: the identity attack on this file's faces
    identity: IdentityAttack | None = None

    @property
    def faces(self) -> list[FaceCheck]:
        return [f for frame in self.frames for f in frame.faces]

    def as_dict(self) -> dict[str, object]:
        faces = self.faces
        tested = [f for f in faces if f.distance is not None]
        return {
            "original": self.original,
            "anonymized": self.anonymized,
            "media": self.media,
            "width": self.width,
            "height": self.height,
            "frames_total": self.frames_total,
            "frames_scanned": len(self.frames),
            "sampling": self.sampling,
            "coverage_method": self.coverage_method,
            "annotations": self.annotations,
            "faces": len(faces),
            "leaks": sum(f.leak for f in faces),
            "leaky_frames": sum(fr.leaks > 0 for fr in self.frames),
            "identity_tested": len(tested),
            "reidentifiable": sum(f.reidentifiable for f in tested),
            "undecodable_frames": self.undecodable,
            "identity_attack": None if self.identity is None else self.identity.as_dict(),
            "seconds": round(self.seconds, 3),
            "frames": [fr.as_dict() for fr in self.frames],
        }


def _anonymize_policy(options: Options | None) -> dict[str, object]:
    """The masking policy the gallery photos were anonymized with."""
    o = options or Options()
    return {"kinds": list(o.kinds), "policy": o.policy.describe(), "default": options is None}


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


@dataclass(slots=True)
class VerifyResult:
    """The whole run: every file, the thresholds, the models; ``passed`` is the gate."""

    options: VerifyOptions
    files: list[FileResult]
    models: dict[str, str]
    seconds: float = 0.0
    #: when the check ran (ISO 8601, local time with offset)
    created: str = ""
    #: the ``--gallery`` release test of the masking policy, when asked for
    gallery: IdentityAttack | None = None

    @property
    def faces(self) -> int:
        return sum(len(f.faces) for f in self.files)

    @property
    def leaks(self) -> int:
        return sum(face.leak for f in self.files for face in f.faces)

    @property
    def leak_rate(self) -> float:
        return _rate(self.leaks, self.faces)

    @property
    def leaky_frames(self) -> int:
        return sum(fr.leaks > 0 for f in self.files for fr in f.frames)

    @property
    def frames_scanned(self) -> int:
        return sum(len(f.frames) for f in self.files)

    @property
    def distances(self) -> list[float]:
        return [face.distance for f in self.files for face in f.faces if face.distance is not None]

    @property
    def identity_tested(self) -> int:
        return len(self.distances)

    @property
    def matches(self) -> int:
        return sum(face.reidentifiable for f in self.files for face in f.faces)

    @property
    def match_rate(self) -> float:
        return _rate(self.matches, self.identity_tested)

    @property
    def leak_ok(self) -> bool:
        return self.leak_rate <= self.options.max_leak_rate

    @property
    def match_ok(self) -> bool:
        limit = self.options.max_match_rate
        return limit is None or self.match_rate <= limit

    @property
    def identity(self) -> IdentityAttack:
        """The footage attack over every file (calibrated files pooled into one test)."""
        return pooled([f.identity for f in self.files if f.identity is not None], self.options.alpha)

    @property
    def identity_ok(self) -> bool:
        """No calibrated identity attack (footage or gallery) identifies significantly above chance."""
        return not self.identity.leak and not (self.gallery is not None and self.gallery.leak)

    @property
    def passed(self) -> bool:
        return self.leak_ok and self.identity_ok and self.match_ok

    def verdict(self) -> str:
        """One line for logs and the report header."""
        limit = self.options.max_match_rate
        gallery = "" if self.gallery is None else f"; gallery attack {self.gallery.summary()}"
        return (
            f"{'PASS' if self.passed else 'FAIL'}: leak rate {self.leak_rate:.3f} ({self.leaks}/{self.faces} face "
            f"instances, {self.leaky_frames} leaky of {self.frames_scanned} scanned frames; max "
            f"{self.options.max_leak_rate:g}); identity attack {self.identity.summary()}{gallery}; "
            f"distance < {self.options.match_threshold:g} to own original {self.matches}/{self.identity_tested}"
            + ("" if limit is None else f" (max rate {limit:g})")
        )

    def as_dict(self) -> dict[str, object]:
        """Everything the reports show, as JSON-ready values (what a ledger records)."""
        o = self.options
        distances = self.distances
        return {
            "passed": self.passed,
            "verdict": self.verdict(),
            "created": self.created,
            "leak": {
                "faces": self.faces,
                "leaks": self.leaks,
                "rate": round(self.leak_rate, 6),
                "leaky_frames": self.leaky_frames,
                "frames_scanned": self.frames_scanned,
                "max_rate": o.max_leak_rate,
                "ok": self.leak_ok,
            },
            "identity": {
                "ok": self.identity_ok and self.match_ok,
                "attack": self.identity.as_dict(),
                "gallery": None if self.gallery is None else self.gallery.as_dict(),
                "alpha": o.alpha,
                # information: each face's distance to its own original at the same place
                "tested": self.identity_tested,
                "reidentifiable": self.matches,
                "rate": round(self.match_rate, 6),
                "max_rate": o.max_match_rate,
                "threshold": o.match_threshold,
                "distances": [round(d, 4) for d in distances],
                "min_distance": round(min(distances), 4) if distances else None,
            },
            "policy": {
                "min_coverage": o.min_coverage,
                "match_threshold": o.match_threshold,
                "min_identity_face_px": o.min_identity_face,
                "min_face_px": o.min_face,
                "mtcnn_threshold": o.mtcnn_threshold,
                "alpha": o.alpha,
                "identity_frames_per_track": o.identity_frames,
                "gallery": None if o.gallery is None else str(o.gallery),
                "parrot": o.parrot,
                "attacker_anonymize": _anonymize_policy(o.attacker_options),
                "sample": "auto" if o.sample is None else ("all" if o.sample == 0 else o.sample),
            },
            "models": dict(self.models),
            "seconds": round(self.seconds, 3),
            "files": [f.as_dict() for f in self.files],
        }
