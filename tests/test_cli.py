"""The command line, in process (``gamyeon.cli.main``) and once as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest
from PIL import Image

from conftest import env_without_home_keys, face_picture, leftovers, make_video, probe
from gamyeon import __version__
from gamyeon.cli import main
from gamyeon.detect.centerface import model_path
from gamyeon.detect.ssdlite import model_path as person_model_path
from gamyeon.detect.text import model_path as text_model_path
from gamyeon.ledger.store import Ledger

GAMYEON = Path(sys.executable).with_name("gamyeon")


@pytest.fixture
def face_clip(tmp_path: Path) -> Path:
    path = tmp_path / "face.mp4"
    make_video(path, size=(320, 240), frames=10, picture=face_picture)
    return path


def test_crf_changes_size_in_the_expected_direction(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.mp4"
    make_video(src, size=(160, 120), frames=12)
    sizes = {}
    for crf in (12, 40):
        out = tmp_path / f"crf{crf}.mp4"
        # nothing to mask: without --copy-empty never every GOP would be copied, not encoded
        args = ["anonymize", str(src), "-o", str(out), "--crf", str(crf), "--copy-empty", "never", "-q"]
        assert main(args) == 0
        sizes[crf] = out.stat().st_size
        assert len(probe(out).times) == 12
    assert sizes[12] > sizes[40] * 1.5, sizes  # lower CRF means higher quality, more bytes
    assert capsys.readouterr().err == ""  # -q: nothing on success


def test_codec_flag(tmp_path: Path) -> None:
    src = tmp_path / "in.mp4"
    make_video(src, frames=4)
    out = tmp_path / "out.mkv"
    assert main(["anonymize", str(src), "-o", str(out), "--codec", "hevc", "-q"]) == 0
    assert probe(out).codec == "hevc"


def test_exports_and_annotations(tmp_path: Path, face_clip: Path) -> None:
    out = tmp_path / "out.mp4"
    summary_json = tmp_path / "summary.json"
    code = main(
        ["anonymize", str(face_clip), "-o", str(out), "--export", "coco,mot", "--summary-json", str(summary_json), "-q"]
    )
    assert code == 0
    after = probe(out)
    frames = after.times
    assert len(frames) == 10 and after.time_base is not None
    lines = [json.loads(x) for x in (tmp_path / "out.mp4.regions.jsonl").read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(len(frames)))
    assert [line["pts"] * after.time_base for line in lines] == frames
    assert [line["time"] for line in lines] == [round(float(t), 6) for t in frames if t is not None]

    coco = json.loads((tmp_path / "out.mp4.coco.json").read_text())
    assert len(coco["images"]) == len(frames)
    assert coco["categories"] == [{"id": 1, "name": "face"}]
    assert len(coco["annotations"]) >= len(frames)  # the face is on every frame
    assert {a["image_id"] for a in coco["annotations"]} == {img["id"] for img in coco["images"]}

    mot = [row.split(",") for row in (tmp_path / "out.mp4.mot.txt").read_text().splitlines()]
    assert len(mot) >= len(frames)
    assert {int(r[0]) for r in mot} == set(range(1, len(frames) + 1))
    assert all(len(r) == 10 and float(r[4]) > 0 and float(r[5]) > 0 for r in mot)

    summary = json.loads(summary_json.read_text())
    assert summary[0]["frames"] == len(frames) and summary[0]["fail_closed_frames"] == 0
    assert summary[0]["regions"]["face"] >= len(frames)


def test_annotations_flag_puts_the_sidecar_elsewhere(tmp_path: Path) -> None:
    src = tmp_path / "in.mp4"
    make_video(src, frames=5)
    notes = tmp_path / "notes" / "regions.jsonl"
    notes.parent.mkdir()
    out = tmp_path / "out.mp4"
    assert main(["anonymize", str(src), "-o", str(out), "--annotations", str(notes), "-q"]) == 0
    assert len(notes.read_text().splitlines()) == 5
    assert not (tmp_path / "out.mp4.regions.jsonl").exists()


def test_fps_flag_for_raw_streams(tmp_path: Path) -> None:
    src = tmp_path / "in.h264"
    make_video(src, container_format="h264", frames=6)
    out = tmp_path / "out.mp4"
    assert main(["anonymize", str(src), "-o", str(out), "--fps", "29.97", "-q"]) == 0
    assert probe(out).times == [Fraction(1001 * i, 30000) for i in range(6)]


def test_bad_fps_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["anonymize", str(tmp_path / "x.h264"), "-o", str(tmp_path / "o.mp4"), "--fps", "fast"])
    assert exc.value.code == 2
    assert "gamyeon: error: argument --fps" in capsys.readouterr().err


def test_keep_audio_and_metadata_flags(tmp_path: Path) -> None:
    src = tmp_path / "in.mkv"
    make_video(src, audio=True, metadata={"title": "kept", "location": "+37.5665+126.9780/"})
    out = tmp_path / "out.mkv"
    assert main(["anonymize", str(src), "-o", str(out), "--keep-audio", "--keep-metadata", "-q"]) == 0
    after, before = probe(out), probe(src)
    assert after.audio_packets == before.audio_packets
    assert after.metadata.get("title") == "kept"
    assert not any("location" in k.lower() for k in after.metadata)


def test_key_file_gives_stable_track_ids(tmp_path: Path, face_clip: Path, key_file: Path, _key_store: Path) -> None:
    tracks = []
    for name in ("a.mp4", "b.mp4"):
        out = tmp_path / name
        assert main(["anonymize", str(face_clip), "-o", str(out), "--key", str(key_file), "-q"]) == 0
        first = json.loads((tmp_path / f"{name}.regions.jsonl").read_text().splitlines()[0])
        tracks.append(first["regions"][0]["track"])
    assert tracks[0] and len(tracks[0]) >= 8
    assert list(_key_store.iterdir()) == []  # given a key, none is generated


def test_generated_key_goes_to_the_key_store_and_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], _key_store: Path
) -> None:
    src = tmp_path / "in.mp4"
    make_video(src, frames=3)
    assert main(["anonymize", str(src), "-o", str(tmp_path / "out.mp4")]) == 0
    keys = list(_key_store.iterdir())
    assert len(keys) == 1
    err = capsys.readouterr().err
    assert str(keys[0]) in err
    assert "3 frame(s)" in err


def test_failed_run_leaves_no_orphan_key(tmp_path: Path, capsys: pytest.CaptureFixture[str], _key_store: Path) -> None:
    src = tmp_path / "bad.mp4"
    src.write_text("not a video")
    assert main(["anonymize", str(src), "-o", str(tmp_path / "out.mp4")]) == 1
    assert list(_key_store.iterdir()) == []
    assert "key" not in capsys.readouterr().err


def test_output_into_an_existing_folder_and_several_inputs(tmp_path: Path) -> None:
    a, b = tmp_path / "a.mov", tmp_path / "b.mkv"
    make_video(a, frames=3)
    make_video(b, frames=4)
    single = tmp_path / "single"
    single.mkdir()
    assert main(["anonymize", str(a), "-o", str(single), "-q"]) == 0
    assert sorted(p.name for p in single.iterdir()) == ["a.mov", "a.mov.regions.jsonl"]
    several = tmp_path / "several"
    assert main(["anonymize", str(a), str(b), "-o", str(several), "-q"]) == 0
    assert sorted(p.name for p in several.iterdir()) == ["a.mov", "a.mov.regions.jsonl", "b.mkv", "b.mkv.regions.jsonl"]
    assert len(probe(several / "b.mkv").times) == 4


def test_repeated_runs_in_one_process_log_to_the_current_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each main() call logs to the stderr of its own moment and leaves no handler behind."""
    import logging

    before = list(logging.getLogger("gamyeon").handlers)
    for i in range(2):
        code = main(["anonymize", str(tmp_path / f"missing{i}.mp4"), "-o", str(tmp_path / "o.mp4")])
        assert code == 1
        err = capsys.readouterr().err
        assert err.count("gamyeon: error:") == 1 and f"missing{i}.mp4" in err
    assert logging.getLogger("gamyeon").handlers == before


