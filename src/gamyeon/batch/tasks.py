"""What a batch worker runs: a whole file, one chunk of a long video, or the join of its chunks.

The same three functions run in local worker processes and in Ray tasks. Each returns a plain
value (``FileResult``, ``ChunkPlan``, ``ChunkResult``) or a ``Failure`` with a one-line error: a
bad file never raises into the parent. Outputs are written under temporary names and renamed when
complete (``infra.files.atomic_outputs``); chunk parts too, with their record written last, so a part
whose record exists is complete and is reused by a re-run.

What a worker holds between tasks (its face detectors and keys, where progress goes, whether the
batch is stopping) is in ``context``; how its process is set up, in ``infra.process``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from gamyeon.annotations import write_export
from gamyeon.batch import chunks as join
from gamyeon.batch.context import Reporter, detector, key
from gamyeon.batch.plan import chunk_plan
from gamyeon.batch.spec import ChunkPlan, ChunkResult, Failure, FileResult, FileTask, one_line
from gamyeon.errors import GamyeonError
from gamyeon.infra.files import atomic_outputs, is_image, sha256_file
from gamyeon.ledger.records import file_facts
from gamyeon.options import Options
from gamyeon.pipeline.inputs import FilePass
from gamyeon.pipeline.job import FileJob, FileOutcome, keyed_options, run_file
from gamyeon.pipeline.video import anonymize_video
from gamyeon.pseudonym import Pseudonymizer

log = logging.getLogger(__name__)

T = TypeVar("T")


def _keyed(task: FileTask, options: Options) -> Options:
    """``options`` with the masks seeded as ``gamyeon anonymize`` seeds them for this file (chunks
    key them by their local track numbers: a track crossing a chunk border may change its grid
    there, which is as secret as one grid)."""
    return keyed_options(options, key(task.key_file), task.dataset_id, task.relative)


def _unsealed(task: FileTask) -> None:
    """Chunks carry no vault: a sealed file is always processed whole (``_prepare``), because a
    chunk's regions have local track numbers until the join links them, and a vault sealed under
    those would name the wrong tracks. Refuse rather than write an output without its vault."""
    if task.vault() is not None:
        raise GamyeonError(f"{task.relative}: a sealed file cannot be processed in chunks")


def _guard(what: str, run: Callable[[], T]) -> T | Failure:
    """Run one task; user errors and bugs become a ``Failure`` (the batch goes on)."""
    try:
        return run()
    except GamyeonError as err:
        return Failure(one_line(str(err)))
    except MemoryError:
        return Failure("out of memory")
    except Exception as err:  # one bad file must not stop the batch; the traceback goes to the debug log
        log.debug("%s failed", what, exc_info=True)
        return Failure(one_line(f"internal error: {type(err).__name__}: {err}"))


# ----------------------------------------------------------------------------- whole files


def prepare(task: FileTask) -> FileResult | ChunkPlan | Failure:
    """Process a file whole, or, for a long video, plan its chunks (then ``run_chunk`` and
    ``join_chunks`` do the rest)."""
    return _guard(task.relative, lambda: _prepare(task))


def _identity(task: FileTask) -> dict[str, object]:
    stat = os.stat(task.source)
    o = task.options
    return {
        "source": task.source,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "settings": settings_digest(o),
        "chunk_seconds": task.chunk_seconds,
        "overlap_seconds": task.overlap_seconds,
    }


def settings_digest(options: Options) -> str:
    """What in ``options`` changes the pixels or annotations of an output (not keys, not UI)."""
    payload = options.output_settings()
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _prepare(task: FileTask) -> FileResult | ChunkPlan:
    reporter = Reporter(task.relative)
    reporter.check()
    source = Path(task.source)
    plan = None
    if source.is_file() and task.vault() is None:  # a sealed file is processed whole (see _unsealed)
        plan = chunk_plan(source, task.chunk_seconds, task.overlap_seconds, _identity(task))
    if plan is not None:
        reporter.send("total", plan.frames)
        _claim_work_dir(Path(task.work_dir), plan)
        return plan
    return _whole(task, reporter)


def _whole(task: FileTask, reporter: Reporter) -> FileResult:
    """The file in one go (``pipeline.job.run_file``, as ``gamyeon anonymize`` runs each file of a
    folder); sealed into ``<OUTPUT>.vault`` with ``--seal``."""
    source = Path(task.source)
    video = not is_image(source)

    def on_total(total: int | None) -> None:
        reporter.send("total", total or 0)

    if not video:
        on_total(1)
    job = FileJob(
        source=source,
        output=Path(task.output),
        annotations=task.annotations(),
        exports=tuple(zip(task.options.exports, task.exports(), strict=True)),
        vault=task.vault(),
        options=task.options,
        dataset_id=task.dataset_id,
        relative=task.relative,
        key=key(task.key_file),
        faces=detector(task.options, video=video),
        progress=reporter.frames,
        on_total=on_total,
    )
    facts: dict[str, Any] = {}

    def record(done: FileOutcome) -> None:
        # hashed here, on the worker, while the files are still at their temporary names
        facts.update(_facts(task, done.annotations[0], [tmp for _fmt, tmp, _final in done.exports]))
        if done.vault is not None:
            tmp, final, sealed = done.vault
            facts["vault"] = {"file": file_facts(tmp, final), "seal": sealed}

    outcome = run_file(job, record)
    reporter.flush()
    summary = outcome.summary
    return FileResult(
        frames=summary.frames,
        faces=summary.tracks.get("face", 0),
        regions=sum(summary.regions.values()),
        fail_closed_frames=summary.fail_closed_frames,
        seconds=summary.seconds,
        sha256=outcome.sha256,
        chunks=1,
        facts=facts,
    )


def _facts(task: FileTask, notes: Path, exports: list[Path]) -> dict[str, Any]:
    """What the batch parent records in the ledger of the files next to the output (hashed here,
    on the worker, while they are still at their temporary names)."""
    return {
        "input": file_facts(Path(task.source)),
        "annotations": file_facts(notes, task.annotations()),
        "exports": {
            fmt: file_facts(tmp, final)
            for fmt, tmp, final in zip(task.options.exports, exports, task.exports(), strict=True)
        },
    }


def _exports(task: FileTask, notes: Path, temps: list[Path], width: int, height: int) -> None:
    for fmt, tmp in zip(task.options.exports, temps, strict=True):
        write_export(
            fmt, notes, tmp, file_name=Path(task.output).name, width=width, height=height, dataset_id=task.dataset_id
        )


# ----------------------------------------------------------------------------------- chunks

PLAN_NAME = "plan.json"


def _claim_work_dir(work: Path, plan: ChunkPlan) -> None:
    """Make ``work`` hold parts of ``plan`` only: parts of another plan (the file or the settings
    changed since an interrupted run) are removed."""
    marker = work / PLAN_NAME
    try:
        if json.loads(marker.read_text(encoding="utf-8")).get("digest") == plan.digest:
            return
    except (OSError, ValueError):
        pass
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    marker.write_text(json.dumps({"digest": plan.digest, "chunks": len(plan.chunks)}), encoding="utf-8")


def part_paths(task: FileTask, index: int) -> tuple[Path, Path, Path]:
    """(video, regions, record) of chunk ``index``; the record is written last."""
    video = Path(task.work_dir) / f"chunk-{index:05d}{task.suffix}"
    return video, video.with_name(video.name + ".regions.jsonl"), video.with_name(video.name + ".json")


def run_chunk(task: FileTask, plan: ChunkPlan, index: int) -> ChunkResult | Failure:
    """Process chunk ``index`` of ``plan`` into the file's work folder (reused if already there)."""
    return _guard(f"{task.relative} chunk {index}", lambda: _run_chunk(task, plan, index))


