"""Composes the stages for one file: decode -> detect -> track -> operate -> encode.

Video frames wait in a bounded look-ahead buffer until the detections of the next
``lookahead`` frames are known (see ``track/temporal.py``); memory is bounded by that buffer, not by
the video's length. Fail closed: a frame whose decoding, detection or masking fails is written
fully filled, counted, logged and flagged in the annotations -- never with original pixels.

With ``--copy-empty auto`` (H.264 sources that can share a stream with the encoder, see
``media.encode.copy_blocker``) a GOP in which no frame has anything to mask is copied from the
source instead of re-encoded (``media.gops``). A frame vouches for its GOP only when it decoded,
every detector looked at frames on both sides of it within its period, no detection failed
within the look-ahead around it, and no track has a box on it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from gamyeon.annotations import JsonlWriter
from gamyeon.mask.silhouette import segmenter_for
from gamyeon.mask.stage import Decided, MaskingStage
from gamyeon.media.decode import AudioPacket, DecodedFrame, VideoReader, to_rgb
from gamyeon.media.encode import ThreadedWriter, VideoWriter, copy_blocker
from gamyeon.media.geometry import rotate_view, upright_size
from gamyeon.media.gops import GopSink, hold_frames
from gamyeon.pipeline.cuts import CutWatch
from gamyeon.pipeline.frame import FrameWork
from gamyeon.pipeline.gate import ChangeGate, thumb_size
from gamyeon.pipeline.given import GivenRegions
from gamyeon.pipeline.inputs import FilePass
from gamyeon.pipeline.models import load_others
from gamyeon.track.schedule import FramePasses, Plan
from gamyeon.track.temporal import TemporalConfig
from gamyeon.types import Array, FileFigures

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class FrameRange:
    """One chunk of a video, for parallel runs (``gamyeon batch`` splits long files at keyframes).

    Decoding starts at the keyframe ``warm_pts`` (frame ``warm_index``), seconds before
    ``start_pts``, so that tracks and the look-ahead are warm when the chunk's own frames begin.
    Only frames with ``start_pts <= pts < end_pts`` are encoded (with their original pts); the
    others are analysed and annotated, which is how chunks link their tracks. Decoding stops once
    the look-ahead past the last own frame (``end_index - 1``) is known, so every own frame is
    decided with the same look-ahead as in a single run.
    """

    warm_pts: int
    warm_index: int
    start_pts: int
    end_pts: int | None = None  # None: to the end of the file
    end_index: int | None = None

    def owns(self, pts: int) -> bool:
        return self.start_pts <= pts and (self.end_pts is None or pts < self.end_pts)

    def complete(self, index: int, lookahead: int) -> bool:
        """Whether every own frame is decided once frame ``index`` has been read."""
        return self.end_index is not None and index >= self.end_index - 1 + lookahead


def anonymize_video(
    task: FilePass, *, frames: FrameRange | None = None, on_info: Callable[[int | None], None] | None = None
) -> FileFigures:
    """Anonymize ``task.source`` (or the chunk ``frames`` of it) into ``task.output_tmp`` and its
    regions into ``task.annotations_tmp``; returns what was counted. ``on_info`` hears the frame
    count (None when the container does not say) once the file is open."""
    source, options = task.source, task.options
    started = time.perf_counter()
    seek = None if frames is None or frames.warm_index == 0 else frames.warm_pts
    start_index = 0 if frames is None else frames.warm_index
    # chunks are joined later and re-rendered regions were not detected here: both always encode
    may_copy = options.copy_empty == "auto" and frames is None and task.regions is None
    with VideoReader(
        source,
        fps=options.fps,
        keep_audio=options.keep_audio,
        start_pts=seek,
        start_index=start_index,
        keep_packets=may_copy,
    ) as reader:
        info = reader.info
        template = None
        if reader.keep_packets:
            blocker = copy_blocker(reader.stream, info, options.encode, task.suffix)
            if blocker is None:
                template = reader.stream
            else:
                log.info("%s: every frame is encoded (%s)", source, blocker)
        if on_info is not None:
            on_info(info.frames)
        width, height = upright_size(info.width, info.height, info.rotation)
        plan = Plan.for_video(width, height, float(info.rate), options.detect_every, options.small_faces)
        temporal = dataclasses.replace(
            TemporalConfig.for_rate(float(info.rate), plan.detect_every), reach_back=plan.discovery_every
        )
        segmenter = segmenter_for(options.policy, options.kinds, options.silhouette_model)
        if task.regions is not None:
            work: FrameWork | GivenRegions = task.regions
        else:
            others = load_others(options, video=True)
            work = FrameWork(task.faces, options.policy, options.kinds, plan, temporal, width, height, others)
        log.debug("plan %s, temporal %s", plan, temporal)
        encoder = ThreadedWriter(
            VideoWriter(
                task.output_tmp,
                info,
                options.encode,
                suffix=task.suffix,
                matrix=reader.matrix,
                audio=reader.audio,
                metadata=reader.metadata if options.keep_metadata else None,
                stream_metadata=reader.stream_metadata if options.keep_metadata else None,
                positional_shift=reader.positional_shift,
                template=template,
                reorder_delay=reader.reorder_delay,
            ),
            keep=None if frames is None else frames.owns,
        )
        copier = (
            None
            if template is None
            else GopSink(
                encoder, reader.packets, hold=hold_frames(info.width, info.height), reorder_delay=reader.reorder_delay
            )
        )
        writer: ThreadedWriter | GopSink = encoder if copier is None else copier
        notes = JsonlWriter(task.annotations_tmp, task.track_ids, width, height)
        failed: dict[int, str] = {}
        failures: deque[int] = deque()  # frames whose detection failed, for the copy decision
        buffer: deque[DecodedFrame] = deque()
        lookahead = work.lookahead  # the longest of any kind (persons, plates: sparser detection)
        tb = info.time_base

        # swscale set-ups kept across frames (detection's own; the masking stage has its own)
        scaler, converter, thumbnailer = VideoReformatter(), VideoReformatter(), VideoReformatter()
        gate: ChangeGate | None = None
        if options.change_gate == "auto" and isinstance(work, FrameWork) and temporal.reach_back > 0:
            # the detection after skipped ones must lie within the reach-back of the tracks it starts
            gate = ChangeGate(temporal.reach_back - min(work.periods.values(), default=1))
        tw, th = thumb_size(info.width, info.height)

        def thumbnail(frame: av.VideoFrame) -> Array:
            return thumbnailer.reformat(frame, width=tw, height=th, format="gray", interpolation="AREA").to_ndarray()

        cuts = CutWatch() if isinstance(work, FrameWork) else None  # given regions detect nothing

        def scheduled(item: DecodedFrame, passes: FramePasses, thumb: Array | None) -> bool:
            """Run the detection due on ``item`` (``thumb``: its thumbnail, when made), or skip it
            unchanged (``gate``); whether a whole detection ran. A follow-up look around changed
            tracks (tracks are alive) is never gated."""
            if gate is None or not passes.detectors:
                detect(item, passes)
                return bool(passes.detectors)
            assert item.frame is not None and isinstance(work, FrameWork)
            thumb = thumb if thumb is not None else thumbnail(item.frame)
            if gate.skips(item.index, thumb, bool(work.store.live(item.index))):
                work.checked(item.index, passes.detectors)
                return False
            detect(item, work.scheduler.full() if gate.pending else passes)
            if item.index in failed:
                gate.reset()
            else:
                gate.ran(item.index, thumb)
            return True

        def detect(item: DecodedFrame, passes: FramePasses) -> None:
            frame = item.frame
            assert frame is not None
            bw = max(1, round(info.width * plan.base_factor))
            bh = max(1, round(info.height * plan.base_factor))
            try:
                work.detect(
                    item.index,
                    passes,
                    lambda: np.ascontiguousarray(rotate_view(to_rgb(frame, bw, bh, scaler), info.rotation)),
                    lambda: rotate_view(to_rgb(frame, reformatter=converter), info.rotation),
                )
            except Exception as err:  # noqa: BLE001 - fail closed on any detector/tracker failure
                log.warning("detection failed on frame %d (%s); the frame will be fully masked", item.index, err)
                failed[item.index] = f"detection failed: {err}"
                failures.append(item.index)

        stage = MaskingStage(
            info, options.policy, writer, notes, work.account, task.progress, sealer=task.sealer, segmenter=segmenter
        )

        def clean(item: DecodedFrame, decided: Decided) -> bool:
            """Whether ``item`` may be copied from the source if its whole GOP is (see the module)."""
            assert isinstance(work, FrameWork)
            while failures and failures[0] < item.index - lookahead:
                failures.popleft()
            return (
                decided.regions == []
                and not failures
                and not decided.tracks
                and work.covered(item.index)
                and work.quiet(item.index)
            )

        def finish(item: DecodedFrame) -> None:
            """Decide ``item``'s regions (its look-ahead is known) and mask, annotate and encode it."""
            seconds = float(item.pts * tb)
            vouched = False
            if item.frame is None or item.index in failed:
                decided = Decided(item, seconds, None, item.error or failed.get(item.index, "decode failed"))
            else:
                try:
                    decided = Decided(item, seconds, work.regions(item.index), tracks=work.tracks(item.index))
                    vouched = copier is not None and clean(item, decided)
                except Exception as err:  # noqa: BLE001 - fail closed on any estimation failure
                    log.warning("regions failed on frame %d (%s); the frame will be fully masked", item.index, err)
                    decided = Decided(item, seconds, None, f"masking failed: {err}")
                    vouched = False
            if copier is not None:
                copier.expect(item.pts, item.gop, vouched)
            stage.handle(decided)
            failed.pop(item.index, None)
            work.forget_before(item.index + 1)

        try:
            last: DecodedFrame | None = None
            detected_last = False
            for entry in reader:
                if isinstance(entry, AudioPacket):
                    writer.write_audio(entry.packet)
                    continue
                last = entry
                buffer.append(entry)
                detected_last = False
                if entry.frame is not None:
                    passes = work.scheduler.passes(entry.index)
                    thumb = None
                    if cuts is not None:
                        thumb = thumbnail(entry.frame)
                        if cuts.cut(thumb):
                            passes = work.scheduler.cut()
                    if passes.detect:
                        detected_last = scheduled(entry, passes, thumb)
                while buffer and buffer[0].index + lookahead <= entry.index:
                    finish(buffer.popleft())
                if frames is not None and frames.complete(entry.index, lookahead):
                    break  # every frame of the chunk is decided; the rest belongs to the next one
            else:
                if last is not None and last.frame is not None and not detected_last:
                    closing = work.scheduler.closing()  # close every track at the end of the file
                    if gate is not None and gate.pending and isinstance(work, FrameWork):
                        closing = work.scheduler.full()  # reaching back over the skipped frames
                    detect(last, closing)
            while buffer:
                finish(buffer.popleft())
            writer.close()
        except BaseException:
            writer.abort()
            raise
        finally:
            notes.close()
        if reader.decode_errors:
            log.warning("%s: %d frame(s) could not be decoded and were fully masked", source, reader.decode_errors)
        if reader.retimed:
            log.warning(
                "%s: %d frame(s) had non-increasing timestamps and were shifted by one tick", source, reader.retimed
            )
    if gate is not None and gate.skipped:
        log.info("%s: %d detection(s) skipped on unchanged frames", source, gate.skipped)
    return work.tally.figures(width, height, time.perf_counter() - started, str(info.time_base))
