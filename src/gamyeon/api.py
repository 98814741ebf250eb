"""The Python API, mirroring ``gamyeon anonymize``.

from gamyeon import anonymize, Options
summaries = anonymize(["clip.mp4"], "out.mp4", Options(keep_audio=True))
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid
from collections.abc import Sequence
from pathlib import Path

from gamyeon import silhouette
from gamyeon.annotations import export_coco, export_mot
from gamyeon.detect.face_models import FaceDetectors
from gamyeon.errors import UsageError
from gamyeon.files import Job, atomic_outputs, is_image, plan_jobs
from gamyeon.keys import MasterKey, new_stored_key, read_key
from gamyeon.ledger.records import file_facts
from gamyeon.ledger.run import RunRecord
from gamyeon.ledger.store import Ledger
from gamyeon.options import Options
from gamyeon.pipeline import anonymize_image, anonymize_video
from gamyeon.progress import Bar
from gamyeon.pseudonym import Pseudonymizer
from gamyeon.stages import face_detectors, load_others, model_paths
from gamyeon.types import Summary
from gamyeon.vault.writer import VaultWriter

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
            # load (and check) the person/text models before anything is recorded; pipelines reuse them
            load_others(options.policy, options.kinds, options.person_model, options.text_model)
            silhouette.segmenter_for(options.policy, options.kinds, options.silhouette_model)
            run = RunRecord(ledger, dataset_id, options, key, models=model_paths(options))
            run.start(sources, output, len(jobs))
            try:
                pseudonyms = Pseudonymizer(key, dataset_id)
                with Bar(options.quiet) as bar:
                    for job in jobs:
                        single = len(jobs) == 1
                        vault = vault_path(job, options, output, single) if options.seal_key else None
                        summaries.append(_run_job(job, options, faces, pseudonyms, bar, single, key, vault, run))
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
    pseudonyms: Pseudonymizer,
    bar: Bar,
    single: bool,
    key: MasterKey,
    vault_final: Path | None,
    run: RunRecord,
) -> Summary:
    notes_final = annotations_path(job, options, single)
    summary = Summary(
        input=str(job.source), output=str(job.output), annotations=str(notes_final), dataset_id=pseudonyms.dataset_id
    )
    exports = [
        job.output.with_name(job.output.name + f".{fmt}" + (".json" if fmt == "coco" else ".txt"))
        for fmt in options.exports
    ]

    def track_id(kind: str, track: int) -> str:
        return pseudonyms.track_id(job.relative, kind, track)

    bar.start(job.source.name, None)
    finals = [job.output, notes_final, *exports] + ([vault_final] if vault_final is not None else [])
    with atomic_outputs(*finals) as temps:
        out_tmp, notes_tmp, *rest = temps
        export_tmps = rest[: len(exports)]
        sealer = None
        if vault_final is not None:
            sealer = VaultWriter(
                rest[-1], key, dataset_id=pseudonyms.dataset_id, source=str(job.relative), track_ids=track_id
            )
        # the operators' randomness (mosaic grid, noise) is keyed per file: reproducible by the key holder only
        secret = key.mask_secret(pseudonyms.dataset_id, job.relative)
        common = dict(
            suffix=job.output.suffix.lower(),
            options=dataclasses.replace(options, policy=options.policy.keyed(secret)),
            faces=faces.get(video=not is_image(job.source)),
            track_ids=track_id,
            summary=summary,
            progress=bar.advance,
            sealer=sealer,
        )
        try:
            if is_image(job.source):
                anonymize_image(job.source, out_tmp, notes_tmp, **common)  # type: ignore[arg-type]
            else:
                anonymize_video(job.source, out_tmp, notes_tmp, on_info=bar.set_total, **common)  # type: ignore[arg-type]
            output = file_facts(out_tmp, job.output)  # hashed once: binds the vault and goes in the records
            summary.output_sha256 = output["sha256"]
            if sealer is not None:
                sealer.finish(output_sha256=output["sha256"], time_base=summary.time_base)
        finally:
            if sealer is not None:
                sealer.abort()
        for fmt, tmp in zip(options.exports, export_tmps, strict=True):
            if fmt == "mot":
                export_mot(notes_tmp, tmp)
            else:
                export_coco(
                    notes_tmp,
                    tmp,
                    file_name=job.output.name,
                    width=summary.width,
                    height=summary.height,
                    info={"dataset_id": pseudonyms.dataset_id, "description": "gamyeon pseudonymized regions"},
                )
        run.file_done(
            job,
            summary,
            output,
            (notes_tmp, notes_final),
            [(fmt, tmp, final) for fmt, tmp, final in zip(options.exports, export_tmps, exports, strict=True)],
            None if sealer is None or vault_final is None else (rest[-1], vault_final, sealer.facts()),
        )
    bar.finish()
    return summary
