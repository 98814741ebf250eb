"""``gamyeon analyze`` on a real anonymized dev clip: the first 8 s of PETS09 S2.L1 (real CCTV,
``../shared/evaldata/dev``), anonymized here, analysed on the ground plane, and checked against
the clip's ground truth (the same analysis run on the GT person boxes)."""

from __future__ import annotations

import json
import statistics
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import make_video
from gamyeon.analytics.engine import Settings, analyze
from gamyeon.analytics.plane import load_plane
from gamyeon.analytics.records import FrameRecord, Observation
from gamyeon.analytics.sidecar import read_frames
from gamyeon.analytics.zones import load_zones
from gamyeon.cli import main
from gamyeon.keys import MasterKey, write_key

DEV = Path(__file__).resolve().parents[3] / "shared" / "evaldata" / "dev"
VIDEO = DEV / "videos" / "pets09_s2l1_vtest.avi"
GT = DEV / "gt" / "pets09_s2l1_vtest.persons.json"

pytestmark = [
    pytest.mark.evaldata,
    pytest.mark.skipif(not VIDEO.is_file() or not GT.is_file(), reason=f"{VIDEO} not present"),
]

FRAMES = 80  # 8 s at 10 fps
#: four ground points 10 m apart, projected into the 480x360 clip with the Tsai calibration the
#: PETS 2009 dataset publishes for View_001 (768x576, scaled by 0.625); docs/analytics.md
HOMOGRAPHY = """
image = [[314.1, 198.6], [423.3, 128.3], [219.9, 109.9], [73.0, 161.6]]
ground = [[0, 0], [10, 0], [10, 10], [0, 10]]
"""
ZONES = """
[[zone]]
name = "lamp"
polygon = [[200, 100], [330, 100], [330, 190], [200, 190]]
"""


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("pets")
    with av.open(str(VIDEO)) as src:
        pictures = [f.to_ndarray(format="rgb24") for _, f in zip(range(FRAMES), src.decode(video=0), strict=False)]
    clip = work / "pets_8s.mp4"
    make_video(clip, size=(480, 360), frames=FRAMES, rate=Fraction(10), picture=lambda i, w, h: pictures[i])
    key = work / "k.key"
    write_key(MasterKey.generate(), key)
    out = work / "pets_8s.anon.mp4"
    ledger = str(work / "ledger.sqlite")
    assert (
        main(
            ["anonymize", str(clip), "-o", str(out), "--kinds", "persons", "--key", str(key), "--ledger", ledger, "-q"]
        )
        == 0
    )
    (work / "h.toml").write_text(HOMOGRAPHY)
    (work / "zones.toml").write_text(ZONES)
    args = ["--homography", str(work / "h.toml"), "--zones", str(work / "zones.toml"), "--loiter", "3",
            "--contact-distance", "1.5", "--contact-seconds", "1", "-q"]  # fmt: skip
    assert main(["analyze", str(out), "-o", str(work / "res"), *args]) == 0
    return work


def gt_frames() -> list[FrameRecord]:
    gt = json.loads(GT.read_text())["frames"]
    frames = []
    for f in range(FRAMES):
        entry = gt.get(str(f + 1), {"persons": [], "ids": []})
        obs = tuple(
            Observation(f"gt{i}", "person", tuple(box), 1.0, "detected")  # type: ignore[arg-type]
            for box, i in zip(entry["persons"], entry["ids"], strict=True)
        )
        frames.append(FrameRecord("gt", f, f / 10, obs))
    return frames


def test_tracks_walk_at_a_walking_pace_on_the_ground_plane(analysed: Path) -> None:
    """The homography and the ground point together: people walk at about 1.4 m/s."""
    plane = load_plane(analysed / "h.toml")
    paths: dict[str, list[tuple[float, np.ndarray]]] = {}
    for frame in read_frames(Path(f"{analysed / 'pets_8s.anon.mp4'}.regions.jsonl"), ("person",)):
        for o in frame.observations:
            paths.setdefault(o.track, []).append((frame.time, plane.project(np.array([o.ground]))[0]))
    speeds = [
        float(np.linalg.norm(p[-1][1] - p[0][1]) / (p[-1][0] - p[0][0]))
        for p in paths.values()
        if p[-1][0] - p[0][0] >= 3
    ]
    assert len(speeds) >= 3
    assert 0.5 <= statistics.median(speeds) <= 2.5


def test_results_are_plausible_and_agree_with_the_ground_truth(analysed: Path) -> None:
    doc = json.loads((analysed / "res" / "analytics.json").read_text())
    (source,) = doc["sources"]
    assert source["frames"] == FRAMES
    tracks = {t["track"] for t in source["tracks"]}
    assert len(tracks) >= 4
    for c in source["contacts"]:
        assert c["a"] < c["b"] and {c["a"], c["b"]} <= tracks
        assert c["min_distance"] <= 1.5 and c["duration"] >= 1 and c["units"] == "m"
    for e in doc["events"]:
        assert e["zone"] == "lamp" and e["duration"] >= 3 and e["track"] in tracks
    # lamp-zone occupancy per frame against the same analysis of the GT boxes
    settings = Settings(
        zones=load_zones(analysed / "zones.toml"), plane=load_plane(analysed / "h.toml"), loiter=3.0,
        contact_distance=1.5, contact_seconds=1.0,
    )  # fmt: skip
    truth = analyze(gt_frames(), "gt", settings)
    ours = np.array(source["occupancy"]["counts"]["lamp"])
    gt_counts = np.array([row[0] for row in truth.occupancy])
    assert gt_counts.max() >= 2
    assert float(np.abs(ours - gt_counts).mean()) <= 1.0
    # a GT person who loiters by the lamp raises an alert from the pseudonymous tracks too
    if any(e.visit.ongoing for e in truth.events):
        assert any(e["ongoing"] for e in doc["events"])
