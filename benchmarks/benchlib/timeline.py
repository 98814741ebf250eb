"""Frame timelines: every decoded frame's presentation time as an exact ``Fraction`` of seconds.

Timing fidelity is judged on what a reader sees after decoding (PyAV, frames in the order the
decoder emits them, i.e. presentation order), not on container headers: that is what a training
pipeline downstream will get. Raw elementary streams (.h264/.h265) carry no timestamps; for those the
reference timeline is frame index / nominal rate (gamyeon's documented rule, 25 fps unless told).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

RAW_FORMATS = {"h264", "hevc", "m4v", "mpegvideo"}
DEFAULT_RAW_RATE = Fraction(25)


@dataclass(slots=True)
class Timeline:
    """What a video decodes to: size, nominal rate and one time per frame (None: frame had no pts)."""

    path: str
    width: int
    height: int
    rate: Fraction
    times: list[Fraction | None]
    note: str = ""

    @property
    def frames(self) -> int:
        return len(self.times)

    def monotonic(self) -> bool:
        known = [t for t in self.times if t is not None]
        return all(b > a for a, b in itertools.pairwise(known))


def read_timeline(path: Path) -> Timeline:
    """Decode every frame of ``path`` and collect its time; raw streams get index / nominal rate."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        raw = container.format.name.split(",")[0] in RAW_FORMATS
        avg = stream.average_rate or stream.guessed_rate
        rate = Fraction(avg.numerator, avg.denominator) if avg else DEFAULT_RAW_RATE
        tb = stream.time_base
        times: list[Fraction | None] = []
        width = height = 0
        for index, frame in enumerate(container.decode(stream)):
            width, height = frame.width, frame.height
            if raw:
                times.append(index / DEFAULT_RAW_RATE)
            elif frame.pts is None or tb is None:
                times.append(None)
            else:
                times.append(frame.pts * Fraction(tb.numerator, tb.denominator))
    note = f"raw stream without timestamps: reference is index/{DEFAULT_RAW_RATE} fps" if raw else ""
    return Timeline(str(path), width, height, DEFAULT_RAW_RATE if raw else rate, times, note)


@dataclass(slots=True)
class Comparison:
    """How an output's timeline relates to its input's."""

    frames_in: int
    frames_out: int
    size_in: str
    size_out: str
    identical: bool  # same count and every time exactly equal
    within_half_frame: bool  # same count and every |difference| <= half a nominal frame
    mismatched: int  # frames (of the common prefix) whose times differ at all
    beyond_half_frame: int  # ... by more than half a frame
    max_abs_diff_ms: float | None
    input_monotonic: bool
    output_monotonic: bool
    # Only for inputs whose decoded times are out of order (e.g. an AVI storing decode-order stamps):
    # the same comparison against the input's times sorted, the natural "fixed" timeline.
    identical_to_sorted: bool | None = None
    max_abs_diff_sorted_ms: float | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _diffs(
    ref: Sequence[Fraction | None], got: Sequence[Fraction | None], half: Fraction
) -> tuple[int, int, int, Fraction | None]:
    """(frames differing, frames differing by more than ``half``, frames without a time, max |diff|)
    over the common prefix."""
    mismatched = beyond = missing = 0
    max_diff: Fraction | None = None
    for a, b in zip(ref, got, strict=False):
        if a is None or b is None:
            missing += 1
            mismatched += a != b
            continue
        d = abs(a - b)
        if d:
            mismatched += 1
            beyond += d > half
        max_diff = d if max_diff is None or d > max_diff else max_diff
    return mismatched, beyond, missing, max_diff


def _ms(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value) * 1000, 3)


def compare(inp: Timeline, out: Timeline) -> Comparison:
    """Compare frame by frame over the common prefix; a count change is reported, not realigned."""
    half = 1 / (2 * inp.rate) if inp.rate else Fraction(0)
    notes: list[str] = []
    mismatched, beyond, missing, max_diff = _diffs(inp.times, out.times, half)
    if missing:
        notes.append(f"{missing} frame(s) without a timestamp")
    same_count = inp.frames == out.frames
    if not same_count:
        notes.append(f"frame count {inp.frames} -> {out.frames}")
    if (inp.width, inp.height) != (out.width, out.height):
        notes.append(f"size {inp.width}x{inp.height} -> {out.width}x{out.height}")
    in_mono, out_mono = inp.monotonic(), out.monotonic()
    identical_sorted: bool | None = None
    max_sorted: Fraction | None = None
    if not in_mono and None not in inp.times:
        ordered = sorted(t for t in inp.times if t is not None)
        n_sorted, _, _, max_sorted = _diffs(ordered, out.times, half)
        identical_sorted = same_count and n_sorted == 0
        notes.append(
            "input frame times are not increasing in decode output order; against them sorted: "
            + ("identical" if identical_sorted else f"{n_sorted} differ, max Δ {_ms(max_sorted)} ms")
        )
    elif not in_mono:
        notes.append("input frame times are not increasing in decode output order")
    if inp.note:
        notes.append(inp.note)
    return Comparison(
        frames_in=inp.frames,
        frames_out=out.frames,
        size_in=f"{inp.width}x{inp.height}",
        size_out=f"{out.width}x{out.height}",
        identical=same_count and mismatched == 0,
        within_half_frame=same_count and beyond == 0 and missing == 0,
        mismatched=mismatched,
        beyond_half_frame=beyond,
        max_abs_diff_ms=_ms(max_diff),
        input_monotonic=in_mono,
        output_monotonic=out_mono,
        identical_to_sorted=identical_sorted,
        max_abs_diff_sorted_ms=_ms(max_sorted),
        notes=notes,
    )
