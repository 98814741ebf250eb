"""``gamyeon review OUTPUT...``: open the review page, or ``--render`` the reviewed output again."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gamyeon.cliargs import Subcommands, add_ledger_arg, add_verbosity
from gamyeon.errors import UsageError
from gamyeon.infra.progress import Bar

if TYPE_CHECKING:
    from gamyeon.review.files import OutputFiles

log = logging.getLogger("gamyeon")

Handler = Callable[[argparse.Namespace], int]


def add_parsers(sub: Subcommands) -> dict[str, Handler]:
    """Register ``review``; returns its handler by name."""
    p = sub.add_parser(
        "review",
        help="inspect and correct outputs in a local web page, sign off, re-render",
        description="Start a local web page to inspect anonymized outputs (regions, tracks, verify's flags), "
        "correct them (exclude, add, enlarge regions), sign off, and re-render from the original. "
        "With --render, re-render from the saved review file without a page.",
    )
    p.add_argument(
        "outputs", nargs="+", type=Path, metavar="OUTPUT", help="outputs, folders of outputs, or a batch DST"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.add_argument("--render", action="store_true", help="re-render each OUTPUT from its review file, then exit")
    p.add_argument("--reviewer", help="with --render: who is responsible for the re-render (recorded)")
    p.add_argument("--source", type=Path, help="the original, if it moved since the output was made (one OUTPUT)")
    p.add_argument(
        "--key", type=Path, dest="key_file", help="the run's key file (default: the key store's key of its dataset)"
    )
    add_ledger_arg(p)
    add_verbosity(p, progress=True)
    return {"review": _cmd_review}


def _cmd_review(args: argparse.Namespace) -> int:
    from gamyeon.review.files import find_outputs

    files = find_outputs(args.outputs)
    if args.source is not None and len(files) != 1:
        raise UsageError("--source names the original of one output; give one OUTPUT with it")
    if args.render:
        return _render(files, args)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port: expected 0..65535, got {args.port}")
    from gamyeon.review.server import LOCAL, free_port, open_outputs, serve_forever, settings_for, url_of

    if args.host != LOCAL:
        log.warning(
            "review: listening on %s: anyone who can reach it and has the address (with its token) can see and "
            "change these reviews; prefer 127.0.0.1 and an SSH tunnel",
            args.host,
        )
    port = args.port or free_port(args.host)
    settings = settings_for(args.host, port, ledger=args.ledger, key_file=args.key_file, source=args.source)
    outputs = open_outputs(files, args.ledger)
    sys.stdout.write(url_of(settings, args.host, port) + "\n")
    sys.stdout.flush()
    log.info("review: %d output(s); open the address above; Ctrl-C stops", len(outputs))
    serve_forever(outputs, settings, args.host, port)
    return 0


def _render(files: list[OutputFiles], args: argparse.Namespace) -> int:
    from gamyeon.review.render import require_reviewer, rerender
    from gamyeon.review.store import ReviewStore

    reviewer = require_reviewer(args.reviewer)
    for f in files:
        if not f.review.is_file():
            raise UsageError(f"{f.name} has no review file ({f.review.name}): review it first")
    for f in files:
        store = ReviewStore(f)
        with Bar(args.quiet) as bar:
            bar.start(f"re-render {f.name}", store.facts.frames)
            result = rerender(
                store, reviewer, source=args.source, key_file=args.key_file, ledger=args.ledger, progress=bar.advance
            )
            bar.finish()
        log.info(
            "re-rendered %s from revision %d (%s): %d frame(s), %d region(s), %d excluded, %d added, "
            "%d fail-closed frame(s)",
            f.name,
            store.review.revision,
            "approved" if result.approved else "NOT approved",
            result.frames,
            result.regions,
            result.excluded,
            result.added,
            result.fail_closed_frames,
        )
    return 0
