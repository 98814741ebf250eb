"""``gamyeon batch SRC -o DST``: a folder tree or a manifest of paths, on local workers or Ray.

The masking and encoding options are the ones of ``gamyeon anonymize``, taken from its parser
(same names, help and validation); options that only make sense for one file or that batch does
not support yet (``--annotations``, ``--summary-json``, vault sealing, ...) are left out and keep
their defaults. The processing record options (``--purpose``, ``--basis``, ``--ledger``, ...) are
shared too: a batch writes the same ledger records as ``anonymize`` (``batch/records.py``).
"""

from __future__ import annotations

import argparse
import logging
import signal
from collections.abc import Callable
from typing import Any

log = logging.getLogger("gamyeon")

#: ``gamyeon anonymize`` options that ``gamyeon batch`` accepts too (by argparse dest)
SHARED = (
    "kinds",
    "policy",
    "operator",
    "shape",
    "mask_scale",
    "threshold",
    "detect_every",
    "small_faces",
    "codec",
    "crf",
    "preset",
    "fps",
    "keep_audio",
    "keep_metadata",
    "export",
    "key_file",
    "seal",  # one vault per output, <OUTPUT>.vault; sealed files are never chunked
    "face_model",
    "face_precision",
    "person_model",
    "person_mode",
    "text_model",
    "silhouette_model",
    "quiet",
    "verbose",
    "purpose",
    "basis",
    "recipient",
    "retain_until",
    "retain_days",
    "ledger",
)


def add_parsers(sub: Any, anonymize: argparse.ArgumentParser) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Add ``batch`` next to ``anonymize`` (whose options it shares); returns its handler."""
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
    shared = set(SHARED)
    for action in anonymize._actions:
        if action.dest in shared:
            p._add_action(action)
    p.set_defaults(_anonymize_parser=anonymize)
    return {"batch": run}


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _path(value: str) -> object:
    from pathlib import Path

    return Path(value)


def run(args: argparse.Namespace) -> int:
    from gamyeon.batch.runner import BatchConfig, run_batch
    from gamyeon.cli import options_from_args

    # options of ``anonymize`` that batch does not take keep their defaults
    for action in args._anonymize_parser._actions:
        if action.dest != argparse.SUPPRESS and not hasattr(args, action.dest):
            setattr(args, action.dest, action.default)
    config = BatchConfig(
        source=args.source,
        output=args.output,
        options=options_from_args(args),
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
