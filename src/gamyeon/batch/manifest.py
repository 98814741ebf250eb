"""Input manifests (which files to process) and the status manifest (what became of each).

Input manifest: a CSV file with a header row that has a ``path`` column (other columns are
ignored), or a JSON Lines file of ``{"path": ...}`` objects (or bare JSON strings). Relative paths
are relative to the manifest's folder.

Status manifest: ``DST/gamyeon-batch.csv``, one row per file, rewritten atomically (temporary file
and rename) so that a crash at any moment leaves either the old or the new version, never a torn
one. It holds counts, timings, hashes and one-line errors -- never key material.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path

from gamyeon.errors import UsageError
from gamyeon.infra.files import temp_path

STATUS_NAME = "gamyeon-batch.csv"
MANIFEST_SUFFIXES = {".csv", ".jsonl", ".ndjson"}

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
STATES = (PENDING, RUNNING, DONE, FAILED)


def read_input_manifest(path: Path) -> list[Path]:
    """The input paths listed in a CSV or JSON Lines manifest, in order, made absolute."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read manifest {path}: {err}") from None
    base = path.parent
    entries = _csv_paths(text, path) if path.suffix.lower() == ".csv" else _jsonl_paths(text, path)
    if not entries:
        raise UsageError(f"manifest {path} lists no input files")
    return [Path(os.path.abspath(base / entry)) for entry in entries]


def _csv_paths(text: str, path: Path) -> list[str]:
    reader = csv.DictReader(io.StringIO(text))
    names = [n.strip().lower() for n in reader.fieldnames or []]
    if "path" not in names:
        raise UsageError(f"manifest {path} needs a header row with a 'path' column")
    column = (reader.fieldnames or [])[names.index("path")]
    out = []
    for row in reader:
        value = (row.get(column) or "").strip()
        if value:
            out.append(value)
    return out


def _jsonl_paths(text: str, path: Path) -> list[str]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            raise UsageError(f"manifest {path} line {number}: not JSON ({err.msg})") from None
        if isinstance(value, dict):
            value = value.get("path")
        if not isinstance(value, str) or not value.strip():
            raise UsageError(f"manifest {path} line {number}: expected a path string or an object with 'path'")
        out.append(value.strip())
    return out


@dataclass(slots=True)
class FileRecord:
    """One row of the status manifest. ``output`` (relative to DST) identifies the file."""

    input: str
    output: str
    state: str = PENDING
    frames: int | None = None
    faces: int | None = None
    regions: int | None = None
    fail_closed_frames: int | None = None
    chunks: int | None = None
    seconds: float | None = None
    output_sha256: str = ""
    error: str = ""


COLUMNS = tuple(f.name for f in fields(FileRecord))
_INTS = {"frames", "faces", "regions", "fail_closed_frames", "chunks"}


def _parse(row: dict[str, str]) -> FileRecord:
    values: dict[str, object] = {}
    for name in COLUMNS:
        raw = (row.get(name) or "").strip()
        if name in _INTS:
            values[name] = int(raw) if raw.lstrip("-").isdigit() else None
        elif name == "seconds":
            try:
                values[name] = float(raw) if raw else None
            except ValueError:
                values[name] = None
        else:
            values[name] = raw
    record = FileRecord(**values)  # type: ignore[arg-type]
    if record.state not in STATES:
        record.state = PENDING
    return record


def read_status(dst: Path) -> dict[str, FileRecord]:
    """Rows of ``DST/gamyeon-batch.csv`` by output path; empty when there is none yet."""
    path = dst / STATUS_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read the status manifest {path}: {err}") from None
    records = {}
    for row in csv.DictReader(io.StringIO(text)):
        record = _parse(row)
        if record.output:
            records[record.output] = record
    return records


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def write_status(dst: Path, records: Iterable[FileRecord]) -> None:
    """Replace ``DST/gamyeon-batch.csv`` atomically with ``records``."""
    path = dst / STATUS_NAME
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for record in records:
        writer.writerow([_cell(getattr(record, name)) for name in COLUMNS])
    tmp = temp_path(path)
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(buffer.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
