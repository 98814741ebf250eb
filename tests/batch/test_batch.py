"""``gamyeon batch`` end to end on real worker processes: chunk joins, bad files, kill and resume,
Ctrl-C. Every run is a real subprocess or a real process pool; nothing is mocked."""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from batch_helpers import decode_dts, gop_clip, status, temp_files
from conftest import env_without_home_keys, face_picture, probe
from gamyeon.api import anonymize
from gamyeon.batch import BatchConfig, run_batch
from gamyeon.detect.centerface import CenterFace
from gamyeon.detect.faces import FaceDetector
from gamyeon.errors import KeyFileError, UsageError
from gamyeon.infra.files import sha256_file
from gamyeon.keys import MasterKey, write_key
from gamyeon.ledger.chain import Record
from gamyeon.ledger.store import Ledger
from gamyeon.options import Options
from gamyeon.policy import Policy

GAMYEON = Path(sys.executable).with_name("gamyeon")
FACE_SIZE = (352, 264)
FACE_FRAMES = 75  # 3 s at 25 fps: three chunks of ~1 s with --chunk-seconds 1


def _batch(*args: str | Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GAMYEON), "batch", *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def _face_box(index: int) -> tuple[int, int, int, int]:
    """Where the astronaut's face is on frame ``index`` of ``face_picture`` (it pans 2 px per frame),
    found once on frame 0 by the detector and shrunk a little so it is surely inside the face."""
    found = FaceDetector(CenterFace(), threshold=0.5).detect(np.ascontiguousarray(face_picture(0, *FACE_SIZE)))
    assert len(found) == 1
    box = found[0].box.scaled(0.8)
    return round(box.x1) + 2 * index, round(box.y1), round(box.x2) + 2 * index, round(box.y2)


