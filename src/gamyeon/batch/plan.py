"""What a batch processes, and where long videos are split.

Jobs: a folder is walked like ``gamyeon anonymize`` walks one (``infra.files.plan_jobs``: hidden files
skipped, the tree mirrored in DST); a manifest's paths are mirrored relative to the deepest folder
that holds them all.

Chunks: a video is split only at *clean* keyframes, found by demuxing its packets (no decoding):
a keyframe before which, in decode order, no later-displayed frame comes and after which no
earlier-displayed frame comes, so decoding from it yields exactly the frames from its pts on.
Frame indices come from the sorted packet timestamps. Only containers with a seek index and
timestamps on every packet qualify (MP4/MOV, Matroska/WebM); anything else (AVI, MPEG-TS, raw
streams, edit lists that discard frames, duplicate timestamps) is processed whole, which is
always correct, just not parallel within the file.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error

from gamyeon.batch.manifest import MANIFEST_SUFFIXES, read_input_manifest
from gamyeon.batch.spec import Chunk, ChunkPlan
from gamyeon.errors import UsageError
from gamyeon.infra.files import Job, is_image, output_suffix, plan_jobs

log = logging.getLogger(__name__)

#: containers whose demuxers seek by an index (frame-exact to a keyframe)
SEEKABLE_FORMATS = {"mov", "mp4", "matroska", "webm"}


def discover(source: Path, output: Path) -> list[Job]:
    """The batch's jobs: ``source`` is a folder or a CSV/JSONL manifest of input paths."""
    if source.is_dir():
        if output.resolve().is_relative_to(source.resolve()):
            # a re-run would find the outputs of the first run among its inputs
            raise UsageError(f"the output folder {output} must not be inside the input folder {source}")
        return plan_jobs([source], output)
    if source.is_file() and source.suffix.lower() in MANIFEST_SUFFIXES:
        return mirror(read_input_manifest(source), output)
    if not source.exists():
        raise UsageError(f"input not found: {source}")
    raise UsageError(f"batch input must be a folder or a .csv/.jsonl manifest of paths, got {source}")


def mirror(paths: list[Path], output: Path) -> list[Job]:
    """Jobs for explicit paths, mirrored below ``output`` relative to their deepest common folder.

    Missing files are kept: they fail on their own in the batch instead of stopping it.
    """
    if output.exists() and not output.is_dir():
        raise UsageError(f"batch output must be a folder, but {output} is a file")
    root = Path(os.path.commonpath([str(p.parent) for p in paths]))
    jobs: list[Job] = []
    seen: dict[Path, Path] = {}
    for path in paths:
        rel = path.relative_to(root)
        dest = (output / rel).with_suffix(output_suffix(path))
        if dest in seen:
            if seen[dest] == path:
                continue  # listed twice: process once
            raise UsageError(f"{seen[dest]} and {path} would write the same output {dest}")
        if dest.exists() and path.exists() and dest.resolve() == path.resolve():
            raise UsageError(f"output would overwrite the input {path}")
        seen[dest] = path
        jobs.append(Job(path, dest, rel.as_posix()))
    return jobs


@dataclass(frozen=True, slots=True)
class Timeline:
    """Presentation timestamps of every frame (sorted) and the pts of the clean keyframes."""

    pts: list[int]
    keyframes: list[int]  # sorted
    time_base: Fraction


