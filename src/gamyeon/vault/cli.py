"""``gamyeon keys``, ``gamyeon reveal`` and ``gamyeon vault``: the key holder's commands."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from gamyeon.cliargs import Subcommands, add_ledger_arg, add_seal_arg, add_verbosity
from gamyeon.errors import UsageError
from gamyeon.keys import MasterKey, ask_passphrase, read_key, write_key
from gamyeon.vault.service import RevealRequest, default_vault, destroy_vault, reveal_tracks, tracks_in

log = logging.getLogger("gamyeon")

Handler = Callable[[argparse.Namespace], int]


def add_seal_args(parser: argparse.ArgumentParser) -> None:
    """``anonymize --seal KEYFILE [--vault PATH]``."""
    add_seal_arg(parser, "")
    parser.add_argument(
        "--vault", type=Path, help="where the vault goes (default: OUTPUT.vault; keep it apart from the output)"
    )


def add_parsers(sub: Subcommands) -> dict[str, Handler]:
    """Register ``keys``, ``reveal`` and ``vault``; returns their handlers by name."""
    keys = sub.add_parser("keys", help="create master keys and show their fingerprints")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    new = keys_sub.add_parser("new", help="write a new random 256-bit master key (mode 0600, never overwrites)")
    new.add_argument("keyfile", type=Path)
    new.add_argument(
        "--passphrase",
        action="store_true",
        help="wrap the key with a passphrase (scrypt + AES-GCM); read from $GAMYEON_KEY_PASSPHRASE or a prompt",
    )
    show = keys_sub.add_parser("fingerprint", help="print a key's fingerprint (never the key)")
    show.add_argument("keyfile", type=Path)

    rev = sub.add_parser("reveal", help="restore the original pixels of named tracks for a lawful purpose")
    rev.add_argument("anonymized", type=Path, metavar="ANONYMIZED", help="a file written by `gamyeon anonymize --seal`")
    rev.add_argument("--vault", type=Path, help="the vault (default: ANONYMIZED.vault)")
    rev.add_argument("--key", type=Path, dest="key_file", help="the master key file used with --seal")
    rev.add_argument("--list", action="store_true", help="list the tracks in the vault (no pixels are decrypted)")
    rev.add_argument("--json", action="store_true", help="with --list: JSON lines instead of a table")
    rev.add_argument("--track", action="append", default=None, metavar="ID", help="pseudonymous track id to reveal")
    rev.add_argument("--purpose", help="why the track is revealed (recorded in the ledger)")
    rev.add_argument("--authority", help="the legal authority or case reference (recorded in the ledger)")
    rev.add_argument("--recipient", help="who receives the revealed file (recorded)")
    rev.add_argument("-o", "--output", type=Path, help="revealed output file")
    rev.add_argument(
        "--lossless",
        action="store_true",
        help="FFV1 RGB in .mkv (or PNG for images): restored pixels equal the original decoded pixels exactly",
    )
    add_ledger_arg(rev)
    add_verbosity(rev)

    vault = sub.add_parser("vault", help="manage vaults")
    vault_sub = vault.add_subparsers(dest="vault_command", required=True)
    destroy = vault_sub.add_parser("destroy", help="destroy a vault (reveal becomes impossible) and record it")
    destroy.add_argument("vault", type=Path)
    destroy.add_argument("--key", type=Path, dest="key_file", required=True, help="the vault's master key file")
    destroy.add_argument("--reason", help="why (e.g. 'retention period ended'); recorded")
    destroy.add_argument(
        "--shred-key", action="store_true", help="also destroy the key file (only if it serves no other dataset)"
    )
    add_ledger_arg(destroy)
    for p in (new, show, destroy):
        add_verbosity(p)
    return {"keys": _cmd_keys, "reveal": _cmd_reveal, "vault": _cmd_vault}


def _cmd_keys(args: argparse.Namespace) -> int:
    if args.keys_command == "new":
        key = MasterKey.generate()
        passphrase = ask_passphrase("new passphrase: ", confirm=True) if args.passphrase else None
        write_key(key, args.keyfile, passphrase)
        log.info("wrote master key %s to %s; keep it apart from the data it protects", key.fingerprint, args.keyfile)
        sys.stdout.write(key.fingerprint + "\n")
        return 0
    sys.stdout.write(read_key(args.keyfile).fingerprint + "\n")
    return 0


def _cmd_reveal(args: argparse.Namespace) -> int:
    vault = args.vault or default_vault(args.anonymized)
    if args.list:
        tracks = tracks_in(vault, args.key_file)
        if args.key_file is None:
            log.info("no --key: the list comes from the vault's index and was not authenticated")
        for t in tracks:
            if args.json:
                sys.stdout.write(json.dumps(t.as_dict()) + "\n")
            else:
                span = f"frames {t.first_frame}-{t.last_frame} ({t.frames})  {_t(t.first_time)}-{_t(t.last_time)}"
                sys.stdout.write(f"{t.track}  {t.kind:6s} {span}\n")
        return 0
    missing = [flag for flag, value in (("--key", args.key_file), ("--track", args.track), ("-o", args.output),
               ("--purpose", args.purpose), ("--authority", args.authority)) if not value]  # fmt: skip
    if missing:
        raise UsageError(f"reveal needs {', '.join(missing)} (or --list)")
    result = reveal_tracks(
        RevealRequest(
            anonymized=args.anonymized,
            vault=vault,
            key_file=args.key_file,
            tracks=tuple(args.track),
            output=args.output,
            purpose=args.purpose,
            authority=args.authority,
            recipient=args.recipient,
            lossless=args.lossless,
            ledger=args.ledger,
            quiet=args.quiet,
        )
    )
    log.info(
        "revealed %d region(s) of %s on %d of %d frame(s); %d other region(s) kept masked; recorded in the ledger",
        result.regions_revealed,
        ", ".join(result.tracks),
        len(result.frames_with_track),
        result.frames,
        result.regions_kept_masked,
    )
    return 0


def _t(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.3f}s"


def _cmd_vault(args: argparse.Namespace) -> int:
    facts = destroy_vault(args.vault, args.key_file, reason=args.reason, ledger=args.ledger, shred_key=args.shred_key)
    log.info("destroyed vault %s of dataset %s and recorded it in the ledger", args.vault, facts["dataset_id"])
    return 0
