"""``pipeline.job.run_file``, the one per-file job behind ``anonymize`` and ``batch``: outputs appear
only complete, the record hook sees them complete at their temporary names, a vault is bound to
the output it was sealed for, and the summary is what the pipeline counted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import face_picture, leftovers, make_video
from gamyeon.annotations import export_path
from gamyeon.infra.files import sha256_file
from gamyeon.keys import MasterKey
from gamyeon.options import Options
from gamyeon.pipeline.job import FileJob, FileOutcome, run_file
from gamyeon.pipeline.models import face_detectors
from gamyeon.policy import Policy
from gamyeon.vault.reveal import list_tracks, open_vault

SIZE = (224, 176)
OPTIONS = Options(kinds=("face",), policy=Policy().with_overrides(operator="fill"), small_faces="never", quiet=True)


def job(
    source: Path, out: Path, key: MasterKey, *, sealed: bool, exports: tuple[str, ...] = (), progress: list[int]
) -> FileJob:
    video = source.suffix != ".png"
    return FileJob(
        source=source,
        output=out,
        annotations=out.with_name(out.name + ".regions.jsonl"),
        exports=tuple((fmt, export_path(out, fmt)) for fmt in exports),
        vault=out.with_name(out.name + ".vault") if sealed else None,
        options=OPTIONS,
        dataset_id="ds-test",
        relative=source.name,
        key=key,
        faces=face_detectors(OPTIONS).get(video=video),
        progress=progress.append,
    )


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "walk.mp4"
    make_video(path, size=SIZE, frames=10, picture=face_picture)
    return path


@pytest.mark.parametrize("sealed", [False, True])
def test_video_outputs_appear_complete_with_their_summary_and_vault(tmp_path: Path, clip: Path, sealed: bool) -> None:
    key = MasterKey.generate()
    out = tmp_path / "walk.mp4"
    frames: list[int] = []
    the_job = job(clip, out, key, sealed=sealed, exports=("coco", "mot"), progress=frames)
    seen: list[FileOutcome] = []

    def record(done: FileOutcome) -> None:
        # complete at the temporary names, nothing yet under a final name
        assert done.annotations[0].is_file() and not done.annotations[1].exists()
        assert all(tmp.is_file() and not final.exists() for _fmt, tmp, final in done.exports)
        assert not out.exists()
        if sealed:
            assert done.vault is not None and done.vault[0].is_file() and not done.vault[1].exists()
        seen.append(done)

    outcome = run_file(the_job, record)
    assert seen == [outcome]
    summary = outcome.summary
    assert summary.frames == sum(frames) == 10 and summary.fail_closed_frames == 0
    assert summary.regions["face"] >= 10 and summary.tracks["face"] >= 1
    assert (summary.width, summary.height) == SIZE and summary.time_base is not None
    assert summary.dataset_id == "ds-test" and summary.input == str(clip) and summary.output == str(out)
    assert outcome.sha256 == summary.output_sha256 == sha256_file(out) == outcome.output["sha256"]
    assert outcome.output["path"] == str(out.resolve())
    lines = [json.loads(line) for line in the_job.annotations.read_text().splitlines()]
    assert len(lines) == 10
    coco = json.loads(export_path(out, "coco").read_text())
    assert coco["info"]["dataset_id"] == "ds-test" and len(coco["images"]) == 10
    assert export_path(out, "mot").read_text().count("\n") == summary.regions["face"]
    assert leftovers(tmp_path) == []
    if not sealed:
        assert outcome.vault is None and not out.with_name(out.name + ".vault").exists()
        return
    assert outcome.vault is not None
    _tmp, final, facts = outcome.vault
    with open_vault(final, key) as vault:  # authenticated with the key; bound to this output
        assert vault.trailer is not None and vault.trailer["output_sha256"] == sha256_file(out)
        assert vault.trailer["time_base"] == summary.time_base
        assert vault.header.source == "walk.mp4" and vault.header.dataset_id == "ds-test"
        tracks = {t.track for t in list_tracks(vault)}
    assert facts["regions"] >= summary.regions["face"] and facts["tracks"] == len(tracks)
    assert 1 <= facts["blocks"] <= facts["regions"]  # a block holds a segment of a track's crops
    # the vault names the same pseudonymous tracks as the annotations
    assert tracks == {r["track"] for line in lines for r in line["regions"]}


def test_image_sealed_and_masked(tmp_path: Path) -> None:
    source = tmp_path / "face.png"
    original = face_picture(0, *SIZE)
    Image.fromarray(original).save(source)
    out = tmp_path / "out" / "face.png"
    out.parent.mkdir()
    key = MasterKey.generate()
    frames: list[int] = []
    outcome = run_file(job(source, out, key, sealed=True, progress=frames))
    assert frames == [1]
    assert outcome.summary.frames == 1 and outcome.summary.regions["face"] == 1
    assert outcome.summary.time_base is None
    masked = np.asarray(Image.open(out).convert("RGB"))
    assert outcome.vault is not None
    with open_vault(outcome.vault[1], key) as vault:
        regions = list(vault.regions())
        assert vault.trailer is not None and vault.trailer["output_sha256"] == sha256_file(out)
    assert len(regions) == 1
    x1, y1, x2, y2 = regions[0].box
    assert not np.array_equal(masked[y1:y2, x1:x2], original[y1:y2, x1:x2])  # what was sealed is masked


def test_a_failing_record_leaves_no_output(tmp_path: Path, clip: Path) -> None:
    """The record is written before the outputs appear: if it cannot be, none appears."""
    out = tmp_path / "walk.mp4"

    def record(done: FileOutcome) -> None:
        raise RuntimeError("ledger unavailable")

    with pytest.raises(RuntimeError, match="ledger unavailable"):
        run_file(job(clip, out, MasterKey.generate(), sealed=True, exports=("mot",), progress=[]), record)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
