"""Joining the chunks of a long video into one output, without re-encoding.

Video: the chunk parts' packets are copied, in order, into the final container, keeping every
frame's original pts. Chunks are encoded without B-frames (``EncodeSettings.b_frames``), so each
starts with an IDR frame and decode order equals presentation order: decode timestamps rise
across every join whatever the frame timing; the join checks that they do and that all parts
share one codec configuration (extradata), and fails the file otherwise. Audio (``--keep-audio``)
is copied once from the source, interleaved by time; metadata (``--keep-metadata``, never
location) comes from the source as in a single run; the display matrix travels with the parts'
codec parameters.

Annotations: each part's regions file holds its own frames plus the overlap frames it decoded
before its start. Own frames are concatenated in frame order. Track ids are linked across a
border: on every overlap frame, the boxes of the new chunk's tracks are matched against the boxes
the previous chunk(s) wrote for the same frame (IoU >= ``LINK_IOU``); a new track that matches
one old track on at least ``LINK_FRAMES`` frames (greedy, strongest first, one to one) continues
that track's id, every other track gets a new one. Ids are then numbered in order of first
appearance and pseudonymized with the batch's key, exactly as a single run does it, so a person
keeps one pseudonymous id across chunks wherever tracking can tell.
"""

from __future__ import annotations

import heapq
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from gamyeon.annotations import read_jsonl
from gamyeon.batch.spec import Chunk
from gamyeon.errors import GamyeonError, OutputError, UsageError
from gamyeon.media.encode import CONTAINERS
from gamyeon.media.metadata import without_location
from gamyeon.types import Box

log = logging.getLogger(__name__)

LINK_IOU = 0.4
LINK_FRAMES = 3


class ChunkJoinError(GamyeonError, RuntimeError):
    """Chunk parts do not fit together (frame count, timestamps or codec configuration)."""


# ----------------------------------------------------------------------------------- video


def _time(packet: av.Packet[Any]) -> Fraction:
    assert packet.dts is not None and packet.time_base is not None
    return packet.dts * Fraction(packet.time_base.numerator, packet.time_base.denominator)


def _video_packets(parts: Sequence[Path], expected: Sequence[int], out: Any) -> Iterator[av.Packet[Any]]:
    """Every video packet of every part, in order, re-targeted at ``out``; checks the joins."""
    extradata: bytes | None = None
    last: Fraction | None = None
    for number, (part, count) in enumerate(zip(parts, expected, strict=True)):
        with av.open(str(part)) as container:
            stream = container.streams.video[0]
            data = bytes(stream.codec_context.extradata or b"")
            if extradata is None:
                extradata = data
            elif data != extradata:
                raise ChunkJoinError(f"chunk {number} was encoded with another codec configuration")
            seen = 0
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if packet.dts is None or packet.pts is None:
                    raise ChunkJoinError(f"chunk {number} has a packet without timestamps")
                now = _time(packet)
                if last is not None and now <= last:
                    raise ChunkJoinError(f"decode times do not increase at the start of chunk {number}")
                last = now
                seen += 1
                packet.stream = out
                yield packet
            if seen != count:
                raise ChunkJoinError(f"chunk {number} holds {seen} frames, expected {count}")


def _audio_packets(container: Any, streams: dict[int, Any]) -> Iterator[av.Packet[Any]]:
    if not streams:
        return
    sources = [s for s in container.streams.audio if s.index in streams]
    for packet in container.demux(*sources):
        if packet.dts is None or packet.size == 0:
            continue
        packet.stream = streams[packet.stream.index]
        yield packet


def remux(
    parts: Sequence[Path],
    frames: Sequence[int],
    output: Path,
    *,
    suffix: str,
    source: Path,
    keep_audio: bool,
    keep_metadata: bool,
) -> None:
    """Join the video parts (``frames[i]`` frames each) into ``output`` (a temporary name)."""
    fmt = CONTAINERS.get(suffix)
    if fmt is None:
        raise UsageError(f"unsupported output extension {suffix!r}")
    options = {"movflags": "use_metadata_tags"} if keep_metadata and fmt in {"mp4", "mov"} else {}
    try:
        out = av.open(str(output), mode="w", format=fmt, options=options)
    except (av.error.FFmpegError, OSError) as err:
        raise OutputError(f"cannot create output {output}: {err}") from None
    src = av.open(str(source), metadata_errors="ignore") if keep_audio or keep_metadata else None
    try:
        with av.open(str(parts[0])) as first:
            template = first.streams.video[0]
            video = out.add_stream_from_template(template)
        audio: dict[int, Any] = {}
        if src is not None:
            if keep_metadata:
                out.metadata.update(without_location(dict(src.metadata)))
                if src.streams.video:
                    video.metadata.update(without_location(dict(src.streams.video[0].metadata)))
            if keep_audio:
                for stream in src.streams.audio:
                    try:
                        audio[stream.index] = out.add_stream_from_template(stream)
                    except (av.error.FFmpegError, ValueError) as err:
                        raise UsageError(
                            f"cannot copy the {stream.codec_context.name} audio into a {suffix} file ({err}); "
                            "choose another output container (e.g. .mkv) or drop --keep-audio"
                        ) from None
        merged = heapq.merge(_video_packets(parts, frames, video), _audio_packets(src, audio), key=_time)
        for packet in merged:
            try:
                out.mux(packet)
            except av.error.FFmpegError as err:
                if packet.stream is video:
                    raise OutputError(f"cannot write the joined video: {err}") from None
                log.warning("dropped an audio packet that could not be copied: %s", err)
    finally:
        try:
            out.close()
        finally:
            if src is not None:
                src.close()


