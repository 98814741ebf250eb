"""Cameras as Ray actors on a real local Ray instance: an actor whose process dies is restarted
by Ray and runs its camera again; a stop finishes every camera's segment cleanly."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import ray

from conftest import leftovers
from gamyeon.ledger.store import Ledger
from gamyeon.live.config import Camera, LiveSettings, OutputSpec, SourceSpec
from gamyeon.live.ray_actors import RayCameras
from gamyeon.live.status import StatusBoard
from gamyeon.options import Options, Processing
from live_helpers import check_frames, decoded, wait_for, write_clip


def _frames_out(board: StatusBoard) -> int:
    return int(board.snapshot()["cameras"]["cam1"].get("frames_out") or 0)


def test_a_camera_actor_that_dies_is_restarted(ray_instance: None, tmp_path: Path, key_file: Path) -> None:
    clip = write_clip(tmp_path / "clip.mp4", 30)
    record = tmp_path / "rec" / "cam1"
    camera = Camera(
        "cam1", SourceSpec(str(clip), realtime=True, loop=True), OutputSpec(record=record, segment_seconds=1)
    )
    ledger = tmp_path / "ledger.sqlite"  # named: Ray's workers do not see the test's environment
    options = Options(kinds=("face",), processing=Processing(ledger=str(ledger)))
    settings = LiveSettings(options, key_file, uuid.uuid4().hex)
    stop = threading.Event()
    board = StatusBoard(every=3600)
    cameras = RayCameras("auto", [camera], settings, stop, board)
    cameras.start()
    waiter = threading.Thread(target=cameras.wait)
    waiter.start()
    try:
        wait_for(lambda: _frames_out(board) >= 20, 90, "frames from the actor")
        ray.kill(cameras.actors["cam1"], no_restart=False)  # its process dies; Ray brings it back
        wait_for(lambda: board.snapshot()["cameras"]["cam1"].get("actor_restarts") == 1, 60, "the restart")
        wait_for(lambda: _frames_out(board) >= 20, 90, "frames from the restarted actor")
    finally:
        stop.set()
        waiter.join(120)
    assert cameras.failures() == []
    segments = sorted(record.glob("*.mp4"))
    assert len(segments) >= 2 and leftovers(record) == []
    for segment in segments:
        check_frames(decoded(segment))
    with Ledger(str(ledger)) as book:
        records = list(book.records())
    starts = [r for r in records if r.action == "anonymize.start"]
    finishes = [r for r in records if r.action == "anonymize.finish"]
    assert len(starts) == 2 and len(finishes) == 1  # the killed run never finished: it shows as unfinished
