"""``gamyeon analyze`` as a function: read the sidecars, run one analyzer per source, send events
as they arise, and write every result file at once.

Checks come first (every input is a sidecar, the options fit together, a trace has its purpose
and authority and the ledger opens), so a refused run writes nothing. Result files are written
under temporary names and moved into place together; a trace is recorded in the ledger before
they are (``tracing``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gamyeon.analytics import export, inputs
from gamyeon.analytics.engine import Analyzer, Settings, SourceResult
from gamyeon.analytics.records import Event
from gamyeon.analytics.sidecar import OBSERVED_SOURCES
from gamyeon.analytics.tracing import TracedContact, TraceRequest, contacts_of, record_trace
from gamyeon.analytics.webhook import Webhook
from gamyeon.errors import OutputError, UsageError
from gamyeon.infra.files import atomic_outputs
from gamyeon.ledger.store import Ledger

log = logging.getLogger(__name__)

#: the kinds that are people (``kinds.builtin``): a plate or text track has no ground point
PEOPLE_KINDS = ("person", "head", "face")
DEFAULT_KINDS = ("person",)


@dataclass(frozen=True, slots=True)
class Request:
    """One ``analyze`` run. ``output``: the folder the result files go to."""

    inputs: tuple[Path, ...]
    output: Path
    settings: Settings = field(default_factory=Settings)
    kinds: tuple[str, ...] = DEFAULT_KINDS
    include_extended: bool = False
    webhook: str | None = None
    trace: TraceRequest | None = None
    ledger: str | None = None

    def __post_init__(self) -> None:
        if not self.inputs:
            raise UsageError("no input given")
        unknown = [k for k in self.kinds if k not in PEOPLE_KINDS]
        if unknown or not self.kinds:
            raise UsageError(f"--kinds: expected some of {', '.join(PEOPLE_KINDS)}, got {', '.join(self.kinds)}")
        if self.trace is not None and self.settings.contact_distance is None:
            raise UsageError("--trace needs --contact-distance: a contact is defined by a distance")


@dataclass(frozen=True, slots=True)
class Outcome:
    results: tuple[SourceResult, ...]
    events: tuple[Event, ...]
    trace: tuple[TracedContact, ...] | None
    files: tuple[Path, ...]
    webhook_sent: int = 0
    webhook_failed: int = 0


def _sources(req: Request) -> list[Path]:
    sidecars = [inputs.resolve(p) for p in req.inputs]
    seen: set[Path] = set()
    for s in sidecars:
        if s.resolve() in seen:
            raise UsageError(f"{s} is given twice")
        seen.add(s.resolve())
        inputs.check(s)
    return sidecars


def _file_names(req: Request) -> list[str]:
    names = ["analytics.json", "events.jsonl", *(f"{t}.csv" for t in export.COLUMNS if t != "trace"), "report.html"]
    return names + (["trace.json", "trace.csv"] if req.trace is not None else [])


def _output_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"-o must be a folder for the result files, but {folder} is a file")
    if not folder.exists() and not folder.parent.is_dir():
        raise OutputError(f"output folder's parent does not exist: {folder.parent}")


def analyze_source(sidecar: Path, req: Request, emit: Callable[[Event], None]) -> SourceResult:
    """One sidecar through one analyzer, events emitted as they arise."""
    sources = OBSERVED_SOURCES | {"extended"} if req.include_extended else OBSERVED_SOURCES
    kinds_found: set[str] = set()
    analyzer = Analyzer(str(sidecar), req.settings)
    for frame in inputs.frames(sidecar, req.kinds, sources, kinds_found):
        for event in analyzer.feed(frame):
            emit(event)
    last, result = analyzer.finish()
    for event in last:
        emit(event)
    if not result.tracks:
        found = ", ".join(sorted(kinds_found)) or "none"
        hint = (
            " (person tracks are in outputs of runs that track persons: the default kinds, heads or persons)"
            if ("person" in req.kinds and "person" not in kinds_found)
            else ""
        )
        log.warning("%s has no tracks of kind %s; kinds in it: %s%s", sidecar, ",".join(req.kinds), found, hint)
    return result


@contextlib.contextmanager
def _ledger_if(needed: bool, location: str | None) -> Iterator[Ledger | None]:
    if not needed:
        yield None
        return
    with Ledger(location) as ledger:
        yield ledger


def run(req: Request) -> Outcome:
    """Analyse ``req.inputs`` and write the result files into ``req.output``."""
    sidecars = _sources(req)
    _output_folder(req.output)
    off_ground = [k for k in req.kinds if k != "person"]
    if off_ground and req.settings.plane.units != "px":
        log.warning(
            "the bottom of a %s box is not on the ground: its distances in metres are off", "/".join(off_ground)
        )
    hook = Webhook(req.webhook) if req.webhook else None
    events: list[Event] = []

    def emit(event: Event) -> None:
        events.append(event)
        if hook is not None:
            hook.post(event.as_dict())

    # opened before the work: never compute a trace that cannot be recorded
    with _ledger_if(req.trace is not None, req.ledger) as ledger:
        results = [analyze_source(s, req, emit) for s in sidecars]
        traced = None if req.trace is None else contacts_of(results, req.trace.track)
        finals = [req.output / name for name in _file_names(req)]
        with atomic_outputs(*finals) as temps:
            tmp = dict(zip(_file_names(req), temps, strict=True))
            _write(tmp, req, results, events, traced)
            if req.trace is not None and ledger is not None and traced is not None:
                record_trace(
                    ledger,
                    req.trace,
                    sidecars,
                    req.settings,
                    req.kinds,
                    traced,
                    (tmp["trace.json"], req.output / "trace.json"),
                )
    return Outcome(
        results=tuple(results),
        events=tuple(events),
        trace=None if traced is None else tuple(traced),
        files=tuple(finals),
        webhook_sent=0 if hook is None else hook.sent,
        webhook_failed=0 if hook is None else hook.failed,
    )


def _write(
    tmp: dict[str, Path],
    req: Request,
    results: Sequence[SourceResult],
    events: Sequence[Event],
    traced: Sequence[TracedContact] | None,
) -> None:
    trace = None if req.trace is None or traced is None else (req.trace.track, traced)
    export.write_json(tmp["analytics.json"], export.document(results, req.settings, req.kinds, events, trace))
    export.write_events(tmp["events.jsonl"], events)
    zone_columns = tuple(dict.fromkeys(z for r in results for z in r.zone_names))
    for table, rows in export.tables(results).items():
        columns = export.COLUMNS[table] + (zone_columns if table == "occupancy" else ())
        export.write_csv(tmp[f"{table}.csv"], rows, columns)
    # the report (and matplotlib, ~0.3 s to import) loads only when one is written: every
    # ``gamyeon`` command builds the ``analyze`` parser, which imports this module
    from gamyeon.analytics.report import render_html

    tmp["report.html"].write_text(render_html(results, req.settings, req.kinds, events, trace), encoding="utf-8")
    if trace is not None:
        export.write_json(tmp["trace.json"], export.trace_dict(*trace))
        export.write_csv(tmp["trace.csv"], [c.as_dict() for c in trace[1]], export.COLUMNS["trace"])
