"""Reading the pseudonymous tracks of a gamyeon output: its regions sidecar, streamed, and one
frame of the regions format (``frame_record``), which a live source can hand over as well.

A file that is not a sidecar is refused with one line, before any result is written: it would
otherwise give empty analytics that look like an empty scene.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from gamyeon.analytics.records import AttributeValue, FrameRecord, Observation
from gamyeon.errors import UnsupportedInputError

SIDECAR_SUFFIX = ".regions.jsonl"
#: region sources that are observations; ``extended`` boxes are the safety pads before a track's
#: first and after its last detection, there to protect, not measured
OBSERVED_SOURCES = frozenset({"detected", "interpolated"})


def _not_sidecar(path: Path, line: int, why: str) -> UnsupportedInputError:
    return UnsupportedInputError(f"{path} is not a gamyeon regions sidecar (line {line}: {why})")


def _box(value: Any) -> tuple[float, float, float, float] | None:
    if not (isinstance(value, list) and len(value) == 4 and all(isinstance(v, int | float) for v in value)):
        return None
    x1, y1, x2, y2 = (float(v) for v in value)
    return (x1, y1, x2, y2) if x2 >= x1 and y2 >= y1 else None


def _attributes(value: Any) -> tuple[tuple[str, AttributeValue], ...]:
    if not isinstance(value, dict):
        return ()
    return tuple(
        sorted((str(k), v) for k, v in value.items() if isinstance(v, int | float | str) and not isinstance(v, bool))
    )


class NotARegionsRecord(ValueError):
    """A frame record that is not in the regions sidecar's format; the message says why."""


def frame_record(
    line: Any,
    source: str,
    kinds: Collection[str],
    sources: Collection[str] = OBSERVED_SOURCES,
    seen: set[str] | None = None,
) -> FrameRecord:
    """One frame of the regions format (a parsed sidecar line, or the same object from a live
    source) as a ``FrameRecord`` with the tracked regions of ``kinds`` whose source is in
    ``sources``; ``seen`` collects every region kind met."""
    if not (isinstance(line, dict) and isinstance(line.get("frame"), int) and isinstance(line.get("regions"), list)):
        raise NotARegionsRecord("expected an object with 'frame' and 'regions'")
    time = line.get("time")
    if not isinstance(time, int | float):
        raise NotARegionsRecord("no timestamp: analytics need a video's sidecar, not an image's")
    entries = line["regions"]
    persons = line.get("tracks")
    if isinstance(persons, list):
        # the persons' identity tracks (runs that track persons): each person once per frame with
        # one id for as long as it is followed, masked or not; the masked person regions would
        # count the same people again under their masking-track ids
        entries = [r for r in entries if not (isinstance(r, dict) and r.get("kind") == "person")] + persons
    observations = []
    for region in entries:
        if not isinstance(region, dict) or not isinstance(region.get("kind"), str):
            raise NotARegionsRecord("a region without a kind")
        box = _box(region.get("box"))
        if box is None:
            raise NotARegionsRecord("a region without a valid box")
        if seen is not None:
            seen.add(region["kind"])
        track = region.get("track")
        if region["kind"] not in kinds or not isinstance(track, str) or region.get("source") not in sources:
            continue
        score = region.get("score")
        observations.append(
            Observation(
                track=track,
                kind=region["kind"],
                box=box,
                score=float(score) if isinstance(score, int | float) else 0.0,
                source=str(region.get("source")),
                attributes=_attributes(region.get("attributes")),
            )
        )
    return FrameRecord(
        source=source,
        frame=line["frame"],
        time=float(time),
        observations=tuple(observations),
        fail_closed=bool(line.get("fail_closed", False)),
    )


def _frame(
    path: Path, number: int, raw: str, kinds: Collection[str], sources: Collection[str], seen: set[str]
) -> FrameRecord:
    try:
        return frame_record(json.loads(raw), str(path), kinds, sources, seen)
    except json.JSONDecodeError as err:
        raise _not_sidecar(path, number, f"not JSON: {err.msg}") from None
    except NotARegionsRecord as err:
        raise _not_sidecar(path, number, str(err)) from None


def check_sidecar(path: Path) -> None:
    """Refuse a file that is not a sidecar now, from its first line, before any work is done."""
    try:
        with path.open(encoding="utf-8") as fh:
            first = fh.readline()
    except UnicodeDecodeError:
        raise _not_sidecar(path, 1, "not UTF-8 text") from None
    except OSError as err:
        raise UnsupportedInputError(f"cannot read {path}: {err.strerror}") from None
    if not first.strip():
        raise _not_sidecar(path, 1, "empty")
    _frame(path, 1, first, (), OBSERVED_SOURCES, set())


def read_frames(
    path: Path,
    kinds: Collection[str],
    sources: Collection[str] = OBSERVED_SOURCES,
    seen: set[str] | None = None,
) -> Iterator[FrameRecord]:
    """The frames of a sidecar in order, with only the tracked regions of ``kinds`` whose source
    is in ``sources``; one-line error on the first line that is not a sidecar's. ``seen`` collects
    every region kind the file holds (to say why a file gave no tracks of ``kinds``)."""
    seen = set() if seen is None else seen
    try:
        with path.open(encoding="utf-8") as fh:
            for number, raw in enumerate(fh, start=1):
                if raw.strip():
                    yield _frame(path, number, raw, kinds, sources, seen)
    except UnicodeDecodeError:
        raise UnsupportedInputError(f"{path} is not a gamyeon regions sidecar (not UTF-8 text)") from None
