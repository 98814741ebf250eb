"""One file, start to finish: the job that ``gamyeon anonymize`` runs per file and that a
``gamyeon batch`` worker runs for a file it processes whole.

The steps are written once, here, in the order the law's promises need:

1. the masks' randomness is keyed per file (``MasterKey.mask_secret``), and track numbers become
   pseudonyms of this dataset and file (``Pseudonymizer``);
2. every output -- video or image, annotations, exports, vault -- is written under a temporary
   name (``infra.files.atomic_outputs``) and appears under its final name only complete;
3. with a vault, each region's original pixels are sealed just before they are masked, and the
   vault is bound to the finished output by its SHA-256 (or discarded if anything fails);
4. ``record`` sees the finished files while they are still at their temporary names, so the
   processing record can be written before any output appears.

Fail closed stays the stages' business (``pipeline.video``, ``mask.stage``): a frame that cannot be
masked is written fully masked, never with original pixels.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gamyeon.annotations import write_export
from gamyeon.detect.faces import FaceDetector
from gamyeon.infra.files import atomic_outputs, is_image
from gamyeon.keys import MasterKey
from gamyeon.ledger.records import file_facts
from gamyeon.options import Options
from gamyeon.pipeline.given import GivenRegions
from gamyeon.pipeline.image import anonymize_image
from gamyeon.pipeline.inputs import FilePass, Progress, TrackIds
from gamyeon.pipeline.video import anonymize_video
from gamyeon.pseudonym import Pseudonymizer
from gamyeon.types import FileFigures, Summary
from gamyeon.vault.writer import VaultWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FileJob:
    """One input file, where each of its outputs goes, and what processing it needs.

    The caller chooses the names (``anonymize`` follows ``--annotations``/``--vault``, a batch
    mirrors the tree); ``run_file`` only writes them. ``options`` are the run's options, not yet
    keyed: the keyed policy is made here from ``key``, ``dataset_id`` and ``relative``.
    """

    source: Path
    output: Path
    annotations: Path
    #: (format, final path) of each export, in ``options.exports`` order
    exports: tuple[tuple[str, Path], ...]
    #: where the vault goes; None: nothing is sealed
    vault: Path | None
    options: Options
    dataset_id: str
    #: the source relative to its input root: the pseudonym domain and the mask key's salt
    relative: str
    key: MasterKey
    faces: FaceDetector
    #: called with the number of frames finished (cheap; called per frame)
    progress: Progress
    #: called with a video's declared frame count (None when unknown), before its first frame
    on_total: Callable[[int | None], None] | None = None
    #: every frame's regions, given (``gamyeon review``'s re-render): no detector runs
    regions: GivenRegions | None = None

    @property
    def suffix(self) -> str:
        """The output container, from the output's name."""
        return self.output.suffix.lower()


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """A finished file: its summary, and the files as the processing record needs them.

    The ``(temporary, final)`` pairs name files that exist under the temporary name only while
    ``run_file``'s ``record`` runs; afterwards they are under their final names.
    """

    summary: Summary
    #: ``file_facts`` of the output (hashed once: the vault, the summary and the records share it)
    output: dict[str, Any]
    annotations: tuple[Path, Path]
    #: (format, temporary, final) of each export
    exports: tuple[tuple[str, Path, Path], ...]
    #: (temporary, final, ``VaultWriter.facts()``) of the vault; None when nothing was sealed
    vault: tuple[Path, Path, dict[str, Any]] | None

    @property
    def sha256(self) -> str:
        return str(self.output["sha256"])


def keyed_options(options: Options, key: MasterKey, dataset_id: str, relative: str) -> Options:
    """``options`` with the operators' randomness (mosaic grid, noise) keyed to this file, so only
    the key holder can reproduce it (chunks of a batch use it too, with their local tracks)."""
    secret = key.mask_secret(dataset_id, relative)
    return dataclasses.replace(options, policy=options.policy.keyed(secret))


def run_file(job: FileJob, record: Callable[[FileOutcome], None] | None = None) -> FileOutcome:
    """Anonymize ``job.source`` into its outputs; see the module docstring.

    ``record`` is called once everything is written and hashed, before any file is moved to its
    final name; if it raises, no output appears. Errors propagate (nothing partial is left).
    """
    pseudonyms = Pseudonymizer(job.key, job.dataset_id)

    def track_id(kind: str, track: int) -> str:
        return pseudonyms.track_id(job.relative, kind, track)

    options = keyed_options(job.options, job.key, job.dataset_id, job.relative)
    exports = [final for _fmt, final in job.exports]
    finals = [job.output, job.annotations, *exports, *([job.vault] if job.vault is not None else [])]
    with atomic_outputs(*finals) as temps:
        out_tmp, notes_tmp = temps[0], temps[1]
        export_tmps = temps[2 : 2 + len(exports)]
        vault_tmp = temps[-1] if job.vault is not None else None
        figures, output, sealed = _anonymize(job, options, track_id, out_tmp, notes_tmp, vault_tmp)
        for (fmt, _final), tmp in zip(job.exports, export_tmps, strict=True):
            write_export(
                fmt,
                notes_tmp,
                tmp,
                file_name=job.output.name,
                width=figures.width,
                height=figures.height,
                dataset_id=job.dataset_id,
            )
        outcome = FileOutcome(
            summary=Summary.of(
                figures,
                input=str(job.source),
                output=str(job.output),
                annotations=str(job.annotations),
                dataset_id=job.dataset_id,
                output_sha256=str(output["sha256"]),
            ),
            output=output,
            annotations=(notes_tmp, job.annotations),
            exports=tuple((fmt, tmp, final) for (fmt, final), tmp in zip(job.exports, export_tmps, strict=True)),
            vault=None if sealed is None or vault_tmp is None or job.vault is None else (vault_tmp, job.vault, sealed),
        )
        if record is not None:
            record(outcome)
    return outcome


def _anonymize(
    job: FileJob,
    options: Options,
    track_id: TrackIds,
    out_tmp: Path,
    notes_tmp: Path,
    vault_tmp: Path | None,
) -> tuple[FileFigures, dict[str, Any], dict[str, Any] | None]:
    """Run the pipeline (sealing into ``vault_tmp`` when given); returns the figures, the output's
    ``file_facts`` and the vault's facts. A vault is finished only with the output's hash in it."""
    sealer = None
    if vault_tmp is not None:
        sealer = VaultWriter(vault_tmp, job.key, dataset_id=job.dataset_id, source=job.relative, track_ids=track_id)
    try:
        task = FilePass(
            job.source,
            out_tmp,
            notes_tmp,
            suffix=job.suffix,
            options=options,
            faces=job.faces,
            track_ids=track_id,
            progress=job.progress,
            sealer=sealer,
            regions=job.regions,
        )
        figures = anonymize_image(task) if is_image(job.source) else anonymize_video(task, on_info=job.on_total)
        output = file_facts(out_tmp, job.output)  # hashed once: binds the vault and goes in the records
        if sealer is None:
            return figures, output, None
        sealer.finish(output_sha256=str(output["sha256"]), time_base=figures.time_base)
        return figures, output, sealer.facts()
    finally:
        if sealer is not None:
            sealer.abort()
