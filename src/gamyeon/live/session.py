"""One connection of one camera: frames in, pseudonymized frames out, in real time.

The stages are the file pipeline's: ``pipeline.frame.FrameWork`` detects, tracks and estimates,
``mask.stage.MaskingStage`` seals, masks and annotates, with the same keyed masks and pseudonyms
as a file. What differs is time (``live.clock``):

* a frame is decided once the detections of the next ``Budget.lookahead`` frames are known --
  the file run's look-ahead, cut to what fits in the delay budget;
* a frame taken up too late to be detected and still leave in time (the session fell behind) is
  not detected; it leaves fully masked, or is dropped with ``--late drop``; so do the frames
  waiting for it as part of their look-ahead, which would otherwise be decided without the
  detections a file run would have had;
* a frame whose look-ahead is not complete shortly before its deadline (the source stalled)
  leaves fully masked;
* a frame that cannot be decoded, or on which detection, estimation or masking fails, leaves
  fully masked (the file pipeline's rule);
* when the source ends, is lost or the run stops, the frames still waiting are decided with the
  look-ahead seen so far, as at the end of a file, unless their deadline has passed.

Only masked frames reach the encoder; the source's packets are never passed on.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from gamyeon.detect.faces import FaceDetector
from gamyeon.errors import GamyeonError
from gamyeon.live.clock import Backoff, Budget
from gamyeon.live.config import Camera, LiveSettings
from gamyeon.live.encoder import LiveEncoder
from gamyeon.live.fanout import Fanout, Outgoing
from gamyeon.live.outputs import Detached, HlsWriter, PacketSink, RtspPublisher, StreamShape
from gamyeon.live.records import LiveRecord
from gamyeon.live.segments import Segment, SegmentRecorder
from gamyeon.live.source import Arrival, Ended, Feed, Opened
from gamyeon.live.status import FAILED, LATE, LOOKAHEAD, UNDECODABLE, CameraCounters
from gamyeon.mask.silhouette import segmenter_for
from gamyeon.mask.stage import Decided, MaskingStage
from gamyeon.media.decode import DecodedFrame, colour_of, to_rgb
from gamyeon.media.geometry import rotate_view, upright_size
from gamyeon.pipeline.frame import FrameWork
from gamyeon.pipeline.job import keyed_options
from gamyeon.pipeline.models import load_others
from gamyeon.pseudonym import Pseudonymizer
from gamyeon.track.schedule import FramePasses, Plan
from gamyeon.track.temporal import TemporalConfig
from gamyeon.types import Array, FrameResult, Region, TrackBox, VideoInfo

log = logging.getLogger(__name__)

#: a frame still waiting for its look-ahead this long before its deadline leaves (fully masked),
#: and a frame decided later than this before its deadline counts as late: masking and encoding
#: take a few milliseconds more
OUT_MARGIN = 0.05
#: longest wait for the queue, so a stop is seen promptly
POLL = 0.2
#: longest wait for a connection's first picture (its first keyframe)
FIRST_PICTURE = 30.0


@dataclass(slots=True)
class _Pending:
    """A frame waiting in the look-ahead buffer."""

    item: DecodedFrame
    arrived: float
    #: taken up too late to be detected in time: it will leave fully masked
    stale: bool
    #: detectors ran on it
    detected: bool = False
    #: why detection failed on it
    failed: str | None = None
    #: a frame of its look-ahead came too late to be detected: it cannot be decided as a file's
    tainted: bool = False


class _NoNotes:
    """Where the regions go when nothing is recorded."""

    def write(self, result: FrameResult) -> None:
        return None


class _StretchSink:
    """The masking stage's output for one stretch: frames to the encoder with their arrival, the
    stretch's first frame starting its recorded segment."""

    def __init__(self, fanout: Fanout, start_pts: int, segment: Segment | None) -> None:
        self.fanout = fanout
        self.start_pts = start_pts
        self.segment = segment
        #: when the frame being masked arrived (set before the stage handles it)
        self.arrived = 0.0
        self._first = True

    def wants(self, pts: int) -> bool:
        return True

    def write(self, image: Array | av.VideoFrame, pts: int) -> None:
        starts = self.segment if self._first else None
        self._first = False
        self.fanout.put(Outgoing(image, self.start_pts + pts, self.arrived, starts))


