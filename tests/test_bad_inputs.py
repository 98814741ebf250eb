"""Bad inputs and interrupted runs: one clear error line, a non-zero exit, no traceback, and
nothing left under the output name or as a hidden temporary file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import av
import pytest

import gamyeon
from conftest import env_without_home_keys, leftovers, make_video, pattern, probe
from gamyeon import Options
from gamyeon.cli import main
from gamyeon.errors import CorruptInputError, GamyeonError

GAMYEON = Path(sys.executable).with_name("gamyeon")
Capture = pytest.CaptureFixture[str]


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("gamyeon: error:")]


def assert_clean_failure(code: int, err: str, folder: Path, *outputs: Path) -> str:
    """Non-zero exit, exactly one error line, no traceback, no output and no temp files."""
    assert code != 0
    assert "Traceback" not in err
    lines = error_lines(err)
    assert len(lines) == 1, err
    for out in outputs:
        assert not out.exists(), f"{out} was left behind"
        assert not Path(str(out) + ".regions.jsonl").exists()
    if folder.exists():
        assert leftovers(folder) == []
    return lines[0]


@pytest.fixture
def good_mp4(tmp_path: Path) -> Path:
    path = tmp_path / "good.mp4"
    make_video(path, frames=30, size=(160, 120))
    return path


def cli(capsys: Capture, *args: str) -> tuple[int, str]:
    code = main(["anonymize", *args])
    return code, capsys.readouterr().err


# --- unreadable or broken inputs ----------------------------------------------------------------


def test_empty_file(tmp_path: Path, capsys: Capture) -> None:
    src = tmp_path / "empty.mp4"
    src.touch()
    out = tmp_path / "out.mp4"
    code, err = cli(capsys, str(src), "-o", str(out), "-q")
    line = assert_clean_failure(code, err, tmp_path, out)
    assert "empty" in line


def test_text_file_named_mp4(tmp_path: Path, capsys: Capture) -> None:
    src = tmp_path / "notes.mp4"
    src.write_text("this is not a video\n" * 20)
    out = tmp_path / "out.mp4"
    code, err = cli(capsys, str(src), "-o", str(out), "-q")
    line = assert_clean_failure(code, err, tmp_path, out)
    assert "notes.mp4" in line


def test_truncated_mp4_with_index_at_the_end(tmp_path: Path, good_mp4: Path, capsys: Capture) -> None:
    """The first half of an mp4 whose moov comes last: nothing tells where frames are."""
    data = good_mp4.read_bytes()
    src = tmp_path / "half.mp4"
    src.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out.mp4"
    code, err = cli(capsys, str(src), "-o", str(out), "-q")
    line = assert_clean_failure(code, err, tmp_path, out)
    assert "half.mp4" in line


def test_truncated_faststart_mp4_keeps_what_is_there(tmp_path: Path, capsys: Capture) -> None:
    """moov first, cut mid-mdat: the frames that are there are anonymized, with a warning
    that the file ended early, and never a traceback."""
    full = tmp_path / "full.mp4"
    make_video(full, frames=30, size=(160, 120), container_options={"movflags": "faststart"})
    data = full.read_bytes()
    src = tmp_path / "cut.mp4"
    src.write_bytes(data[: len(data) * 2 // 3])
    out = tmp_path / "out.mp4"
    code, err = cli(capsys, str(src), "-o", str(out))
    assert code == 0, err
    assert "Traceback" not in err and not error_lines(err)
    frames = len(probe(out).times)
    assert 0 < frames < 30
    assert "truncated" in err and "30" in err
    assert leftovers(tmp_path) == []


def test_unreadable_file(tmp_path: Path, good_mp4: Path, capsys: Capture) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    good_mp4.chmod(0)
    try:
        out = tmp_path / "out.mp4"
        code, err = cli(capsys, str(good_mp4), "-o", str(out), "-q")
        line = assert_clean_failure(code, err, tmp_path, out)
        assert "permission" in line
    finally:
        good_mp4.chmod(0o644)


def test_folder_named_like_a_video(tmp_path: Path, capsys: Capture) -> None:
    src = tmp_path / "clip.mp4"
    src.mkdir()
    out = tmp_path / "out"
    code, err = cli(capsys, str(src), "-o", str(out), "-q")
    line = assert_clean_failure(code, err, tmp_path, out)
    assert "clip.mp4" in line


def test_nonexistent_input(tmp_path: Path, capsys: Capture) -> None:
    out = tmp_path / "out.mp4"
    code, err = cli(capsys, str(tmp_path / "missing.mp4"), "-o", str(out), "-q")
    line = assert_clean_failure(code, err, tmp_path, out)
    assert "not found" in line


def test_audio_only_file(tmp_path: Path, capsys: Capture) -> None:
    import numpy as np

    src = tmp_path / "voice.mp4"
    with av.open(str(src), "w") as container:
        stream = container.add_stream("aac", rate=48000, layout="mono")
        for i in range(5):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48000, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    out = tmp_path / "out.mp4"
    code, err = cli(capsys, str(src), "-o", str(out), "-q")
    line = assert_clean_failure(code, err, tmp_path, out)
    assert "no video stream" in line


@pytest.mark.parametrize("content", ["text", "truncated"])
def test_bad_image(tmp_path: Path, capsys: Capture, content: str) -> None:
    from PIL import Image

    src = tmp_path / "photo.jpg"
    if content == "text":
        src.write_text("not a picture")
    else:
        Image.fromarray(pattern(0, 320, 240)).save(src)
        src.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    out = tmp_path / "out.jpg"
    code, err = cli(capsys, str(src), "-o", str(out), "-q")
    assert_clean_failure(code, err, tmp_path, out)


def test_corrupt_input_through_the_api(tmp_path: Path) -> None:
    src = tmp_path / "notes.mp4"
    src.write_text("not a video")
    out = tmp_path / "out.mp4"
    with pytest.raises(CorruptInputError):
        gamyeon.anonymize([src], out, Options(quiet=True))
    assert not out.exists() and leftovers(tmp_path) == []


# --- bad outputs and options --------------------------------------------------------------------


def test_missing_output_folder(tmp_path: Path, good_mp4: Path, capsys: Capture) -> None:
    out = tmp_path / "nonexistent" / "dir" / "out.mp4"
    code, err = cli(capsys, str(good_mp4), "-o", str(out), "-q")
    line = assert_clean_failure(code, err, tmp_path, out)
    assert "does not exist" in line
    assert not (tmp_path / "nonexistent").exists()


def test_output_without_extension(tmp_path: Path, good_mp4: Path, capsys: Capture) -> None:
    out = tmp_path / "out"
    code, err = cli(capsys, str(good_mp4), "-o", str(out), "-q")
    line = assert_clean_failure(code, err, tmp_path, out)
    assert code == 2
    assert "extension" in line


@pytest.mark.parametrize("name", ["out.xyz", "out.jpg"])
def test_output_with_wrong_extension(tmp_path: Path, good_mp4: Path, capsys: Capture, name: str) -> None:
    out = tmp_path / name
    code, err = cli(capsys, str(good_mp4), "-o", str(out), "-q")
    line = assert_clean_failure(code, err, tmp_path, out)
    assert "extension" in line


def test_output_would_overwrite_input(tmp_path: Path, good_mp4: Path, capsys: Capture) -> None:
    before = good_mp4.read_bytes()
    code, err = cli(capsys, str(good_mp4), "-o", str(good_mp4), "-q")
    assert_clean_failure(code, err, tmp_path)
    assert good_mp4.read_bytes() == before


def test_folder_input_with_a_file_name_as_output(tmp_path: Path, good_mp4: Path, capsys: Capture) -> None:
    """A folder's outputs go into a folder; a name like out.mp4 is almost surely a mistake."""
    out = tmp_path / "out.mp4"
    code, err = cli(capsys, str(tmp_path), "-o", str(out), "-q")
    assert_clean_failure(code, err, tmp_path, out)
    assert code == 2


