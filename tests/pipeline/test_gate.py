"""Change gating (``--change-gate auto``): detections skipped on unchanged frames while nothing
is tracked, never while something is, and never for longer than the reach-back of the tracks the
next detection starts."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gamyeon
from conftest import face_picture, make_video, pattern
from gamyeon import Options
from gamyeon.pipeline.gate import THRESHOLD, ChangeGate, thumb_size
from gamyeon.policy import Policy

SIZE = (320, 240)
FRAMES = 64
ARRIVES = 32  # a face appears on frame 32 and then stands perfectly still


def still_then_face(index: int, width: int, height: int) -> np.ndarray:
    base = face_picture(0, width, height) if index >= ARRIVES else pattern(0, width, height)
    noise = np.random.default_rng(index).integers(-3, 4, size=base.shape)
    return np.clip(base.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def test_gate_skips_only_unchanged_untracked_frames_within_its_span() -> None:
    gate = ChangeGate(span=10)
    still = np.full((30, 40), 100, dtype=np.uint8)
    assert not gate.skips(0, still, tracked=False), "nothing to compare with yet"
    gate.ran(0, still)
    noisy = still + np.uint8(THRESHOLD)  # every pixel moved, by no more than the threshold
    assert gate.skips(3, noisy, tracked=False) and gate.pending
    assert not gate.skips(3, still, tracked=True), "a live track keeps every detection"
    moved = still.copy()
    moved[5, 5] += THRESHOLD + 1  # one thumbnail pixel is enough
    assert not gate.skips(6, moved, tracked=False)
    assert not gate.skips(10, still, tracked=False), "a detection runs at least once a span"
    gate.ran(10, still)
    assert not gate.pending
    gate.reset()
    assert not gate.skips(12, still, tracked=False), "after a failed detection nothing is skipped"
    assert thumb_size(1920, 1080) == (160, 90) and thumb_size(100, 50) == (100, 50)


def regions(tmp_path: Path, src: Path, gate: str) -> list[bool]:
    dst = tmp_path / f"out-{gate}.mp4"
    options: dict[str, Any] = {"kinds": ("face",), "policy": Policy().with_overrides(operator="fill")}
    gamyeon.anonymize([src], dst, Options(quiet=True, change_gate=gate, copy_empty="never", **options))
    lines = dst.with_name(dst.name + ".regions.jsonl").read_text().splitlines()
    return [bool(json.loads(line)["regions"]) for line in lines]


def test_a_face_standing_still_stays_masked_and_the_empty_scene_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = tmp_path / "still.mp4"
    make_video(src, size=SIZE, frames=FRAMES, picture=still_then_face)
    with caplog.at_level(logging.INFO, logger="gamyeon.pipeline.video"):
        gated = regions(tmp_path, src, "auto")
    skipped = [r for r in caplog.records if "skipped on unchanged frames" in r.getMessage()]
    assert skipped, "the empty stretch is gated"
    ungated = regions(tmp_path, src, "never")
    assert all(gated[ARRIVES:]) and all(ungated[ARRIVES:]), "the still face is masked on every frame"
    assert all(g or not u for g, u in zip(gated, ungated, strict=True)), "gating never unmasks a frame"
