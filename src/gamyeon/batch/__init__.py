"""Whole archives: ``gamyeon batch SRC -o DST`` over a folder tree or a manifest of input paths.

One batch is one dataset (one pseudonym key). Files are processed by local worker processes or by
Ray tasks on a cluster; long videos are split at keyframes into chunks processed in parallel and
joined without re-encoding. A status manifest in DST records every file, so a re-run skips what is
done (checked by output hash) and redoes the rest. Modules, one concern each:

- ``spec``: the picklable values passed between the parent and the workers
- ``manifest``: input manifests (CSV/JSONL) and the status manifest (atomic CSV)
- ``plan``: jobs from SRC, keyframe scan and chunk borders
- ``chunks``: joining chunk parts: remux, annotation merge and track linking
- ``tasks``: what a worker runs (whole file, chunk, join)
- ``context``: what a worker process holds between tasks: detector and key caches, progress, cancellation
- ``local`` / ``ray_backend``: process pool and Ray executors behind one small interface
- ``runner``: the parent: state, resume, scheduling, manifest, progress bar
- ``cli``: the ``gamyeon batch`` subcommand

``BatchConfig``, ``BatchReport`` and ``run_batch`` are imported on first use
(``gamyeon.infra.lazy``), so a worker that imports ``tasks`` does not load the parent's runner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gamyeon.infra.lazy import exports

if TYPE_CHECKING:
    from gamyeon.batch.runner import BatchConfig, BatchReport, run_batch
else:
    __getattr__, __dir__ = exports(
        __name__, dict.fromkeys(("BatchConfig", "BatchReport", "run_batch"), "gamyeon.batch.runner")
    )

__all__ = ["BatchConfig", "BatchReport", "run_batch"]
