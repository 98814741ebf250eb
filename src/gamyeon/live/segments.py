"""Recorded segments: a camera's stream as one file per N minutes, each a normal gamyeon output.

A segment is what ``pipeline.job.run_file`` makes of a file, built from the same pieces: the
video, its regions sidecar (frame numbers and timestamps from 0 in the segment, track ids the
keyed pseudonyms of the camera's connection), the exports asked for and, with ``--seal``, its
vault bound to the video by its SHA-256. Everything is written under temporary names
(``infra.files.atomic_outputs``) and moved into place only complete, after its ``anonymize``
record is in the ledger. A segment starts with a forced keyframe, so it plays on its own.

Three threads touch a segment, each at its own time: the session writes its regions and seals
its originals as frames are masked; the encoder thread writes its video packets and closes the
video when the next segment begins (or the stream ends); a finisher thread then hashes, finishes
the vault, writes the exports and the record, and renames -- off the camera's real-time path.
A segment that cannot be finished is discarded (nothing under a final name) and counted.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from gamyeon.annotations import JsonlWriter, export_path, write_export
from gamyeon.figures import Tally
from gamyeon.infra.files import atomic_outputs
from gamyeon.infra.worker import Worker
from gamyeon.ledger.records import file_facts
from gamyeon.live.config import Camera, LiveSettings
from gamyeon.live.outputs import Muxer, StreamShape
from gamyeon.live.records import LiveRecord
from gamyeon.live.status import CameraCounters
from gamyeon.pipeline.inputs import TrackIds
from gamyeon.types import Summary
from gamyeon.vault.writer import VaultWriter

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Segment:
    """One recorded file while it is written (see the module docstring for who writes what)."""

    number: int
    #: session pts of its first frame (its own timestamps start at 0 there)
    start_pts: int
    started: datetime
    video: Path
    finals: list[Path]
    temps: list[Path]
    stack: contextlib.ExitStack
    notes: JsonlWriter
    vault: VaultWriter | None
    #: seconds the source was lost just before this segment began (None: no gap)
    after_gap: float | None
    #: the frames the session decided for it (the session also counts their detection frames)
    tally: Tally = field(default_factory=Tally)
    muxer: Muxer | None = None
    failed: str | None = None
    ended: datetime | None = None

    @property
    def notes_tmp(self) -> Path:
        return self.temps[1]


class SegmentRecorder:
    """Starts, writes and finishes the recorded segments of one camera connection."""

    def __init__(
        self,
        camera: Camera,
        settings: LiveSettings,
        shape: StreamShape,
        *,
        upright: tuple[int, int],
        rotation: int,
        relative: str,
        track_ids: TrackIds,
        record: LiveRecord | None,
        counters: CameraCounters,
    ) -> None:
        folder = camera.outputs.record
        assert folder is not None
        self.folder = folder
        self.camera = camera
        self.settings = settings
        self.shape = shape
        self.upright = upright
        self.rotation = rotation
        self.relative = relative
        self.track_ids = track_ids
        self.record = record
        self.counters = counters
        self.length = camera.outputs.segment_seconds
        self._numbers = 0
        self._current: Segment | None = None  # the encoder thread's
        self._finisher: Worker[Segment] = Worker(self._finish, depth=4, name="gamyeon-live-segments")
        self._names: set[str] = set()

    # -- the session's thread -------------------------------------------------------------

    def start(self, pts: int, after_gap: float | None = None) -> Segment:
        """A new segment whose first frame is at session ``pts``."""
        started = datetime.now(UTC)
        self._numbers += 1
        video = self._name(started)
        options = self.settings.options
        finals = [video, video.with_name(video.name + ".regions.jsonl")]
        finals += [export_path(video, fmt) for fmt in options.exports]
        if options.seal_key is not None:
            finals.append(video.with_name(video.name + ".vault"))
        stack = contextlib.ExitStack()
        temps = stack.enter_context(atomic_outputs(*finals))
        try:
            notes = JsonlWriter(temps[1], self.track_ids, *self.upright)
            vault = None
            if options.seal_key is not None:
                vault = VaultWriter(
                    temps[-1],
                    self.settings.key,
                    dataset_id=self.settings.dataset_id,
                    source=self.relative,
                    track_ids=self.track_ids,
                )
        except BaseException as err:
            stack.__exit__(type(err), err, err.__traceback__)
            raise
        return Segment(
            self._numbers,
            pts,
            started,
            video,
            finals,
            temps,
            stack,
            notes,
            vault,
            after_gap,
        )

    def _name(self, started: datetime) -> Path:
        """``<camera>-<UTC start>.mp4`` in the camera's record folder (a suffix when two start in
        one second)."""
        stem = f"{self.camera.name}-{started:%Y%m%dT%H%M%SZ}"
        folder = self.folder
        name, n = f"{stem}.mp4", 1
        while name in self._names or (folder / name).exists():
            n += 1
            name = f"{stem}-{n}.mp4"
        self._names.add(name)
        return folder / name

    # -- the encoder's thread -------------------------------------------------------------

    def begin(self, segment: Segment) -> None:
        """The segment's first packet is next: close the one before and open this one's video."""
        self._hand_off()
        self._current = segment
        try:
            segment.muxer = Muxer(
                str(segment.temps[0]), "mp4", self.shape, offset=segment.start_pts, rotation=self.rotation
            )
        except (av.error.FFmpegError, OSError, ValueError) as err:
            segment.failed = f"cannot create the segment's video: {err}"

    def write(self, packet: av.Packet[Any]) -> None:
        segment = self._current
        if segment is None or segment.muxer is None or segment.failed is not None:
            return
        try:
            segment.muxer.write(packet)
        except (av.error.FFmpegError, OSError, ValueError) as err:
            segment.failed = f"writing the segment's video failed: {err}"
            log.error("%s: %s; the segment will be discarded", self.camera.name, segment.failed)

    def close(self) -> None:
        """The stream ended: finish the last segment, and wait for every segment to be finished."""
        self._hand_off()
        self._finisher.close()

    def abort(self) -> None:
        """Something failed: discard the segment being written; finish those already handed off."""
        segment, self._current = self._current, None
        if segment is not None:
            self._discard(segment, "the session failed")
        self._finisher.close()

    def _hand_off(self) -> None:
        segment, self._current = self._current, None
        if segment is None:
            return
        segment.ended = datetime.now(UTC)
        if segment.muxer is not None:
            try:
                segment.muxer.close()
            except (av.error.FFmpegError, OSError) as err:
                segment.failed = segment.failed or f"closing the segment's video failed: {err}"
        self._finisher.put(segment)

    # -- the finisher's thread ------------------------------------------------------------

    def _finish(self, segment: Segment) -> None:
        try:
            if segment.failed is not None:
                raise RuntimeError(segment.failed)
            if segment.muxer is None or segment.muxer.packets == 0:
                raise RuntimeError("no frame was recorded")
            self._complete(segment)
        except Exception as err:  # noqa: BLE001 - a segment that cannot be finished is discarded, not fatal
            self._discard(segment, str(err))
            return
        self.counters.segment_done(True)
        log.info("%s: segment %s written (%d frames)", self.camera.name, segment.video, segment.tally.frames)

    def _complete(self, segment: Segment) -> None:
        segment.notes.close()
        video_tmp = segment.temps[0]
        output = file_facts(video_tmp, segment.video)
        sealed = None
        tb = str(self.shape.time_base)
        if segment.vault is not None:
            segment.vault.finish(output_sha256=str(output["sha256"]), time_base=tb)
            sealed = (segment.temps[-1], segment.finals[-1], segment.vault.facts())
        options = self.settings.options
        exports = []
        for i, fmt in enumerate(options.exports):
            tmp, final = segment.temps[2 + i], segment.finals[2 + i]
            write_export(
                fmt,
                segment.notes_tmp,
                tmp,
                file_name=segment.video.name,
                width=self.upright[0],
                height=self.upright[1],
                dataset_id=self.settings.dataset_id,
            )
            exports.append((fmt, tmp, final))
        ended = segment.ended or datetime.now(UTC)
        figures = segment.tally.figures(*self.upright, (ended - segment.started).total_seconds(), tb)
        summary = Summary.of(
            figures,
            input=self.camera.source.shown,
            output=str(segment.video),
            annotations=str(segment.finals[1]),
            dataset_id=self.settings.dataset_id,
            output_sha256=str(output["sha256"]),
        )
        if self.record is not None:
            self.record.segment(
                summary, output, (segment.notes_tmp, segment.finals[1]), exports, sealed, self._facts(segment)
            )
        segment.stack.close()  # every file to its final name

    def _facts(self, segment: Segment) -> dict[str, Any]:
        """What the segment's record says of its source: camera, URL, when, and a gap before it."""
        ended = segment.ended or datetime.now(UTC)
        return {
            "camera": self.camera.name,
            "url": self.camera.source.shown,
            "segment": segment.number,
            "from": segment.started.isoformat(timespec="milliseconds"),
            "to": ended.isoformat(timespec="milliseconds"),
            "after_gap_s": None if segment.after_gap is None else round(segment.after_gap, 3),
            "time_base": str(Fraction(self.shape.time_base)),
        }

    def _discard(self, segment: Segment, reason: str) -> None:
        """Remove a segment's temporary files; nothing appears under its final names."""
        if segment.vault is not None:
            segment.vault.abort()
        with contextlib.suppress(OSError):
            segment.notes.close()
        if segment.muxer is not None:
            segment.muxer.abort()
        error = RuntimeError(reason)
        try:
            segment.stack.__exit__(RuntimeError, error, None)
        except Exception as err:  # noqa: BLE001 - already failing; the files are removed either way
            log.debug("while discarding a segment: %s", err)
        self.counters.segment_done(False, f"segment {segment.video.name}: {reason}")
        log.error("%s: segment %s discarded: %s", self.camera.name, segment.video.name, reason)
