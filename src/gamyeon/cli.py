"""Command line: ``gamyeon anonymize INPUT... -o OUTPUT`` and ``gamyeon demo``.

User errors print one line and exit non-zero (2 for usage, 1 otherwise); no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from gamyeon import cliargs
from gamyeon.about import __version__
from gamyeon.analytics import cli as analytics_cli
from gamyeon.batch import cli as batch_cli
from gamyeon.errors import GamyeonError
from gamyeon.ledger import cli as ledger_cli
from gamyeon.live import cli as live_cli
from gamyeon.options import Options
from gamyeon.review import cli as review_cli
from gamyeon.types import Summary
from gamyeon.vault import cli as vault_cli
from gamyeon.verify import cli as verify_cli

log = logging.getLogger("gamyeon")


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
    cliargs.add_kinds_arg(an)
    cliargs.add_policy_args(an)
    cliargs.add_detection_args(an)
    cliargs.add_encode_args(an)
    an.add_argument("--annotations", type=Path, help="regions JSON Lines path (default: OUTPUT.regions.jsonl)")
    cliargs.add_export_args(an)
    cliargs.add_detector_args(an)
    vault_cli.add_seal_args(an)
    cliargs.add_processing_args(an)
    verify_cli.add_anonymize_flag(an)
    an.add_argument("--summary-json", type=Path, help="also write the run summary as JSON here")
    cliargs.add_verbosity(an, progress=True)

    demo = sub.add_parser("demo", help="build a demo clip from a package-shipped photo and anonymize it")
    demo.add_argument("-o", "--output", type=Path, default=Path("demo-output"), help="folder for the demo files")
    demo.add_argument("--frames", type=int, default=150, help="length of the demo clip in frames")
    cliargs.add_verbosity(demo, progress=True)
    COMMANDS.update(vault_cli.add_parsers(sub))
    COMMANDS.update(ledger_cli.add_parsers(sub))
    COMMANDS.update(verify_cli.add_parsers(sub))
    COMMANDS.update(batch_cli.add_parsers(sub))
    COMMANDS.update(analytics_cli.add_parsers(sub))
    COMMANDS.update(review_cli.add_parsers(sub))
    COMMANDS.update(live_cli.add_parsers(sub))
    return parser


def options_from_args(args: argparse.Namespace) -> Options:
    """``anonymize``'s options: the ones it shares with ``batch`` and those only a run on named
    inputs takes (its own annotations path, vault sealing)."""
    shared = cliargs.options_from_args(args)
    return dataclasses.replace(shared, annotations=args.annotations, seal_key=args.seal, vault=args.vault)


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
