"""The processing ledger on SQLite and on a real PostgreSQL server: chain, tampering, concurrency,
unfinished runs, retention, and that no key byte ever reaches an output or a log."""

from __future__ import annotations

import base64
import csv
import io
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from conftest import env_without_home_keys, face_picture, leftovers, make_video
from gamyeon.cli import main
from gamyeon.errors import KeyFileError
from gamyeon.keys import MasterKey, read_key, write_key
from gamyeon.ledger.records import due_datasets
from gamyeon.ledger.store import Ledger, to_url
from pgserver import postgres_server


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str | None]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path, pg_server: str | None) -> str:
    """A fresh, empty ledger location: a SQLite file, or a new database on the real server."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.sqlite")
    if pg_server is None:
        pytest.skip("no PostgreSQL server could be started here (initdb/pg_ctl missing)")
    name = f"ledger_{uuid.uuid4().hex[:12]}"
    admin = create_engine(to_url(pg_server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return pg_server.rsplit("/", 1)[0] + f"/{name}"


def fill(url: str, n: int = 5) -> None:
    with Ledger(url) as ledger:
        for i in range(n):
            ledger.append("anonymize", {"i": i, "note": "한글도 됩니다"}, dataset_id="ds")


def sql(url: str, statement: str) -> None:
    engine = create_engine(to_url(url))
    with engine.begin() as conn:
        conn.exec_driver_sql(statement)
    engine.dispose()


def problems(url: str) -> list[str]:
    with Ledger(url) as ledger:
        return ledger.verify()[1]


def test_an_untouched_chain_verifies(ledger_url: str) -> None:
    fill(ledger_url)
    with Ledger(ledger_url) as ledger:
        count, found = ledger.verify()
        records = list(ledger.records())
    assert (count, found) == (5, [])
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[1].prev_hash == records[0].hash
    assert records[4].payload == {"i": 4, "note": "한글도 됩니다"}


TAMPERING = {
    "edited": 'UPDATE gamyeon_ledger SET payload = \'{"i":99,"note":"x"}\' WHERE seq = 3',
    "edited actor": "UPDATE gamyeon_ledger SET actor = 'someone-else' WHERE seq = 2",
    "deleted": "DELETE FROM gamyeon_ledger WHERE seq = 3",
    "newest deleted": "DELETE FROM gamyeon_ledger WHERE seq = 5",
    "inserted": "INSERT INTO gamyeon_ledger (seq, at, action, dataset_id, actor, host, payload, prev_hash, hash) "
    "VALUES (6, '2026-01-01T00:00:00+00:00', 'reveal', 'ds', 'x', 'h', '{}', 'ab', 'cd')",
    "reordered": "UPDATE gamyeon_ledger SET seq = CASE seq WHEN 2 THEN 3 WHEN 3 THEN 2 END + 100 WHERE seq IN (2, 3)",
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_tampering_is_detected(ledger_url: str, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    fill(ledger_url)
    statement = TAMPERING[kind]
    if kind == "reordered":  # two steps so primary keys never collide on either database
        sql(ledger_url, statement)
        sql(ledger_url, "UPDATE gamyeon_ledger SET seq = seq - 100 WHERE seq > 100")
    else:
        sql(ledger_url, statement)
    assert problems(ledger_url), f"{kind} was not detected"
    capsys.readouterr()
    assert main(["ledger", "verify", "--ledger", ledger_url]) == 1
    assert "FAILED" in capsys.readouterr().err


def _append_many(url: str, n: int, tag: str) -> None:
    with Ledger(url) as ledger:
        for i in range(n):
            ledger.append("anonymize", {"writer": tag, "i": i})


def test_concurrent_appends_lose_nothing_and_keep_the_chain(ledger_url: str) -> None:
    Ledger(ledger_url).close()  # tables exist before the race (creating them races too; tested below)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(ledger_url, 25, tag)) for tag in ("a", "b", "c")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with Ledger(ledger_url) as ledger:
        count, found = ledger.verify()
        by_writer = sorted((r.payload["writer"], r.payload["i"]) for r in ledger.records())
    assert found == [] and count == 75
    assert by_writer == sorted((t, i) for t in "abc" for i in range(25))


def test_two_processes_creating_a_new_ledger_at_once_both_succeed(ledger_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(ledger_url, 3, tag)) for tag in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert problems(ledger_url) == []


def test_export_json_and_csv_carry_every_record(ledger_url: str, tmp_path: Path) -> None:
    fill(ledger_url, 3)
    assert main(["ledger", "export", "--ledger", ledger_url, "--format", "json", "-o", str(tmp_path / "l.json")]) == 0
    assert main(["ledger", "export", "--ledger", ledger_url, "--format", "csv", "-o", str(tmp_path / "l.csv")]) == 0
    records = json.loads((tmp_path / "l.json").read_text(encoding="utf-8"))
    rows = list(csv.DictReader(io.StringIO((tmp_path / "l.csv").read_text(encoding="utf-8"))))
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert [r["hash"] for r in rows] == [r["hash"] for r in records]
    assert json.loads(rows[2]["payload"]) == {"i": 2, "note": "한글도 됩니다"}


def test_an_unreachable_database_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ledger", "verify", "--ledger", "postgresql://nobody:secret@127.0.0.1:1/none"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert "secret" not in err  # passwords never reach messages


# --- records written by the commands -------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "face.mp4"
    make_video(path, size=(192, 128), frames=10, picture=face_picture)
    return path


def test_anonymize_records_purpose_hashes_models_and_retention(clip: Path, tmp_path: Path, key_file: Path) -> None:
    ledger = str(tmp_path / "l.sqlite")
    out = tmp_path / "out.mp4"
    args = ["anonymize", str(clip), "-o", str(out), "--seal", str(key_file), "--kinds", "faces", "--ledger", ledger]
    extra = [
        "--purpose",
        "pedestrian model",
        "--basis",
        "research",
        "--recipient",
        "lab A",
        "--retain-until",
        "2020-01-31",
    ]
    assert main([*args, *extra, "-q", "--export", "coco"]) == 0
    with Ledger(ledger) as book:
        records = list(book.records())
        assert book.verify()[1] == []
    actions = [r.action for r in records]
    assert actions == ["anonymize.start", "anonymize", "seal", "export", "anonymize.finish"]
    start, done, seal = records[0].payload, records[1].payload, records[2].payload
    assert start["purpose"] == "pedestrian model" and start["basis"] == "research" and start["recipient"] == "lab A"
    assert start["retain_until"] == "2020-01-31" and start["key_fingerprint"] == read_key(key_file).fingerprint
    assert len(start["models"]["face"]["sha256"]) == 64 and start["policy"]["face"]["operator"] == "pixelate"
    import hashlib

    assert done["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert done["input"]["sha256"] == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert seal["vault"]["sha256"] == hashlib.sha256((tmp_path / "out.mp4.vault").read_bytes()).hexdigest()
    assert records[-1].payload["status"] == "ok"
    # past retention: listed as due until the vault is destroyed and the outputs recorded destroyed
    with Ledger(ledger) as book:
        due = due_datasets(book.records(), today=date(2026, 1, 1))
    assert [d.dataset_id for d in due] == [records[0].dataset_id] and due[0].vaults
    assert main(["vault", "destroy", str(tmp_path / "out.mp4.vault"), "--key", str(key_file), "--ledger", ledger]) == 0
    assert main(["ledger", "destroyed", str(records[0].dataset_id), "--what", "deleted", "--ledger", ledger]) == 0
    with Ledger(ledger) as book:
        assert due_datasets(book.records(), today=date(2026, 1, 1)) == []
        assert book.verify()[1] == []


def test_a_failed_run_is_recorded_as_failed(tmp_path: Path) -> None:
    ledger = str(tmp_path / "l.sqlite")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    assert main(["anonymize", str(bad), "-o", str(tmp_path / "o.mp4"), "--ledger", ledger, "-q"]) == 1
    with Ledger(ledger) as book:
        records = list(book.records())
    assert [r.action for r in records] == ["anonymize.start", "anonymize.finish"]
    assert records[-1].payload["status"] == "failed" and "not a readable video" in records[-1].payload["error"]


def _run(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gamyeon.cli", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_two_runs_at_once_and_a_killed_run(tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two anonymize processes share one ledger; a third is killed mid-way: its run shows
    unfinished and it leaves no partial output or vault under a final name."""
    long_clip = tmp_path / "long.mp4"
    make_video(long_clip, size=(320, 240), frames=400, picture=face_picture)
    env = env_without_home_keys(tmp_path)
    ledger = str(tmp_path / "l.sqlite")
    common = ["--kinds", "faces", "--ledger", ledger, "-q", "--seal", str(key_file)]
    runs = [_run(["anonymize", str(long_clip), "-o", str(tmp_path / f"o{i}.mp4"), *common], env) for i in (1, 2)]
    victim = _run(["anonymize", str(long_clip), "-o", str(tmp_path / "killed.mp4"), *common], env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("killed" in name for name in leftovers(tmp_path)):
        time.sleep(0.05)  # wait until the victim is writing its temporary files (after its start record)
    time.sleep(0.3)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    for run in runs:
        assert run.wait(300) == 0, run.stderr.read() if run.stderr else ""
    assert not (tmp_path / "killed.mp4").exists() and not (tmp_path / "killed.mp4.vault").exists()
    with Ledger(ledger) as book:
        _count, found = book.verify()
        records = list(book.records())
    assert found == []
    finishes = [r for r in records if r.action == "anonymize.finish"]
    assert len(finishes) == 2 and all(r.payload["status"] == "ok" for r in finishes)
    assert sum(r.action == "anonymize.start" for r in records) == 3
    capsys.readouterr()
    assert main(["ledger", "show", "--ledger", ledger, "--action", "anonymize"]) == 0
    shown = capsys.readouterr().out
    assert shown.count("UNFINISHED") == 1 and str(tmp_path / "killed.mp4") in shown


# --- keys ------------------------------------------------------------------------------------------


def test_keys_new_refuses_to_overwrite_and_is_private(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.key"
    assert main(["keys", "new", str(path)]) == 0
    assert path.stat().st_mode & 0o777 == 0o600
    fingerprint = capsys.readouterr().out.strip()
    assert fingerprint == read_key(path).fingerprint
    assert main(["keys", "new", str(path)]) == 1


def test_a_passphrase_wrapped_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "w.key"
    monkeypatch.setenv("GAMYEON_KEY_PASSPHRASE", "correct horse battery staple")
    assert main(["keys", "new", str(path), "--passphrase"]) == 0
    key = read_key(path)
    assert "gamyeon-key-v1-scrypt" in path.read_text()
    assert base64.b64encode(key.secret).decode() not in path.read_text()
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        read_key(path, passphrase="wrong")
    monkeypatch.delenv("GAMYEON_KEY_PASSPHRASE")
    with pytest.raises(KeyFileError, match="passphrase is needed"):
        read_key(path)  # no terminal in tests: a clear error, never a hang


def test_no_key_byte_reaches_any_output_record_or_log(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = MasterKey.generate()
    key_path = tmp_path / "keys" / "m.key"
    key_path.parent.mkdir()
    write_key(key, key_path)
    work = tmp_path / "work"
    work.mkdir()
    ledger = str(work / "l.sqlite")
    out = work / "out.mp4"
    assert main(["anonymize", str(clip), "-o", str(out), "--seal", str(key_path), "--ledger", ledger, "-v",
                 "--export", "coco,mot", "--summary-json", str(work / "s.json")]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["reveal", str(out), "--list", "--key", str(key_path), "-v"]) == 0
    track = capsys.readouterr().out.split()[0]
    assert main(["reveal", str(out), "--key", str(key_path), "--track", track, "--purpose", "p", "--authority", "a",
                 "-o", str(work / "r.mkv"), "--lossless", "--ledger", ledger, "-v"]) == 0  # fmt: skip
    assert main(["ledger", "export", "--ledger", ledger, "-o", str(work / "l.json")]) == 0
    assert (
        main(["vault", "destroy", str(work / "out.mp4.vault"), "--key", str(key_path), "--ledger", ledger, "-v"]) == 0
    )
    logs = capsys.readouterr()
    forms = [key.secret, base64.b64encode(key.secret), key.secret.hex().encode(), base64.b64encode(key.secret)[:20]]
    files = [p for p in work.rglob("*") if p.is_file()]
    assert len(files) >= 6
    for path in files:
        data = path.read_bytes()
        assert not any(form in data for form in forms), f"key bytes found in {path.name}"
    for stream in (logs.out, logs.err):
        assert not any(form.decode("latin-1") in stream for form in forms)
    assert repr(key) == f"MasterKey(fingerprint={key.fingerprint})" and key.secret.hex() not in str(key)
