"""The batch parent: state and key, resume, scheduling, status manifest and summary.

State in DST:

- ``gamyeon-batch.json``: the dataset id, the key's fingerprint and file path (never its bytes),
  the input root and a digest of the settings that shape outputs. A re-run into the same DST is
  the same dataset, with the same key, so pseudonymous ids stay consistent across runs; a run
  with other settings or another input root is refused instead of mixing two datasets.
- ``gamyeon-batch.csv``: the status manifest (``manifest.py``).
- ``.gamyeon-work/``: chunk parts of long files until they are joined.
- ``.gamyeon-batch.lock``: held while a batch runs, so two runs never write one DST.

Resume: a file counts as done only if the manifest says so *and* its output's SHA-256 still
matches (with ``--seal``, also its vault is there and bound to that output); everything else is
redone. Temporary files left by a killed run are removed at start
(outputs only ever reach their final names complete, by rename). Chunk parts of an interrupted
long file are kept and reused when the plan is the same.

Scheduling: a file's first task either processes it whole or returns its chunk plan; chunk tasks
and then the join follow. Tasks of files already started go first, so files finish (and become
resumable) early. A failed file is recorded and the batch goes on; a task whose worker died is
retried up to ``RETRIES`` times.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gamyeon.about import __version__
from gamyeon.batch.context import Cancelled
from gamyeon.batch.local import LocalBackend, WorkerLost
from gamyeon.batch.manifest import DONE, FAILED, PENDING, RUNNING, FileRecord, read_status, write_status
from gamyeon.batch.plan import discover
from gamyeon.batch.progress import BatchBar
from gamyeon.batch.records import BatchLedger
from gamyeon.batch.spec import ChunkPlan, ChunkResult, Failure, FileResult, FileTask, one_line
from gamyeon.batch.tasks import join_chunks, prepare, run_chunk, settings_digest
from gamyeon.errors import GamyeonError, KeyFileError, OutputError, UsageError
from gamyeon.infra.files import Job, sha256_file, temp_path
from gamyeon.keys import new_stored_key, read_key
from gamyeon.ledger.store import Ledger
from gamyeon.options import Options
from gamyeon.vault.format import VaultFile

log = logging.getLogger(__name__)

STATE_NAME = "gamyeon-batch.json"
LOCK_NAME = ".gamyeon-batch.lock"
WORK_NAME = ".gamyeon-work"
RETRIES = 2
#: seconds between rewrites of the status manifest while files complete
WRITE_EVERY = 0.5
#: temporary names made by ``infra.files.temp_path``
_TEMP = re.compile(r"^\..*\.gamyeon-[0-9a-f]{8}\.part(\.[^.]*)?$")


@dataclass(frozen=True, slots=True)
class BatchConfig:
    """A batch: ``source`` (folder or manifest) into the folder ``output``."""

    source: Path
    output: Path
    options: Options = field(default_factory=Options)
    workers: int = 1
    #: Ray cluster address ("auto", "HOST:PORT", "local"); None: local worker processes
    ray: str | None = None
    #: split videos longer than twice this into chunks of about this length; 0: never split
    chunk_seconds: float = 120.0
    #: decode this much before each chunk so tracks are warm at its border
    overlap_seconds: float = 3.0

    def __post_init__(self) -> None:
        if not 1 <= self.workers <= 512:
            raise UsageError(f"--workers: expected 1..512, got {self.workers}")
        if self.chunk_seconds < 0:
            raise UsageError(f"--chunk-seconds: expected 0 (never split) or more, got {self.chunk_seconds}")
        if self.overlap_seconds < 0:
            raise UsageError(f"--overlap-seconds: expected 0 or more, got {self.overlap_seconds}")


@dataclass(slots=True)
class BatchReport:
    records: list[FileRecord]
    dataset_id: str
    skipped: int = 0  # already done in an earlier run (output hash verified)
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def failed(self) -> list[FileRecord]:
        return [r for r in self.records if r.state == FAILED]

    @property
    def done(self) -> list[FileRecord]:
        return [r for r in self.records if r.state == DONE]

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed or any(r.state != DONE for r in self.records) else 0


class Backend(Protocol):
    name: str
    capacity: int
    threads: int

    def submit(self, fn: Any, *args: Any) -> Any: ...
    def wait(self, handles: list[Any], timeout: float) -> list[Any]: ...
    def result(self, handle: Any) -> Any: ...
    def messages(self) -> list[Any]: ...
    def cancel(self) -> None: ...
    def close(self) -> None: ...


def _backend(config: BatchConfig) -> Backend:
    if config.ray is not None:
        from gamyeon.batch.ray_backend import RayBackend

        return RayBackend(config.ray)
    cores = len(os.sched_getaffinity(0)) or 1  # the cores this process may use (taskset, cgroups' cpusets)
    return LocalBackend(config.workers, max(1, cores // config.workers))


# ------------------------------------------------------------------------------- state


@contextlib.contextmanager
def _lock(dst: Path) -> Iterator[None]:
    path = dst / LOCK_NAME
    try:
        fh = path.open("a")
    except OSError as err:
        raise OutputError(f"cannot write to the output folder {dst}: {err.strerror}") from None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UsageError(f"another gamyeon batch is writing to {dst}") from None
        yield


@dataclass(frozen=True, slots=True)
class _State:
    dataset_id: str
    key_file: Path


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = temp_path(path)
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _given_key(options: Options) -> Path | None:
    """The master key file the user named, if any. With ``--seal`` the sealing key is the master
    key (as in ``anonymize``): pseudonyms and vault keys come from one hierarchy, so the key holder
    can name a track by the id in the annotations."""
    if options.seal_key is None:
        return options.key_file
    sealing = read_key(options.seal_key)
    if options.key_file is not None and read_key(options.key_file).fingerprint != sealing.fingerprint:
        raise UsageError("--key and --seal name different keys; give one key (--seal) for both")
    return options.seal_key


def _state(dst: Path, config: BatchConfig) -> _State:
    """The batch's dataset and key: from DST's state file, or new on a first run."""
    path = dst / STATE_NAME
    options = config.options
    settings = settings_digest(options)
    root = str(config.source.resolve())
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            dataset_id, fingerprint, stored = data["dataset_id"], data["key_fingerprint"], data["key_file"]
        except (OSError, ValueError, KeyError, TypeError):
            raise UsageError(f"{path} is damaged; use a new output folder") from None
        if data.get("source") != root:
            raise UsageError(f"{dst} holds the batch of {data.get('source')}; use another output folder for {root}")
        if data.get("settings") != settings:
            raise UsageError(
                f"{dst} was made with other settings (operator, codec, kinds, ...); "
                "re-run with the same options or use another output folder"
            )
        given = _given_key(options)
        key_file = given or Path(stored)
        if not key_file.is_file() and given is None:
            raise KeyFileError(f"the key of this batch ({stored}) is missing; give it with --key")
        if read_key(key_file).fingerprint != fingerprint:
            raise KeyFileError(f"{key_file} is not the key this batch was started with (fingerprint {fingerprint})")
        return _State(dataset_id, key_file.resolve())
    dataset_id = uuid.uuid4().hex
    given = _given_key(options)
    if given is not None:
        key, key_file = read_key(given), given.resolve()
    else:
        key, key_file = new_stored_key(dataset_id)
        log.info("pseudonym key for dataset %s stored apart from the output at %s", dataset_id, key_file)
    _write_json(
        path,
        {
            "format": 1,
            "dataset_id": dataset_id,
            "key_fingerprint": key.fingerprint,
            "key_file": str(key_file),
            "source": root,
            "settings": settings,
            "policy": options.policy.describe(),
            "gamyeon": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )
    return _State(dataset_id, key_file)


def _sweep(dst: Path) -> int:
    """Remove temporary files a killed run left behind (never a final name)."""
    removed = 0
    for folder, _dirs, names in os.walk(dst):
        for name in names:
            if _TEMP.match(name):
                with contextlib.suppress(OSError):
                    (Path(folder) / name).unlink()
                    removed += 1
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted run", removed)
    return removed


def _is_done(record: FileRecord | None, task: FileTask) -> bool:
    if record is None or record.state != DONE or not record.output_sha256:
        return False
    vault = task.vault()
    needed = [Path(task.output), task.annotations(), *task.exports(), *([vault] if vault is not None else [])]
    if not all(p.is_file() for p in needed):
        return False
    try:
        if sha256_file(Path(task.output)) != record.output_sha256:
            return False
    except OSError:
        return False
    return vault is None or _vault_binds(vault, record.output_sha256)


def _vault_binds(vault: Path, output_sha256: str) -> bool:
    """Whether ``vault`` is complete and sealed for the output with this hash (read to its trailer,
    skipping the pixels; the MAC is checked by ``reveal``). A file done without a vault (an
    earlier run without ``--seal``) is redone, so that every output of a sealed batch has one."""
    try:
        with VaultFile(vault) as opened:
            opened.scan()
            return (opened.trailer or {}).get("output_sha256") == output_sha256
    except (OSError, GamyeonError):
        return False


# ----------------------------------------------------------------------------- the run


@dataclass(slots=True)
class _File:
    task: FileTask
    record: FileRecord
    plan: ChunkPlan | None = None
    parts: dict[int, ChunkResult] = field(default_factory=dict)
    attempts: int = 0


class _Scheduler:
    def __init__(
        self,
        backend: Backend,
        files: list[_File],
        dst: Path,
        bar: BatchBar,
        all_records: list[FileRecord],
        book: BatchLedger,
    ):
        self.backend = backend
        self.book = book
        self.files = {f.task.relative: f for f in files}
        self.dst = dst
        self.bar = bar
        self.records = all_records
        self.starts: deque[_File] = deque(files)
        self.ready: deque[tuple[str, _File, int]] = deque()  # ("chunk", file, index) / ("join", file, -1)
        self.inflight: dict[Any, tuple[str, _File, int]] = {}
        self._dirty = False
        self._written = 0.0
        self.stopping = False
        limit = backend.capacity
        self.limit = limit if backend.name == "local" else limit + max(1, limit // 4)

    # -- manifest
    def _touch(self) -> None:
        self._dirty = True

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._dirty and (force or now - self._written >= WRITE_EVERY):
            write_status(self.dst, self.records)
            self._dirty = False
            self._written = now

    # -- submission
    def _fill(self) -> None:
        while len(self.inflight) < self.limit and (self.ready or self.starts):
            if self.ready:
                kind, f, index = self.ready.popleft()
                if f.record.state == FAILED:
                    continue
                if kind == "chunk":
                    assert f.plan is not None
                    handle = self.backend.submit(run_chunk, f.task, f.plan, index)
                else:
                    assert f.plan is not None
                    parts = tuple(f.parts[i] for i in sorted(f.parts))
                    handle = self.backend.submit(join_chunks, f.task, f.plan, parts)
            else:
                f = self.starts.popleft()
                kind, index = "prepare", -1
                handle = self.backend.submit(prepare, f.task)
                f.record.state = RUNNING
                self._touch()
            self.inflight[handle] = (kind, f, index)

    # -- results
    def _fail(self, f: _File, error: str) -> None:
        if f.record.state == FAILED:
            return
        self.book.file_failed()
        f.record.state = FAILED
        f.record.error = one_line(error)
        f.record.output_sha256 = ""
        log.info("failed: %s: %s", f.record.input, f.record.error)
        self.bar.file_finished(f.task.relative, None)
        self._touch()

    def _done(self, f: _File, result: FileResult) -> None:
        self.book.file_done(f.task, result)  # the record first: a done file always has one
        r = f.record
        r.state, r.error = DONE, ""
        r.frames, r.faces, r.regions = result.frames, result.faces, result.regions
        r.fail_closed_frames, r.chunks = result.fail_closed_frames, result.chunks
        r.seconds, r.output_sha256 = result.seconds, result.sha256
        if not self.bar.enabled:
            log.info("done: %s (%d frames, %d face track(s), %d chunk(s))", r.input, r.frames, r.faces, r.chunks)
        self.bar.file_finished(f.task.relative, result.frames)
        self._touch()

    def _handle(self, kind: str, f: _File, index: int, result: Any) -> None:
        if isinstance(result, Failure):
            where = f"chunk {index}: " if kind == "chunk" else ""
            self._fail(f, where + result.error)
        elif f.record.state == FAILED:
            return  # a late chunk of a file that already failed
        elif isinstance(result, FileResult):
            self._done(f, result)
        elif isinstance(result, ChunkPlan):
            f.plan = result
            f.parts.clear()
            f.record.chunks = len(result.chunks)
            self.ready.extend(("chunk", f, c.index) for c in result.chunks)
            self._touch()
        elif isinstance(result, ChunkResult):
            f.parts[result.index] = result
            assert f.plan is not None
            if len(f.parts) == len(f.plan.chunks):
                self.ready.appendleft(("join", f, -1))
        else:
            self._fail(f, f"internal error: unexpected task result {type(result).__name__}")

    def _collect(self, handle: Any) -> None:
        kind, f, index = self.inflight.pop(handle)
        try:
            result = self.backend.result(handle)
        except WorkerLost as err:
            if self.stopping:
                return  # cancelled as asked; the file stays pending
            f.attempts += 1
            if f.attempts > RETRIES:
                self._fail(f, f"worker process died ({err})")
                return
            log.warning("%s: worker lost (%s); retrying", f.record.input, err)
            if kind == "prepare":
                self.starts.appendleft(f)
            else:
                self.ready.appendleft((kind, f, index))
            return
        self._handle(kind, f, index, result)

    def _messages(self) -> None:
        for kind, key, value in self.backend.messages():
            if kind == "frames":
                self.bar.advance(key, value)
            elif kind == "total":
                self.bar.add_total(key, value)

    def run(self) -> None:
        while self.inflight or self.ready or self.starts:
            self._fill()
            finished = self.backend.wait(list(self.inflight), timeout=0.25)
            self._messages()  # first: a task's last progress message comes before its result
            for handle in finished:
                self._collect(handle)
            self.flush()
        self.flush(force=True)

    def stop(self, grace: float = 60.0) -> None:
        """After Ctrl-C: stop running tasks, keep what finished meanwhile, mark the rest pending."""
        self.stopping = True
        self.backend.cancel()
        deadline = time.monotonic() + grace
        try:
            while self.inflight and time.monotonic() < deadline:
                for handle in self.backend.wait(list(self.inflight), timeout=0.25):
                    with contextlib.suppress(Cancelled):  # the task stopped as asked
                        self._collect(handle)
        except KeyboardInterrupt:
            log.warning("stopping without waiting for the workers")
        for f in self.files.values():
            if f.record.state == RUNNING:
                f.record.state = PENDING
                self._touch()
        self.flush(force=True)


def _work_dir(dst: Path, relative_output: str) -> Path:
    return dst / WORK_NAME / hashlib.sha256(relative_output.encode()).hexdigest()[:16]


def run_batch(config: BatchConfig) -> BatchReport:
    """Process every file of ``config.source`` into ``config.output``; see the module docstring.

    Raises ``GamyeonError`` for problems with the batch as a whole (bad SRC, DST of another
    batch, key); problems with single files end up in the report and the status manifest.
    """
    started = time.perf_counter()
    options = config.options
    jobs: list[Job] = discover(config.source, config.output)
    dst = config.output
    try:
        dst.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create output folder {dst}: {err.strerror}") from None
    with _lock(dst):
        state = _state(dst, config)
        _sweep(dst)
        old = read_status(dst)
        tasks = []
        for job in jobs:
            rel = job.output.relative_to(dst).as_posix()
            tasks.append(
                FileTask(
                    source=str(job.source),
                    output=str(job.output),
                    relative=job.relative,
                    work_dir=str(_work_dir(dst, rel)),
                    options=options,
                    dataset_id=state.dataset_id,
                    key_file=str(state.key_file),
                    chunk_seconds=config.chunk_seconds,
                    overlap_seconds=config.overlap_seconds,
                )
            )
        with ThreadPoolExecutor(max_workers=4) as pool:  # hashing outputs is I/O bound
            done = list(pool.map(lambda t: _is_done(old.get(_rel(dst, t)), t), tasks))
        records: list[FileRecord] = []
        todo: list[_File] = []
        for task, finished in zip(tasks, done, strict=True):
            rel = _rel(dst, task)
            if finished:
                records.append(old[rel])
            else:
                record = FileRecord(input=task.source, output=rel)
                records.append(record)
                todo.append(_File(task, record))
        report = BatchReport(records, state.dataset_id, skipped=len(tasks) - len(todo))
        if report.skipped:
            log.info("%d of %d file(s) already done (output hash verified); skipping them", report.skipped, len(tasks))
        with Ledger(options.processing.ledger) as ledger:
            book = BatchLedger(ledger, state.dataset_id, options, read_key(state.key_file))
            late = book.missing([(t, old[_rel(dst, t)]) for t, finished in zip(tasks, done, strict=True) if finished])
            if todo or late:
                book.start(config.source, dst, len(todo) + len(late), "ray" if config.ray is not None else "local")
            try:
                for task, record in late:
                    log.warning("%s is done but had no ledger record; recording it now", record.output)
                    book.record_late(task, record)
                write_status(dst, records)
                if todo:
                    report.interrupted = _process(config, todo, dst, records, book)
            except BaseException as err:
                book.finish(err)
                raise
            book.finish(KeyboardInterrupt() if report.interrupted else None)
        work = dst / WORK_NAME
        with contextlib.suppress(OSError):
            work.rmdir()  # only when empty: parts of unfinished files stay for the next run
    report.seconds = time.perf_counter() - started
    _log_summary(report)
    return report


def _rel(dst: Path, task: FileTask) -> str:
    return Path(task.output).relative_to(dst).as_posix()


def _process(config: BatchConfig, todo: list[_File], dst: Path, records: list[FileRecord], book: BatchLedger) -> bool:
    """Run ``todo``; True if interrupted by Ctrl-C."""
    backend = _backend(config)
    try:
        with BatchBar(config.options.quiet, len(todo)) as bar:
            scheduler = _Scheduler(backend, todo, dst, bar, records, book)
            try:
                scheduler.run()
            except KeyboardInterrupt:
                scheduler.stop()
                return True
    finally:
        backend.close()
    return False


def _log_summary(report: BatchReport) -> None:
    frames = sum(r.frames or 0 for r in report.done)
    log.info(
        "batch: %d file(s): %d done (%d already done before), %d failed; %d frame(s) in %.1f s; dataset %s",
        len(report.records),
        len(report.done),
        report.skipped,
        len(report.failed),
        frames,
        report.seconds,
        report.dataset_id,
    )
    for record in report.failed:
        log.error("failed: %s: %s", record.input, record.error)
