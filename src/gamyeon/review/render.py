"""Re-render: the output made again from its original with the reviewed regions, no detection.

What the first run knew is found again, not guessed:

* the original and the run's dataset, key fingerprint and settings come from the processing
  record of the output in the ledger (``records.find_origin``; ``--source`` names a moved
  original, which must still have the recorded SHA-256);
* the key is ``--key``, or the one the run stored in the key store for its dataset; it must have
  the recorded fingerprint. Pseudonyms and the masks' randomness are keyed, so without it
  nothing can be re-rendered;
* each kept track's local number, which seeds its mosaic (``Policy.mask_seed``), is recovered from
  its pseudonym (the keyed hash of the source's name, the kind and the number is recomputed for
  increasing numbers until it matches), so a kept region is masked exactly as before and keeps its
  pseudonym. A track whose number is not found (chunks of a long batch file number their tracks
  apart) keeps its pseudonym but gets a new mosaic pattern, and the render says how many.

The regions of each frame are the base sidecar's with the review's decisions applied
(``decide.Decisions``), given to the pipeline through ``pipeline.given.GivenRegions``; a frame that
failed closed in the first run fails closed again. Everything else is ``pipeline.job.run_file``:
atomic outputs, the vault sealed again (added regions included) when the output has one, the
annotations and exports rewritten, and the ``review.render`` record written before any file
appears under its final name.
"""

from __future__ import annotations

import hashlib
import logging
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from gamyeon.annotations import export_path
from gamyeon.errors import GamyeonError, KeyFileError, UsageError
from gamyeon.infra.files import atomic_outputs, sha256_file
from gamyeon.keys import MasterKey, key_store, read_key
from gamyeon.ledger.records import file_facts
from gamyeon.ledger.store import Ledger
from gamyeon.media.encode import EncodeSettings
from gamyeon.operators import Shape
from gamyeon.options import Options
from gamyeon.pipeline.given import GivenRegions
from gamyeon.pipeline.job import FileJob, FileOutcome, run_file
from gamyeon.pipeline.models import face_detectors
from gamyeon.policy import Policy, policy_from_mapping
from gamyeon.pseudonym import Pseudonymizer
from gamyeon.review.decide import ADDED, KEPT, Decisions, Planned
from gamyeon.review.files import OutputFiles
from gamyeon.review.model import Review, now
from gamyeon.review.records import Origin, find_origin
from gamyeon.review.sidecar import Sidecar
from gamyeon.review.store import ReviewStore
from gamyeon.types import Box, Region, Source, TrackBox

log = logging.getLogger(__name__)

#: local numbers of regions a reviewer added start here, far above any tracker's count
ADDED_BASE = 1 << 40
#: how many local numbers are tried per pseudonym kind before a track counts as not found
SEARCH_LIMIT = 200_000


class RenderError(GamyeonError, ValueError):
    """A re-render cannot be made (no record, no original, no key, another key, ...)."""


@dataclass(frozen=True, slots=True)
class RenderResult:
    output_sha256: str
    frames: int
    regions: int
    excluded: int
    added: int
    fail_closed_frames: int
    #: kept tracks whose mosaic pattern changed because their local number was not found
    renumbered: int
    approved: bool


def origin_of(files: OutputFiles, ledger: Ledger, output_sha256: str) -> Origin:
    found = find_origin(ledger.records(), output_sha256)
    if found is None:
        raise RenderError(
            f"no processing record of {files.name} (SHA-256 {output_sha256[:12]}...) in ledger {ledger.display}: "
            "give the ledger the output was recorded in with --ledger"
        )
    return found


def check_source(origin: Origin, source: Path | None) -> Path:
    path = source or origin.source
    if not path.is_file():
        raise RenderError(f"the original {path} is not there; name where it is now with --source")
    if origin.source_sha256 is not None and sha256_file(path) != origin.source_sha256:
        raise RenderError(f"{path} is not the original the output was made from (its SHA-256 differs from the record)")
    return path


def find_key(origin: Origin, key_file: Path | None) -> MasterKey:
    if key_file is None:
        if origin.dataset_id is None:
            raise RenderError("the record names no dataset: give the key with --key")
        key_file = key_store() / f"{origin.dataset_id}.key"
        if not key_file.is_file():
            raise RenderError(f"the run's key is not in the key store ({key_file}): give it with --key")
    try:
        key = read_key(key_file)
    except KeyFileError as err:
        raise RenderError(str(err)) from None
    if origin.key_fingerprint is not None and key.fingerprint != origin.key_fingerprint:
        raise RenderError(
            f"{key_file} is key {key.fingerprint}, but the output was made with key {origin.key_fingerprint}"
        )
    return key


