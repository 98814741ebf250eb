"""Counting one file's run: the pipeline tallies each frame as it is decided, then hands back the
figures as one frozen value (``types.FileFigures``) instead of filling a summary someone else owns.

The tally is the only mutable part and lives inside one run (``pipeline.frame.FrameWork``); what leaves
the pipeline is frozen, so a summary, a ledger record and a batch status row all read the same
numbers.
"""

from __future__ import annotations

from gamyeon.types import FileFigures, FrameResult, Source


class Tally:
    """The running counts of one file (frames, regions by kind and source, distinct tracks)."""

    def __init__(self) -> None:
        self.frames = 0
        self.fail_closed_frames = 0
        self.detection_frames = 0
        self.detected = 0
        self.interpolated = 0
        self.extended = 0
        self.regions: dict[str, int] = {}
        self.tracks: dict[str, int] = {}
        self._tracks_seen: dict[str, set[int]] = {}

    def detection(self) -> None:
        """A frame on which detectors ran."""
        self.detection_frames += 1

    def frame(self, result: FrameResult) -> None:
        """A frame as written (masked, or fail closed)."""
        self.frames += 1
        if result.fail_closed:
            self.fail_closed_frames += 1
        for r in result.regions:
            self.regions[r.kind] = self.regions.get(r.kind, 0) + 1
            if r.source is Source.DETECTED:
                self.detected += 1
            elif r.source is Source.INTERPOLATED:
                self.interpolated += 1
            elif r.source is Source.EXTENDED:
                self.extended += 1
            seen = self._tracks_seen.setdefault(r.kind, set())
            if r.track is not None and r.track not in seen:
                seen.add(r.track)
                self.tracks[r.kind] = self.tracks.get(r.kind, 0) + 1

    def figures(self, width: int, height: int, seconds: float, time_base: str | None) -> FileFigures:
        """The counts so far, frozen, with the file's geometry and the run's duration."""
        return FileFigures(
            width=width,
            height=height,
            frames=self.frames,
            regions=dict(self.regions),
            tracks=dict(self.tracks),
            detected=self.detected,
            interpolated=self.interpolated,
            extended=self.extended,
            fail_closed_frames=self.fail_closed_frames,
            detection_frames=self.detection_frames,
            seconds=seconds,
            time_base=time_base,
        )