def test_chunked_run_is_frame_exact_and_keeps_a_face_masked_across_borders(tmp_path: Path, key_file: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    clip = src / "walk.mp4"
    gop_clip(clip, FACE_FRAMES, size=FACE_SIZE, gop=12, picture=face_picture)  # B-frames in the input
    # the face is large: no magnified small-face passes, which keeps the test fast
    options = Options(
        policy=Policy().with_overrides(operator="fill"), small_faces="never", key_file=key_file, quiet=True
    )

    single = tmp_path / "single.mp4"
    anonymize([clip], single, options)
    report = run_batch(BatchConfig(src, tmp_path / "dst", options, workers=2, chunk_seconds=1.0, overlap_seconds=1.0))
    assert report.exit_code == 0
    chunked = tmp_path / "dst" / "walk.mp4"
    row = status(tmp_path / "dst")["walk.mp4"]
    assert row["state"] == "done" and row["chunks"] == "3" and row["frames"] == str(FACE_FRAMES)
    assert row["output_sha256"] == sha256_file(chunked)

    source, one, joined = (
        probe(clip, keep_frames=True),
        probe(single, keep_frames=True),
        probe(chunked, keep_frames=True),
    )
    assert len(joined.times) == len(one.times) == FACE_FRAMES
    assert joined.times == one.times == source.times  # identical presentation times, frame by frame
    dts = decode_dts(chunked)
    assert all(a < b for a, b in itertools.pairwise(dts))  # joins keep decode order monotonic
    assert (joined.width, joined.height) == FACE_SIZE

    # the face is masked (filled black) on every frame, in particular on both sides of each border
    for index in range(FACE_FRAMES):
        x1, y1, x2, y2 = _shift(index)
        original = source.frames[index][y1:y2, x1:x2].astype(np.int16)
        for out in (one, joined):
            masked = out.frames[index][y1:y2, x1:x2].astype(np.int16)
            assert np.abs(masked - original).mean() > 40, f"face visible on frame {index}"
            assert masked.mean() < 25, f"face not filled on frame {index}"

    # one pseudonymous id for the face across all three chunks (tracks linked over the overlap)
    lines = [json.loads(line) for line in (tmp_path / "dst" / "walk.mp4.regions.jsonl").read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(FACE_FRAMES))
    single_lines = [json.loads(line) for line in Path(f"{single}.regions.jsonl").read_text().splitlines()]
    assert [line["pts"] for line in lines] == [line["pts"] for line in single_lines]
    covering = [
        {r["track"] for r in line["regions"] if r["kind"] == "face" and _covers(r["mask"], _shift(line["frame"]))}
        for line in lines
    ]
    assert all(covering), "a frame without a face region over the face"
    common = set.intersection(*covering)
    assert len(common) == 1, "the face changed pseudonymous id at a chunk border"
    assert not (tmp_path / "dst" / ".gamyeon-work").exists()  # chunk parts are removed after the join


_BOX: tuple[int, int, int, int] | None = None


def _shift(index: int) -> tuple[int, int, int, int]:
    global _BOX
    if _BOX is None:
        _BOX = _face_box(0)
    x1, y1, x2, y2 = _BOX
    return x1 + 2 * index, y1, x2 + 2 * index, y2


def _covers(mask: list[float], box: tuple[int, int, int, int]) -> bool:
    return mask[0] <= box[0] and mask[1] <= box[1] and mask[2] >= box[2] and mask[3] >= box[3]


def test_a_corrupt_file_in_the_middle_fails_alone(tmp_path: Path) -> None:
    src = tmp_path / "site"
    src.mkdir()
    gop_clip(src / "a.mp4", 8)
    gop_clip(src / "c.mp4", 8)
    data = (src / "a.mp4").read_bytes()
    (src / "b.mp4").write_bytes(data[: len(data) // 3])  # truncated: the index is gone
    Image.fromarray(face_picture(0, 96, 72)).save(src / "d.png")
    manifest = tmp_path / "inputs.csv"
    manifest.write_text("path\nsite/a.mp4\nsite/b.mp4\nsite/c.mp4\nsite/d.png\n", encoding="utf-8")
    dst = tmp_path / "out"

    ledger = tmp_path / "ledger.sqlite"
    args = [manifest, "-o", dst, "--workers", "2", "--export", "mot", "--purpose", "training", "--ledger", ledger]
    done = _batch(*args, env=env_without_home_keys(tmp_path))
    assert done.returncode == 1, done.stderr
    rows = status(dst)
    assert [rows[n]["state"] for n in ("a.mp4", "b.mp4", "c.mp4", "d.png")] == ["done", "failed", "done", "done"]
    error = rows["b.mp4"]["error"]
    assert error and "\n" not in error and "b.mp4" in error
    assert f"failed: {src / 'b.mp4'}: {error}" in done.stderr  # named in the summary too
    for name, frames in (("a.mp4", "8"), ("c.mp4", "8"), ("d.png", "1")):
        assert rows[name]["output_sha256"] == sha256_file(dst / name)
        assert rows[name]["frames"] == frames
    assert not (dst / "b.mp4").exists() and temp_files(dst) == []

    # the same records as `gamyeon anonymize`: one per output, none for the failed file
    records = _records(ledger)
    assert records[0].action == "anonymize.start" and records[0].payload["purpose"] == "training"
    outputs = {Path(r.payload["output"]["path"]).name: r for r in records if r.action == "anonymize"}
    assert sorted(outputs) == ["a.mp4", "c.mp4", "d.png"]
    for name, rec in outputs.items():
        assert rec.payload["output"]["sha256"] == rows[name]["output_sha256"]
        assert rec.payload["annotations"]["sha256"] == sha256_file(dst / f"{name}.regions.jsonl")
        assert rec.payload["input"]["sha256"] == sha256_file(src / name)
    assert sum(r.action == "export" for r in records) == 3
    finish = records[-1]
    assert finish.action == "anonymize.finish" and finish.payload["files_done"] == 3
    assert finish.payload["files_failed"] == 1
    assert len({r.dataset_id for r in records}) == 1

    # done files missing from a ledger get their record on the next run (no output without one)
    other = tmp_path / "other.sqlite"
    again = _batch(*args[:-1], other, env=env_without_home_keys(tmp_path))
    assert again.returncode == 1, again.stderr
    late = [r for r in _records(other) if r.action == "anonymize"]
    assert sorted(Path(r.payload["output"]["path"]).name for r in late) == ["a.mp4", "c.mp4", "d.png"]
    assert all(r.payload["recorded_late"] is True for r in late)


def _records(location: Path) -> list[Record]:
    with Ledger(str(location)) as ledger:
        return list(ledger.records())


def _start(args: list[str | Path], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(GAMYEON), "batch", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group: signals reach the workers as from a terminal
        # as from an interactive shell: a test run started in the background (`make test &`)
        # inherits SIGINT ignored, and Python then keeps ignoring it (rightly, for a background job)
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_done(dst: Path, name: str, proc: subprocess.Popen[str], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the batch ended before it could be interrupted"
        try:
            if status(dst).get(name, {}).get("state") == "done":
                return
        except (FileNotFoundError, KeyError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"{name} was not done within {timeout} s")


@pytest.fixture
def three_files(tmp_path: Path) -> Path:
    """a (short), b (long enough to be mid-way when a is done), c (short)."""
    src = tmp_path / "src"
    src.mkdir()
    gop_clip(src / "a.mp4", 6)
    gop_clip(src / "b.mp4", 400, size=(160, 120), preset="ultrafast", picture=face_picture)
    gop_clip(src / "c.mp4", 6)
    return src


def test_resume_after_the_batch_is_killed(tmp_path: Path, three_files: Path) -> None:
    dst = tmp_path / "dst"
    env = env_without_home_keys(tmp_path)
    args: list[str | Path] = [three_files, "-o", dst, "--workers", "1", "--chunk-seconds", "0"]
    proc = _start(args, env)
    try:
        _wait_for_done(dst, "a.mp4", proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # like a power cut: parent and workers die at once
        proc.communicate(timeout=60)
    assert status(dst)["b.mp4"]["state"] in {"running", "pending"}
    assert not (dst / "b.mp4").exists(), "a partial output under its final name"
    first = (dst / "a.mp4").stat()

    again = _batch(*args, env=env)
    assert again.returncode == 0, again.stderr
    assert "1 of 3 file(s) already done" in again.stderr
    assert (dst / "a.mp4").stat().st_mtime_ns == first.st_mtime_ns  # skipped, not redone
    rows = status(dst)
    assert all(rows[n]["state"] == "done" and rows[n]["output_sha256"] == sha256_file(dst / n) for n in rows)
    assert rows["b.mp4"]["frames"] == "400" and temp_files(dst) == []

    # "done" is checked by the output's hash: a changed output is redone, the others are not
    with (dst / "c.mp4").open("ab") as fh:
        fh.write(b"tampered")
    third = _batch(*args, env=env)
    assert third.returncode == 0, third.stderr
    assert "2 of 3 file(s) already done" in third.stderr
    assert status(dst)["c.mp4"]["output_sha256"] == sha256_file(dst / "c.mp4")
    assert not (dst / "c.mp4").read_bytes().endswith(b"tampered")
    assert (dst / "a.mp4").stat().st_mtime_ns == first.st_mtime_ns

    # the state file names the key by fingerprint and path only; no key bytes anywhere in DST
    key = next((tmp_path / "keys").glob("*.key"))
    secret = key.read_text().split()[1]
    raw = base64.b64decode(secret)
    for path in dst.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert secret.encode() not in data and raw not in data, path


def test_ctrl_c_stops_cleanly_and_a_rerun_continues(tmp_path: Path, three_files: Path) -> None:
    dst = tmp_path / "dst"
    env = env_without_home_keys(tmp_path)
    args: list[str | Path] = [three_files, "-o", dst, "--workers", "1"]
    proc = _start(args, env)
    _wait_for_done(dst, "a.mp4", proc)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole process group
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert status(dst)["b.mp4"]["state"] == "pending"
    assert not (dst / "b.mp4").exists() and temp_files(dst) == []

    again = _batch(*args, env=env)
    assert again.returncode == 0, again.stderr
    assert all(row["state"] == "done" for row in status(dst).values())


def test_sigterm_stops_like_ctrl_c_and_a_killed_parent_takes_its_workers_along(
    tmp_path: Path, three_files: Path
) -> None:
    dst = tmp_path / "dst"
    env = env_without_home_keys(tmp_path)
    args: list[str | Path] = [three_files, "-o", dst, "--workers", "2", "--chunk-seconds", "0"]
    proc = _start(args, env)
    _wait_for_done(dst, "a.mp4", proc)
    os.kill(proc.pid, signal.SIGTERM)  # the parent only, as `kill` or a job scheduler sends it
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and temp_files(dst) == []
    assert status(dst)["b.mp4"]["state"] in {"pending", "done"}
    _assert_group_gone(proc.pid)

    shutil.rmtree(dst)
    proc = _start(args, env)
    _wait_for_done(dst, "a.mp4", proc)
    os.kill(proc.pid, signal.SIGKILL)  # the parent only: its workers must not linger
    proc.communicate(timeout=60)
    _assert_group_gone(proc.pid)


def _assert_group_gone(pgid: int, timeout: float = 20.0) -> None:
    """No process of the batch's process group (its workers) is left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError("worker processes outlived the batch parent")


def test_a_batch_keeps_its_dataset_and_refuses_other_settings(tmp_path: Path, key_file: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    gop_clip(src / "a.mp4", 4)
    dst = tmp_path / "dst"
    options = Options(key_file=key_file, quiet=True)
    first = run_batch(BatchConfig(src, dst, options))
    assert first.exit_code == 0
    (dst / "a.mp4").unlink()
    with pytest.raises(UsageError, match="other settings"):
        run_batch(BatchConfig(src, dst, Options(key_file=key_file, policy=Policy().with_overrides(operator="blur"))))
    wrong = tmp_path / "other.key"
    write_key(MasterKey.generate(), wrong)
    with pytest.raises(KeyFileError, match="not the key this batch was started with"):
        run_batch(BatchConfig(src, dst, Options(key_file=wrong)))
    again = run_batch(BatchConfig(src, dst, options))
    assert again.exit_code == 0 and again.dataset_id == first.dataset_id and (dst / "a.mp4").exists()


def test_vfr_input_keeps_its_timestamps_through_a_chunked_run(tmp_path: Path, key_file: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    tb = Fraction(1, 1000)
    stamps, t = [], 0
    for i in range(60):
        stamps.append(t)
        t += 33 if i % 3 else 57  # irregular frame durations
    gop_clip(src / "vfr.mp4", 60, gop=10, pts=stamps, time_base=tb, rate=Fraction(25))
    options = Options(key_file=key_file, quiet=True)
    report = run_batch(BatchConfig(src, tmp_path / "dst", options, workers=1, chunk_seconds=0.6, overlap_seconds=0.3))
    assert report.exit_code == 0 and int(status(tmp_path / "dst")["vfr.mp4"]["chunks"]) >= 2
    assert probe(tmp_path / "dst" / "vfr.mp4").times == [s * tb for s in stamps]


def test_chunked_join_copies_audio_rotation_and_metadata_like_a_single_run(tmp_path: Path, key_file: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    clip = src / "phone.mp4"
    gop_clip(
        clip, 75, size=(96, 64), gop=10, rotation=90, audio=True, metadata={"title": "t", "location": "+37.5+127.0/"}
    )
    options = Options(keep_audio=True, keep_metadata=True, key_file=key_file, quiet=True)
    report = run_batch(BatchConfig(src, tmp_path / "dst", options, workers=2, chunk_seconds=1.0, overlap_seconds=0.5))
    assert report.exit_code == 0 and status(tmp_path / "dst")["phone.mp4"]["chunks"] == "3"
    anonymize([clip], tmp_path / "single.mp4", options)
    source, joined, single = probe(clip), probe(tmp_path / "dst" / "phone.mp4"), probe(tmp_path / "single.mp4")
    assert joined.times == single.times == source.times
    assert joined.rotation == single.rotation == 90
    assert joined.audio_packets == source.audio_packets and len(joined.audio_packets) > 100  # copied, not re-encoded
    assert joined.metadata.get("title") == "t"
    assert not any("location" in k for k in joined.metadata)  # never location, as in a single run


def test_finished_chunk_parts_are_reused_and_parts_of_another_plan_are_not(tmp_path: Path, key_file: Path) -> None:
    from gamyeon.batch import tasks
    from gamyeon.batch.spec import ChunkPlan, ChunkResult, FileTask

    clip = tmp_path / "long.mp4"
    gop_clip(clip, 50, gop=10)
    task = FileTask(
        source=str(clip),
        output=str(tmp_path / "out" / "long.mp4"),
        relative="long.mp4",
        work_dir=str(tmp_path / "work"),
        options=Options(key_file=key_file, quiet=True),
        dataset_id="d" * 32,
        key_file=str(key_file),
        chunk_seconds=0.5,
        overlap_seconds=0.4,
    )
    plan = tasks.prepare(task)
    assert isinstance(plan, ChunkPlan) and len(plan.chunks) == 4
    first = tasks.run_chunk(task, plan, 1)
    assert isinstance(first, ChunkResult) and first.seconds > 0
    part = tasks.part_paths(task, 1)[0]
    made = part.stat().st_mtime_ns
    again = tasks.run_chunk(task, plan, 1)  # as after an interrupted run: the part is complete, reuse it
    assert isinstance(again, ChunkResult) and again.seconds == 0 and again.frames == first.frames
    assert part.stat().st_mtime_ns == made
    clip.touch()  # the source changed: its old parts must not be joined into the new output
    replanned = tasks.prepare(task)
    assert isinstance(replanned, ChunkPlan) and replanned.digest != plan.digest and not part.exists()
