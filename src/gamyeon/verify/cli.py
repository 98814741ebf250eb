"""``gamyeon verify ORIGINAL ANONYMIZED`` and ``gamyeon anonymize --verify``.

Exit codes make verify a gate for pipelines: 0 when the leak rate is within its threshold and no
calibrated identity attack names people significantly above chance, 1 when one does, 2 when the
inputs cannot be verified at all (bad options, missing or unreadable files, an output that is not
the original's anonymized version). Errors that other commands
report with exit code 1 are reported with 2 here, so that 1 always means "the check failed".
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from gamyeon import cliargs
from gamyeon.errors import GamyeonError, UsageError
from gamyeon.options import Options
from gamyeon.policy import parse_kinds
from gamyeon.types import Summary
from gamyeon.verify.result import DEFAULT_ALPHA, DEFAULT_THUMBNAILS, VerifyOptions, VerifyResult
from gamyeon.verify.sampling import IDENTITY_FRAMES

log = logging.getLogger("gamyeon")

EXIT_PASS, EXIT_FAIL, EXIT_UNUSABLE = 0, 1, 2


def _sample(value: str) -> int | None:
    """``auto``, ``all`` (= 0) or a frame count."""
    text = value.strip().lower()
    if text == "auto":
        return None
    if text == "all":
        return 0
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a frame count, 'all' or 'auto', got {value!r}") from None
    if count < 0:
        raise argparse.ArgumentTypeError(f"expected a frame count >= 0, got {value!r}")
    return count


def _fraction(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1], got {value!r}") from None
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1], got {value!r}")
    return rate


def _alpha(value: str) -> float:
    try:
        alpha = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a significance level in (0, 0.5), got {value!r}") from None
    if not 0.0 < alpha < 0.5:
        raise argparse.ArgumentTypeError(f"expected a significance level in (0, 0.5), got {value!r}")
    return alpha


def attacker_options(args: argparse.Namespace) -> Options | None:
    """The anonymize options the parrot attacker and ``--gallery`` mask pictures with, from the
    policy flags (None: gamyeon's defaults)."""
    flags = (args.policy, args.operator, args.shape, args.mask_scale, args.kinds)
    if all(flag is None for flag in flags):
        return None
    policy = cliargs.policy_from_args(args)
    return Options(kinds=parse_kinds(args.kinds), policy=policy, quiet=True)


def add_parsers(sub: cliargs.Subcommands) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Register ``verify`` on the ``gamyeon`` subcommand parsers; returns its handler by name."""
    p = sub.add_parser(
        "verify",
        help="measure what an anonymized output still leaks (independent detectors, identity attack)",
        description="Check an anonymized output against its original: residual faces found by detectors "
        "independent of the masking one, and a face-recognition attack. Exit 0 pass, 1 fail, 2 cannot verify.",
    )
    p.add_argument("original", type=Path, metavar="ORIGINAL", help="the original file or folder")
    p.add_argument("anonymized", type=Path, metavar="ANONYMIZED", help="its anonymized file or folder")
    p.add_argument(
        "--annotations",
        type=Path,
        metavar="A",
        help="regions JSON Lines of the output (default: ANONYMIZED.regions.jsonl)",
    )
    p.add_argument(
        "--sample",
        type=_sample,
        default=None,
        metavar="N|all|auto",
        help="frames to examine per video: N evenly spaced (plus track boundaries), 'all' (or 0), "
        "or 'auto' (default: 16 + up to 8 at track boundaries)",
    )
    p.add_argument("--report", type=Path, metavar="REPORT.html", help="HTML report (default: ANONYMIZED.verify.html)")
    p.add_argument(
        "--json",
        type=Path,
        dest="json_report",
        metavar="REPORT.json",
        help="JSON report (default: ANONYMIZED.verify.json)",
    )
    p.add_argument(
        "--max-leak-rate", type=_fraction, default=0.0, metavar="R", help="fail above this leak rate (default: 0)"
    )
    p.add_argument(
        "--alpha",
        type=_alpha,
        default=DEFAULT_ALPHA,
        metavar="A",
        help="identity gate: fail when a calibrated attack names people above chance with p below A "
        f"(shared by the attack variants; default: {DEFAULT_ALPHA:g})",
    )
    p.add_argument(
        "--identity-frames",
        type=int,
        default=IDENTITY_FRAMES,
        metavar="N",
        help=f"frames per face track examined for the identity attack (default: {IDENTITY_FRAMES})",
    )
    p.add_argument(
        "--gallery",
        type=Path,
        metavar="DIR",
        help="identity-labelled photos (one folder per person, or identities.json) to test the masking policy "
        "on: anonymized with the same policy, then attacked leave-one-out (plain and parrot)",
    )
    p.add_argument(
        "--no-parrot",
        action="store_true",
        help="skip the parrot attack on videos (it anonymizes the examined frames of the original once more)",
    )
    g = p.add_argument_group(
        "policy the output was made with, for the parrot attack and --gallery (as for anonymize; default: "
        "gamyeon's default policy)"
    )
    cliargs.add_policy_args(g, brief=True)
    cliargs.add_kinds_arg(g, brief=True)
    p.add_argument(
        "--max-match-rate",
        type=_fraction,
        default=None,
        metavar="M",
        help="also fail above this share of faces within 0.6 of their own original (off by default: a fixed "
        "threshold raises false alarms where the recognizer cannot tell the people apart)",
    )
    p.add_argument("--no-thumbnails", action="store_true", help="leave flagged-frame pictures out of the report")
    cliargs.add_ledger_arg(
        p,
        "also record the result in this processing ledger (SQLite file or postgresql://...); "
        "`anonymize --verify` always records it in the run's ledger",
    )
    cliargs.add_verbosity(p, progress=True)
    return {"verify": run}


def add_anonymize_flag(parser: argparse.ArgumentParser) -> None:
    """``anonymize --verify``."""
    parser.add_argument(
        "--verify",
        action="store_true",
        help="verify each output afterwards (OUTPUT.verify.html/.json); exit 1 if one fails the default gate",
    )


def default_reports(anonymized: Path) -> tuple[Path, Path]:
    """``ANONYMIZED.verify.html`` / ``.verify.json`` beside the output (a folder's beside the folder)."""
    base = anonymized.resolve() if anonymized.is_dir() else anonymized
    return base.with_name(base.name + ".verify.html"), base.with_name(base.name + ".verify.json")


def log_result(result: VerifyResult, html: Path | None, json_path: Path | None) -> None:
    log_fn = log.info if result.passed else log.warning
    log_fn("verify %s", result.verdict())
    written = [str(p) for p in (html, json_path) if p is not None]
    if written:
        log.info("verify report: %s", ", ".join(written))


def run(args: argparse.Namespace) -> int:
    """The ``gamyeon verify`` command."""
    from gamyeon.verify.api import verify
    from gamyeon.verify.report import write_reports

    try:
        html_default, json_default = default_reports(args.anonymized)
        html = args.report or html_default
        json_path = args.json_report or json_default
        if html.resolve() == json_path.resolve():
            raise UsageError(f"--report and --json must be different files, both are {html}")
        options = VerifyOptions(
            annotations=args.annotations,
            sample=args.sample,
            max_leak_rate=args.max_leak_rate,
            max_match_rate=args.max_match_rate,
            alpha=args.alpha,
            identity_frames=args.identity_frames,
            gallery=args.gallery,
            attacker_options=attacker_options(args),
            parrot=not args.no_parrot,
            max_thumbnails=0 if args.no_thumbnails else DEFAULT_THUMBNAILS,
            quiet=args.quiet,
        )
        result = verify(args.original, args.anonymized, options)
        write_reports(result, html, json_path)
        if args.ledger:
            from gamyeon.verify import record

            record.record(args.ledger, result, html, json_path)
    except GamyeonError as err:
        log.error("error: %s", err)
        return EXIT_UNUSABLE
    log_result(result, html, json_path)
    return EXIT_PASS if result.passed else EXIT_FAIL


def after_anonymize(
    summaries: Sequence[Summary], quiet: bool, ledger: str | None = None, options: Options | None = None
) -> int:
    """``anonymize --verify``: verify each output against its input with the default gate, write
    ``OUTPUT.verify.html`` / ``OUTPUT.verify.json`` beside it; 1 if any fails.

    Each result is recorded (``verify.record``) in ``ledger``, the run's ledger (None: the default
    one), under the run's dataset id, so the release evidence sits next to the processing record.
    ``options``: the anonymize run's, with which the parrot attacker masks his own pictures.
    """
    from gamyeon.verify import record
    from gamyeon.verify.api import verify
    from gamyeon.verify.report import write_reports
    from gamyeon.verify.scan import Verifier

    verifier = Verifier(VerifyOptions(quiet=quiet))
    failed = 0
    for s in summaries:
        output = Path(s.output)
        notes = Path(s.annotations) if s.annotations else None
        one = VerifyOptions(
            annotations=notes if notes is not None and notes.is_file() else None, quiet=quiet, attacker_options=options
        )
        result = verify(s.input, output, one, verifier=verifier)
        html, json_path = default_reports(output)
        write_reports(result, html, json_path)
        known = {str(output): s.output_sha256} if s.output_sha256 else None
        record.record(ledger, result, html, json_path, s.dataset_id or None, known)
        log_result(result, html, json_path)
        failed += not result.passed
    return EXIT_FAIL if failed else EXIT_PASS