def test_version() -> None:
    done = subprocess.run([str(GAMYEON), "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0
    assert done.stdout.strip() == f"gamyeon {__version__}"


def test_real_process_success(tmp_path: Path) -> None:
    src = tmp_path / "in.mp4"
    make_video(src, frames=5)
    out = tmp_path / "out.mp4"
    done = subprocess.run(
        [str(GAMYEON), "anonymize", str(src), "-o", str(out), "--export", "mot"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env_without_home_keys(tmp_path),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "error" not in done.stderr
    assert "5 frame(s)" in done.stderr
    assert len(probe(out).times) == 5
    assert (tmp_path / "out.mp4.mot.txt").exists()
    assert leftovers(tmp_path) == []
    assert len(list((tmp_path / "keys").iterdir())) == 1  # the key went to GAMYEON_KEY_DIR


def test_face_precision_chooses_the_bundled_networks_and_the_record_names_them(tmp_path: Path) -> None:
    """By default video runs the int8 CenterFace and still images the float one; the processing
    record names the file of each role, so an auditor can tell which network masked what."""
    src = tmp_path / "in"
    src.mkdir()
    make_video(src / "clip.mp4", size=(160, 120), frames=3, picture=face_picture)
    Image.fromarray(face_picture(0, 160, 120)).save(src / "still.png")
    auto_video = model_path(None, "auto", video=True).name  # int8 on CPUs with VNNI, as here
    expected = {
        "auto": ("centerface.onnx", auto_video),
        "fp32": ("centerface.onnx", "centerface.onnx"),
        "int8": ("centerface_int8.onnx", "centerface_int8.onnx"),
    }
    for precision, (still, video) in expected.items():
        ledger = tmp_path / f"{precision}.sqlite"
        out = tmp_path / f"out-{precision}"
        assert (
            main(["anonymize", str(src), "-o", str(out), "-q", "--face-precision", precision, "--ledger", str(ledger)])
            == 0
        )
        assert (out / "clip.mp4").is_file() and (out / "still.png").is_file()
        with Ledger(str(ledger)) as book:
            models = next(iter(book.records())).payload["models"]
        assert (models["face"]["file"], models["face_video"]["file"]) == (still, video)
        assert len({models["face"]["sha256"], models["face_video"]["sha256"]}) == (2 if still != video else 1)


@pytest.mark.parametrize(
    ("role", "kinds", "auto_for_video", "files"),
    [
        (
            "text",
            "plates",
            lambda: text_model_path(None, "auto", video=True),
            ("ppocrv6_det_small.onnx", "ppocrv6_det_small_int8.onnx"),
        ),
        (
            "person",
            "persons",
            lambda: person_model_path("auto", video=True),
            ("ssdlite_person.onnx", "ssdlite_person_int8.onnx"),
        ),
    ],
)
def test_precision_chooses_the_bundled_networks_and_the_record_names_them(
    tmp_path: Path, role: str, kinds: str, auto_for_video: Callable[[], Path], files: tuple[str, str]
) -> None:
    """Video runs the int8 network where ``auto`` picks it, still images the float one; an
    explicit precision applies to both, and the processing record names each role's file."""
    src = tmp_path / "in"
    src.mkdir()
    make_video(src / "clip.mp4", size=(160, 120), frames=2)
    Image.fromarray(face_picture(0, 160, 120)).save(src / "still.png")
    fp32, int8 = files
    auto_video = auto_for_video().name  # int8 on CPUs with VNNI, as here
    expected = {"auto": (fp32, auto_video), "int8": (int8, int8), "fp32": (fp32, fp32)}
    for precision, (still, video) in expected.items():
        ledger = tmp_path / f"{precision}.sqlite"
        out = tmp_path / f"out-{precision}"
        args = ["anonymize", str(src), "-o", str(out), "-q", "--kinds", kinds, "--ledger", str(ledger)]
        assert main([*args, f"--{role}-precision", precision]) == 0
        assert (out / "clip.mp4").is_file() and (out / "still.png").is_file()
        with Ledger(str(ledger)) as book:
            models = next(iter(book.records())).payload["models"]
        assert (models[role]["file"], models[f"{role}_video"]["file"]) == (still, video)


@pytest.mark.parametrize("role", ["text", "person"])
def test_precision_cannot_be_combined_with_an_own_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], role: str
) -> None:
    clip = tmp_path / "in.mp4"
    make_video(clip, frames=2)
    own = tmp_path / "own.onnx"
    own.write_bytes(b"")
    code = main(
        [
            "anonymize",
            str(clip),
            "-o",
            str(tmp_path / "o.mp4"),
            f"--{role}-model",
            str(own),
            f"--{role}-precision",
            "fp32",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and f"cannot be combined with --{role}-model" in err and "Traceback" not in err
    assert not (tmp_path / "o.mp4").exists()


def test_face_precision_is_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = tmp_path / "in.mp4"
    make_video(clip, frames=2)
    with pytest.raises(SystemExit) as exc:
        main(["anonymize", str(clip), "-o", str(tmp_path / "o.mp4"), "--face-precision", "fp16"])
    assert exc.value.code == 2 and "--face-precision" in capsys.readouterr().err
    own = tmp_path / "own.onnx"
    own.write_bytes(b"")
    code = main(
        ["anonymize", str(clip), "-o", str(tmp_path / "o.mp4"), "--face-model", str(own), "--face-precision", "int8"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "cannot be combined with --face-model" in err and "Traceback" not in err
    assert not (tmp_path / "o.mp4").exists()
