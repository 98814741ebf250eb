"""One output under review: its video checked against its sidecar, and its review file, saved
with a revision check so that two tabs (or two reviewers) never overwrite each other.

A save names the revision it was made on. Under a lock (a thread lock, and ``flock`` on the
output's folder against other processes) the file is read again; if its revision has moved on,
the save is refused (``StaleRevision``) and nothing is written. Otherwise the changes are applied,
the revision grows by one and the file is replaced atomically. A damaged review file is reported
and left untouched: nothing ever overwrites a file this module could not read.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from gamyeon.errors import CorruptInputError, GamyeonError
from gamyeon.infra.files import atomic_outputs, sha256_file
from gamyeon.media.decode import VideoReader
from gamyeon.media.geometry import upright_size
from gamyeon.review import model
from gamyeon.review.files import OutputFiles
from gamyeon.review.model import Review, ReviewFileError, Signoff
from gamyeon.review.sidecar import Sidecar, SidecarError, read_sidecar


class StaleRevision(GamyeonError, ValueError):
    """A save was made on a revision that is no longer the file's."""

    def __init__(self, current: int, given: int) -> None:
        super().__init__(
            f"this review was saved elsewhere meanwhile (revision {current}, your changes were made on "
            f"revision {given}); nothing was saved: reload, check, and save again"
        )
        self.current = current


@dataclass(frozen=True, slots=True)
class VideoFacts:
    """What the review needs to know of the output video."""

    width: int  # upright
    height: int
    rotation: int
    frames: int
    rate: float
    #: each frame's timestamp in the output's own time base, in presentation order (None: unknown)
    pts: tuple[int | None, ...]
    time_base: Fraction | None = None


def probe(video: Path) -> VideoFacts:
    """The video's facts; its frames' timestamps from its packets (demuxed, not decoded: cheap)."""
    with VideoReader(video) as reader:
        info = reader.info
    width, height = upright_size(info.width, info.height, info.rotation)
    try:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            packets = [p.pts for p in container.demux(stream) if p.size]
            time_base = stream.time_base
    except av.error.FFmpegError as err:
        raise CorruptInputError(f"cannot read {video}: {err}") from None
    known = [p for p in packets if p is not None]
    pts: tuple[int | None, ...] = tuple(sorted(known)) if len(known) == len(packets) else (None,) * len(packets)
    return VideoFacts(width, height, info.rotation, len(packets), float(info.rate), pts, time_base)


def check_match(video: Path, facts: VideoFacts, sidecar: Sidecar) -> None:
    """The sidecar must describe this video: as many frames, at the same times (to the
    millisecond: some containers keep no finer time)."""
    described = len(sidecar.frames)
    if described != facts.frames:
        raise SidecarError(
            f"{sidecar.path.name} does not match {video.name}: it describes {described} frame(s), "
            f"the video has {facts.frames}"
        )
    times = [f.time for f in sidecar.frames]
    tb = facts.time_base
    if tb is None or None in facts.pts or None in times:
        return
    for frame, (time, pts) in enumerate(zip(times, facts.pts, strict=True)):
        assert time is not None and pts is not None
        if abs(float(pts * tb) - time) > 0.0015:
            raise SidecarError(
                f"{sidecar.path.name} does not match {video.name}: frame {frame} is at {float(pts * tb):.3f}s "
                f"in the video and at {time:.3f}s in the sidecar"
            )


def read_review_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ReviewFileError(f"cannot read {path}: {err.strerror}") from None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ReviewFileError(f"{path} is damaged (not JSON: {err}); it was left as it is") from None