@pytest.mark.parametrize("flag", ["--codec", "--operator"])
def test_unknown_choice_is_a_usage_error(tmp_path: Path, good_mp4: Path, capsys: Capture, flag: str) -> None:
    out = tmp_path / "out.mp4"
    with pytest.raises(SystemExit) as exc:
        main(["anonymize", str(good_mp4), "-o", str(out), flag, "bogus"])
    err = capsys.readouterr().err
    line = assert_clean_failure(int(exc.value.code or 0), err, tmp_path, out)
    assert exc.value.code == 2
    assert flag in line and "bogus" in line


def test_codec_that_the_container_cannot_hold(tmp_path: Path, good_mp4: Path, capsys: Capture) -> None:
    out = tmp_path / "out.webm"
    code, err = cli(capsys, str(good_mp4), "-o", str(out), "--codec", "h264", "-q")
    line = assert_clean_failure(code, err, tmp_path, out)
    assert code == 2 and "vp9" in line


def test_audio_the_container_cannot_hold(tmp_path: Path, capsys: Capture) -> None:
    src = tmp_path / "talk.mp4"
    make_video(src, audio=True)
    out = tmp_path / "out.webm"
    code, err = cli(capsys, str(src), "-o", str(out), "--keep-audio", "-q")
    line = assert_clean_failure(code, err, tmp_path, out)
    assert code == 2 and "aac" in line and "--keep-audio" in line


