"""Annotation sidecar (JSON Lines) and its MOT / COCO exports, on hand-made frame results."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from gamyeon.annotations import JsonlWriter, export_coco, export_mot, parse_exports, read_jsonl
from gamyeon.errors import UsageError
from gamyeon.types import Box, FrameResult, Region, Source, TrackBox


def pseudonym(kind: str, track: int) -> str:
    """A stand-in for Pseudonymizer.track_id that keeps kind and track visible to the test."""
    return f"{kind}-{track:04d}"


def region(kind: str, box: Box, track: int | None, source: Source = Source.DETECTED, score: float = 0.9) -> Region:
    return Region(kind, box, box.scaled(1.3), score, track, source)


FRAMES = [
    FrameResult(0, 0, 0.0, (region("face", Box(10.0, 20.0, 50.0, 70.0), 7, score=0.912345),)),
    FrameResult(1, 512, 1 / 30, ()),
    FrameResult(
        2,
        1024,
        2 / 30,
        (
            region("face", Box(12.04, 21.0, 52.0, 71.0), 7, Source.INTERPOLATED, 0.5),
            region("plate", Box(100.0, 100.0, 160.0, 120.0), 3, Source.DETECTED, 0.75),
            region("face", Box(200.0, 10.0, 230.5, 45.25), 9, Source.EXTENDED, 0.4),
        ),
    ),
    FrameResult(
        3,
        None,
        None,
        (region("face", Box(0.0, 0.0, 320.0, 240.0), None, Source.FAIL_CLOSED, 1.0),),
        fail_closed=True,
        reason="detector failed",
    ),
]


@pytest.fixture
def jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "out.jsonl"
    writer = JsonlWriter(path, pseudonym, 1920, 1080)
    for result in FRAMES:
        writer.write(result)
    writer.close()
    return path


def test_jsonl_has_one_line_per_frame_in_order(jsonl: Path) -> None:
    lines = jsonl.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(FRAMES)
    parsed = [json.loads(line) for line in lines]
    assert [p["frame"] for p in parsed] == [0, 1, 2, 3]
    assert [p["pts"] for p in parsed] == [0, 512, 1024, None]
    assert parsed[1]["time"] == pytest.approx(1 / 30, abs=1e-6)
    assert parsed[3]["time"] is None
    assert [p["fail_closed"] for p in parsed] == [False, False, False, True]
    assert [len(p["regions"]) for p in parsed] == [len(f.regions) for f in FRAMES]
    assert list(read_jsonl(jsonl)) == parsed


def test_jsonl_regions_carry_lists_pseudonyms_and_sources(jsonl: Path) -> None:
    parsed = list(read_jsonl(jsonl))
    first = parsed[0]["regions"][0]
    assert first["kind"] == "face"
    assert first["track"] == "face-0007"  # the pseudonym, never the local number
    assert first["box"] == [10.0, 20.0, 50.0, 70.0]
    # the mask is the whole pixels the operator may change: its pixel bounds, rounded outwards
    expected_mask = Box(10.0, 20.0, 50.0, 70.0).scaled(1.3)
    assert first["mask"] == [4, 12, 56, 78]
    assert first["mask"] == list(expected_mask.pixel_bounds(1000, 1000))
    assert first["score"] == 0.9123
    assert first["source"] == "detected"
    third = parsed[2]["regions"]
    assert [r["source"] for r in third] == ["interpolated", "detected", "extended"]
    assert third[0]["box"] == [12.0, 21.0, 52.0, 71.0]  # one decimal
    assert [r["track"] for r in third] == ["face-0007", "plate-0003", "face-0009"]
    assert parsed[3]["regions"][0]["track"] is None
    for line in parsed:
        for r in line["regions"]:
            assert isinstance(r["box"], list) and len(r["box"]) == 4
            assert isinstance(r["mask"], list) and len(r["mask"]) == 4


def test_mot_export(jsonl: Path, tmp_path: Path) -> None:
    out = tmp_path / "gt.txt"
    export_mot(jsonl, out)
    rows = list(csv.reader(out.read_text(encoding="utf-8").splitlines()))
    # the fail-closed region has no track and is not a MOT object
    assert len(rows) == 4
    assert all(len(r) == 10 for r in rows)
    frames = [int(r[0]) for r in rows]
    ids = [int(r[1]) for r in rows]
    assert frames == [1, 3, 3, 3]  # 1-based
    # pseudonyms numbered by first appearance: face-0007 -> 1, plate-0003 -> 2, face-0009 -> 3
    assert ids == [1, 1, 2, 3]
    x, y, w, h = (float(v) for v in rows[0][2:6])
    assert (x, y, w, h) == (10.0, 20.0, 40.0, 50.0)
    x, y, w, h = (float(v) for v in rows[3][2:6])
    assert (x, y, w, h) == pytest.approx((200.0, 10.0, 30.5, 35.2), abs=0.051)
    assert float(rows[2][6]) == 0.75
    assert [r[7:] for r in rows] == [["-1", "-1", "-1"]] * 4


def coco(jsonl: Path, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "coco.json"
    export_coco(jsonl, out, file_name="clip.mp4", width=320, height=240, info={"description": "test", "n": 1})
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def test_coco_export(jsonl: Path, tmp_path: Path) -> None:
    data = coco(jsonl, tmp_path)
    assert data["info"] == {"description": "test", "n": 1}
    assert len(data["images"]) == len(FRAMES)
    assert len(data["annotations"]) == sum(len(f.regions) for f in FRAMES)
    images = {im["id"]: im for im in data["images"]}
    assert len(images) == len(FRAMES)
    assert all(im["width"] == 320 and im["height"] == 240 for im in images.values())
    assert [im["frame_index"] for im in data["images"]] == [0, 1, 2, 3]
    assert data["images"][2]["file_name"] == "clip.mp4#frame=2"
    cats = {c["name"]: c["id"] for c in data["categories"]}
    assert set(cats) == {"face", "plate"}
    assert len(set(cats.values())) == 2
    anns = data["annotations"]
    assert len({a["id"] for a in anns}) == len(anns)
    for a in anns:
        assert a["image_id"] in images
        assert a["category_id"] in cats.values()
        assert a["iscrowd"] == 0
        _, _, w, h = a["bbox"]
        assert w >= 0 and h >= 0
        assert a["area"] == pytest.approx(w * h, abs=0.1)
    first = anns[0]
    assert first["bbox"] == [10.0, 20.0, 40.0, 50.0]
    assert first["area"] == 2000.0
    assert first["category_id"] == cats["face"]
    assert images[first["image_id"]]["frame_index"] == 0
    plate = next(a for a in anns if a["category_id"] == cats["plate"])
    assert plate["bbox"] == [100.0, 100.0, 60.0, 20.0]
    assert plate["track_id"] == "plate-0003"
    assert images[plate["image_id"]]["frame_index"] == 2


def test_exports_of_an_empty_run(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    JsonlWriter(path, pseudonym, 1920, 1080).close()
    data = coco(path, tmp_path)
    assert data["images"] == [] and data["annotations"] == [] and data["categories"] == []
    export_mot(path, tmp_path / "gt.txt")
    assert (tmp_path / "gt.txt").read_text(encoding="utf-8") == ""


@pytest.mark.parametrize(
    ("values", "expected"),
    [(None, ()), (["coco"], ("coco",)), (["MOT, coco", "mot"], ("mot", "coco")), ([","], ())],
)
def test_parse_exports(values: list[str] | None, expected: tuple[str, ...]) -> None:
    assert parse_exports(values) == expected


def test_parse_exports_rejects_unknown() -> None:
    with pytest.raises(UsageError, match="'yolo'"):
        parse_exports(["coco,yolo"])


def track(box: Box, number: int, source: Source = Source.DETECTED) -> TrackBox:
    return TrackBox("person", box, 0.8, number, source)


def test_identity_tracks_are_written_and_the_mot_export_carries_confirmed_persons(tmp_path: Path) -> None:
    """With person tracks in the sidecar, MOT rows are those tracks' boxes (not the regions'
    masks or head boxes), for tracks detected at least MIN_HITS times."""
    walker = [Box(10.0 + 4 * i, 20.0, 40.0 + 4 * i, 100.0) for i in range(5)]
    frames = [
        FrameResult(
            i,
            i,
            i / 10,
            (region("head", Box(b.x1 + 8, b.y1, b.x2 - 8, b.y1 + 16), 100 + i),),
            tracks=(
                track(b, 5, Source.DETECTED if i % 2 == 0 else Source.INTERPOLATED),
                *([track(Box(200.0, 50.0, 220.0, 90.0), 9)] if i == 1 else []),  # seen once: noise
            ),
        )
        for i, b in enumerate(walker)
    ]
    frames.append(FrameResult.closed(5, 5, 0.5, "decode failed"))
    path = tmp_path / "persons.jsonl"
    writer = JsonlWriter(path, pseudonym, 320, 240)
    for result in frames:
        writer.write(result)
    writer.close()
    lines = list(read_jsonl(path))
    assert [len(line["tracks"]) for line in lines[:5]] == [1, 2, 1, 1, 1]
    assert "tracks" not in lines[5]  # nothing was decided on a failed frame
    assert lines[1]["tracks"][0] == {
        "kind": "person",
        "track": "person-0005",
        "box": [14.0, 20.0, 44.0, 100.0],
        "score": 0.8,
        "source": "interpolated",
    }
    export_mot(path, tmp_path / "gt.txt")
    rows = list(csv.reader((tmp_path / "gt.txt").read_text(encoding="utf-8").splitlines()))
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4, 5]
    assert {r[1] for r in rows} == {"1"}
    assert [[float(v) for v in r[2:6]] for r in rows] == [[b.x1, b.y1, b.width, b.height] for b in walker]


def test_a_run_without_persons_writes_no_tracks_key(jsonl: Path) -> None:
    assert all("tracks" not in line for line in read_jsonl(jsonl))
