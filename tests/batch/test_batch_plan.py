"""Batch building blocks without workers: manifests, job mirroring, keyframe scan, chunk borders."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest

from batch_helpers import gop_clip
from conftest import make_video
from gamyeon.batch.chunks import _link, merge_annotations
from gamyeon.batch.manifest import FileRecord, read_input_manifest, read_status, write_status
from gamyeon.batch.plan import Timeline, discover, mirror, plan_chunks, scan
from gamyeon.batch.spec import Chunk
from gamyeon.errors import UsageError


def test_csv_manifest_paths_relative_to_its_folder(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    manifest = tmp_path / "lists" / "inputs.csv"
    manifest.write_text("camera,path\n1,../cam1/a.mp4\n2, /abs/b.mp4 \n3,\n", encoding="utf-8")
    assert read_input_manifest(manifest) == [tmp_path / "cam1" / "a.mp4", Path("/abs/b.mp4")]


def test_jsonl_manifest_objects_and_strings(tmp_path: Path) -> None:
    manifest = tmp_path / "inputs.jsonl"
    manifest.write_text('{"path": "a.mp4", "site": "x"}\n\n"sub/b.mov"\n', encoding="utf-8")
    assert read_input_manifest(manifest) == [tmp_path / "a.mp4", tmp_path / "sub" / "b.mov"]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("no_path.csv", "file\na.mp4\n", "'path' column"),
        ("bad.jsonl", '{"path": "a.mp4"}\n{oops\n', "line 2"),
        ("wrong.jsonl", '{"file": "a.mp4"}\n', "line 1"),
        ("empty.csv", "path\n", "lists no input"),
    ],
)
def test_bad_manifests_are_one_line_usage_errors(tmp_path: Path, name: str, text: str, message: str) -> None:
    manifest = tmp_path / name
    manifest.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        read_input_manifest(manifest)


def test_manifest_inputs_mirror_below_their_common_folder(tmp_path: Path) -> None:
    a, b = tmp_path / "site" / "cam1" / "a.mp4", tmp_path / "site" / "cam2" / "b.avi"
    jobs = mirror([a, b, a], tmp_path / "out")
    assert [(j.output, j.relative) for j in jobs] == [
        (tmp_path / "out" / "cam1" / "a.mp4", "cam1/a.mp4"),
        (tmp_path / "out" / "cam2" / "b.avi", "cam2/b.avi"),
    ]
    with pytest.raises(UsageError, match="same output"):
        mirror([tmp_path / "x" / "a.mp4", tmp_path / "x" / "a.ts"], tmp_path / "out2")  # .ts becomes .mp4


def test_output_inside_the_input_folder_is_refused(tmp_path: Path) -> None:
    make_video(tmp_path / "a.mp4")
    with pytest.raises(UsageError, match="must not be inside"):
        discover(tmp_path, tmp_path / "anonymized")


def test_status_manifest_round_trip_leaves_no_temporary_file(tmp_path: Path) -> None:
    records = [
        FileRecord("src/a.mp4", "a.mp4", "done", 10, 1, 12, 0, 1, 1.5, "ab" * 32, ""),
        FileRecord("src/b, c.mp4", "b, c.mp4", "failed", error='damaged "moov", truncated'),
    ]
    write_status(tmp_path, records)
    assert read_status(tmp_path) == {r.output: r for r in records}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gamyeon-batch.csv"]


def test_scan_finds_clean_keyframes_with_b_frames(tmp_path: Path) -> None:
    clip = tmp_path / "gop.mp4"
    stamps = gop_clip(clip, 60, gop=12)
    timeline = scan(clip)
    assert timeline is not None
    tb = timeline.time_base
    assert [p * tb for p in timeline.pts] == [Fraction(s, 25) for s in stamps]
    assert [k * tb for k in timeline.keyframes] == [Fraction(s, 25) for s in (0, 12, 24, 36, 48)]


def test_files_without_a_seek_index_are_never_split(tmp_path: Path) -> None:
    avi = tmp_path / "clip.avi"
    make_video(avi, codec="mpeg4", frames=30)
    assert scan(avi) is None


def test_chunks_cover_every_frame_once_and_start_at_keyframes() -> None:
    pts = list(range(0, 3000, 10))  # 300 frames, 10 ticks each, time base 1/250: 12 s
    keys = list(range(0, 3000, 250))  # a keyframe every second
    plan = plan_chunks(Timeline(pts, keys, Fraction(1, 250)), 3.0, 2.0, {"source": "x"})
    assert plan is not None and plan.frames == 300
    chunks = plan.chunks
    assert len(chunks) == 4
    assert chunks[0].start_index == 0 and chunks[-1].end_index is None
    for before, after in itertools.pairwise(chunks):
        assert before.end_index == after.start_index and before.end_pts == after.start_pts
        assert after.start_pts in keys and after.warm_pts in keys
        assert after.start_pts - after.warm_pts >= 2 * 250  # at least the overlap before the border
        assert pts[after.warm_index] == after.warm_pts and pts[after.start_index] == after.start_pts
    assert plan_chunks(Timeline(pts, keys, Fraction(1, 250)), 7.0, 2.0, {}) is None  # shorter than 2 chunks
    again = plan_chunks(Timeline(pts, keys, Fraction(1, 250)), 3.0, 2.0, {"source": "y"})
    assert again is not None and again.digest != plan.digest  # another source: parts are not reused


def test_track_linking_is_one_to_one_and_needs_agreement() -> None:
    votes = {("1", 7): 10, ("2", 7): 9, ("2", 8): 5, ("3", 9): 2}
    assert _link(Counter(votes)) == {"1": 7, "2": 8}


def test_identity_tracks_are_linked_across_chunks_and_kept_apart_from_masking_tracks(tmp_path: Path) -> None:
    """One person over two chunks: its masking track and its identity track (the sidecar's
    ``tracks``) each keep their id across the border, and the two never merge, although they
    have the same box and kind."""
    box = [10.0, 20.0, 40.0, 100.0]

    def line(frame: int, region: int, track: int) -> str:
        regions = [{"kind": "person", "track": region, "box": box, "mask": box, "score": 0.9, "source": "detected"}]
        tracks = [{"kind": "person", "track": track, "box": box, "score": 0.9, "source": "detected"}]
        entry = {"frame": frame, "pts": frame, "time": frame / 10, "fail_closed": False, "regions": regions}
        return json.dumps({**entry, "tracks": tracks}) + "\n"

    chunks = [Chunk(0, 0, 0, 0, 0, 10, 10), Chunk(1, 6, 6, 10, 10, None, None)]
    notes = [tmp_path / "part0.jsonl", tmp_path / "part1.jsonl"]
    notes[0].write_text("".join(line(f, 1, 2) for f in range(10)), encoding="utf-8")
    notes[1].write_text("".join(line(f, 3, 4) for f in range(6, 15)), encoding="utf-8")
    out = tmp_path / "merged.jsonl"
    merge_annotations(chunks, notes, out, lambda kind, number: f"{kind}-{number}")
    lines = [json.loads(text) for text in out.read_text(encoding="utf-8").splitlines()]
    assert [x["frame"] for x in lines] == list(range(15))
    assert {x["regions"][0]["track"] for x in lines} == {"person-1"}
    assert {x["tracks"][0]["track"] for x in lines} == {"person-2"}