def _run_chunk(task: FileTask, plan: ChunkPlan, index: int) -> ChunkResult:
    _unsealed(task)
    reporter = Reporter(task.relative)
    reporter.check()
    chunk = plan.chunks[index]
    own = (chunk.end_index if chunk.end_index is not None else plan.frames) - chunk.start_index
    video, notes, record = part_paths(task, index)
    try:
        done = json.loads(record.read_text(encoding="utf-8"))
        if done.get("digest") == plan.digest and video.is_file() and notes.is_file():
            reporter.send("frames", own)
            return ChunkResult(index, int(done["frames"]), 0.0, int(done["width"]), int(done["height"]))
    except (OSError, ValueError, KeyError):
        pass
    options = dataclasses.replace(
        _keyed(task, task.options),
        keep_audio=False,  # copied once from the source at the join
        keep_metadata=False,
        encode=dataclasses.replace(task.options.encode, b_frames=False),
    )
    seen = 0

    def progress(n: int) -> None:
        # frames are finished in order from warm_index; report only the chunk's own
        nonlocal seen
        before = seen
        seen += n
        mine = min(seen, chunk.start_index - chunk.warm_index + own) - max(before, chunk.start_index - chunk.warm_index)
        reporter.frames(max(0, mine))

    with atomic_outputs(video, notes, record) as (video_tmp, notes_tmp, record_tmp):
        figures = anonymize_video(
            FilePass(
                Path(task.source),
                video_tmp,
                notes_tmp,
                suffix=task.suffix,
                options=options,
                faces=detector(options, video=True),
                track_ids=lambda _kind, track: str(track),  # local ids; linked and pseudonymized at the join
                progress=progress,
            ),
            frames=chunk.frame_range(),
        )
        reporter.flush()
        facts = {
            "digest": plan.digest,
            "frames": own,
            "width": figures.width,
            "height": figures.height,
            "seconds": round(figures.seconds, 3),
        }
        record_tmp.write_text(json.dumps(facts), encoding="utf-8")
    return ChunkResult(index, own, figures.seconds, figures.width, figures.height)


