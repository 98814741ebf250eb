"""The encoder thread of one camera connection: each masked frame is encoded once and its packet
goes to the recorded segment and to every other output; the frame's delay is measured here.

The delay is from the frame's arrival (decoded from the source) to its packet leaving the
encoder for the outputs: the look-ahead wait, detection, masking and encoding. What a viewer sees
adds the network, the server and the player's own buffer (HLS: a few segments).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import av

from gamyeon.infra.worker import Worker
from gamyeon.live.encoder import LiveEncoder
from gamyeon.live.outputs import PacketSink
from gamyeon.live.segments import Segment, SegmentRecorder
from gamyeon.live.status import CameraCounters
from gamyeon.types import Array

log = logging.getLogger(__name__)

#: masked frames that may wait for the encoder before the session waits too
ENCODER_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A masked frame on its way out: its pts in the connection, when it arrived, and the
    recorded segment it starts (it is then encoded as a keyframe)."""

    image: Array | av.VideoFrame
    pts: int
    arrived: float
    starts: Segment | None = None


class Fanout:
    """Encodes ``Outgoing`` frames on its own thread and hands the packets out."""

    def __init__(
        self,
        encoder: LiveEncoder,
        sinks: list[PacketSink],
        recorder: SegmentRecorder | None,
        counters: CameraCounters,
    ) -> None:
        self.encoder = encoder
        self.sinks = sinks
        self.recorder = recorder
        self.counters = counters
        self._worker: Worker[Outgoing] = Worker(self._handle, depth=ENCODER_DEPTH, name="gamyeon-live-encoder")

    def put(self, item: Outgoing) -> None:
        """Queue a frame (waits while the encoder is ``ENCODER_DEPTH`` frames behind); re-raises the
        encoder thread's error, if any."""
        self._worker.put(item)

    def _handle(self, item: Outgoing) -> None:
        if item.starts is not None and self.recorder is not None:
            self.recorder.begin(item.starts)
        for packet in self.encoder.encode(item.image, item.pts, keyframe=item.starts is not None):
            self._send(packet)
        self.counters.sent(time.monotonic() - item.arrived)

    def _send(self, packet: av.Packet[Any]) -> None:
        if self.recorder is not None:
            self.recorder.write(packet)
        for sink in self.sinks:
            sink.send(packet)

    def close(self) -> None:
        """Encode what is queued, flush the encoder, close every output and finish the segments."""
        try:
            self._worker.close()
            for packet in self.encoder.flush():
                self._send(packet)
        except BaseException:
            self.abort()
            raise
        for sink in self.sinks:
            sink.close()
        if self.recorder is not None:
            self.recorder.close()

    def abort(self) -> None:
        """Stop now: outputs closed, the segment being written discarded."""
        self._worker.abort()
        for sink in self.sinks:
            sink.close()
        if self.recorder is not None:
            self.recorder.abort()
