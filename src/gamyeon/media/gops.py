"""Copy the source's packets of GOPs in which nothing is masked, instead of re-encoding them.

Static CCTV mostly shows nobody: most of its frames leave the masking stage untouched, and
re-encoding them costs more than everything else the run does on them. ``GopSink`` sits between
the masking stage and the encoder thread and holds the untouched frames of the current GOP
(keyframe to keyframe); when the GOP ends it either copies the GOP's packets from the source
(``VideoWriter.copy``) or, if anything disqualifies it, encodes the held frames as usual.

Fail closed: a GOP is copied only when every one of its frames was vouched for by the pipeline
(``expect`` with ``clean``: decoded, its detection passes ran around it without an error, no
region and no track on it), every frame reached the sink untouched (a decoded frame, not a
masked or blacked-out picture), the frames held fit the memory budget, and the GOP's packets are
exactly those frames (same number, same timestamps) with increasing decode times after the last
packet already in the output. Any doubt and the GOP is encoded, masked, as without copying.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

import av

from gamyeon.media.encode import ThreadedWriter
from gamyeon.types import Array

log = logging.getLogger(__name__)

#: memory for the decoded frames of one GOP held until it is known to be copyable
HOLD_BYTES = 256 * 1024 * 1024


def hold_frames(width: int, height: int, budget: int = HOLD_BYTES) -> int:
    """How many decoded 4:2:0 frames of this size fit ``budget`` (a longer GOP is encoded)."""
    return max(1, budget // max(1, width * height * 3 // 2))


class GopSink:
    """A frame sink (``mask.stage.FrameSink``) that copies the source's clean GOPs and encodes the rest."""

    def __init__(
        self,
        writer: ThreadedWriter,
        packets: Callable[[int], list[av.Packet[Any]] | None],
        *,
        hold: int,
        reorder_delay: int = 0,
    ) -> None:
        """``packets``: the source's packets of a GOP (``VideoReader.packets``); ``hold``: most
        frames of one GOP held in memory; ``reorder_delay``: how far the writer puts an encoded
        frame's decode time before its presentation time (``VideoWriter``)."""
        self.writer = writer
        self._packets = packets
        self._hold = hold
        self._delay = reorder_delay
        self._expected: dict[int, tuple[int | None, bool]] = {}
        self._last: tuple[int, int | None] | None = None  # (pts, GOP) of the frame written last
        self._gop: int | None = None
        self._copyable = False
        self._held: list[tuple[av.VideoFrame, int]] = []
        #: decode time of the last video packet in the output (source time base), None: none yet
        self._last_dts: int | None = None
        self.copied_gops = 0
        self.copied_frames = 0

    def expect(self, pts: int, gop: int | None, clean: bool) -> None:
        """Announce the next frame: its GOP and whether it may be copied if it arrives untouched."""
        self._expected[pts] = (gop, clean)

    def wants(self, pts: int) -> bool:
        return self.writer.wants(pts)

    def write(self, image: Array | av.VideoFrame, pts: int) -> None:
        if pts in self._expected:
            gop, clean = self._expected.pop(pts)
        elif self._last is not None and self._last[0] == pts:
            gop, clean = self._last[1], False  # the same frame again: the stage failed it closed
            if self._held and self._held[-1][1] == pts:
                self._held.pop()
        else:
            gop, clean = None, False
        self._last = (pts, gop)
        if gop is None or gop != self._gop:
            self._end_gop()
            self._gop = gop
            self._copyable = gop is not None
        if self._copyable and clean and isinstance(image, av.VideoFrame) and len(self._held) < self._hold:
            self._held.append((image, pts))
            return
        if self._copyable:
            self._copyable = False
            self._release()
        self._encode(image, pts)

    def _encode(self, image: Array | av.VideoFrame, pts: int) -> None:
        self.writer.write(image, pts)
        self._last_dts = pts - self._delay  # encoded stretches have no B-frames (``VideoWriter``)

    def _release(self) -> None:
        """Encode the held frames (the GOP turned out not copyable)."""
        held, self._held = self._held, []
        for frame, pts in held:
            self._encode(frame, pts)

    def _end_gop(self) -> None:
        packets = self._packets(self._gop) if self._gop is not None else None
        if self._held and self._copyable and packets is not None and self._matches(packets):
            self.writer.copy(packets)
            self._last_dts = packets[-1].dts
            self.copied_gops += 1
            self.copied_frames += len(packets)
            self._held = []
        else:
            self._release()
        self._copyable = False

    def _matches(self, packets: list[av.Packet[Any]]) -> bool:
        """Whether ``packets`` are exactly the held frames and can follow the output's last packet."""
        if len(packets) != len(self._held) or not packets[0].is_keyframe:
            return False
        if sorted(p.pts for p in packets if p.pts is not None) != [pts for _, pts in self._held]:
            return False
        dts = [p.dts for p in packets]
        if any(d is None for d in dts):
            return False
        times = [d for d in dts if d is not None]
        if any(b <= a for a, b in itertools.pairwise(times)):
            return False
        return self._last_dts is None or times[0] > self._last_dts

    def write_audio(self, packet: av.Packet[Any]) -> None:
        self.writer.write_audio(packet)

    @property
    def frames(self) -> int:
        return self.writer.frames

    def close(self) -> None:
        self._end_gop()
        self.writer.close()
        if self.copied_gops:
            log.info(
                "copied %d GOP(s), %d frame(s), from the source without re-encoding",
                self.copied_gops,
                self.copied_frames,
            )

    def abort(self) -> None:
        self._held = []
        self.writer.abort()