# ------------------------------------------------------------------------------ annotations


@dataclass(slots=True)
class JoinStats:
    frames: int = 0
    faces: int = 0
    regions: int = 0
    fail_closed_frames: int = 0


def _link(votes: Counter[tuple[str, int]]) -> dict[str, int]:
    """Local track id -> earlier global id, one to one, strongest agreement first."""
    mapping: dict[str, int] = {}
    taken: set[int] = set()
    for (local, earlier), count in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0])):
        if count >= LINK_FRAMES and local not in mapping and earlier not in taken:
            mapping[local] = earlier
            taken.add(earlier)
    return mapping


def _box(region: dict[str, Any]) -> Box:
    x1, y1, x2, y2 = region["box"]
    return Box(float(x1), float(y1), float(max(x2, x1)), float(max(y2, y1)))


def _tracked(line: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A frame's regions and identity tracks, both carrying local track ids to link and
    pseudonymize, each with the key it links by: its kind, and for identity tracks a key of
    their own, so that an identity track never continues a masking track of the same person."""
    return [(r["kind"], r) for r in line["regions"]] + [("tracks/" + t["kind"], t) for t in line.get("tracks", ())]


def merge_annotations(
    chunks: Sequence[Chunk], notes: Sequence[Path], output: Path, track_id: Callable[[str, int], str]
) -> JoinStats:
    """Concatenate the chunks' own frames into ``output``, linking and pseudonymizing track ids."""
    stats = JoinStats()
    face_ids: set[int] = set()
    # global-id regions of recent frames, kept while a later chunk may overlap them
    window: dict[int, list[tuple[str, Box, int]]] = {}
    next_id = 1
    expected = 0
    with output.open("w", encoding="utf-8") as fh:
        for number, (chunk, path) in enumerate(zip(chunks, notes, strict=True)):
            keep_from = chunks[number + 1].warm_index if number + 1 < len(chunks) else None
            votes: Counter[tuple[str, int]] = Counter()
            mapping: dict[str, int] | None = None
            for line in read_jsonl(path):
                index = int(line["frame"])
                if index < chunk.start_index:  # overlap: decoded to warm up, owned by an earlier chunk
                    for kind, box, earlier in window.get(index, []):
                        for key, region in _tracked(line):
                            same = key == kind and region["track"] is not None
                            if same and _box(region).iou(box) >= LINK_IOU:
                                votes[(str(region["track"]), earlier)] += 1
                    continue
                if chunk.end_index is not None and index >= chunk.end_index:
                    break  # read past the end for the look-ahead: the next chunk's frames
                if mapping is None:
                    mapping = _link(votes)
                if index != expected or (index == chunk.start_index and line["pts"] != chunk.start_pts):
                    raise ChunkJoinError(f"chunk {number} starts or continues at frame {index}, expected {expected}")
                expected += 1
                kept: list[tuple[str, Box, int]] = []
                for key, region in _tracked(line):
                    local = region["track"]
                    if local is None:
                        continue
                    local = str(local)
                    if local not in mapping:
                        mapping[local] = next_id
                        next_id += 1
                    number_id = mapping[local]
                    if region["kind"] == "face":
                        face_ids.add(number_id)
                    kept.append((key, _box(region), number_id))
                    region["track"] = track_id(region["kind"], number_id)
                stats.frames += 1
                stats.regions += len(line["regions"])
                stats.fail_closed_frames += bool(line["fail_closed"])
                if keep_from is not None and index >= keep_from:
                    window[index] = kept
                fh.write(json.dumps(line, separators=(",", ":")) + "\n")
            if chunk.end_index is not None and expected != chunk.end_index:
                raise ChunkJoinError(f"chunk {number} ends at frame {expected}, expected {chunk.end_index}")
            window = {i: v for i, v in window.items() if keep_from is not None and i >= keep_from}
    stats.faces = len(face_ids)
    return stats