def options_of(origin: Origin) -> Options:
    """The run's output settings, as recorded (defaults, with a warning, for runs that did not)."""
    s = origin.settings
    if s is None:
        log.warning("the processing record has no settings (an older gamyeon): re-rendering with the defaults")
        return Options(quiet=True)
    try:
        policy: Policy = policy_from_mapping({"kinds": s["policy"]})
        encode = EncodeSettings(**s["encode"])
        fps = Fraction(s["fps"]) if s.get("fps") else None
        return Options(
            kinds=tuple(s["kinds"]),
            policy=policy,
            encode=encode,
            keep_audio=bool(s.get("keep_audio")),
            keep_metadata=bool(s.get("keep_metadata")),
            fps=fps,
            exports=tuple(s.get("exports") or ()),
            silhouette_model=Path(s["silhouette_model"]) if s.get("silhouette_model") else None,
            quiet=True,
        )
    except (KeyError, TypeError, ValueError) as err:
        raise RenderError(f"the recorded settings cannot be read back ({err})") from None


def relative_candidates(origin: Origin, source: Path) -> list[str]:
    """Names the run may have given the source (its pseudonym domain): a recorded one, else every
    tail of its recorded path (a file's own name, or its path below an input folder)."""
    if origin.relative is not None:
        return [origin.relative]
    parts = origin.source.parts
    tails = [str(Path(*parts[i:])) for i in range(len(parts) - 1, 0, -1)]
    return tails or [source.name]


def recover_numbers(
    key: MasterKey, dataset_id: str, candidates: list[str], tracks: dict[str, str]
) -> tuple[str, dict[str, int]]:
    """(the source's name, pseudonym -> local track number) for as many ``tracks`` (pseudonym ->
    kind) as are found within ``SEARCH_LIMIT`` numbers."""
    pseudonyms = Pseudonymizer(key, dataset_id)
    if not tracks:
        return candidates[-1], {}
    by_kind: dict[str, set[str]] = {}
    for track, kind in tracks.items():
        by_kind.setdefault(kind, set()).add(track)
    probe_track, probe_kind = next(iter(tracks.items()))
    limit = min(SEARCH_LIMIT, max(4096, 64 * len(tracks)))
    chosen = None
    for name in candidates:
        if any(pseudonyms.track_id(name, probe_kind, n) == probe_track for n in range(1, limit)):
            chosen = name
            break
    if chosen is None:
        log.warning("review: the track pseudonyms do not match the source's name; mosaic patterns will change")
        return candidates[-1], {}
    found: dict[str, int] = {}
    wanted = len(tracks)
    for n in range(1, SEARCH_LIMIT):
        for kind, names in by_kind.items():
            pseudonym = pseudonyms.track_id(chosen, kind, n)
            if pseudonym in names:
                found[pseudonym] = n
        if len(found) == wanted:
            break
    return chosen, found


def added_number(item_id: str) -> int:
    """A stable local number for an added region (its pseudonym and mosaic survive re-renders)."""
    return ADDED_BASE + int.from_bytes(hashlib.sha256(item_id.encode()).digest()[:5], "big")


class Table:
    """The regions of each frame for ``GivenRegions``: the base sidecar with the decisions applied."""

    def __init__(
        self, base: Sidecar, decisions: Decisions, numbers: dict[str, int], exact: bool, policy: Policy
    ) -> None:
        self.base = base
        self.decisions = decisions
        self.numbers = numbers
        self.exact = exact
        self.policy = policy
        self._fresh: dict[str, int] = {}

    def number(self, track: str) -> int:
        found = self.numbers.get(track)
        if found is not None:
            return found
        if track not in self._fresh:
            self._fresh[track] = ADDED_BASE - 1 - len(self._fresh)
        return self._fresh[track]

    @property
    def renumbered(self) -> int:
        return len(self._fresh)

    def region(self, planned: Planned) -> Region:
        note = planned.note
        w, h = self.decisions.width, self.decisions.height
        mask = Box(*note.mask)
        if planned.state == KEPT and not self.exact:
            mask = mask.padded(0.05, 0.05)  # a tenth-of-a-pixel sidecar: never mask less than before
        x1, y1, x2, y2 = mask.pixel_bounds(w, h)
        if self.policy.for_kind(note.kind).shape is Shape.ELLIPSE and (x1 <= 0 or y1 <= 0 or x2 >= w or y2 >= h):
            # the first run's ellipse was inscribed in a mask reaching past the edge, which the sidecar
            # keeps only clipped: the ellipse of the clipped box grown by sqrt(2) covers all of it
            mask = mask.scaled(math.sqrt(2.0))
        if planned.state == ADDED:
            number: int | None = added_number(str(planned.item))
        else:
            number = None if note.track is None else self.number(note.track)
        source = Source.REVIEWED if note.source == "reviewed" else Source(note.source)
        return Region(note.kind, Box(*note.box), mask, note.score, number, source)

    def __call__(self, index: int) -> list[Region]:
        if index >= len(self.base.frames):
            raise ValueError(f"the original has more frames than the reviewed output ({len(self.base.frames)})")
        notes = self.base.frames[index]
        if notes.fail_closed:
            raise ValueError("this frame failed closed when the output was made; it stays fully masked")
        return [self.region(p) for p in self.decisions.masked(notes)]

    def tracks(self, index: int) -> list[TrackBox] | None:
        """The identity tracks of frame ``index`` as the first run reported them (no decision
        changes who is who; an excluded region's person is still a person)."""
        persons = self.base.frames[index].persons if index < len(self.base.frames) else None
        if persons is None:
            return None
        return [
            TrackBox(p.kind, Box(*p.box), p.score, self.number(p.track), Source(p.source))
            for p in persons
            if p.track is not None
        ]


