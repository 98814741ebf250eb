"""Shared fixtures: synthetic media made with real PyAV/Pillow, and helpers to read outputs back.

Nothing here is mocked: inputs are real files written by FFmpeg's muxers and encoders, and
outputs are read back with the same libraries a user's tools would use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from gamyeon.keys import MasterKey, write_key
from gamyeon.media.encode import from_rgb, mux_tone, tag
from gamyeon.types import Colour


@pytest.fixture(autouse=True)
def _key_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Generated pseudonym keys go to a temporary key store, never to the user's $HOME."""
    store = tmp_path_factory.mktemp("keys")
    monkeypatch.setenv("GAMYEON_KEY_DIR", str(store))
    monkeypatch.setenv("GAMYEON_LEDGER", str(tmp_path_factory.mktemp("ledger") / "ledger.sqlite"))
    return store


@pytest.fixture
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keyfile") / "test.key"
    write_key(MasterKey.generate(), path)
    return path


def pattern(index: int, width: int, height: int) -> np.ndarray:
    """A bright, frame-dependent RGB picture (no faces; never near black). Cheap even at 8K."""
    x = np.arange(width, dtype=np.int32)[None, :]
    y = np.arange(height, dtype=np.int32)[:, None]
    out = np.empty((height, width, 3), dtype=np.uint8)
    out[..., 0] = (x * 255 // max(1, width - 1) + index * 7) % 200 + 40
    out[..., 1] = (y * 255 // max(1, height - 1) + index * 13) % 200 + 40
    out[..., 2] = (x + y + index * 5) % 160 + 60
    return out


def face_picture(index: int, width: int, height: int) -> np.ndarray:
    """A real face (scikit-image's public-domain astronaut photo) panning slowly to the right."""
    import cv2
    from skimage import data

    photo = np.asarray(data.astronaut())[:384]
    image = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
    return np.roll(image, index * 2, axis=1)


def make_video(
    path: Path,
    *,
    codec: str = "libx264",
    size: tuple[int, int] = (64, 48),
    frames: int = 8,
    rate: Fraction = Fraction(25),
    time_base: Fraction | None = None,
    pts: Sequence[int] | None = None,
    rotation: int | None = None,
    audio: bool = False,
    metadata: Mapping[str, str] | None = None,
    container_format: str | None = None,
    pix_fmt: str | None = None,
    container_options: Mapping[str, str] | None = None,
    preset: str = "ultrafast",
    picture: Callable[[int, int, int], np.ndarray] = pattern,
    colour: Colour | None = None,
    x264_params: str | None = None,
) -> list[int]:
    """Write a synthetic video; returns the pts written (in ``time_base``, default ``1/rate``).

    ``pts`` gives an explicit (possibly irregular) timestamp list; its length is the frame count.
    ``rotation`` sets a display matrix (PyAV 18 ``set_display_rotation``). ``audio`` adds a mono
    AAC track as long as the video. ``container_format`` forces a muxer (e.g. ``"h264"`` for a raw
    elementary stream). ``preset`` is x264/x265's (ultrafast makes no B-frames, the others do).
    ``colour``: converted to YUV with that matrix and range, and tagged so (default: untagged).
    ``x264_params``: extra libx264 settings (e.g. ``keyint=16`` for short GOPs).
    """
    width, height = size
    tb = time_base if time_base is not None else 1 / rate
    if pts is None:
        step = 1 / (rate * tb)
        assert step.denominator == 1, "time_base must divide the frame duration"
        pts = [i * int(step) for i in range(frames)]
    pts = list(pts)
    with av.open(str(path), mode="w", format=container_format, options=dict(container_options or {})) as out:
        if metadata:
            out.metadata.update(metadata)
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = pix_fmt or ("yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p")
        if container_format not in {"h264", "hevc"}:
            stream.time_base = tb
        stream.codec_context.time_base = tb
        if codec in {"libx264", "libx265"}:
            stream.options = {"preset": preset, "crf": "20"}
            if x264_params is not None:
                stream.options = {**stream.options, "x264-params": x264_params}
            if codec == "libx265":
                stream.options = {**stream.options, "x265-params": "log-level=error"}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        if colour is not None:
            tag(stream.codec_context, colour)
        aud = out.add_stream("aac", rate=48000, layout="mono") if audio else None
        for i, p in enumerate(pts):
            frame = av.VideoFrame.from_ndarray(picture(i, width, height), format="rgb24")
            if colour is not None:
                frame = from_rgb(frame, stream.pix_fmt, colour)
            frame.pts = p
            frame.time_base = tb
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if aud is not None:
            seconds = (pts[-1] + (pts[1] - pts[0] if len(pts) > 1 else 1)) * tb
            mux_tone(out, aud, seconds, 440.0)
    return pts


@dataclass
class Probe:
    """What a decoder sees in a video file."""

    width: int
    height: int
    times: list[Fraction | None]  # pts * time_base of every decoded frame, in order (None: no pts)
    codec: str
    average_rate: Fraction | None
    rotation: float
    format_name: str
    metadata: dict[str, str]
    audio_packets: list[bytes]
    frames: list[np.ndarray]
    positions: list[int | None]  # dts of the video packets: the only timing AVI stores
    time_base: Fraction | None  # the video stream's


def probe(path: Path, keep_frames: bool = False) -> Probe:
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        codec = vs.codec_context.name
        rate = vs.average_rate
        stream_tb = Fraction(vs.time_base) if vs.time_base else None
        times: list[Fraction | None] = []
        frames: list[np.ndarray] = []
        rotation = 0.0
        size = (0, 0)
        for i, frame in enumerate(c.decode(vs)):
            if i == 0:
                rotation = float(frame.rotation or 0)
                size = (frame.width, frame.height)
            tb = frame.time_base or vs.time_base
            times.append(None if frame.pts is None or tb is None else frame.pts * Fraction(tb))
            if keep_frames:
                frames.append(frame.to_ndarray(format="rgb24"))
        metadata = dict(c.metadata)
        fmt = c.format.name
    audio: list[bytes] = []
    with av.open(str(path)) as c:
        if c.streams.audio:
            audio = [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]
    with av.open(str(path)) as c:
        positions = [p.dts for p in c.demux(c.streams.video[0]) if p.size]
    return Probe(
        size[0],
        size[1],
        times,
        codec,
        Fraction(rate) if rate else None,
        rotation,
        fmt,
        metadata,
        audio,
        frames,
        positions,
        stream_tb,
    )


def all_files(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())


def leftovers(folder: Path) -> list[str]:
    """Temporary '.*.part.*' files left in ``folder`` (recursively)."""
    return sorted(p.name for p in all_files(folder) if ".part" in p.name)


def env_without_home_keys(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["GAMYEON_KEY_DIR"] = str(tmp_path / "keys")
    env["GAMYEON_LEDGER"] = str(tmp_path / "ledger.sqlite")
    return env


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[None]:
    """A local Ray instance of two CPUs for one test module (the batch and live Ray tests); Ray
    is imported here so that tests which do not ask for it never load it."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        yield
    finally:
        ray.shutdown()
