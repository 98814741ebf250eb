"""Command line: ``gamyeon anonymize INPUT... -o OUTPUT`` and ``gamyeon demo``.

User errors print one line and exit non-zero (2 for usage, 1 otherwise); no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import NoReturn

from gamyeon.about import __version__
from gamyeon.annotations import parse_exports
from gamyeon.batch import cli as batch_cli
from gamyeon.errors import GamyeonError
from gamyeon.ledger import cli as ledger_cli
from gamyeon.media.encode import CODECS, EncodeSettings
from gamyeon.operators import REGISTRY, Shape
from gamyeon.options import FACE_PRECISIONS, SMALL_FACE_MODES, Options
from gamyeon.policy import DEFAULT_KINDS, KIND_GROUPS, PERSON_MODES, Policy, load_policy, parse_kinds
from gamyeon.types import Summary
from gamyeon.vault import cli as vault_cli
from gamyeon.verify import cli as verify_cli

log = logging.getLogger("gamyeon")


#: how far a decimal may be from an NTSC rate (n*1000/1001) to mean it: 23.98 and 29.97 do
NTSC_TOLERANCE = Fraction(1, 200)


def _fps(value: str) -> Fraction:
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


#: handlers of the subcommands other modules add (their parsers register them in build_parser)
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in the same ``gamyeon: error: ...`` form as every other
    error (argparse's own prefix is the subcommand's prog, e.g. ``gamyeon anonymize: error:``)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"gamyeon: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gamyeon", description="Pseudonymize faces in video and images for AI training.")
    parser.add_argument("--version", action="version", version=f"gamyeon {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    an = sub.add_parser("anonymize", help="mask faces in videos, images or folders")
    an.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="video/image files or folders")
    an.add_argument("-o", "--output", type=Path, required=True, help="output file, or folder for several inputs")
    an.add_argument(
        "--kinds",
        default=None,
        help=f"what to protect, comma-separated: {', '.join(KIND_GROUPS)} (default: {','.join(DEFAULT_KINDS)})",
    )
    an.add_argument("--policy", type=Path, help="TOML policy file (operator, shape, mask_scale, threshold per kind)")
    an.add_argument("--operator", choices=sorted(REGISTRY), help="operator for every kind (default: pixelate)")
    an.add_argument(
        "--shape",
        choices=[s.value for s in Shape if s is not Shape.SILHOUETTE],
        help="mask shape of every kind (default: box; persons' silhouettes: --person-mode silhouette)",
    )
    an.add_argument("--mask-scale", type=float, help="grow each mask by this factor (default: 1.3)")
    an.add_argument("--threshold", type=float, help="detection score threshold (default: 0.2; lower finds more)")
    an.add_argument(
        "--detect-every", type=int, metavar="K", help="run detection every K-th frame (default: about 10/s)"
    )
    an.add_argument(
        "--small-faces",
        choices=SMALL_FACE_MODES,
        default="auto",
        help="magnified tiled passes for tiny faces (default: auto, about once per second)",
    )
    an.add_argument("--codec", choices=sorted(CODECS), help="video codec (default: h264)")
    an.add_argument("--crf", type=int, help="constant quality, lower is better (default: h264 18, hevc 20, vp9 24)")
    an.add_argument("--preset", default="medium", help="encoder speed preset for h264/hevc (default: medium)")
    an.add_argument("--fps", type=_fps, help="frame rate of raw .h264/.h265 input (default: 25)")
    an.add_argument("--keep-audio", action="store_true", help="copy audio unchanged (default: dropped)")
    an.add_argument(
        "--keep-metadata", action="store_true", help="keep metadata except GPS/location (default: stripped)"
    )
    an.add_argument("--annotations", type=Path, help="regions JSON Lines path (default: OUTPUT.regions.jsonl)")
    an.add_argument("--export", action="append", metavar="FORMAT", help="also write coco and/or mot annotations")
    an.add_argument(
        "--key",
        type=Path,
        dest="key_file",
        help="master key file for pseudonymous track ids (default: new key in the key store)",
    )
    an.add_argument("--face-model", type=Path, help="use this CenterFace-layout ONNX file instead of the bundled ones")
    an.add_argument(
        "--face-precision",
        choices=FACE_PRECISIONS,
        default="auto",
        help="bundled face model: auto (int8 for video on a CPU with VNNI, about 2x faster; float for still "
        "images, on a GPU and on other CPUs), fp32 or int8 for both (default: auto)",
    )
    an.add_argument(
        "--person-model", type=Path, help="use this YOLO-format ONNX person detector instead of the bundled SSDLite"
    )
    an.add_argument(
        "--person-mode",
        choices=PERSON_MODES,
        help="persons: mask the head of those whose face is not found (head), the whole person box (body), or "
        "the person's silhouette (silhouette: body mode with a segmentation of each person, grown by 8%% of "
        "their height, plus their head area; any person it cannot segment gets the whole box; one small "
        "network run per person per frame)",
    )
    an.add_argument("--text-model", type=Path, help="use this PP-OCR DB-layout ONNX text detector")
    an.add_argument(
        "--silhouette-model",
        type=Path,
        help="use this ONNX person segmenter ([1, S, S, 3] RGB in [0, 1] -> [1, S, S, 1] probability) for "
        "silhouettes instead of the bundled MediaPipe selfie segmentation",
    )
    vault_cli.add_seal_args(an)
    ledger_cli.add_processing_args(an)
    verify_cli.add_anonymize_flag(an)
    an.add_argument("--summary-json", type=Path, help="also write the run summary as JSON here")
    an.add_argument("-q", "--quiet", action="store_true", help="no progress bar, warnings and errors only")
    an.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    demo = sub.add_parser("demo", help="build a demo clip from a package-shipped photo and anonymize it")
    demo.add_argument("-o", "--output", type=Path, default=Path("demo-output"), help="folder for the demo files")
    demo.add_argument("--frames", type=int, default=150, help="length of the demo clip in frames")
    demo.add_argument("-q", "--quiet", action="store_true")
    demo.add_argument("-v", "--verbose", action="store_true")
    COMMANDS.update(vault_cli.add_parsers(sub))
    COMMANDS.update(ledger_cli.add_parsers(sub))
    COMMANDS.update(verify_cli.add_parsers(sub))
    COMMANDS.update(batch_cli.add_parsers(sub, an))
    return parser


def options_from_args(args: argparse.Namespace) -> Options:
    policy = load_policy(args.policy) if args.policy else Policy()
    policy = policy.with_overrides(
        operator=args.operator, shape=args.shape, mask_scale=args.mask_scale, threshold=args.threshold
    ).with_person_mode(args.person_mode)
    return Options(
        kinds=parse_kinds(args.kinds, args.person_mode),
        policy=policy,
        detect_every=args.detect_every,
        small_faces=args.small_faces,
        encode=EncodeSettings(codec=args.codec, crf=args.crf, preset=args.preset),
        keep_audio=args.keep_audio,
        keep_metadata=args.keep_metadata,
        fps=args.fps,
        annotations=args.annotations,
        exports=parse_exports(args.export),
        key_file=args.key_file,
        face_model=args.face_model,
        face_precision=args.face_precision,
        person_model=args.person_model,
        text_model=args.text_model,
        silhouette_model=args.silhouette_model,
        quiet=args.quiet,
        seal_key=args.seal,
        vault=args.vault,
        processing=ledger_cli.processing_from_args(args),
    )


def log_summary(summary: Summary) -> None:
    regions = ", ".join(f"{n} {k}" for k, n in sorted(summary.regions.items())) or "none"
    tracks = ", ".join(f"{n} {k}" for k, n in sorted(summary.tracks.items())) or "none"
    log.info(
        "%s -> %s: %d frame(s), regions: %s (detected %d, interpolated %d, extended %d), tracks: %s, "
        "fail-closed frames: %d, %.1f fps",
        summary.input,
        summary.output,
        summary.frames,
        regions,
        summary.detected,
        summary.interpolated,
        summary.extended,
        tracks,
        summary.fail_closed_frames,
        summary.fps,
    )


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is when a record is emitted, not as it was at setup, so a
    caller that swaps stderr (a test harness, an embedding program) still gets the messages."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _setup_logging(quiet: bool, verbose: bool) -> _StderrHandler:
    """Send gamyeon's log to stderr for one ``main()`` call.

    A handler on the ``gamyeon`` logger, not ``logging.basicConfig``: basicConfig does nothing when
    the root logger already has a handler (any host program, pytest), which silenced every error
    line, and its handler would keep writing to whatever stderr was at the first call.
    """
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    handler = _StderrHandler()
    fmt = "gamyeon: %(levelname)s: %(message)s" if verbose else "gamyeon: %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    log.addHandler(handler)
    log.setLevel(level)
    if not verbose:
        for noisy in ("norfair", "libav"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    return handler


def _cmd_anonymize(args: argparse.Namespace) -> int:
    from gamyeon.api import anonymize

    options = options_from_args(args)
    summaries = anonymize(args.inputs, args.output, options)
    for s in summaries:
        log_summary(s)
    if args.summary_json:
        args.summary_json.write_text(json.dumps([s.as_dict() for s in summaries], indent=2), encoding="utf-8")
    if args.verify:
        return verify_cli.after_anonymize(summaries, args.quiet, args.ledger, options)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from gamyeon.demo import run_demo

    for s in run_demo(args.output, frames=args.frames, quiet=args.quiet):
        log_summary(s)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = log.level
    handler = _setup_logging(getattr(args, "quiet", False), getattr(args, "verbose", False))
    handlers = {"anonymize": _cmd_anonymize, "demo": _cmd_demo, **COMMANDS}
    try:
        return handlers[args.command](args)
    except GamyeonError as err:
        log.error("error: %s", err)
        return err.exit_code
    except KeyboardInterrupt:
        log.error("interrupted; no partial output was left under a final name")
        return 130
    except BrokenPipeError:  # e.g. `gamyeon ledger export | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


if __name__ == "__main__":
    sys.exit(main())
