"""``gamyeon batch SRC -o DST``: a folder tree or a manifest of paths, on local workers or Ray.

The masking, encoding and processing record options are the ones of ``gamyeon anonymize``,
declared by the same ``gamyeon.cliargs`` groups (same names, help and validation) and read by the
same ``cliargs.options_from_args``; a batch writes the same ledger records as ``anonymize``
(``batch/records.py``). ``--seal`` puts one vault beside each output (``OUTPUT.vault``); a
sealed file is processed whole, never split into chunks. Options that only make sense for one
file (``--annotations``, ``--summary-json``, ``--vault``) are not declared and keep their
``Options`` defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
from collections.abc import Callable

from gamyeon import cliargs

log = logging.getLogger("gamyeon")


def add_parsers(sub: cliargs.Subcommands) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Add ``batch`` (which shares ``anonymize``'s run options); returns its handler."""
    p = sub.add_parser(
        "batch",
        help="anonymize a whole archive (folder tree or CSV/JSONL manifest) on local workers or a Ray cluster",
        description="Anonymize every video and image under SRC (a folder, or a .csv/.jsonl manifest of paths) "
        "into DST, mirroring the tree. Re-running the same command skips what is done and continues the rest.",
    )
    p.add_argument("source", type=_path, metavar="SRC", help="folder, or .csv (with a 'path' column) / .jsonl manifest")
    p.add_argument("-o", "--output", type=_path, required=True, metavar="DST", help="output folder")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default: 1)")
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run on a Ray cluster: 'auto' (the cluster of this machine), HOST:PORT of the head, or 'local'",
    )
    p.add_argument(
        "--chunk-seconds",
        type=float,
        default=120.0,
        help="split videos longer than twice this at keyframes into chunks processed in parallel; 0: never "
        "(default: 120; with --seal files are processed whole, never split)",
    )
    p.add_argument(
        "--overlap-seconds",
        type=float,
        default=3.0,
        help="decode this much before each chunk so tracks continue across its border (default: 3)",
    )
    # the groups ``cliargs.options_from_args`` reads, in the order ``anonymize --help`` lists them
    cliargs.add_kinds_arg(p)
    cliargs.add_policy_args(p)
    cliargs.add_detection_args(p)
    cliargs.add_encode_args(p)
    cliargs.add_export_args(p)
    cliargs.add_seal_arg(
        p,
        "; one vault beside each output, OUTPUT.vault (move it apart before handing DST over); "
        "sealed files are processed whole, never split into chunks",
    )
    cliargs.add_detector_args(p)
    cliargs.add_processing_args(p)
    cliargs.add_verbosity(p, progress=True)
    return {"batch": run}


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _path(value: str) -> object:
    from pathlib import Path

    return Path(value)


def run(args: argparse.Namespace) -> int:
    from gamyeon.batch.runner import BatchConfig, run_batch

    config = BatchConfig(
        source=args.source,
        output=args.output,
        options=dataclasses.replace(cliargs.options_from_args(args), seal_key=args.seal),
        workers=args.workers,
        ray=args.ray,
        chunk_seconds=args.chunk_seconds,
        overlap_seconds=args.overlap_seconds,
    )
    previous = signal.signal(signal.SIGTERM, _terminate)  # `kill`, a job scheduler: stop like Ctrl-C
    try:
        report = run_batch(config)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if report.interrupted:
        log.error("interrupted; no partial output was left under a final name; run the same command to continue")
    return report.exit_code
