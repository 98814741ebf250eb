"""Copying the source's GOPs in which nothing is masked (``--copy-empty auto``): real x264 clips
with short GOPs, a still noisy scene and a real face passing through, run through the whole
pipeline and read back packet by packet and pixel by pixel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

import gamyeon
from conftest import face_picture, make_video, pattern, probe
from gamyeon import Options
from gamyeon.media.decode import VideoReader
from gamyeon.media.encode import EncodeSettings, copy_blocker
from gamyeon.policy import Policy

SIZE = (320, 240)
FRAMES, GOP = 64, 16
FACE = range(24, 40)  # the face is on frames 24-39: GOPs 1 and 2 hold regions, 0 and 3 none
SHORT_GOPS = "keyint=16:min-keyint=16:scenecut=0"
OPTIONS: dict[str, Any] = {
    "kinds": ("face",),
    "policy": Policy().with_overrides(operator="fill"),
    "small_faces": "never",
    "quiet": True,
}


def scene(index: int, width: int, height: int) -> np.ndarray:
    """A still picture with fresh sensor noise on every frame, and the face on ``FACE`` frames."""
    if index in FACE:
        return face_picture(index, width, height)
    noise = np.random.default_rng(index).integers(-3, 4, size=(height, width, 3))
    return np.clip(pattern(0, width, height).astype(np.int16) + noise, 0, 255).astype(np.uint8)


def packets(path: Path) -> list[av.Packet]:
    with av.open(str(path)) as c:
        return [p for p in c.demux(c.streams.video[0]) if p.size]


def payloads(path: Path) -> list[tuple[int | None, bool, bytes]]:
    return [(p.pts, p.is_keyframe, bytes(p)) for p in packets(path)]


def copied(src: Path, dst: Path) -> list[int]:
    """Indexes of the output's packets that are the source's (keyframes: with parameter sets in front)."""
    a, b = payloads(src), payloads(dst)
    assert len(a) == len(b)
    return [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x[0] == y[0] and y[2].endswith(x[2])]


def run(src: Path, dst: Path, **options: Any) -> gamyeon.Summary:
    return gamyeon.anonymize([src], dst, Options(**{**OPTIONS, **options}))[0]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gops") / "still.mp4"
    make_video(path, size=SIZE, frames=FRAMES, picture=scene, preset="veryfast", x264_params=SHORT_GOPS + ":bframes=0")
    return path


def test_empty_gops_are_copied_and_the_face_gops_encoded_masked(tmp_path: Path, clip: Path) -> None:
    dst = tmp_path / "out.mp4"
    summary = run(clip, dst)
    assert summary.frames == FRAMES and summary.fail_closed_frames == 0
    before, after = probe(clip, keep_frames=True), probe(dst, keep_frames=True)
    assert after.times == before.times and len(after.times) == FRAMES
    times = [t for t in after.times if t is not None]
    assert times == sorted(set(times)) and len(times) == FRAMES  # every frame, increasing
    assert after.positions == sorted(after.positions)  # decode times increase across the joins
    assert copied(clip, dst) == [*range(0, 16), *range(48, 64)]
    for i in [*range(0, 16), *range(48, 64)]:
        assert np.array_equal(after.frames[i], before.frames[i]), f"copied frame {i} must decode as the source"
    lines = [json.loads(line) for line in dst.with_name(dst.name + ".regions.jsonl").read_text().splitlines()]
    for i in FACE:
        assert lines[i]["regions"], f"frame {i} has the face"
        x1, y1, x2, y2 = (round(v) for v in lines[i]["regions"][0]["box"])
        change = np.abs(after.frames[i][y1:y2, x1:x2].astype(int) - before.frames[i][y1:y2, x1:x2]).mean()
        assert change > 20, f"the face of frame {i} must be masked"
    assert not any(line["regions"] for line in lines[:8] + lines[48:])


def test_never_encodes_every_frame(tmp_path: Path, clip: Path) -> None:
    dst = tmp_path / "out.mp4"
    run(clip, dst, copy_empty="never")
    assert copied(clip, dst) == []
    assert len(probe(dst).times) == FRAMES


def test_a_detection_failure_in_an_empty_gop_fails_closed_and_is_not_copied(
    tmp_path: Path, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gamyeon.pipeline.frame import FrameWork

    original = FrameWork.detect

    def flaky(self: FrameWork, index: int, *args: Any) -> None:
        if index == 52:  # in the last, empty GOP
            raise RuntimeError("injected detector fault")
        original(self, index, *args)

    monkeypatch.setattr(FrameWork, "detect", flaky)
    dst = tmp_path / "out.mp4"
    summary = run(clip, dst, detect_every=1)
    assert summary.fail_closed_frames == 1
    assert copied(clip, dst) == list(range(0, 16)), "the GOP with the failure is encoded, not copied"
    frames = probe(dst, keep_frames=True).frames
    assert len(frames) == FRAMES
    assert frames[52].max() <= 8, "the failed frame leaves black"
    assert all(frames[i].mean() > 60 for i in range(48, 64) if i != 52)


def test_a_source_with_b_frames_is_copied_with_decode_times_in_order(tmp_path: Path) -> None:
    """B-frames put decode times before presentation times: the encoded stretches get the same
    delay, so the empty GOPs after them are copied too and decode times keep increasing."""
    src = tmp_path / "b.mp4"
    make_video(src, size=SIZE, frames=FRAMES, picture=scene, preset="medium", x264_params=SHORT_GOPS + ":bframes=3")
    assert any(p.dts is not None and p.pts is not None and p.dts < p.pts for p in packets(src)), "B-frames"
    dst = tmp_path / "out.mp4"
    run(src, dst)
    before, after = probe(src, keep_frames=True), probe(dst, keep_frames=True)
    assert after.times == before.times
    assert after.positions == sorted(after.positions)
    assert copied(src, dst) == [*range(0, 16), *range(48, 64)]
    for i in [*range(0, 16), *range(48, 64)]:
        assert np.array_equal(after.frames[i], before.frames[i])


def test_copy_blocker_names_what_cannot_share_a_stream(tmp_path: Path, clip: Path) -> None:
    hevc = tmp_path / "h.mkv"
    make_video(hevc, codec="libx265", size=SIZE, frames=2)
    with VideoReader(clip) as reader, av.open(str(hevc)) as h:
        info, h264 = reader.info, reader.stream
        assert copy_blocker(h264, info, EncodeSettings(), ".mp4") is None
        assert copy_blocker(h264, info, EncodeSettings(), ".mkv") is None
        assert "avi" in (copy_blocker(h264, info, EncodeSettings(), ".avi") or "")
        assert "hevc" in (copy_blocker(h264, info, EncodeSettings(codec="hevc"), ".mp4") or "")
        assert "hevc" in (copy_blocker(h.streams.video[0], info, EncodeSettings(), ".mp4") or "")
