"""``gamyeon analyze``: zones, dwell, loitering and contacts on the pseudonymous tracks of outputs."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from gamyeon.analytics.engine import DEFAULT_GAP, Settings
from gamyeon.analytics.plane import load_plane
from gamyeon.analytics.run import DEFAULT_KINDS, PEOPLE_KINDS, Outcome, Request, run
from gamyeon.analytics.tracing import TraceRequest
from gamyeon.analytics.zones import load_zones
from gamyeon.cliargs import Subcommands, add_ledger_arg, add_verbosity

log = logging.getLogger("gamyeon")

Handler = Callable[[argparse.Namespace], int]

#: seconds two tracks must stay within the contact distance to count, by default
DEFAULT_CONTACT_SECONDS = 1.0

DESCRIPTION = """\
Answers what cities asked of their cameras -- how many people were in an area and for how long,
who stayed too long, who stood close to whom -- on the pseudonymous tracks of gamyeon outputs
(their OUTPUT.regions.jsonl sidecars), without identifying anyone. Results go to a folder:
analytics.json, CSV tables, events.jsonl (loitering alerts) and a self-contained report.html.

Not provided, by design: matching a person across cameras or files by face or body (1:N
identification). Pseudonyms are per source file and dataset, and nothing here links them. A person
becomes identifiable only through the separately held key, one track at a time, with a recorded
purpose and authority (gamyeon reveal); --trace is recorded in the ledger the same way.
"""


def add_parsers(sub: Subcommands) -> dict[str, Handler]:
    """Register ``analyze``; returns its handler by name."""
    an = sub.add_parser(
        "analyze",
        help="zones, dwell, loitering and contacts on pseudonymous tracks (no identification)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    an.add_argument(
        "inputs", nargs="+", type=Path, metavar="INPUT", help="gamyeon outputs, their .regions.jsonl or .coco.json"
    )
    an.add_argument("-o", "--output", type=Path, required=True, help="folder for the result files")
    an.add_argument(
        "--kinds",
        default=",".join(DEFAULT_KINDS),
        help=f"track kinds to analyse, comma-separated: {', '.join(PEOPLE_KINDS)} (default: person: the identity "
        "tracks of runs that track persons, the default kinds among them; a head or face box's bottom is not "
        "on the ground, so use those in image pixels only)",
    )
    an.add_argument(
        "--include-extended",
        action="store_true",
        help="also count the 'extended' boxes (safety pads before/after each track; default: only detected and "
        "interpolated boxes)",
    )
    geo = an.add_argument_group("zones and plane")
    geo.add_argument("--zones", type=Path, metavar="FILE", help="zone polygons: TOML or GeoJSON (docs/analytics.md)")
    geo.add_argument(
        "--homography",
        type=Path,
        metavar="FILE",
        help="TOML/JSON with 'image' (4 pixel points) and 'ground' (the same 4 points in metres): distances "
        "and metre zones on the ground plane",
    )
    geo.add_argument(
        "--gap",
        type=float,
        default=DEFAULT_GAP,
        metavar="SECONDS",
        help=f"absences a visit or contact bridges (default: {DEFAULT_GAP:g})",
    )
    alerts = an.add_argument_group("loitering")
    alerts.add_argument("--loiter", type=float, metavar="SECONDS", help="alert when a track stays in a zone this long")
    alerts.add_argument("--webhook", metavar="URL", help="POST each event as JSON to this http(s) URL")
    near = an.add_argument_group("contacts")
    near.add_argument(
        "--contact-distance",
        type=float,
        metavar="D",
        help="pairs of tracks within D of each other (pixels, or metres with --homography)",
    )
    near.add_argument(
        "--contact-seconds",
        type=float,
        default=DEFAULT_CONTACT_SECONDS,
        metavar="T",
        help=f"... for at least T seconds (default: {DEFAULT_CONTACT_SECONDS:g})",
    )
    trace = an.add_argument_group("contact tracing (recorded in the ledger)")
    trace.add_argument("--trace", metavar="TRACK", help="list the contacts of this pseudonymous track")
    trace.add_argument("--purpose", help="why the contacts are traced (required with --trace; recorded)")
    trace.add_argument("--authority", help="the legal authority or case reference (required with --trace; recorded)")
    trace.add_argument("--recipient", help="who receives the contact list (recorded)")
    add_ledger_arg(trace)
    add_verbosity(an)
    return {"analyze": _cmd_analyze}


def request_from_args(args: argparse.Namespace) -> Request:
    """The run the options ask for; refuses a trace without purpose and authority first."""
    trace = None
    if args.trace is not None:
        trace = TraceRequest(args.trace, args.purpose, args.authority, args.recipient)
    settings = Settings(
        zones=load_zones(args.zones),
        plane=load_plane(args.homography),
        gap=args.gap,
        loiter=args.loiter,
        contact_distance=args.contact_distance,
        contact_seconds=args.contact_seconds,
    )
    return Request(
        inputs=tuple(args.inputs),
        output=args.output,
        settings=settings,
        kinds=tuple(k.strip() for k in args.kinds.split(",") if k.strip()),
        include_extended=args.include_extended,
        webhook=args.webhook,
        trace=trace,
        ledger=args.ledger,
    )


def _cmd_analyze(args: argparse.Namespace) -> int:
    outcome = run(request_from_args(args))
    _log(outcome, args.output)
    if outcome.trace is not None:
        for c in outcome.trace:
            span = f"{c.start:9.2f}s - {c.end:9.2f}s  {c.duration:7.2f}s"
            sys.stdout.write(f"{c.track}  {span}  closest {c.min_distance:.2f} {c.units}  {c.source}\n")
    return 0


def _log(outcome: Outcome, folder: Path) -> None:
    for r in outcome.results:
        log.info(
            "%s: %d frame(s), %d track(s), %d visit(s), %d contact(s)",
            r.source,
            r.frames,
            len(r.tracks),
            len(r.visits),
            len(r.contacts),
        )
    alerts = sum(e.visit.ongoing for e in outcome.events)
    if alerts:
        log.info("%d loitering alert(s)", alerts)
    if outcome.webhook_sent or outcome.webhook_failed:
        log.info("webhook: %d event(s) delivered, %d failed", outcome.webhook_sent, outcome.webhook_failed)
    if outcome.trace is not None:
        log.info("%d contact(s) of the traced track; the query is recorded in the ledger", len(outcome.trace))
    log.info("results in %s", folder)