@dataclass(slots=True)
class _Stretch:
    """The frames between two segment starts (the whole connection when nothing is recorded),
    numbered and timed from 0 as in a file of their own."""

    start_pts: int
    stage: MaskingStage
    sink: _StretchSink
    segment: Segment | None
    frames: int = 0


class Session:
    """Runs one connection until the source ends or is lost, or ``stop`` is set."""

    def __init__(
        self,
        camera: Camera,
        settings: LiveSettings,
        faces: FaceDetector,
        counters: CameraCounters,
        stop: threading.Event,
        *,
        record: LiveRecord | None = None,
        lost_at: datetime | None = None,
        on_connected: Callable[[datetime], None] | None = None,
    ) -> None:
        """``lost_at``: when the source was lost before this connection (the first segment says
        how long the gap was); ``on_connected`` hears when the first picture arrived."""
        self.camera = camera
        self.settings = settings
        self.faces = faces
        self.counters = counters
        self.stop = stop
        self.record = record
        self.lost_at = lost_at
        self.on_connected = on_connected
        self.connected = datetime.now(UTC)
        #: when the last frame arrived (None: none yet on this connection)
        self.last_seen: datetime | None = None
        #: the pseudonym domain and mask key of this connection: track numbers restart with it
        self.relative = f"{camera.name}/{self.connected:%Y%m%dT%H%M%S.%fZ}"
        self.options = keyed_options(settings.options, settings.key, settings.dataset_id, self.relative)
        self._pseudonyms = Pseudonymizer(settings.key, settings.dataset_id)
        self._pending: collections.deque[_Pending] = collections.deque()
        self._latest = -1
        self._first_pts: int | None = None
        self._stretch: _Stretch | None = None
        self._closing: str | None = None  # the fail-closed reason of the frame being handled
        self._overflow_seen = 0

    def track_id(self, kind: str, track: int) -> str:
        return self._pseudonyms.track_id(self.relative, kind, track)

    # -- connection -----------------------------------------------------------------------

    def run(self) -> Ended:
        """Connect, then process frames until the end; returns how it ended."""
        spec = self.camera.source
        feed = Feed(spec, overflow=max(16, round(4 * self.settings.timing.max_delay * float(spec.fps or 30))))
        try:
            opened = self._wait_opened(feed)
            if isinstance(opened, Ended):
                return opened
            first = self._wait_first(feed)
            if isinstance(first, Ended):
                return first
            self._setup(opened, first, feed)
            return self._loop(feed, first)
        finally:
            feed.stop(wait=1.0)

    def _wait_opened(self, feed: Feed) -> Opened | Ended:
        end = time.monotonic() + self.camera.source.timeout + 1.0
        while time.monotonic() < end:
            if self.stop.is_set():
                return Ended("stopped", lost=False)
            got = feed.get(POLL)
            if isinstance(got, Opened | Ended):
                return got
        return Ended(f"no answer within {self.camera.source.timeout:g} s", lost=True)

    def _wait_first(self, feed: Feed) -> Arrival | Ended:
        """The first picture: a stream joined between keyframes decodes from its next keyframe,
        which a camera may send only every few seconds (a stall is the reader's timeout)."""
        end = time.monotonic() + max(FIRST_PICTURE, self.camera.source.timeout + 1.0)
        while time.monotonic() < end:
            if self.stop.is_set():
                return Ended("stopped", lost=False)
            got = feed.get(POLL)
            if isinstance(got, Ended):
                return got
            if isinstance(got, Arrival) and got.item.frame is not None:
                return got
        return Ended(
            f"no decodable picture within {max(FIRST_PICTURE, self.camera.source.timeout + 1.0):g} s", lost=True
        )

    def _setup(self, opened: Opened, first: Arrival, feed: Feed) -> None:
        """The connection's stages, sized from its first picture, and its outputs."""
        frame = first.item.frame
        assert frame is not None
        self.time_base, self.rate = opened.time_base, opened.rate
        self.info = VideoInfo(
            width=frame.width,
            height=frame.height,
            time_base=opened.time_base,
            rate=opened.rate,
            frames=None,
            rotation=round(frame.rotation or 0) % 360,
            codec=opened.codec,
            pix_fmt=frame.format.name,
            has_audio=False,
            colour=colour_of(frame),
        )
        self._stages()
        feed.overflow = max(16, round(4 * self.budget.max_delay * self.budget.fps))
        self.fanout = self._outputs()
        self.counters.set_state("live")
        self.connected = datetime.now(UTC)
        if self.on_connected is not None:
            self.on_connected(self.connected)

    def _stages(self) -> None:
        """Detection, tracking and estimation as a file run sets them up, and the delay budget."""
        options, info = self.options, self.info
        width, height = upright_size(info.width, info.height, info.rotation)
        fps = float(info.rate)
        self.plan = Plan.for_video(width, height, fps, options.detect_every, options.small_faces)
        temporal = dataclasses.replace(
            TemporalConfig.for_rate(fps, self.plan.detect_every), reach_back=self.plan.discovery_every
        )
        others = load_others(options, video=True)
        self.segmenter = segmenter_for(options.policy, options.kinds, options.silhouette_model)
        self.work = FrameWork(self.faces, options.policy, options.kinds, self.plan, temporal, width, height, others)
        self.budget = budget = Budget.of(self.settings.timing, fps, self.work.lookahead)
        self._scaler, self._converter = VideoReformatter(), VideoReformatter()
        name = self.camera.name
        log.info(
            "%s: %dx%d at %.3g fps from %s; %s", name, width, height, fps, self.camera.source.shown, budget.describe()
        )
        cuts = self._cuts()
        if cuts:
            log.info("%s: the delay budget shortens, in frames: %s", name, "; ".join(cuts))
        self.counters.set_stream(
            width=width,
            height=height,
            fps=round(fps, 3),
            lookahead_frames=budget.lookahead,
            lookahead_s=round(budget.lookahead / fps, 3),
            wanted_lookahead_frames=budget.wanted,
            max_delay_s=budget.max_delay,
            reserve_s=round(budget.reserve, 3),
            shortened=cuts,
            connected=self.connected.isoformat(timespec="seconds"),
        )

    def _cuts(self) -> list[str]:
        """What of the file run's temporal protection the look-ahead cuts, per tracked kind: gap
        bridging (``max_gap``), padding before a track (``pad_before``) and, for a detector with a
        discovery pass, the reach-back of the tracks it finds -- each limited to the look-ahead."""
        cuts = []
        registry, limit = self.work.registry, self.budget.lookahead
        for kind in self.work.tracked:
            cfg = self.work.store.config_for(kind)
            reach = cfg.reach_back if registry.detector(registry.kind(kind).detector).discovery_period(self.plan) else 0
            for what, frames in (("gap bridging", cfg.max_gap), ("padding", cfg.pad_before), ("reach-back", reach)):
                if frames > limit:
                    cuts.append(f"{kind} {what} {frames} -> {limit}")
        return cuts

    def _outputs(self) -> Fanout:
        """The encoder and every output the camera asks for."""
        info, outputs = self.info, self.camera.outputs
        shape = StreamShape(info.width, info.height, info.time_base, info.rate)
        encoder = LiveEncoder(info.width, info.height, info.time_base, info.rate, info.colour, self.settings.encoding)
        timing = self.settings.timing

        def retry() -> Backoff:
            return Backoff(timing.retry_min, timing.retry_max)

        sinks: list[PacketSink] = []
        if outputs.publish is not None:
            publisher = RtspPublisher(outputs.publish, shape, self.counters, retry(), self.camera.source.timeout)
            sinks.append(Detached(publisher, self.counters))
        if outputs.hls is not None:
            sinks.append(HlsWriter(outputs.hls, shape, self.counters, retry(), outputs.hls_seconds))
        self.recorder = None
        if outputs.record is not None:
            self.recorder = SegmentRecorder(
                self.camera,
                self.settings,
                shape,
                upright=upright_size(info.width, info.height, info.rotation),
                rotation=info.rotation,
                relative=self.relative,
                track_ids=self.track_id,
                record=self.record,
                counters=self.counters,
            )
        return Fanout(encoder, sinks, self.recorder, self.counters)

    # -- the frame loop -------------------------------------------------------------------

    def _loop(self, feed: Feed, first: Arrival) -> Ended:
        end: Ended | None = None
        try:
            self._take(first)
            while end is None:
                now = time.monotonic()
                self._release(now)
                self._count_overflow(feed)
                if self.stop.is_set():
                    end = Ended("stopped", lost=False)
                    break
                wait = POLL
                if self._pending:
                    wait = min(wait, max(0.0, self._release_by(self._pending[0]) - now))
                got = feed.get(wait)
                if isinstance(got, Ended):
                    end = got
                elif isinstance(got, Arrival):
                    self._take(got)
            self._finish()
        except BaseException:
            self.fanout.abort()
            raise
        self.fanout.close()
        return end

    def _count_overflow(self, feed: Feed) -> None:
        dropped = feed.dropped
        if dropped > self._overflow_seen:
            self.counters.dropped_frame("overflow", dropped - self._overflow_seen)
            self._overflow_seen = dropped

    def _release_by(self, pending: _Pending) -> float:
        return self.budget.deadline(pending.arrived) - OUT_MARGIN

    def _take(self, arrival: Arrival) -> None:
        """A frame from the source: detect it if due and still in time, and buffer it."""
        self.counters.arrived()
        self.last_seen = datetime.now(UTC)
        item = arrival.item
        if self._first_pts is None:
            self._first_pts = item.pts
        stale = self.budget.stale(arrival.arrived, time.monotonic())
        if stale:  # the frames waiting would be decided without the detections it should give
            for waiting in self._pending:
                waiting.tainted = True
        pending = _Pending(item, arrival.arrived, stale)
        if item.frame is not None and not stale:
            passes = self.work.scheduler.passes(item.index)
            if passes.detect:
                self._detect(pending, passes)
        self._pending.append(pending)
        self._latest = item.index

    def _detect(self, pending: _Pending, passes: FramePasses) -> None:
        frame = pending.item.frame
        assert frame is not None
        info, plan = self.info, self.plan
        bw = max(1, round(info.width * plan.base_factor))
        bh = max(1, round(info.height * plan.base_factor))
        # a follow-up look around a few tracks is no detection of the frame: a last frame that
        # only had one still gets the closing detection
        pending.detected = pending.detected or bool(passes.detectors)
        started = time.monotonic()
        try:
            self.work.detect(
                pending.item.index,
                passes,
                lambda: np.ascontiguousarray(rotate_view(to_rgb(frame, bw, bh, self._scaler), info.rotation)),
                lambda: rotate_view(to_rgb(frame, reformatter=self._converter), info.rotation),
            )
        except Exception as err:  # noqa: BLE001 - fail closed on any detector/tracker failure
            log.warning(
                "%s: detection failed on frame %d (%s); it will leave fully masked",
                self.camera.name,
                pending.item.index,
                err,
            )
            pending.failed = f"detection failed: {err}"
        self.counters.detected(time.monotonic() - started)

    def _release(self, now: float) -> None:
        """Decide every buffered frame whose look-ahead is known or whose deadline is near."""
        while self._pending:
            head = self._pending[0]
            complete = head.item.index + self.budget.lookahead <= self._latest
            if not complete and now < self._release_by(head):
                return
            self._pending.popleft()
            self._decide(head, complete)

    def _finish(self) -> None:
        """The source ended, was lost or the run stops: decide what is still waiting with the
        look-ahead seen so far, the last frame detected to close its tracks (as a file's)."""
        if self._pending:
            last = self._pending[-1]
            if last.item.frame is not None and not last.detected and not last.stale:
                self._detect(last, self.work.scheduler.closing())
        while self._pending:
            self._decide(self._pending.popleft(), complete=True)

    def _decide(self, pending: _Pending, complete: bool) -> None:
        item = pending.item
        regions: list[Region] | None = None
        tracks: list[TrackBox] | None = None
        kind: str | None = None
        reason: str | None = None
        if item.frame is None:
            kind, reason = UNDECODABLE, item.error or "decode failed"
        elif pending.stale or time.monotonic() > self.budget.deadline(pending.arrived) - OUT_MARGIN:
            kind, reason = LATE, "late: its deadline passed before it could be decided"
        elif not complete:
            kind, reason = LOOKAHEAD, "late: its look-ahead was not complete by its deadline"
        elif pending.tainted:
            kind, reason = LOOKAHEAD, "late: a frame of its look-ahead came too late to be detected"
        elif pending.failed is not None:
            kind, reason = FAILED, pending.failed
        else:
            try:
                regions = self.work.regions(item.index)
                tracks = self.work.tracks(item.index)  # persons' identity tracks, for the sidecar
            except Exception as err:  # noqa: BLE001 - fail closed on any estimation failure
                log.warning(
                    "%s: regions failed on frame %d (%s); it will leave fully masked", self.camera.name, item.index, err
                )
                kind, reason, regions = FAILED, f"masking failed: {err}", None
        self.work.forget_before(item.index + 1)
        if kind in {LATE, LOOKAHEAD} and self.settings.timing.late == "drop":
            self.counters.dropped_frame("late")
            return
        self._emit(pending, regions, tracks, kind, reason)

    def _emit(
        self,
        pending: _Pending,
        regions: list[Region] | None,
        tracks: list[TrackBox] | None,
        kind: str | None,
        reason: str | None,
    ) -> None:
        item = pending.item
        assert self._first_pts is not None
        pts = item.pts - self._first_pts
        stretch = self._stretch_for(pts)
        local = DecodedFrame(stretch.frames, pts - stretch.start_pts, item.frame, item.error)
        stretch.frames += 1
        stretch.sink.arrived = pending.arrived
        if pending.detected and stretch.segment is not None:
            stretch.segment.tally.detection()
        self._closing = kind
        stretch.stage.handle(Decided(local, float(local.pts * self.time_base), regions, reason, tracks=tracks))

    def _stretch_for(self, pts: int) -> _Stretch:
        """The stretch the frame at session ``pts`` belongs to; a new one when a segment is due."""
        stretch = self._stretch
        if stretch is not None and not (self.recorder is not None and self._due(stretch.start_pts, pts)):
            return stretch
        segment = None
        if self.recorder is not None:
            try:
                gap = None
                if stretch is None and self.lost_at is not None:
                    gap = (self.connected - self.lost_at).total_seconds()
                segment = self.recorder.start(pts, gap)
            except (GamyeonError, OSError) as err:
                log.error("%s: cannot start a segment (%s); recording again at the next segment", self.camera.name, err)
                self.counters.segment_done(False, str(err))
        sink = _StretchSink(self.fanout, pts, segment)
        notes = segment.notes if segment is not None else _NoNotes()
        sealer = segment.vault if segment is not None else None

        def account(result: FrameResult) -> None:
            if segment is not None:
                segment.tally.frame(result)
            closing = self._closing if self._closing is not None else FAILED if result.fail_closed else None
            self.counters.decided(result, closing if result.fail_closed else None)

        stage = MaskingStage(
            self.info, self.options.policy, sink, notes, account, _no_progress, sealer=sealer, segmenter=self.segmenter
        )
        self._stretch = _Stretch(pts, stage, sink, segment)
        return self._stretch

    def _due(self, start_pts: int, pts: int) -> bool:
        length = self.camera.outputs.segment_seconds
        return float((pts - start_pts) * self.time_base) >= length


def _no_progress(frames: int) -> None:
    return None
