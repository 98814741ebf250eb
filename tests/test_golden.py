"""Golden files for the formats users depend on: the regions sidecar, the COCO and MOT exports,
the vault header and the ledger records of a run, compared with the committed files under
``tests/golden/`` (as norfair compares its ``tests/metrics.txt``). A change to any of them is a
change to what users' tools read: review the diff, then rewrite them with

    GAMYEON_UPDATE_GOLDEN=1 pytest tests/test_golden.py

The run is made deterministic rather than compared loosely: a fixed master key and dataset id
(so the track pseudonyms and mask seeds are fixed), a clip made here with PyAV from a public-domain
photo and encoded losslessly (FFV1, so the decoded pixels do not depend on an encoder's version),
the float face model (``--face-precision fp32``: the int8 one is chosen by CPU), and a fixed
purpose and retention date. The sidecar and the exports are compared byte for byte.

Normalised, because they must vary: in the ledger records the time (``at``), ``actor`` and
``host``, the random ``run_id`` and ``vault_id``, the record hashes (they cover the time and host;
the chain is verified first), the installed gamyeon version, the run's ``seconds`` and ``fps``,
the temporary folder in paths, and size and hash of the input, output and vault files (the input
and output containers carry random Matroska ids and encoder versions, the vault random nonces);
in the vault header its random ``vault_id``. Hashes of the sidecar and exports stay: they are
the bytes compared above.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from conftest import face_picture, make_video
from gamyeon.infra.files import Job
from gamyeon.keys import MasterKey, write_key
from gamyeon.ledger.run import RunRecord
from gamyeon.ledger.store import Ledger
from gamyeon.options import Options, Processing
from gamyeon.pipeline.job import FileJob, FileOutcome, run_file
from gamyeon.pipeline.models import face_detectors, model_paths

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("GAMYEON_UPDATE_GOLDEN") == "1"
DATASET = "golden-dataset"
KEY = MasterKey(bytes(range(32)))
CLIP = "clip.mkv"
#: ledger fields replaced by a placeholder (see the module docstring)
VARYING = {"at", "actor", "host", "hash", "prev_hash", "run_id", "vault_id", "gamyeon", "seconds", "fps"}
#: file facts whose size and hash vary (containers with random ids, a vault with random nonces)
VARYING_FILES = {"input", "output", "vault"}


@dataclass(frozen=True)
class Run:
    root: Path
    output: Path
    ledger: Path

    def side(self, suffix: str) -> Path:
        return self.output.with_name(self.output.name + suffix)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One sealed run of ``gamyeon anonymize`` on a six-frame clip with one face, through the
    same per-file job and run record the command uses, with the dataset id fixed."""
    root = tmp_path_factory.mktemp("golden")
    source = root / CLIP
    make_video(source, codec="ffv1", size=(192, 144), frames=6, picture=face_picture)
    key_file = root / "golden.key"
    write_key(KEY, key_file)
    ledger_path = root / "ledger.sqlite"
    options = Options(
        kinds=("face",),
        face_precision="fp32",
        exports=("coco", "mot"),
        seal_key=key_file,
        quiet=True,
        processing=Processing(
            purpose="format tests",
            basis="research",
            recipient="format tests",
            retain_until=date(2030, 1, 1),
            ledger=str(ledger_path),
        ),
    )
    output = root / "clip.anon.mkv"
    out = Run(root, output, ledger_path)
    job = FileJob(
        source=source,
        output=output,
        annotations=out.side(".regions.jsonl"),
        exports=(("coco", out.side(".coco.json")), ("mot", out.side(".mot.txt"))),
        vault=out.side(".vault"),
        options=options,
        dataset_id=DATASET,
        relative=CLIP,
        key=KEY,
        faces=face_detectors(options).get(True),
        progress=lambda _n: None,
    )
    with Ledger(str(ledger_path)) as ledger:
        record = RunRecord(ledger, DATASET, options, KEY, models=model_paths(options))
        record.start([source], output, 1)

        def file_done(done: FileOutcome) -> None:
            record.file_done(
                Job(source, output, CLIP), done.summary, done.output, done.annotations, done.exports, done.vault
            )

        outcome = run_file(job, file_done)
        record.finish([outcome.summary], None)
    return out


def _compare(name: str, text: str) -> None:
    """``text`` against ``tests/golden/name`` (rewritten first with ``GAMYEON_UPDATE_GOLDEN=1``)."""
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} is missing: run with GAMYEON_UPDATE_GOLDEN=1 to write it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from {path} (GAMYEON_UPDATE_GOLDEN=1 rewrites it)"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_regions_sidecar(run: Run) -> None:
    text = run.side(".regions.jsonl").read_text(encoding="utf-8")
    assert '"source":"detected"' in text  # the clip's face was found: the golden is not an empty run
    _compare("regions.jsonl", text)


def test_coco_export(run: Run) -> None:
    _compare("coco.json", run.side(".coco.json").read_text(encoding="utf-8"))


def test_mot_export(run: Run) -> None:
    _compare("mot.txt", run.side(".mot.txt").read_text(encoding="utf-8"))


def vault_header(path: Path) -> dict[str, Any]:
    """The vault's magic and header JSON as the file lays them out: 8 magic bytes, then a
    big-endian u32 length and the header (``vault/format.py``)."""
    with path.open("rb") as fh:
        magic = fh.read(8)
        (length,) = struct.unpack(">I", fh.read(4))
        header: dict[str, Any] = json.loads(fh.read(length))
    return {"magic": magic.decode("ascii"), "header": header}


def test_vault_header(run: Run) -> None:
    found = vault_header(run.side(".vault"))
    assert found["header"]["dataset_id"] == DATASET and found["header"]["key_fingerprint"] == KEY.fingerprint
    found["header"] = {k: f"<{k}>" if k in VARYING else v for k, v in found["header"].items()}
    _compare("vault-header.json", _pretty(found))


def _normalise(value: Any, root: Path, key: str = "") -> Any:
    if key in VARYING:
        return f"<{key}>"
    if isinstance(value, dict):
        if key in VARYING_FILES and "sha256" in value:
            value = {**value, "bytes": "<bytes>", "sha256": "<sha256>"}
        if key == "output_sha256":
            return "<sha256>"
        return {k: _normalise(v, root, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v, root) for v in value]
    if key == "output_sha256":
        return "<sha256>"
    if isinstance(value, str) and value.startswith(str(root)):
        return "<tmp>" + value[len(str(root)) :]
    return value


def test_ledger_records(run: Run) -> None:
    with Ledger(str(run.ledger)) as ledger:
        count, problems = ledger.verify()
        records = [r.as_dict() for r in ledger.records()]
    assert count == len(records) == 6 and not problems
    assert [r["action"] for r in records] == [
        "anonymize.start",
        "anonymize",
        "seal",
        "export",
        "export",
        "anonymize.finish",
    ]
    _compare("ledger-records.json", _pretty([_normalise(r, run.root) for r in records]))
