"""Helpers shared by the batch tests: clips with a fixed keyframe interval, manifests, comparison."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from conftest import pattern
from gamyeon.media.encode import mux_tone


def gop_clip(
    path: Path,
    frames: int,
    *,
    size: tuple[int, int] = (96, 72),
    gop: int = 12,
    preset: str = "medium",
    rate: Fraction = Fraction(25),
    picture: Callable[[int, int, int], np.ndarray] = pattern,
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    rotation: int | None = None,
    audio: bool = False,
    metadata: dict[str, str] | None = None,
) -> list[int]:
    """An H.264 clip with a keyframe every ``gop`` frames (and B-frames unless preset ultrafast),
    optionally with a display rotation, an AAC tone and container metadata."""
    width, height = size
    tb = time_base or 1 / rate
    stamps = pts or [i * int(1 / (rate * tb)) for i in range(frames)]
    with av.open(str(path), "w") as out:
        out.metadata.update(metadata or {})
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = tb
        stream.codec_context.time_base = tb
        stream.options = {"preset": preset, "crf": "23", "g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        tone = out.add_stream("aac", rate=48000, layout="mono") if audio else None
        for i, p in enumerate(stamps):
            frame = av.VideoFrame.from_ndarray(picture(i, width, height), format="rgb24")
            frame.pts, frame.time_base = p, tb
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if tone is not None:
            mux_tone(out, tone, (stamps[-1] + stamps[1] - stamps[0]) * tb, 440.0)
    return stamps


def status(dst: Path) -> dict[str, dict[str, str]]:
    """The status manifest's rows by output path."""
    with (dst / "gamyeon-batch.csv").open(encoding="utf-8") as fh:
        return {row["output"]: row for row in csv.DictReader(fh)}


def decode_dts(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [p.dts for p in container.demux(container.streams.video[0]) if p.size and p.dts is not None]


TEMP = re.compile(r"\.gamyeon-[0-9a-f]{8}\.part")


def temp_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if TEMP.search(p.name))
