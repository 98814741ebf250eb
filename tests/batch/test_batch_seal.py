"""``gamyeon batch --seal``: one vault per output beside it, bound to it, recorded in the ledger
like ``anonymize --seal``; ``gamyeon reveal`` works on it; a resumed batch seals nothing twice;
sealed files are never chunked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from batch_helpers import gop_clip, status
from conftest import face_picture
from gamyeon.batch import BatchConfig, run_batch
from gamyeon.batch.runner import STATE_NAME
from gamyeon.cli import main
from gamyeon.errors import UsageError
from gamyeon.infra.files import sha256_file
from gamyeon.keys import MasterKey, read_key, write_key
from gamyeon.ledger.chain import Record
from gamyeon.ledger.store import Ledger
from gamyeon.media.decode import DecodedFrame, VideoReader, to_rgb
from gamyeon.options import Options, Processing
from gamyeon.vault.format import VaultFile
from gamyeon.vault.reveal import list_tracks, open_vault

SIZE = (224, 176)
FRAMES = 30  # 1.2 s at 25 fps: chunked with --chunk-seconds 0.4, unless sealed
OUTPUTS = ("a.mp4", "cam/b.mp4")


def _records(location: Path) -> list[Record]:
    with Ledger(str(location)) as ledger:
        return list(ledger.records())


def _decoded(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return [to_rgb(e.frame) for e in reader if isinstance(e, DecodedFrame) and e.frame is not None]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "cam").mkdir(parents=True)
    for name in OUTPUTS:
        gop_clip(src / name, FRAMES, size=SIZE, gop=10, picture=face_picture)
    return src


def test_batch_seals_each_output_and_reveal_opens_one_track(
    tmp_path: Path, folder: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dst, ledger = tmp_path / "dst", tmp_path / "ledger.sqlite"
    args = [
        "batch", str(folder), "-o", str(dst), "--seal", str(key_file), "--kinds", "faces", "--operator", "fill",
        "--small-faces", "never", "--chunk-seconds", "0.4", "--overlap-seconds", "0.2", "-q",
        "--ledger", str(ledger), "--purpose", "training",
    ]  # fmt: skip
    assert main(args) == 0
    key = read_key(key_file)
    dataset_id = json.loads((dst / STATE_NAME).read_text())["dataset_id"]
    rows = status(dst)
    for name in OUTPUTS:
        assert rows[name]["state"] == "done" and rows[name]["chunks"] == "1"  # sealed: processed whole
        with open_vault(dst / f"{name}.vault", key) as vault:  # authenticated and bound to its output
            assert vault.trailer is not None and vault.trailer["output_sha256"] == sha256_file(dst / name)
            assert vault.header.source == name and vault.header.dataset_id == dataset_id
    assert not (dst / ".gamyeon-work").exists()

    records = [r for r in _records(ledger) if r.action in {"anonymize", "seal", "export"}]
    seals = [r for r in records if r.action == "seal"]
    assert len(seals) == 2
    for name in OUTPUTS:
        vault = dst / f"{name}.vault"
        (seal,) = [r for r in seals if r.payload["vault"]["path"] == str(vault.resolve())]
        assert seal.payload["vault"]["sha256"] == sha256_file(vault)
        assert seal.payload["output_sha256"] == sha256_file(dst / name)
        assert seal.payload["key_fingerprint"] == key.fingerprint and seal.payload["tracks"] >= 1
        with VaultFile(vault) as opened:
            assert seal.payload["vault_id"] == opened.header.vault_id
            assert seal.dataset_id == dataset_id
        # the seal record follows its output's record, as in anonymize
        before = records[records.index(seal) - 1]
        assert before.action == "anonymize" and before.payload["output"]["sha256"] == seal.payload["output_sha256"]

    # reveal one track of one output, for a reason and an authority
    capsys.readouterr()
    with open_vault(dst / "a.mp4.vault", key) as opened:
        target = list_tracks(opened)[0].track
        boxes = {r.frame: r.box for r in opened.regions() if r.track == target}
    revealed = tmp_path / "revealed.mkv"
    code = main(
        ["reveal", str(dst / "a.mp4"), "--key", str(key_file), "--track", target, "--purpose", "case 12",
         "--authority", "warrant 7", "-o", str(revealed), "--lossless", "-q", "--ledger", str(ledger)]
    )  # fmt: skip
    assert code == 0
    original, masked, shown = _decoded(folder / "a.mp4"), _decoded(dst / "a.mp4"), _decoded(revealed)
    assert len(original) == len(masked) == len(shown) == FRAMES and boxes
    for frame, (x1, y1, x2, y2) in boxes.items():
        inside = (slice(y1, y2), slice(x1, x2))
        assert not np.array_equal(shown[frame][inside], masked[frame][inside])
        assert np.array_equal(shown[frame][inside], original[frame][inside])
    (reveal,) = [r for r in _records(ledger) if r.action == "reveal"]
    assert reveal.payload["tracks"] == [target] and reveal.payload["authority"] == "warrant 7"
    assert reveal.payload["anonymized"]["sha256"] == sha256_file(dst / "a.mp4")

    # a second run finds everything done: nothing is sealed again, nothing recorded twice
    vaults = {name: (dst / f"{name}.vault").read_bytes() for name in OUTPUTS}
    count = len(_records(ledger))
    assert main(args) == 0
    assert {name: (dst / f"{name}.vault").read_bytes() for name in OUTPUTS} == vaults
    assert len(_records(ledger)) == count
    assert len([r for r in _records(ledger) if r.action == "seal"]) == 2


def test_a_batch_done_without_seal_is_redone_with_vaults(tmp_path: Path, key_file: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    gop_clip(src / "a.mp4", 8)
    assert run_batch(BatchConfig(src, dst, Options(key_file=key_file, quiet=True))).exit_code == 0
    assert not (dst / "a.mp4.vault").exists()
    report = run_batch(BatchConfig(src, dst, Options(seal_key=key_file, quiet=True)))
    assert report.exit_code == 0 and report.skipped == 0
    with open_vault(dst / "a.mp4.vault", read_key(key_file)) as vault:
        assert vault.trailer is not None and vault.trailer["output_sha256"] == sha256_file(dst / "a.mp4")
    # and now it is done, vault included
    assert run_batch(BatchConfig(src, dst, Options(seal_key=key_file, quiet=True))).skipped == 1


def test_seal_and_key_must_name_one_key(tmp_path: Path, key_file: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    gop_clip(src / "a.mp4", 4)
    other = tmp_path / "other.key"
    write_key(MasterKey.generate(), other)
    with pytest.raises(UsageError, match="different keys"):
        run_batch(BatchConfig(src, tmp_path / "dst", Options(key_file=key_file, seal_key=other, quiet=True)))
    assert not (tmp_path / "dst" / "a.mp4").exists()


def test_a_sealed_output_missing_from_the_ledger_gets_its_seal_record_late(tmp_path: Path, key_file: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    gop_clip(src / "a.mp4", 8)
    first, second = tmp_path / "first.sqlite", tmp_path / "second.sqlite"
    for ledger in (first, second):  # the second run finds the file done, but not in its ledger
        options = Options(seal_key=key_file, quiet=True, processing=Processing(ledger=str(ledger)))
        assert run_batch(BatchConfig(src, dst, options)).exit_code == 0
    (early,) = [r for r in _records(first) if r.action == "seal"]
    (late,) = [r for r in _records(second) if r.action == "seal"]
    assert late.payload.pop("recorded_late") is True
    assert late.payload.pop("run_id") != early.payload.pop("run_id")  # another run, the same facts
    assert late.payload == early.payload