def header_seconds(path: Path) -> float | None:
    """The video's duration as its container header states it (cheap; None when unknown)."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return container.duration / av.time_base
    except (av.error.FFmpegError, OSError, UnicodeDecodeError):
        return None  # the worker that processes the file reports what is wrong with it
    return None


def scan(path: Path) -> Timeline | None:
    """Frame timestamps and clean keyframes from the packets, or None if the file must be
    processed whole (see the module docstring for why)."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            names = set(container.format.name.split(","))
            if not names & SEEKABLE_FORMATS or not container.streams.video:
                return None
            stream = container.streams.video[0]
            if stream.time_base is None:
                return None
            pts: list[int] = []
            keys: list[bool] = []
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if packet.pts is None or packet.is_discard or packet.is_corrupt:
                    return None
                pts.append(packet.pts)
                keys.append(packet.is_keyframe)
            time_base = Fraction(stream.time_base.numerator, stream.time_base.denominator)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError):
        return None
    ordered = sorted(pts)
    if len(ordered) < 2 or any(a == b for a, b in itertools.pairwise(ordered)):
        return None
    # clean keyframe at decode position j: every earlier packet displays before it, every later after
    clean: list[int] = []
    later_min = [0] * len(pts)
    running = None
    for j in range(len(pts) - 1, -1, -1):
        later_min[j] = running if running is not None else pts[j] + 1
        running = pts[j] if running is None else min(running, pts[j])
    earlier_max: int | None = None
    for j, (p, key) in enumerate(zip(pts, keys, strict=True)):
        if key and (earlier_max is None or earlier_max < p) and later_min[j] > p:
            clean.append(p)
        earlier_max = p if earlier_max is None else max(earlier_max, p)
    return Timeline(ordered, sorted(clean), time_base)


def plan_chunks(
    timeline: Timeline, chunk_seconds: float, overlap_seconds: float, identity: dict[str, object]
) -> ChunkPlan | None:
    """Borders at clean keyframes near equal durations of about ``chunk_seconds``; None when the
    video is shorter than two chunks or has no usable keyframe. Each chunk is decoded from the
    latest clean keyframe at least ``overlap_seconds`` before its start."""
    pts, tb = timeline.pts, timeline.time_base
    first, last = pts[0], pts[-1]
    duration = float((last - first) * tb)
    if chunk_seconds <= 0 or duration < 2 * chunk_seconds:
        return None
    candidates = [k for k in timeline.keyframes if k > first]
    if not candidates:
        return None
    count = round(duration / chunk_seconds)
    borders: set[int] = set()
    for k in range(1, count):
        target = first + (last - first) * k / count
        i = bisect.bisect_left(candidates, target)
        near = [candidates[j] for j in (i - 1, i) if 0 <= j < len(candidates)]
        borders.add(min(near, key=lambda c: abs(c - target)))
    starts = [first, *sorted(borders)]
    if len(starts) < 2:
        return None
    warm_points = [first, *candidates]
    overlap_ticks = Fraction(overlap_seconds) / tb
    chunks = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else None
        w = bisect.bisect_right(warm_points, start - overlap_ticks) - 1
        warm = warm_points[max(w, 0)] if i else first
        chunks.append(
            Chunk(
                index=i,
                warm_pts=warm,
                warm_index=bisect.bisect_left(pts, warm),
                start_pts=start,
                start_index=bisect.bisect_left(pts, start),
                end_pts=end,
                end_index=None if end is None else bisect.bisect_left(pts, end),
            )
        )
    payload = json.dumps(
        {"identity": identity, "chunks": [_tuple(c) for c in chunks]},
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(payload.encode()).hexdigest()[:32]
    return ChunkPlan(tuple(chunks), len(pts), duration, digest)


def _tuple(chunk: Chunk) -> list[int | None]:
    return [
        chunk.index,
        chunk.warm_pts,
        chunk.warm_index,
        chunk.start_pts,
        chunk.start_index,
        chunk.end_pts,
        chunk.end_index,
    ]


def chunk_plan(
    path: Path, chunk_seconds: float, overlap_seconds: float, identity: dict[str, object]
) -> ChunkPlan | None:
    """The chunk plan of ``path``, or None to process it whole (image, short, or not splittable)."""
    if chunk_seconds <= 0 or is_image(path):
        return None
    seconds = header_seconds(path)
    if seconds is not None and seconds < 2 * chunk_seconds:
        return None
    timeline = scan(path)
    if timeline is None:
        log.debug("%s: not split (container or timestamps do not allow an exact split)", path)
        return None
    return plan_chunks(timeline, chunk_seconds, overlap_seconds, identity)