def join_chunks(task: FileTask, plan: ChunkPlan, parts: tuple[ChunkResult, ...]) -> FileResult | Failure:
    """Join the parts of ``plan`` into the final output and annotations (see ``chunks``)."""
    return _guard(f"{task.relative} join", lambda: _join(task, plan, parts))


def _join(task: FileTask, plan: ChunkPlan, parts: tuple[ChunkResult, ...]) -> FileResult:
    _unsealed(task)
    Reporter(task.relative).check()
    started = time.perf_counter()
    pseudonyms = Pseudonymizer(key(task.key_file), task.dataset_id)
    paths = [part_paths(task, c.index) for c in plan.chunks]
    frames = [p.frames for p in sorted(parts, key=lambda p: p.index)]
    width, height = parts[0].width, parts[0].height
    exports = task.exports()
    with atomic_outputs(Path(task.output), task.annotations(), *exports) as temps:
        out_tmp, notes_tmp, *export_tmps = temps
        join.remux(
            [p[0] for p in paths],
            frames,
            out_tmp,
            suffix=task.suffix,
            source=Path(task.source),
            keep_audio=task.options.keep_audio,
            keep_metadata=task.options.keep_metadata,
        )
        stats = join.merge_annotations(
            plan.chunks,
            [p[1] for p in paths],
            notes_tmp,
            lambda kind, track: pseudonyms.track_id(task.relative, kind, track),
        )
        if stats.frames != plan.frames:
            raise join.ChunkJoinError(f"the chunks hold {stats.frames} frames, the file {plan.frames}")
        _exports(task, notes_tmp, export_tmps, width, height)
        digest = sha256_file(out_tmp)
        facts = _facts(task, notes_tmp, export_tmps)
    shutil.rmtree(task.work_dir, ignore_errors=True)
    return FileResult(
        frames=stats.frames,
        faces=stats.faces,
        regions=stats.regions,
        fail_closed_frames=stats.fail_closed_frames,
        seconds=sum(p.seconds for p in parts) + time.perf_counter() - started,
        sha256=digest,
        chunks=len(plan.chunks),
        facts=facts,
    )
