"""The pure helpers of the benchmark's ``training`` section: recall matching, masked area, colour count.

Constructed inputs only: the section itself runs the CLI on evaluation data, these check that the
figures it reports are computed as documented.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from benchlib import area, training


def test_iou_of_overlapping_disjoint_and_empty_boxes() -> None:
    assert training.iou([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(50 / 150)
    assert training.iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    assert training.iou([0, 0, 10, 10], [10, 0, 20, 10]) == 0.0
    assert training.iou([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0


def test_match_frame_counts_recall_and_false_positives_one_to_one() -> None:
    gt = [[0, 0, 10, 20], [50, 0, 60, 20]]
    # two detections on the first person (one is a duplicate: a false positive), none on the second,
    # and one on the background
    dets = [[0, 0, 10, 20], [1, 0, 11, 20], [100, 100, 110, 120]]
    m = training.match_frame(gt, [None, 0.9], dets)
    assert (m.eligible, m.matched, m.false_positives) == (2, 1, 2)


def test_match_frame_prefers_the_best_overlap() -> None:
    # the detection at x=2 overlaps both persons; greedy by IoU must give it to the closer one so
    # that the other detection can still match the second person
    gt = [[0, 0, 10, 20], [4, 0, 14, 20]]
    dets = [[3, 0, 13, 20], [0, 0, 10, 20]]
    m = training.match_frame(gt, [], dets)
    assert (m.eligible, m.matched, m.false_positives) == (2, 2, 0)


def test_match_frame_threshold_is_inclusive_at_iou_half() -> None:
    gt = [[0, 0, 10, 10]]
    assert training.iou(gt[0], [0, 0, 10, 5]) == 0.5
    assert training.match_frame(gt, [], [[0, 0, 10, 5]]).matched == 1
    assert training.match_frame(gt, [], [[0, 0, 10, 4.9]]).matched == 0


def test_hidden_and_ignored_persons_neither_count_nor_make_false_positives() -> None:
    gt = [[0, 0, 10, 20], [50, 0, 60, 20]]
    ignored = [[200, 0, 210, 20]]
    dets = [[50, 0, 60, 20], [200, 0, 210, 20]]
    m = training.match_frame(gt, [1.0, 0.3], dets, ignored)
    # only the first person counts; it was missed; the detections on the hidden and the ignored
    # person are not false positives
    assert (m.eligible, m.matched, m.false_positives) == (1, 0, 0)


def test_box_mask_unions_overlaps_once_and_cuts_like_the_operators() -> None:
    mask = training.box_mask([[0.5, 0.5, 2.2, 2.0], [1, 1, 3, 3]], 10, 10)
    # floor / ceil: the first box covers columns 0..2 and rows 0..1; the second columns 1..2, rows 1..2
    expected = np.zeros((10, 10), dtype=bool)
    expected[0:2, 0:3] = True
    expected[1:3, 1:3] = True
    assert np.array_equal(mask, expected)
    # clipped to the frame
    assert training.box_mask([[-5, -5, 50, 3]], 10, 10).sum() == 30


def test_frame_areas_per_kind_and_total() -> None:
    record = {
        "frame": 0,
        "fail_closed": False,
        "regions": [
            {"kind": "person", "mask": [0, 0, 10, 10]},
            {"kind": "face", "mask": [5, 0, 15, 5]},
            {"kind": "plate", "mask": [90, 90, 100, 100]},
        ],
    }
    areas = training.frame_areas(record, 100, 100)
    assert areas["person"] == pytest.approx(0.01)
    assert areas["face"] == pytest.approx(0.005)
    assert areas["plate"] == pytest.approx(0.01)
    # the face half overlaps the person: 100 + 25 + 100 distinct pixels
    assert areas["total"] == pytest.approx(0.0225)


def test_frame_areas_with_silhouette_pixels_replaces_person_boxes() -> None:
    record = {"regions": [{"kind": "person", "mask": [0, 0, 10, 10]}, {"kind": "face", "mask": [0, 0, 2, 2]}]}
    pixels = np.zeros((10, 10), dtype=bool)
    pixels[0:5, 0:3] = True  # 15 pixels of the 100-pixel person box
    areas = training.frame_areas(record, 10, 10, pixels)
    assert areas["person"] == pytest.approx(0.15)
    assert areas["face"] == pytest.approx(0.04)
    assert areas["total"] == pytest.approx(0.15)  # the face lies inside the silhouette


def test_fail_closed_frame_counts_as_wholly_masked() -> None:
    record = {"fail_closed": True, "regions": [{"kind": "face", "mask": [0, 0, 5, 2]}]}
    areas = training.frame_areas(record, 10, 10)
    assert areas["total"] == 1.0
    assert areas["face"] == pytest.approx(0.1)


def test_silhouette_areas_follow_the_box_rules_of_benchlib_area(tmp_path: Path) -> None:
    # with person pixels equal to the person boxes, the silhouette path must give area.py's figures
    records = [
        {
            "fail_closed": False,
            "regions": [{"kind": "person", "mask": [1.5, 0, 6, 8]}, {"kind": "face", "mask": [2, 0, 4, 2]}],
        },
        {"fail_closed": True, "regions": []},
        {"fail_closed": False, "regions": [{"kind": "plate", "mask": [0, 9, 10, 10]}]},
    ]
    sidecar = tmp_path / "out.regions.jsonl"
    sidecar.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    reference = area.masked_area(sidecar, 10, 10)
    frames = [
        training.frame_areas(
            r, 10, 10, training.box_mask([x["mask"] for x in r["regions"] if x["kind"] == "person"], 10, 10)
        )
        for r in records
    ]
    ours = training.summarize_areas(frames)
    assert ours["total"] == pytest.approx(reference["total"])
    for kind, figures in reference["kinds"].items():
        assert ours[kind]["mean"] == pytest.approx(figures["mean"])
        assert ours[kind]["max"] == pytest.approx(figures["max"])


def test_summarize_areas_mean_and_max_count_absent_kinds_as_zero() -> None:
    s = training.summarize_areas([{"face": 0.1, "total": 0.1}, {"total": 0.3, "head": 0.3}])
    assert s["face"] == {"mean": pytest.approx(0.05), "max": 0.1}
    assert s["head"]["mean"] == pytest.approx(0.15)
    assert s["total"] == {"mean": pytest.approx(0.2), "max": 0.3}


def test_colour_mask_counts_new_magenta_only() -> None:
    src = np.zeros((4, 4, 3), dtype=np.uint8)
    src[0, 0] = (250, 10, 250)  # magenta in the input already: not a mask pixel
    out = src.copy()
    out[1, :] = (255, 0, 255)
    out[2, 0] = (200, 60, 220)  # a smeared edge within the tolerance
    out[3, 0] = (255, 120, 255)  # pink, not magenta
    mask = training.colour_mask(out, src)
    assert mask.sum() == 5
    assert mask[1].all() and mask[2, 0] and not mask[0, 0] and not mask[3, 0]


def test_hog_boxes_map_windows_back_to_the_frame_and_shrink_them() -> None:
    (box,) = training.hog_boxes([(100.0, 40.0, 64.0, 128.0)], 2.0)
    # centre (132, 104) / 2 = (66, 52); 64 x 128 window / 2 = 32 x 64, shrunk 0.5 x 0.75 = 16 x 48
    assert box == pytest.approx((58.0, 28.0, 74.0, 76.0))


def test_hog_scale_enlarges_small_frames_only() -> None:
    assert training.hog_scale(360) == pytest.approx(96 / (0.11 * 360))
    assert training.hog_scale(1080) == 1.0


def test_render_reports_each_mode_and_the_pooled_ratio() -> None:
    def det(found: int) -> dict[str, float]:
        return {"persons": 10, "found": found, "recall": found / 10, "recall_ratio": found / 8, "fp_per_frame": 1.0}

    area_ = {"total": {"mean": 0.05, "max": 0.2}, "face": {"mean": 0.01, "max": 0.02}}
    modes = {
        m.name: {"area": area_, "fail_closed_frames": 0, "detector": det(f)}
        for m, f in zip(training.MODES, (8, 6, 0, 1), strict=True)
    }
    video = {"original": det(8), "reencode": det(8), "modes": modes}
    raw = {"pets09_x": video, "other": {"modes": {"faces": {"error": "exit code 2: boom"}}}}
    results = {
        "detector": "HOG",
        "videos": raw,
        "pooled": {m: training.pooled(raw, m) for m in ("reencode", *(m.name for m in training.MODES))},
    }
    assert results["pooled"]["default"]["ratio"] == pytest.approx(0.75)
    parts: list[str] = []
    training.render(results, parts.append)
    text = "\n".join(parts)
    assert "| pets09_x | default (`faces,heads,plates`) | 10 | 0.800 | 0.600 | **0.750** |" in text
    assert "| **pooled** | `--person-mode silhouette` | 10 | 0.800 | 0.100 | **0.125** |" in text
    assert "exit code 2: boom" in text
    assert "5.0 % (20.0 %)" in text
