"""The schedule benchmarks: ``thorough_agree``'s coverage count on hand-made sidecars, and
``pass_costs``' floor on a tiny real clip (the real networks, three frames)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import face_picture, make_video

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import pass_costs
import thorough_agree


def _sidecar(path: Path, frames: dict[int, list[tuple[str, str, list[float], list[float]]]]) -> Path:
    """A regions sidecar: frame -> (track, source, box, mask) of faces."""
    with path.open("w") as f:
        for frame, rows in sorted(frames.items()):
            regions = [{"kind": "face", "track": t, "source": s, "box": b, "mask": m} for t, s, b, m in rows]
            f.write(json.dumps({"frame": frame, "regions": regions}) + "\n")
    return path


def test_agreement_counts_covered_detections_by_track_length(tmp_path: Path) -> None:
    box = [10.0, 10.0, 20.0, 20.0]
    reference = _sidecar(
        tmp_path / "ref.jsonl",
        {
            0: [("a", "detected", box, box), ("b", "detected", [50.0, 50.0, 60.0, 60.0], box)],
            1: [("a", "detected", box, box), ("b", "interpolated", box, box)],
            2: [("a", "detected", box, box)],
        },
    )
    default = _sidecar(
        tmp_path / "default.jsonl",
        {
            0: [("x", "detected", box, [8.0, 8.0, 22.0, 22.0])],  # covers a, not b
            1: [("x", "interpolated", box, [10.0, 10.0, 15.0, 20.0])],  # half of a: not covered
            2: [("x", "extended", box, [10.0, 10.0, 18.0, 20.0])],  # 80 % of a: covered
        },
    )
    found = thorough_agree.agreement(reference, default, 100, 100)
    assert found == {
        "face_long": {"boxes": 3, "covered": round(2 / 3, 4)},  # a: detected on 3 frames
        "face_short": {"boxes": 1, "covered": 0.0},  # b: once (its interpolated box is no reference)
    }


def test_pass_costs_floor_is_each_network_once_a_second(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    make_video(clip, size=(320, 240), frames=4, picture=face_picture)
    row = pass_costs.measure(clip, 3)
    costs = row["cpu_ms_per_pass"]
    assert set(costs) == {"face_base", "face_discovery", "person", "text"}
    assert all(ms > 0 for ms in costs.values())
    assert row["reencode_cpu_ms_per_frame"] > 0
    floor = row["floor_each_network_once_a_second_ms"]
    assert abs(floor - (costs["face_base"] + costs["person"] + costs["text"])) < 0.5
    second = row["reencode_cpu_ms_per_second"]
    assert abs(row["best_ratio_to_reencode_at_that_floor"] - second / (second + floor)) < 0.01