def test_mpeg4_with_a_fine_time_base_is_refused(tmp_path: Path, capsys: Capture) -> None:
    """MPEG-4 part 2 cannot express a 1/90000 time base; refusing beats retiming silently."""
    from fractions import Fraction

    src = tmp_path / "fine.mp4"
    make_video(src, time_base=Fraction(1, 90000), pts=[0, 3600, 7200, 10800])
    out = tmp_path / "out.mp4"
    code, err = cli(capsys, str(src), "-o", str(out), "--codec", "mpeg4", "-q")
    line = assert_clean_failure(code, err, tmp_path, out)
    assert code == 2 and "time base" in line


def test_long_output_name_that_fits_works(tmp_path: Path, good_mp4: Path, capsys: Capture) -> None:
    """A final name near the 255-byte limit must not fail because the temporary name is longer."""
    out = tmp_path / ("n" * 236 + ".mp4")  # its .regions.jsonl sidecar is 254 bytes
    code, err = cli(capsys, str(good_mp4), "-o", str(out), "-q")
    assert code == 0, err
    assert len(probe(out).times) == 30
    assert Path(str(out) + ".regions.jsonl").exists()
    assert leftovers(tmp_path) == []


def test_hangul_names(tmp_path: Path, capsys: Capture) -> None:
    src = tmp_path / "가면 테스트.mp4"
    make_video(src, frames=3)
    out = tmp_path / ("출력" * 39 + ".mp4")  # 3 bytes per character: 238 bytes, sidecar 252
    code, err = cli(capsys, str(src), "-o", str(out), "-q")
    assert code == 0, err
    assert len(probe(out).times) == 3 and leftovers(tmp_path) == []


def test_annotations_name_too_long(tmp_path: Path, good_mp4: Path, capsys: Capture) -> None:
    out = tmp_path / "out.mp4"
    notes = tmp_path / ("n" * 250 + ".jsonl")
    code, err = cli(capsys, str(good_mp4), "-o", str(out), "--annotations", str(notes), "-q")
    line = assert_clean_failure(code, err, tmp_path, out)
    assert "longer than 255" in line


def test_annotations_path_is_a_folder(tmp_path: Path, good_mp4: Path, capsys: Capture) -> None:
    """Found before any work, so the video does not land while its annotations fail."""
    out = tmp_path / "out.mp4"
    notes = tmp_path / "notes.jsonl"
    notes.mkdir()
    code, err = cli(capsys, str(good_mp4), "-o", str(out), "--annotations", str(notes), "-q")
    line = assert_clean_failure(code, err, tmp_path, out)
    assert "folder" in line
    assert list(notes.iterdir()) == []