class ReviewStore:
    """The review of one output. ``review`` is the last state read or written."""

    def __init__(self, files: OutputFiles) -> None:
        self.files = files
        self._lock = threading.Lock()
        self.facts = probe(files.video)
        self.live = read_sidecar(files.annotations, self.facts.width, self.facts.height)
        check_match(files.video, self.facts, self.live)
        self.output_sha256 = sha256_file(files.video)
        if files.review.exists():
            self.review = self._read()
        else:
            self.review = Review(
                output_name=files.name,
                output_sha256=self.output_sha256,
                frames=self.facts.frames,
                width=self.facts.width,
                height=self.facts.height,
                base_name=files.annotations.name,
                base_sha256=sha256_file(files.annotations),
            )
            self.base = self.live

    def _base_path(self, review: Review) -> Path:
        if review.base_name == self.files.annotations.name:
            return self.files.annotations
        if review.base_name == self.files.base.name:
            return self.files.base
        raise ReviewFileError(f"{self.files.review.name}: unknown base sidecar {review.base_name!r}")

    def _read(self) -> Review:
        """The review file as on disk, checked against this output (sets ``base``)."""
        where = self.files.review
        data = read_review_file(where)
        loose = model.parse(data)
        if loose.output_sha256 != self.output_sha256:
            raise ReviewFileError(
                f"{self.files.name} is not the file {where.name} was saved for (it was changed or made again "
                "outside review); move the review file away to start a new review"
            )
        base_path = self._base_path(loose)
        if not base_path.is_file() or sha256_file(base_path) != loose.base_sha256:
            raise ReviewFileError(f"{base_path.name} is not the sidecar {where.name} was made on (missing or changed)")
        base = (
            self.live
            if base_path == self.files.annotations
            else read_sidecar(base_path, self.facts.width, self.facts.height)
        )
        if len(base.frames) != self.facts.frames:
            raise SidecarError(f"{base_path.name} does not describe {self.files.name} ({len(base.frames)} frames)")
        try:
            review = model.parse(data, base.kinds())
        except ReviewFileError as err:
            raise ReviewFileError(f"{where.name}: {err}") from None
        if (review.frames, review.width, review.height) != (self.facts.frames, self.facts.width, self.facts.height):
            raise ReviewFileError(f"{where.name} was made for a video of another size or length")
        self.base = base
        return review

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """This store's lock and an exclusive ``flock`` on the output's folder (other processes)."""
        with self._lock:
            fd = os.open(self.files.video.parent, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the flock

    def _current(self) -> Review:
        return self._read() if self.files.review.exists() else self.review

    def _write(self, review: Review) -> None:
        with atomic_outputs(self.files.review) as (tmp,):
            tmp.write_text(json.dumps(review.as_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        self.review = review

    def reload(self) -> Review:
        with self._locked():
            self.review = self._current()
            return self.review

    def save(self, ops: list[Any], reviewer: str, revision: int) -> tuple[Review, int]:
        """Apply ``ops`` made on ``revision``; returns the new review and how many changes it got."""
        reviewer = _reviewer(reviewer)
        if not isinstance(ops, list) or not ops:
            raise ReviewFileError("nothing to save")
        with self._locked():
            current = self._current()
            if current.revision != revision:
                raise StaleRevision(current.revision, revision)
            changed = self.apply(current, ops, reviewer)
            new = replace(
                changed,
                revision=current.revision + 1,
                saves=(
                    *current.saves,
                    {"revision": current.revision + 1, "reviewer": reviewer, "changes": len(ops), "at": model.now()},
                ),
            )
            self._write(new)
            return new, len(ops)

    def apply(self, review: Review, ops: list[Any], reviewer: str) -> Review:
        """``review`` with ``ops`` applied (``{"op": "put", "item": {...}}`` adds or replaces an
        item by its id, ``{"op": "delete", "id": ...}`` removes one); nothing is written."""
        items = {i["id"]: i for i in review.items}
        bounds = review.bounds(self.base.kinds())
        for op in ops:
            if not isinstance(op, dict):
                raise ReviewFileError("a change is {op: put, item} or {op: delete, id}")
            if op.get("op") == "put":
                raw = op.get("item")
                if not isinstance(raw, dict):
                    raise ReviewFileError("put: the item is missing")
                item = model.check_item({**raw, "by": reviewer, "at": model.now()}, bounds)
                items[item["id"]] = item
            elif op.get("op") == "delete":
                if items.pop(str(op.get("id")), None) is None:
                    raise ReviewFileError(f"delete: no item {op.get('id')!r} (removed meanwhile?)")
            else:
                raise ReviewFileError("a change is {op: put, item} or {op: delete, id}")
        return replace(review, items=tuple(items.values()))

    def signoff(self, reviewer: str, verdict: str, note: str, revision: int) -> Review:
        reviewer = _reviewer(reviewer)
        if verdict not in model.VERDICTS:
            raise ReviewFileError(f"a sign-off's verdict is one of {', '.join(model.VERDICTS)}")
        if len(note) > model.MAX_TEXT:
            raise ReviewFileError("the note is too long")
        with self._locked():
            current = self._current()
            if current.revision != revision:
                raise StaleRevision(current.revision, revision)
            new = replace(
                current, signoffs=(*current.signoffs, Signoff(reviewer, verdict, note, revision, model.now()))
            )
            self._write(new)
            return new

    def rendered(self, review: Review, render: dict[str, Any], output_sha256: str, base: Sidecar) -> Review:
        """Record a re-render of ``review`` in the review file: the output it made is now the one
        reviewed, on ``base``. Call it inside ``exclusive``, which holds the lock."""
        new = replace(
            review,
            output_sha256=output_sha256,
            base_name=base.path.name,
            base_sha256=sha256_file(base.path),
            renders=(*review.renders, render),
        )
        self._write(new)
        self.output_sha256 = output_sha256
        self.base = base
        return new

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[Review]:
        """Hold the review's lock (a re-render: no save may land between reading and rendering)."""
        with self._locked():
            yield self._current()


def _reviewer(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ReviewFileError("give the reviewer's name")
    if len(name) > 200:
        raise ReviewFileError("the reviewer's name is too long")
    return name.strip()
