"""The Python API, mirroring ``gamyeon anonymize``.

from gamyeon import anonymize, Options
summaries = anonymize(["clip.mp4"], "out.mp4", Options(keep_audio=True))
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Sequence
from pathlib import Path

from gamyeon.annotations import export_path
from gamyeon.detect.face_models import FaceDetectors
from gamyeon.errors import UsageError
from gamyeon.infra.files import Job, is_image, plan_jobs
from gamyeon.infra.progress import Bar
from gamyeon.keys import MasterKey, new_stored_key, read_key
from gamyeon.ledger.run import RunRecord
from gamyeon.ledger.store import Ledger
from gamyeon.mask import silhouette
from gamyeon.options import Options
from gamyeon.pipeline.job import FileJob, FileOutcome, run_file
from gamyeon.pipeline.models import face_detectors, load_others, model_paths
from gamyeon.types import Summary

log = logging.getLogger(__name__)


def annotations_path(job: Job, options: Options, single: bool) -> Path:
    if options.annotations is not None and single:
        return options.annotations
    return job.output.with_name(job.output.name + ".regions.jsonl")


def vault_path(job: Job, options: Options, output: Path, single: bool) -> Path:
    """``--vault`` (a file for one input, a folder mirroring the tree for several), by default
    ``<OUTPUT>.vault``."""
    root = options.vault or output.with_name(output.name + ".vault")
    if single:
        return root
    return root / Path(job.relative).parent / (job.output.name + ".vault")


def _key(options: Options, dataset_id: str) -> tuple[MasterKey, Path | None]:
    """The run's master key, and the key-store file when a new key was generated for it.

    With ``--seal`` the sealing key is the master key: pseudonyms and vault keys come from one
    hierarchy, so the key holder can name a track by the id in the annotations.
    """
    if options.seal_key is not None:
        key = read_key(options.seal_key)
        if options.key_file is not None and read_key(options.key_file).fingerprint != key.fingerprint:
            raise UsageError("--key and --seal name different keys; give one key (--seal) for both")
        return key, None
    if options.key_file is not None:
        return read_key(options.key_file), None
    return new_stored_key(dataset_id)


def _settle_key(path: Path | None, dataset_id: str, used: bool) -> None:
    """Report a generated key once an output uses it; remove it when none does, so that a run
    that failed before writing anything leaves no orphan key in the key store."""
    if path is None:
        return
    if used:
        log.info("pseudonym key for dataset %s stored apart from the output at %s", dataset_id, path)
    else:
        with contextlib.suppress(OSError):  # never mask the error that ended the run
            path.unlink()


def anonymize(inputs: Sequence[str | Path], output: str | Path, options: Options | None = None) -> list[Summary]:
    """Anonymize files or folders into ``output``; returns one summary per file.

    Raises ``GamyeonError`` subclasses for user errors; outputs appear only when complete, each
    after its processing record is in the ledger.
    """
    options = options or Options()
    sources, output = [Path(p) for p in inputs], Path(output)
    jobs = plan_jobs(sources, output)
    dataset_id = uuid.uuid4().hex
    key, key_path = _key(options, dataset_id)
    summaries: list[Summary] = []
    try:
        with Ledger(options.processing.ledger) as ledger:
            faces = face_detectors(options)
            for video in {not is_image(job.source) for job in jobs}:
                faces.get(video)  # load (and check) the face models the jobs need before anything is recorded
                # the same for the person/text models; pipelines reuse them
                load_others(options, video)
            silhouette.segmenter_for(options.policy, options.kinds, options.silhouette_model)
            run = RunRecord(ledger, dataset_id, options, key, models=model_paths(options))
            run.start(sources, output, len(jobs))
            try:
                with Bar(options.quiet) as bar:
                    for job in jobs:
                        single = len(jobs) == 1
                        vault = vault_path(job, options, output, single) if options.seal_key else None
                        summaries.append(_run_job(job, options, faces, bar, single, key, dataset_id, vault, run))
            except BaseException as err:
                run.finish(summaries, err)
                raise
            run.finish(summaries, None)
    except BaseException:
        _settle_key(key_path, dataset_id, used=bool(summaries))
        raise
    _settle_key(key_path, dataset_id, used=True)
    return summaries


def _run_job(
    job: Job,
    options: Options,
    faces: FaceDetectors,
    bar: Bar,
    single: bool,
    key: MasterKey,
    dataset_id: str,
    vault_final: Path | None,
    run: RunRecord,
) -> Summary:
    """One file of the run (``pipeline.job.run_file``), its record written before its outputs appear."""
    file_job = FileJob(
        source=job.source,
        output=job.output,
        annotations=annotations_path(job, options, single),
        exports=tuple((fmt, export_path(job.output, fmt)) for fmt in options.exports),
        vault=vault_final,
        options=options,
        dataset_id=dataset_id,
        relative=job.relative,
        key=key,
        faces=faces.get(video=not is_image(job.source)),
        progress=bar.advance,
        on_total=bar.set_total,
    )

    def record(done: FileOutcome) -> None:
        run.file_done(job, done.summary, done.output, done.annotations, done.exports, done.vault)

    bar.start(job.source.name, None)
    outcome = run_file(file_job, record)
    bar.finish()
    return outcome.summary