def test_output_that_cannot_be_written_is_an_output_error(
    tmp_path: Path, good_mp4: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OSError about an output file (here: its folder vanished) is one error line, not a
    traceback. Injected by pointing the annotations' temporary name into a missing folder."""
    from gamyeon.infra import files

    real = files.temp_path

    def vanishing(final: Path) -> Path:
        tmp = real(final)
        return tmp.parent / "gone" / tmp.name if final.suffix == ".jsonl" else tmp

    monkeypatch.setattr(files, "temp_path", vanishing)
    out = tmp_path / "out.mp4"
    code, err = cli(capsys, str(good_mp4), "-o", str(out), "-q")
    line = assert_clean_failure(code, err, tmp_path, out)
    assert "cannot write output" in line and "out.mp4.regions.jsonl" in line


# --- interrupts ---------------------------------------------------------------------------------


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, frames: int) -> dict[str, int]:
    from gamyeon.pipeline import video as pipeline

    original = pipeline.to_rgb
    calls = {"n": 0}

    def interrupted(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] > frames:
            raise KeyboardInterrupt
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "to_rgb", interrupted)
    return calls


def test_interrupt_leaves_nothing_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "in.mp4"
    make_video(src, frames=40, size=(160, 120))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "out.mp4"
    calls = _interrupt_after(monkeypatch, 6)
    with pytest.raises(KeyboardInterrupt):
        gamyeon.anonymize([src], out, Options(quiet=True, detect_every=1, exports=("coco", "mot")))
    assert calls["n"] > 6
    assert list(out_dir.iterdir()) == []


def test_interrupt_leaves_nothing_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    src = tmp_path / "in.mp4"
    make_video(src, frames=40, size=(160, 120))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "out.mp4"
    _interrupt_after(monkeypatch, 6)
    code = main(["anonymize", str(src), "-o", str(out), "--detect-every", "1", "--export", "coco", "-q"])
    err = capsys.readouterr().err
    assert code == 130
    assert "Traceback" not in err and "interrupted" in err
    assert list(out_dir.iterdir()) == []


def test_interrupt_in_a_folder_run_keeps_finished_files_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = tmp_path / "in"
    tree.mkdir()
    make_video(tree / "a.mp4", frames=4)
    make_video(tree / "b.mp4", frames=40)
    out = tmp_path / "out"
    from gamyeon.pipeline import video as pipeline

    original = pipeline.to_rgb
    state = {"file": None, "n": 0}

    def interrupted(frame: object, *args: object, **kwargs: object) -> object:
        state["n"] += 1
        if state["n"] > 12:  # a.mp4 needs fewer calls than that
            raise KeyboardInterrupt
        return original(frame, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "to_rgb", interrupted)
    with pytest.raises(KeyboardInterrupt):
        gamyeon.anonymize([tree], out, Options(quiet=True, detect_every=1))
    names = sorted(p.name for p in out.iterdir())
    assert names == ["a.mp4", "a.mp4.regions.jsonl"]
    assert len(probe(out / "a.mp4").times) == 4


# --- a real process -----------------------------------------------------------------------------


def test_real_process_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    src = tmp_path / "notes.mp4"
    src.write_text("not a video")
    out = tmp_path / "out.mp4"
    done = subprocess.run(
        [str(GAMYEON), "anonymize", str(src), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env_without_home_keys(tmp_path),
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert len(error_lines(done.stderr)) == 1, done.stderr
    assert done.stderr.strip().splitlines() == error_lines(done.stderr)
    assert done.stdout == ""
    assert not out.exists() and leftovers(tmp_path) == []


def test_real_process_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(GAMYEON), "anonymize", str(tmp_path / "x.mp4"), "-o", str(tmp_path / "o.mp4"), "--codec", "bogus"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env_without_home_keys(tmp_path),
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(error_lines(done.stderr)) == 1, done.stderr


def test_gamyeon_error_is_also_the_builtin() -> None:
    """Callers of the API may catch the built-in family instead (documented in errors.py)."""
    assert issubclass(CorruptInputError, ValueError) and issubclass(CorruptInputError, GamyeonError)
