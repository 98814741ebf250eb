"""``gamyeon live`` without a server: fail closed under a real overload, the camera list, the
delay budget, the status board and its HTTP endpoint, and the command's one-line user errors."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from fractions import Fraction
from pathlib import Path

import pytest

from conftest import leftovers
from gamyeon.annotations import read_jsonl
from gamyeon.cli import main
from gamyeon.errors import UsageError
from gamyeon.live.cameras import Defaults, read_cameras
from gamyeon.live.clock import Backoff, Budget
from gamyeon.live.config import Timing, redact
from gamyeon.live.http import LiveHttp
from gamyeon.live.status import LATE, CameraCounters, StatusBoard
from gamyeon.types import FrameResult
from live_helpers import check_frames, decoded, is_black, write_clip


@pytest.fixture(scope="module")
def big_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One second of the clip at 1280 x 720 and 30 fps: too much for the slow settings below."""
    return write_clip(tmp_path_factory.mktemp("clip") / "clip720.mp4", 30, scale=2, rate=30)


def test_overload_fails_closed_never_raw(
    big_clip: Path, tmp_path: Path, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two cameras on one thread each with a small-face pass on every frame at 1280 x 720 and
    30 fps: detection falls far behind, and frames that cannot make their deadline leave fully
    masked. Every frame of the recordings is masked where the face is, or fully masked."""
    monkeypatch.setenv("GAMYEON_THREADS", "1")
    cameras = tmp_path / "cameras.toml"
    cameras.write_text(
        f"""
[defaults]
realtime = true
loop = true
record = "rec"      # relative to this file's folder

[[camera]]
name = "a"
source = "{big_clip}"

[[camera]]
name = "b"
source = "{big_clip}"
segment_minutes = 0.02
"""
    )
    status = tmp_path / "status.json"
    code = main(
        [
            "live",
            "--cameras",
            str(cameras),
            "--small-faces",
            "always",
            "--detect-every",
            "1",
            "--max-delay",
            "1",
            "--reserve",
            "0.6",
            "--duration",
            "3",
            "--kinds",
            "faces",
            "--key",
            str(key_file),
            "--status-file",
            str(status),
            "-q",
        ]
    )
    assert code == 0
    cams = json.loads(status.read_text())["cameras"]
    assert set(cams) == {"a", "b"}
    for name, cam in cams.items():
        assert cam["fail_closed"]["late"] > 0, cam
        assert cam["frames_out"] > 0
        segments = sorted((tmp_path / "rec" / name).glob("*.mp4"))
        assert segments and leftovers(tmp_path / "rec") == []
        black_total = masked_total = 0
        for segment in segments:
            images = decoded(segment)
            notes = list(read_jsonl(segment.with_name(segment.name + ".regions.jsonl")))
            assert len(images) == len(notes)
            for image, note in zip(images, notes, strict=True):
                assert is_black(image) == note["fail_closed"]
            masked, black, _ = check_frames(images)
            masked_total, black_total = masked_total + masked, black_total + black
        assert black_total > 0
        print(f"{name}: {masked_total} masked, {black_total} fully masked; {cam['fail_closed']}, {cam['detection_s']}")
    assert len(list((tmp_path / "rec" / "b").glob("*.mp4"))) >= 2  # its own segment length


def test_late_frames_can_be_dropped_instead(
    big_clip: Path, tmp_path: Path, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAMYEON_THREADS", "1")
    status = tmp_path / "status.json"
    args = [
        "live",
        str(big_clip),
        "--realtime",
        "--loop",
        "--record",
        str(tmp_path / "rec"),
        "--late",
        "drop",
        "--small-faces",
        "always",
        "--detect-every",
        "1",
        "--max-delay",
        "1",
        "--reserve",
        "0.6",
        "--duration",
        "2.5",
        "--kinds",
        "faces",
        "--key",
        str(key_file),
        "--status-file",
        str(status),
        "-q",
    ]
    assert main(args) == 0
    cam = json.loads(status.read_text())["cameras"]["cam1"]
    assert cam["dropped"]["late"] > 0 and cam["fail_closed"]["late"] == 0
    images = [i for s in sorted((tmp_path / "rec" / "cam1").glob("*.mp4")) for i in decoded(s)]
    masked, black, _ = check_frames(images)  # what did leave was decided in time: masked, never black
    assert masked == len(images) == cam["frames_out"] and black == 0


def test_a_camera_list_gives_each_camera_its_source_and_outputs(tmp_path: Path) -> None:
    path = tmp_path / "site" / "cameras.toml"
    path.parent.mkdir()
    path.write_text(
        """
[defaults]
record = "rec"
publish = "rtsp://relay:8554/anon/{camera}"
segment_minutes = 10

[[camera]]
name = "gate-north"
source = "rtsp://admin:secret@10.0.0.5/stream1"
fps = "30000/1001"
input_options = { buffer_size = "1048576" }

[[camera]]
name = "lobby"
source = "srt://10.0.0.6:9000"
segment_minutes = 1
hls = "/srv/hls"
"""
    )
    north, lobby = read_cameras(path, Defaults(hls=tmp_path / "cli-hls", timeout=3.0))
    assert north.outputs.record == path.parent / "rec" / "gate-north"
    assert north.outputs.publish == "rtsp://relay:8554/anon/gate-north"
    assert north.outputs.segment_seconds == 600 and lobby.outputs.segment_seconds == 60
    assert north.outputs.hls == tmp_path / "cli-hls" / "gate-north" and lobby.outputs.hls == Path("/srv/hls/lobby")
    assert north.source.fps == Fraction(30000, 1001) and north.source.input_options == (("buffer_size", "1048576"),)
    assert north.source.timeout == 3.0
    assert "secret" not in north.source.shown and "secret" not in str(north.outputs.describe())
    assert lobby.source.is_network and not lobby.source.is_file


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[camera]]\nname = "a"\nsource = "rtsp://x/1"\nrecord = "r"\ncolour = 1\n', "unknown key"),
        ('[[camera]]\nname = "a"\nrecord = "r"\n', "needs a 'source'"),
        ('[[camera]]\nname = "../a"\nsource = "rtsp://x/1"\nrecord = "r"\n', "camera name"),
        ('[[camera]]\nname = "a"\nsource = "rtsp://x/1"\n', "give an output"),
        ('[[camera]]\nname = "a"\nsource = "rtsp://x/1"\nrecord = "r"\n' * 2, "unique"),
        ("[defaults]\nrecord = 'r'\n", "at least one [[camera]]"),
        ("[[camera]\n", "not valid TOML"),
    ],
)
def test_a_bad_camera_list_is_refused_in_one_line(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "cameras.toml"
    path.write_text(body)
    with pytest.raises(UsageError, match=re.escape(message)):
        read_cameras(path, Defaults())


def test_the_look_ahead_is_what_fits_in_the_delay_budget() -> None:
    budget = Budget.of(Timing(max_delay=1.0), fps=15.0, wanted=16)
    assert (budget.lookahead, round(budget.reserve, 3)) == (10, 0.333)  # (1 - 1/3) s at 15 fps
    assert Budget.of(Timing(max_delay=2.0), fps=30.0, wanted=16).lookahead == 16  # never more than a file run
    assert Budget.of(Timing(max_delay=0.3), fps=15.0, wanted=16).lookahead == 3  # 0.2 s
    assert Budget.of(Timing(max_delay=1.0, reserve=1.0), fps=15.0, wanted=16).lookahead == 0
    assert budget.stale(arrived=10.0, now=10.5) is False and budget.stale(arrived=10.0, now=10.7) is True
    assert budget.deadline(10.0) == 11.0
    with pytest.raises(UsageError):
        Timing(max_delay=1.0, reserve=1.5)


def test_waits_between_attempts_double_up_to_the_longest() -> None:
    backoff = Backoff(0.5, 4.0)
    waits = [backoff.next() for _ in range(6)]
    for wait, base in zip(waits, [0.5, 1, 2, 4, 4, 4], strict=True):
        assert base <= wait <= base * 1.2
    backoff.reset()
    assert backoff.next() <= 0.6


def test_the_status_board_warns_when_a_camera_falls_behind(caplog: pytest.LogCaptureFixture) -> None:
    counters = CameraCounters("cam1", "rtsp://cam/1")
    board = StatusBoard(every=3600)
    board.add("cam1", counters.snapshot)
    for i in range(12):
        counters.arrived()
        counters.decided(FrameResult(i, i, 0.0, ()), None)
    board.report()
    assert "falls behind" not in caplog.text
    for i in range(12):
        counters.arrived()
        if i % 2:
            counters.decided(FrameResult.closed(i, i, 0.0, "late"), LATE)
        else:
            counters.decided(FrameResult(i, i, 0.0, ()), None)
    board.report()
    assert "cam1: 50% of the frames since the last report left fully masked" in caplog.text


def test_the_status_board_writes_a_file_and_serves_it(tmp_path: Path) -> None:
    counters = CameraCounters("cam1", redact("rtsp://u:pw@cam/1"))
    for delay in (0.5, 0.7, 0.9):
        counters.arrived()
        counters.sent(delay)
    counters.decided(FrameResult.closed(0, 0, 0.0, "late"), LATE)
    counters.output_failed("rtsp", "broken pipe")
    board = StatusBoard(every=3600, path=tmp_path / "status.json")
    board.add("cam1", counters.snapshot)
    board.report()
    cam = json.loads((tmp_path / "status.json").read_text())["cameras"]["cam1"]
    assert cam["frames_in"] == cam["frames_out"] == 3 and cam["fail_closed"]["late"] == 1
    assert cam["delay_all_s"]["max"] == 0.9 and cam["output_failures"] == {"rtsp": 1}
    assert "pw" not in json.dumps(cam)
    hls = tmp_path / "hls" / "cam1"
    hls.mkdir(parents=True)
    (hls / "index.m3u8").write_text("#EXTM3U\n")
    (tmp_path / "hls" / "secret.txt").write_text("no")
    server = LiveHttp(("127.0.0.1", 0), board, {"cam1": hls})
    server.start()
    try:
        served = json.loads(urllib.request.urlopen(f"{server.url}/status.json", timeout=5).read())
        assert served["cameras"]["cam1"]["frames_out"] == 3
        assert b"cam1" in urllib.request.urlopen(f"{server.url}/", timeout=5).read()
        assert urllib.request.urlopen(f"{server.url}/hls/cam1/index.m3u8", timeout=5).read() == b"#EXTM3U\n"
        for bad in ("/hls/cam1/../secret.txt", "/hls/cam2/index.m3u8", "/hls/cam1/notes.txt"):
            with pytest.raises(urllib.error.HTTPError):
                urllib.request.urlopen(f"{server.url}{bad}", timeout=5)
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["{clip}", "--record", "{tmp}"], "add --realtime"),
        (["{clip}", "--realtime", "--seal", "{key}", "--publish", "rtsp://h/x"], "needs --record"),
        (["rtsp://a/1", "rtsp://b/1", "--publish", "rtsp://h/x"], "put {camera} in --publish"),
        (["rtsp://a/1"], "give an output"),
        ([], "give a SOURCE"),
        (["rtsp://a/1", "--record", "{tmp}", "--max-delay", "0"], "--max-delay"),
        (["rtsp://a/1", "--record", "{tmp}", "--input-option", "novalue"], "KEY=VALUE"),
    ],
)
def test_user_errors_are_one_line(
    big_clip: Path, tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    args = [a.format(clip=big_clip, tmp=tmp_path / "out", key=key_file) for a in extra]
    assert main(["live", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("gamyeon: error:")
