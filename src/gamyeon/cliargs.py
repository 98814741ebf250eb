"""Argument groups that several ``gamyeon`` subcommands share, and the values read back from them.

``anonymize`` and ``batch`` take the same masking, encoding and processing record options,
``verify`` takes the policy ones, and ``keys``/``reveal``/``vault``/``ledger`` the ledger and
verbosity ones. Each group is declared once, here, so names, defaults, help and validation stay
the same everywhere without one subcommand's parser reaching into another's (which made import
cycles between the ``cli`` modules and needed argparse internals).

This module is a leaf of the command line: it imports no other ``cli`` module, so every
subcommand's ``cli`` can use it and ``gamyeon.cli`` stays the only module that knows them all.
Each ``*_from_args`` reader reads only what the matching ``add_*`` functions declared.
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from gamyeon.annotations import parse_exports
from gamyeon.ledger.store import LEDGER_ENV
from gamyeon.media.encode import CODECS, EncodeSettings
from gamyeon.operators import REGISTRY, Shape
from gamyeon.options import (
    BASES,
    CHANGE_GATE_MODES,
    COPY_EMPTY_MODES,
    FACE_PRECISIONS,
    PERSON_PRECISIONS,
    SMALL_FACE_MODES,
    TEXT_PRECISIONS,
    Options,
    Processing,
    retention,
)
from gamyeon.policy import DEFAULT_KINDS, KIND_GROUPS, PERSON_MODES, Policy, load_policy, parse_kinds


class Arguments(Protocol):
    """Where options are declared: a parser or one of its argument groups (argparse names the
    group's class only privately, so the groups are typed by what they do)."""

    def add_argument(self, *name_or_flags: str, **kwargs: Any) -> argparse.Action: ...


class Subcommands(Protocol):
    """What ``ArgumentParser.add_subparsers()`` returns, as the subcommand modules use it (its
    class is private to argparse)."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


#: how far a decimal may be from an NTSC rate (n*1000/1001) to mean it: 23.98 and 29.97 do
NTSC_TOLERANCE = Fraction(1, 200)


def frame_rate(value: str) -> Fraction:
    """A frame rate from ``25``, ``30000/1001`` or a decimal. Decimals such as 23.976, 29.97 and
    59.94 are the NTSC rates written short and become n*1000/1001 exactly: 29.97 taken literally
    (2997/100) would drift from a 30000/1001 source by a frame every 5.6 minutes."""
    try:
        rate = Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a frame rate like 25, 29.97 or 30000/1001, got {value!r}") from None
    if rate <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive frame rate, got {value!r}")
    if "/" not in value and rate.denominator != 1:
        ntsc = Fraction(round(rate * Fraction(1001, 1000)) * 1000, 1001)
        rate = ntsc if ntsc > 0 and abs(rate - ntsc) < NTSC_TOLERANCE else rate.limit_denominator(1001)
    return rate


def add_kinds_arg(parser: Arguments, *, brief: bool = False) -> None:
    """``--kinds``. ``brief``: the short help of ``verify``, which names the policy an output was
    made with rather than choosing one."""
    if brief:
        parser.add_argument("--kinds", default=None, help=f"what to protect (default: {','.join(DEFAULT_KINDS)})")
        return
    parser.add_argument(
        "--kinds",
        default=None,
        help=f"what to protect, comma-separated: {', '.join(KIND_GROUPS)} (default: {','.join(DEFAULT_KINDS)})",
    )


#: ``--shape`` choices: a silhouette is for persons only and is chosen with ``--person-mode``
SHAPES = [s.value for s in Shape if s is not Shape.SILHOUETTE]


def add_policy_args(parser: Arguments, *, brief: bool = False) -> None:
    """``--policy``, ``--operator``, ``--shape``, ``--mask-scale``: how every kind is masked (read
    by ``policy_from_args``). ``brief``: ``verify``'s short help, without the defaults and the
    pointer to ``--person-mode``, which ``verify`` does not take."""
    if brief:
        parser.add_argument("--policy", type=Path, help="TOML policy file")
        parser.add_argument("--operator", choices=sorted(REGISTRY), help="operator for every kind")
        parser.add_argument("--shape", choices=SHAPES, help="mask shape")
        parser.add_argument("--mask-scale", type=float, help="grow each mask by this factor")
        return
    parser.add_argument(
        "--policy", type=Path, help="TOML policy file (operator, shape, mask_scale, threshold per kind)"
    )
    parser.add_argument("--operator", choices=sorted(REGISTRY), help="operator for every kind (default: pixelate)")
    parser.add_argument(
        "--shape",
        choices=SHAPES,
        help="mask shape of every kind (default: box; persons' silhouettes: --person-mode silhouette)",
    )
    parser.add_argument("--mask-scale", type=float, help="grow each mask by this factor (default: 1.3)")


def policy_from_args(args: argparse.Namespace) -> Policy:
    """The policy file (or the default policy) with the ``add_policy_args`` flags applied."""
    policy = load_policy(args.policy) if args.policy else Policy()
    return policy.with_overrides(operator=args.operator, shape=args.shape, mask_scale=args.mask_scale)


def add_detection_args(parser: Arguments, *, gate: bool = True) -> None:
    """``--threshold``, ``--detect-every``, ``--small-faces``, ``--change-gate``: how hard the
    detectors look. ``gate``: whether the command offers change gating (a file pass does; a live
    stream decides each frame within its delay budget and runs every scheduled detection)."""
    parser.add_argument("--threshold", type=float, help="detection score threshold (default: 0.2; lower finds more)")
    parser.add_argument(
        "--detect-every", type=int, metavar="K", help="run detection every K-th frame (default: about 10/s)"
    )
    parser.add_argument(
        "--small-faces",
        choices=SMALL_FACE_MODES,
        default="auto",
        help="magnified tiled passes for tiny faces (default: auto, about once per second)",
    )
    if not gate:
        return  # the caller sets ``change_gate`` for options_from_args
    parser.add_argument(
        "--change-gate",
        choices=CHANGE_GATE_MODES,
        default="auto",
        help="skip detections on unchanged frames while nothing is tracked, with a full detection "
        "at least once a second (default: auto; never: every scheduled detection runs)",
    )


def add_encode_args(parser: Arguments) -> None:
    """``--codec``, ``--crf``, ``--preset``, ``--fps``, ``--keep-audio``, ``--keep-metadata``: how
    the input is read and the output written."""
    parser.add_argument("--codec", choices=sorted(CODECS), help="video codec (default: h264)")
    parser.add_argument("--crf", type=int, help="constant quality, lower is better (default: h264 18, hevc 20, vp9 24)")
    parser.add_argument("--preset", default="medium", help="encoder speed preset for h264/hevc (default: medium)")
    parser.add_argument("--fps", type=frame_rate, help="frame rate of raw .h264/.h265 input (default: 25)")
    parser.add_argument("--keep-audio", action="store_true", help="copy audio unchanged (default: dropped)")
    parser.add_argument(
        "--copy-empty",
        choices=COPY_EMPTY_MODES,
        default="auto",
        help="copy the source's GOPs with nothing to mask instead of re-encoding them "
        "(default: auto, H.264 sources into h264 mp4/mov/mkv; never: encode every frame)",
    )
    parser.add_argument(
        "--keep-metadata", action="store_true", help="keep metadata except GPS/location (default: stripped)"
    )


def add_export_args(parser: Arguments) -> None:
    """``--export`` and ``--key``: the extra annotation formats, and the master key that the
    pseudonymous track ids in every annotation come from."""
    parser.add_argument("--export", action="append", metavar="FORMAT", help="also write coco and/or mot annotations")
    parser.add_argument(
        "--key",
        type=Path,
        dest="key_file",
        help="master key file for pseudonymous track ids (default: new key in the key store)",
    )


def add_seal_arg(parser: Arguments, where: str) -> None:
    """``--seal KEYFILE``: keep the original pixels of every masked region, encrypted per track,
    in a vault; ``where`` says where the vault goes (``anonymize`` takes ``--vault``, a batch puts
    one beside each output)."""
    parser.add_argument(
        "--seal",
        type=Path,
        metavar="KEYFILE",
        help="keep the original pixels of every masked region, encrypted per track, in a vault "
        f"(see `gamyeon reveal`){where}",
    )


def add_detector_args(parser: Arguments) -> None:
    """The detector and segmenter models, and ``--person-mode`` (how persons are protected),
    which the help lists beside ``--person-model``."""
    parser.add_argument(
        "--face-model", type=Path, help="use this CenterFace-layout ONNX file instead of the bundled ones"
    )
    parser.add_argument(
        "--face-precision",
        choices=FACE_PRECISIONS,
        default="auto",
        help="bundled face model: auto (int8 for video on a CPU with VNNI, about 2x faster; float for still "
        "images, on a GPU and on other CPUs), fp32 or int8 for both (default: auto)",
    )
    parser.add_argument(
        "--person-model", type=Path, help="use this YOLO-format ONNX person detector instead of the bundled SSDLite"
    )
    parser.add_argument(
        "--person-mode",
        choices=PERSON_MODES,
        help="persons: mask the head of those whose face is not found (head), the whole person box (body), or "
        "the person's silhouette (silhouette: body mode with a segmentation of each person, grown by 8%% of "
        "their height, plus their head area; any person it cannot segment gets the whole box; one small "
        "network run per person per frame)",
    )
    parser.add_argument(
        "--person-precision",
        choices=PERSON_PRECISIONS,
        default="auto",
        help="bundled person model: auto (the float network), fp32, or int8 (about half the CPU on a CPU "
        "with VNNI; its boxes cost head coverage in a night crowd, see docs/models.md) (default: auto)",
    )
    parser.add_argument("--text-model", type=Path, help="use this PP-OCR DB-layout ONNX text detector")
    parser.add_argument(
        "--text-precision",
        choices=TEXT_PRECISIONS,
        default="auto",
        help="bundled text (plate) model: auto (int8 for video on a CPU with VNNI, about 3x faster; float for "
        "still images, on a GPU and on other CPUs), fp32 or int8 for both (default: auto)",
    )
    parser.add_argument(
        "--silhouette-model",
        type=Path,
        help="use this ONNX person segmenter ([1, S, S, 3] RGB in [0, 1] -> [1, S, S, 1] probability) for "
        "silhouettes instead of the bundled MediaPipe selfie segmentation",
    )


def add_ledger_arg(parser: Arguments, help_text: str | None = None) -> None:
    """``--ledger``; ``help_text`` replaces the default text where the ledger plays another part
    (``verify`` only records its result there when asked)."""
    parser.add_argument(
        "--ledger",
        metavar="PATH|URL",
        help=help_text
        or f"processing ledger: a SQLite file or postgresql://user@host/db (default: ${LEDGER_ENV} or "
        "~/.local/share/gamyeon/ledger.sqlite)",
    )


def add_processing_args(parser: Arguments) -> None:
    """What a run records about the processing (PIPA Art. 28-4), and the ledger it goes to."""
    parser.add_argument("--purpose", help="purpose of the processing, e.g. 'pedestrian detection training'")
    parser.add_argument("--basis", choices=BASES, help="legal basis of the processing")
    parser.add_argument("--recipient", help="who receives the pseudonymized data")
    parser.add_argument("--retain-until", metavar="YYYY-MM-DD", help="retention deadline of this dataset")
    parser.add_argument("--retain-days", type=int, metavar="N", help="retention deadline N days from today")
    add_ledger_arg(parser)


def processing_from_args(args: argparse.Namespace) -> Processing:
    """The ``add_processing_args`` options as the record of the processing."""
    return Processing(
        purpose=args.purpose,
        basis=args.basis,
        recipient=args.recipient,
        retain_until=retention(args.retain_until, args.retain_days),
        ledger=args.ledger,
    )


def add_verbosity(parser: Arguments, *, progress: bool = False) -> None:
    """``-q``/``--quiet`` and ``-v``/``--verbose``. ``progress``: the command shows a progress bar,
    which ``--quiet`` hides too."""
    quiet = "no progress bar, warnings and errors only" if progress else "warnings and errors only"
    parser.add_argument("-q", "--quiet", action="store_true", help=quiet)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def options_from_args(args: argparse.Namespace) -> Options:
    """The run options of ``anonymize`` and ``batch`` from the groups both declare (kinds, policy,
    detection, encode, export, detector, processing, verbosity); options only one of them takes
    (``anonymize --annotations``, ``--seal``, ...) keep their defaults here."""
    policy = policy_from_args(args).with_overrides(threshold=args.threshold).with_person_mode(args.person_mode)
    return Options(
        kinds=parse_kinds(args.kinds, args.person_mode),
        policy=policy,
        detect_every=args.detect_every,
        small_faces=args.small_faces,
        change_gate=args.change_gate,
        encode=EncodeSettings(codec=args.codec, crf=args.crf, preset=args.preset),
        copy_empty=args.copy_empty,
        keep_audio=args.keep_audio,
        keep_metadata=args.keep_metadata,
        fps=args.fps,
        exports=parse_exports(args.export),
        key_file=args.key_file,
        face_model=args.face_model,
        face_precision=args.face_precision,
        person_model=args.person_model,
        person_precision=args.person_precision,
        text_model=args.text_model,
        text_precision=args.text_precision,
        silhouette_model=args.silhouette_model,
        quiet=args.quiet,
        processing=processing_from_args(args),
    )