def _counts(review: Review, base: Sidecar) -> tuple[int, int]:
    decisions = Decisions(review.items, review.width, review.height)
    excluded = sum(p.state == "excluded" for f in base.frames for p in decisions.frame(f))
    return excluded, len(review.of_type("add"))


def rerender(
    store: ReviewStore,
    reviewer: str,
    *,
    source: Path | None = None,
    key_file: Path | None = None,
    ledger: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> RenderResult:
    """Make ``store``'s output again from its original with the reviewed regions; see the module
    docstring. The review file records the render and moves to the new output."""
    files = store.files
    with Ledger(ledger) as book, store.exclusive() as review:
        origin = origin_of(files, book, store.output_sha256)
        original = check_source(origin, source)
        key = find_key(origin, key_file)
        if origin.dataset_id is None:
            raise RenderError("the processing record names no dataset")
        options = options_of(origin)
        base = store.base
        relative, numbers = recover_numbers(
            key, origin.dataset_id, relative_candidates(origin, original), base.kinds() | base.identity_kinds()
        )
        decisions = Decisions(review.items, review.width, review.height)
        table = Table(base, decisions, numbers, base.exact_masks(), options.policy)
        vault = files.vault if files.vault.exists() or origin.sealed else None
        if vault is not None and vault.exists():
            _check_vault(vault, key)
        base = _keep_base(files, base)
        exports = tuple(dict.fromkeys([*[f for f, _ in files.exports], *options.exports]))
        job = FileJob(
            source=original,
            output=files.video,
            annotations=files.annotations,
            exports=tuple((fmt, export_path(files.video, fmt)) for fmt in exports),
            vault=vault,
            options=options,
            dataset_id=origin.dataset_id,
            relative=relative,
            key=key,
            # the job's type asks for the run's face detector; GivenRegions runs no detector
            faces=face_detectors(options).get(video=True),
            progress=progress or (lambda _n: None),
            regions=GivenRegions(table, table.tracks),
        )
        approved = review.approved
        excluded, added = _counts(review, base)

        def record(done: FileOutcome) -> None:
            book.append(
                "review.render",
                {
                    "input": file_facts(original),
                    "output": done.output,
                    "annotations": file_facts(*done.annotations),
                    "exports": [{"format": fmt, **file_facts(tmp, final)} for fmt, tmp, final in done.exports],
                    "vault": None
                    if done.vault is None
                    else {**file_facts(done.vault[0], done.vault[1]), **done.vault[2]},
                    "review": str(files.review.resolve()),
                    "revision": review.revision,
                    "reviewer": reviewer,
                    "approved": approved,
                    "excluded_regions": excluded,
                    "added_regions": added,
                    "renumbered_tracks": table.renumbered,
                    "counts": {
                        k: v for k, v in done.summary.as_dict().items() if k not in {"input", "output", "annotations"}
                    },
                    "relative": relative,
                    "inputs": list(origin.inputs),
                    "settings": origin.settings,
                    "key_fingerprint": key.fingerprint,
                    "sealed": vault is not None,
                },
                origin.dataset_id,
            )

        outcome = run_file(job, record)
        if table.renumbered:
            log.warning(
                "review: %d kept track(s) got a new mosaic pattern (their number was not found)", table.renumbered
            )
        summary = outcome.summary
        result = RenderResult(
            output_sha256=outcome.sha256,
            frames=summary.frames,
            regions=sum(summary.regions.values()),
            excluded=excluded,
            added=added,
            fail_closed_frames=summary.fail_closed_frames,
            renumbered=table.renumbered,
            approved=approved,
        )
        render: dict[str, Any] = {
            "revision": review.revision,
            "reviewer": reviewer,
            "output_sha256": outcome.sha256,
            "approved": approved,
            "at": now(),
        }
        store.rendered(review, render, outcome.sha256, base)
    return result


def _check_vault(vault: Path, key: MasterKey) -> None:
    """The output's vault must open with this key (it is sealed again with it)."""
    from gamyeon.vault.reveal import open_vault

    with open_vault(vault, key):
        pass


def _keep_base(files: OutputFiles, base: Sidecar) -> Sidecar:
    """The detectors' sidecar, kept as ``OUTPUT.review.base.jsonl`` before the sidecar is rewritten."""
    if base.path != files.annotations:
        return base
    with atomic_outputs(files.base) as (tmp,):
        shutil.copyfile(files.annotations, tmp)
    return Sidecar(files.base, base.frames, base.tracks)


def require_reviewer(name: str | None) -> str:
    if not name or not name.strip():
        raise UsageError("--reviewer: give the name of the person responsible for the review")
    return name.strip()
