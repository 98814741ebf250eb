"""``gamyeon ledger verify|show|export|due|destroyed``.

The record options of ``anonymize`` and ``batch`` (``--purpose``, ``--basis``, ...) and the
``--ledger``/verbosity options of every command are declared in ``gamyeon.cliargs``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from gamyeon.cliargs import Subcommands, add_ledger_arg, add_verbosity
from gamyeon.errors import OutputError, UsageError
from gamyeon.ledger.chain import Record, canonical_json
from gamyeon.ledger.records import due_datasets, unfinished_runs, unreviewed_outputs
from gamyeon.ledger.store import Ledger

log = logging.getLogger("gamyeon")

Handler = Callable[[argparse.Namespace], int]


def add_parsers(sub: Subcommands) -> dict[str, Handler]:
    """Register ``ledger`` and its subcommands; returns its handler by name."""
    led = sub.add_parser("ledger", help="inspect and verify the processing ledger")
    led_sub = led.add_subparsers(dest="ledger_command", required=True)
    verify = led_sub.add_parser("verify", help="check the hash chain; exit 1 if any record was changed")
    show = led_sub.add_parser("show", help="list records (unfinished runs are marked)")
    show.add_argument("--dataset", help="only this dataset id")
    show.add_argument("--action", help="only this action (anonymize, seal, reveal, trace, export, destroy, ...)")
    show.add_argument("--last", type=int, metavar="N", help="only the last N records")
    export = led_sub.add_parser("export", help="write every record as JSON or CSV")
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    due = led_sub.add_parser(
        "due",
        help="datasets past their retention deadline that still hold data, and outputs released without an "
        "approving review (gamyeon review)",
    )
    destroyed = led_sub.add_parser("destroyed", help="record that a dataset's outputs were destroyed by hand")
    destroyed.add_argument("dataset", help="dataset id")
    destroyed.add_argument("--what", required=True, help="what was destroyed and how")
    for p in (verify, show, export, due, destroyed):
        add_ledger_arg(p)
        add_verbosity(p)
    return {"ledger": _cmd_ledger}


def _cmd_ledger(args: argparse.Namespace) -> int:
    with Ledger(args.ledger) as ledger:
        command = args.ledger_command
        if command == "verify":
            return _verify(ledger)
        if command == "show":
            _show(ledger, args.dataset, args.action, args.last)
        elif command == "export":
            _export(ledger.records(), args.format, args.output)
        elif command == "due":
            for d in due_datasets(ledger.records()):
                left = [f"vault {v}" for v in d.vaults] + [f"output {o}" for o in d.outputs]
                sys.stdout.write(f"{d.dataset_id}  due {d.retain_until.isoformat()}  {'; '.join(left)}\n")
            for u in unreviewed_outputs(ledger.records()):
                sys.stdout.write(
                    f"{u.dataset_id or '-'}  review due  output {u.output} released without an approving review\n"
                )
        else:
            if not any(r.dataset_id == args.dataset for r in ledger.records()):
                raise UsageError(f"no dataset {args.dataset} in ledger {ledger.display}")
            ledger.append("destroyed", {"what": args.what}, args.dataset)
    return 0


def _verify(ledger: Ledger) -> int:
    count, problems = ledger.verify()
    for problem in problems:
        log.error("ledger: %s", problem)
    if problems:
        log.error("ledger %s FAILED verification: %d problem(s) in %d record(s)", ledger.display, len(problems), count)
        return 1
    head = ledger.head()
    log.info(
        "ledger %s verified: %d record(s), chain intact, head %s", ledger.display, count, head[1][:16] if head else "-"
    )
    return 0


def _show(ledger: Ledger, dataset: str | None, action: str | None, last: int | None) -> None:
    records = list(ledger.records())  # read once: both the filter and the open-run marks need it
    open_runs = {u.started.seq for u in unfinished_runs(records)}
    unreviewed = {u.made.seq for u in unreviewed_outputs(records)}
    rows = [
        r
        for r in records
        if (dataset is None or r.dataset_id == dataset) and (action is None or r.action.split(".")[0] == action)
    ]
    for r in rows[-last:] if last else rows:
        mark = "  UNFINISHED" if r.seq in open_runs else "  UNREVIEWED" if r.seq in unreviewed else ""
        sys.stdout.write(
            f"{r.seq:6d}  {r.at}  {r.action:17s} {r.dataset_id or '-'}  {r.actor}@{r.host}  {_gist(r)}{mark}\n"
        )


def _gist(r: Record) -> str:
    """The few payload fields a reader scans for; the full record is in ``ledger export``."""
    p = r.payload
    keys = (
        "status",
        "purpose",
        "basis",
        "recipient",
        "retain_until",
        "authority",
        "tracks",
        "track",
        "contacts",
        "reason",
        "what",
        "format",
        "reviewer",
        "verdict",
        "revision",
        "changes",
    )
    parts = [f"{k}={p[k]}" for k in keys if p.get(k) not in (None, [], "")]
    for k in ("output", "vault", "file"):
        v = p.get(k)
        if isinstance(v, dict) and "path" in v:
            parts.append(f"{k}={v['path']}")
        elif isinstance(v, str):
            parts.append(f"{k}={v}")
    return " ".join(parts)


def _export(records: Iterable[Record], fmt: str, output: Path | None) -> None:
    try:
        fh: IO[str] = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    except OSError as err:
        raise OutputError(f"cannot write {output}: {err.strerror}") from None
    try:
        if fmt == "json":
            fh.write("[\n")
            for i, r in enumerate(records):
                fh.write(("" if i == 0 else ",\n") + json.dumps(r.as_dict(), ensure_ascii=False))
            fh.write("\n]\n")
        else:
            writer = csv.writer(fh)
            writer.writerow(["seq", "at", "action", "dataset_id", "actor", "host", "payload", "prev_hash", "hash"])
            for r in records:
                writer.writerow(
                    [
                        r.seq,
                        r.at,
                        r.action,
                        r.dataset_id or "",
                        r.actor,
                        r.host,
                        canonical_json(r.payload),
                        r.prev_hash,
                        r.hash,
                    ]
                )
    finally:
        if output:
            fh.close()
