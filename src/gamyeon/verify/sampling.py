"""Which frames of a video verify examines.

Every frame is decoded (the two videos are read in lockstep), but the detectors and the identity
attack run only on sampled frames: on this 2-core machine they cost about 0.45 s per 960 x 540
frame pair with one face (MTCNN 2 x 0.08 s, HOG 2 x 0.06 s, two ResNet descriptors 2 x 0.09 s),
some 15 times what anonymizing a frame costs. The automatic choice keeps verify no slower than
the anonymize pass on a 960 x 540, 750-frame clip (at most 24 examined frames, about 11 s, plus
about 6 s to load the models and decode both videos, against about 20 s to anonymize):

- ``AUTO_EVEN`` evenly spaced frames (the first and the last included), and
- when annotations are available, up to ``AUTO_EVEN // 2`` more where leaks happen: the frame just
  before each track's first masked frame and just after its last (a face that is visible before
  the detector caught it or after it lost it), plus the middle of each run of 3 or more
  interpolated frames (the longest guesses). When there are more such frames than the budget,
  evenly spaced ones among them are taken.

- for the identity attack, which needs several frames of each person (it splits every track in
  two halves, see ``attack.py``): up to ``identity_frames`` (default ``IDENTITY_FRAMES`` = 8)
  frames spread evenly over each face or head track of the annotations, at most
  ``IDENTITY_BUDGET`` (24) in all, fewer per track when there are many; none with a single face
  track (identification needs two people at least). Without annotations the
  tracks are not known in advance and the evenly spaced frames serve (16 frames: 8 per half).

``--sample N`` takes N evenly spaced frames (plus the same share of boundary frames);
``--sample all`` (or 0) takes every frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gamyeon.annotations import read_jsonl

AUTO_EVEN = 16
MIN_GAP_RUN = 3  # interpolated runs at least this long get their middle frame sampled
IDENTITY_FRAMES = 8  # frames per face track for the identity attack
IDENTITY_BUDGET = 24  # identity frames per video in all
IDENTITY_KINDS = ("face", "head")


@dataclass(slots=True)
class TrackSpans:
    """Where tracks start and end in an annotations file, read streaming (one entry per track)."""

    first: dict[str, int] = field(default_factory=dict)
    last: dict[str, int] = field(default_factory=dict)
    gaps: list[int] = field(default_factory=list)  # middles of long interpolated runs
    lines: int = 0
    #: tracks of faces and heads: the identity attack's
    faces: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, path: Path) -> TrackSpans:
        spans = cls()
        run_start: dict[str, int] = {}
        for line in read_jsonl(path):
            index = int(line["frame"])
            spans.lines += 1
            inside: set[str] = set()
            for region in line.get("regions", []):
                track = region.get("track")
                if track is None:
                    continue
                spans.first.setdefault(track, index)
                spans.last[track] = index
                if region.get("kind", "face") in IDENTITY_KINDS:
                    spans.faces.add(track)
                if region.get("source") == "interpolated":
                    inside.add(track)
                    run_start.setdefault(track, index)
            for track in [t for t in run_start if t not in inside]:
                start = run_start.pop(track)
                if index - start >= MIN_GAP_RUN:
                    spans.gaps.append((start + index - 1) // 2)
        return spans

    def boundaries(self, total: int) -> list[int]:
        """Frames just outside each track and in its long gaps, sorted, within ``[0, total)``."""
        frames = {f - 1 for f in self.first.values()} | {f + 1 for f in self.last.values()} | set(self.gaps)
        return sorted(f for f in frames if 0 <= f < total)

    def identity(self, per_track: int, total: int) -> list[int]:
        """Up to ``per_track`` frames spread evenly over each face track (fewer per track when
        all of them would exceed ``IDENTITY_BUDGET``; with more than half the budget of tracks, the
        longest ones, two frames each), sorted, within ``[0, total)``."""
        by_length = sorted(self.faces, key=lambda t: (self.first[t] - self.last[t], t))
        tracks = by_length[: IDENTITY_BUDGET // 2]
        if len(tracks) < 2 or per_track <= 0:
            return []  # one face track: nobody to tell it from, the attack cannot measure
        each = max(2, min(per_track, IDENTITY_BUDGET // len(tracks)))
        frames: set[int] = set()
        for t in tracks:
            first, last = self.first[t], self.last[t]
            frames.update(first + i for i in evenly(each, last - first + 1))
        return sorted(f for f in frames if 0 <= f < total)


@dataclass(frozen=True, slots=True)
class SamplePlan:
    """The frames to examine (``None``: all) and why each was chosen."""

    frames: dict[int, str] | None
    description: str

    def reason(self, index: int) -> str | None:
        if self.frames is None:
            return "all"
        return self.frames.get(index)


def evenly(count: int, total: int) -> list[int]:
    """``count`` frame indices spread evenly over ``[0, total)``, first and last included."""
    if count >= total:
        return list(range(total))
    if count == 1:
        return [total // 2]
    return sorted({round(i * (total - 1) / (count - 1)) for i in range(count)})


def plan(
    total: int, sample: int | None, spans: TrackSpans | None, identity_frames: int = IDENTITY_FRAMES
) -> SamplePlan:
    """Choose the frames to examine among ``total`` (the video's frame count)."""
    if sample == 0 or total <= 0:
        return SamplePlan(None, "every frame")
    even = AUTO_EVEN if sample is None else sample
    if even >= total:
        return SamplePlan(None, f"every frame ({total} frames, sample of {even} asked)")
    chosen: dict[int, str] = {i: "even" for i in evenly(even, total)}
    how = f"{len(chosen)} evenly spaced frames of {total}"
    if spans is not None:
        budget = max(1, even // 2)
        candidates = [f for f in spans.boundaries(total) if f not in chosen]
        if len(candidates) > budget:
            candidates = [candidates[i] for i in evenly(budget, len(candidates))]
        starts = {f - 1 for f in spans.first.values()}
        for f in candidates:
            chosen[f] = "track-start" if f in starts else "gap" if f in spans.gaps else "track-end"
        how += (
            f", plus {len(candidates)} frames next to track starts/ends and in long interpolated gaps "
            f"(from the annotations; {len(spans.first)} tracks, budget {budget})"
        )
        extra = [f for f in spans.identity(identity_frames, total) if f not in chosen]
        for f in extra:
            chosen[f] = "identity"
        if extra:
            how += f", plus {len(extra)} frames spread over {len(spans.faces)} face track(s) for the identity attack"
    return SamplePlan(dict(sorted(chosen.items())), how)
