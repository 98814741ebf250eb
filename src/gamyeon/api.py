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

from gamyeon.annotations import export_coco, export_mot
from gamyeon.detect.centerface import CenterFace
from gamyeon.detect.faces import FaceDetector
from gamyeon.files import Job, atomic_outputs, is_image, plan_jobs
from gamyeon.keys import MasterKey, new_stored_key, read_key
from gamyeon.options import Options
from gamyeon.pipeline import anonymize_image, anonymize_video
from gamyeon.progress import Bar
from gamyeon.pseudonym import Pseudonymizer
from gamyeon.types import Summary

log = logging.getLogger(__name__)


def annotations_path(job: Job, options: Options, single: bool) -> Path:
    if options.annotations is not None and single:
        return options.annotations
    return job.output.with_name(job.output.name + ".regions.jsonl")


def _key(options: Options, dataset_id: str) -> tuple[MasterKey, Path | None]:
    """The run's master key, and the key-store file when a new key was generated for it."""
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

    Raises ``GamyeonError`` subclasses for user errors; outputs appear only when complete.
    """
    options = options or Options()
    jobs = plan_jobs([Path(p) for p in inputs], Path(output))
    dataset_id = uuid.uuid4().hex
    key, key_path = _key(options, dataset_id)
    summaries: list[Summary] = []
    try:
        pseudonyms = Pseudonymizer(key, dataset_id)
        threshold = min(options.policy.for_kind(k).threshold for k in options.kinds)
        faces = FaceDetector(CenterFace(options.face_model), threshold=threshold)
        with Bar(options.quiet) as bar:
            for job in jobs:
                summaries.append(_run_job(job, options, faces, pseudonyms, bar, single=len(jobs) == 1))
    except BaseException:
        _settle_key(key_path, dataset_id, used=bool(summaries))
        raise
    _settle_key(key_path, dataset_id, used=True)
    return summaries


def _run_job(
    job: Job, options: Options, faces: FaceDetector, pseudonyms: Pseudonymizer, bar: Bar, single: bool
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
    with atomic_outputs(job.output, notes_final, *exports) as temps:
        out_tmp, notes_tmp, *export_tmps = temps
        common = dict(
            suffix=job.output.suffix.lower(),
            options=options,
            faces=faces,
            track_ids=track_id,
            summary=summary,
            progress=bar.advance,
        )
        if is_image(job.source):
            anonymize_image(job.source, out_tmp, notes_tmp, **common)  # type: ignore[arg-type]
        else:
            anonymize_video(job.source, out_tmp, notes_tmp, on_info=bar.set_total, **common)  # type: ignore[arg-type]
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
    bar.finish()
    return summary
