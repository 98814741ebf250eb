"""The same batch on a real local Ray instance and on local worker processes gives the same
results: same manifest (timings aside), same annotations, same frames. Both runs belong to one
dataset (the local run starts from the Ray run's state file): pseudonyms and the masks' secret
grid offsets are keyed per dataset, so two datasets differ by design. Ray starts once for the module (it takes seconds).

Output bytes: a chunked file is encoded without B-frames and is byte-identical. A whole file is
encoded with B-frames, and x264's MB-tree lookahead in the FFmpeg build that PyAV ships is not
run-to-run deterministic: 12 encodes of the same frames in one process, one thread, gave 11
different files (no B-frames, or ``mbtree=0``: always identical). So for whole files the test
compares the decoded frames (count, timing, pixels within the codec's noise), not the hash."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from batch_helpers import gop_clip, status
from conftest import face_picture, probe
from gamyeon.batch import BatchConfig, run_batch
from gamyeon.batch.runner import STATE_NAME
from gamyeon.infra.files import sha256_file
from gamyeon.keys import read_key
from gamyeon.options import Options
from gamyeon.vault.reveal import list_tracks, open_vault


def test_ray_and_local_runs_give_the_same_manifest(ray_instance: None, tmp_path: Path, key_file: Path) -> None:
    src = tmp_path / "src"
    (src / "cam2").mkdir(parents=True)
    gop_clip(src / "long.mp4", 50, size=(192, 144), gop=10, picture=face_picture)  # split into chunks
    gop_clip(src / "cam2" / "short.mp4", 6)
    (src / "cam2" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    options = Options(key_file=key_file, small_faces="never", quiet=True)
    runs = {}
    for name, ray_address, workers in (("ray", "auto", 1), ("local", None, 2)):
        dst = tmp_path / name
        if runs:  # one dataset: the mosaic grids are keyed per dataset and file, like the pseudonyms
            dst.mkdir()
            shutil.copy(runs["ray"] / STATE_NAME, dst / STATE_NAME)
        report = run_batch(
            BatchConfig(src, dst, options, workers=workers, ray=ray_address, chunk_seconds=0.5, overlap_seconds=0.4)
        )
        assert report.exit_code == 1  # the broken file
        runs[name] = dst

    ray_rows, local_rows = status(runs["ray"]), status(runs["local"])
    assert ray_rows["long.mp4"]["chunks"] == "4" and ray_rows["long.mp4"]["state"] == "done"
    assert ray_rows["cam2/broken.mp4"]["state"] == "failed"
    for name, rows in (("ray", ray_rows), ("local", local_rows)):
        for row in rows.values():
            row.pop("seconds")
            digest = row.pop("output_sha256")
            if row["state"] == "done":  # the manifest's hash is the hash of the file it names
                assert digest == sha256_file(runs[name] / row["output"])
    assert ray_rows == local_rows
    assert (runs["ray"] / "long.mp4").read_bytes() == (runs["local"] / "long.mp4").read_bytes()
    ray_short = probe(runs["ray"] / "cam2/short.mp4", keep_frames=True)
    local_short = probe(runs["local"] / "cam2/short.mp4", keep_frames=True)
    assert ray_short.times == local_short.times
    for a, b in zip(ray_short.frames, local_short.frames, strict=True):
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 3.0
    for rel in ("long.mp4", "cam2/short.mp4"):
        notes = f"{rel}.regions.jsonl"
        assert (runs["ray"] / notes).read_text() == (runs["local"] / notes).read_text()


def test_ray_and_local_seal_the_same_regions(ray_instance: None, tmp_path: Path, key_file: Path) -> None:
    """With ``--seal`` both backends write one vault per output naming the same tracks, frames
    and boxes (the vault ids and the ciphertexts differ by design: random ids and nonces)."""
    src = tmp_path / "src"
    src.mkdir()
    gop_clip(src / "face.mp4", 20, size=(192, 144), gop=10, picture=face_picture)
    options = Options(seal_key=key_file, kinds=("face",), small_faces="never", quiet=True)
    runs = {}
    for name, ray_address in (("ray", "auto"), ("local", None)):
        dst = tmp_path / name
        if runs:  # one dataset, as above
            dst.mkdir()
            shutil.copy(runs["ray"] / STATE_NAME, dst / STATE_NAME)
        report = run_batch(BatchConfig(src, dst, options, ray=ray_address, chunk_seconds=0.3, overlap_seconds=0.2))
        assert report.exit_code == 0
        assert status(dst)["face.mp4"]["chunks"] == "1"  # sealed files are processed whole
        runs[name] = dst

    key = read_key(key_file)
    sealed = {}
    for name, dst in runs.items():
        with open_vault(dst / "face.mp4.vault", key) as vault:
            assert vault.trailer is not None and vault.trailer["output_sha256"] == sha256_file(dst / "face.mp4")
            blocks = [(r.frame, r.track, r.kind, r.box) for r in vault.regions()]
            sealed[name] = ([t.as_dict() for t in list_tracks(vault)], blocks)
    assert sealed["ray"] == sealed["local"] and sealed["ray"][1]
    notes = "face.mp4.regions.jsonl"
    assert (runs["ray"] / notes).read_text() == (runs["local"] / notes).read_text()
