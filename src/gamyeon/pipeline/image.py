"""One still image through the stages: detect -> estimate -> seal -> mask -> save.

A picture has no neighbours to track across, so every detector runs once on the whole upright
picture (with the still-image passes) and its regions are masked as they are found. Fail closed:
if anything but writing fails, the whole picture is masked.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from gamyeon.annotations import JsonlWriter
from gamyeon.errors import UsageError
from gamyeon.mask.apply import apply_regions
from gamyeon.mask.silhouette import segmenter_for
from gamyeon.media.images import load_image, save_image, upright_view
from gamyeon.pipeline.frame import FrameWork
from gamyeon.pipeline.inputs import FilePass
from gamyeon.pipeline.models import load_others
from gamyeon.track.schedule import Plan
from gamyeon.track.temporal import TemporalConfig
from gamyeon.types import FileFigures, FrameResult

log = logging.getLogger(__name__)


def anonymize_image(task: FilePass) -> FileFigures:
    """Anonymize one picture into ``task.output_tmp`` and its regions into ``task.annotations_tmp``;
    returns what was counted."""
    source, options, sealer = task.source, task.options, task.sealer
    if task.regions is not None:
        raise UsageError(f"{source}: given regions are for videos; a picture is anonymized with its detectors")
    started = time.perf_counter()
    image = load_image(source)
    view = upright_view(image.pixels, image.orientation)
    height, width = view.shape[:2]
    plan = Plan.for_video(width, height, 1.0, 1, "always")
    temporal = TemporalConfig(max_gap=0, pad_before=0, pad_after=0)
    others = load_others(options, video=False)
    segmenter = segmenter_for(options.policy, options.kinds, options.silhouette_model)
    work = FrameWork(task.faces, options.policy, options.kinds, plan, temporal, width, height, others)
    notes = JsonlWriter(task.annotations_tmp, task.track_ids, width, height)
    try:
        try:
            upright = np.ascontiguousarray(view)
            work.observe(0, work.detect_still(upright), image=upright)
            regions = work.regions(0)
            if sealer is not None:
                sealer.seal(0, None, view, regions, shapes=lambda kind: options.policy.for_kind(kind).shape)
            apply_regions(view, regions, options.policy, segmenter)
            tracks = work.tracks(0)
            result = FrameResult(0, None, None, tuple(regions), tracks=None if tracks is None else tuple(tracks))
        except OSError:  # the output cannot be written: abort the file
            raise
        except Exception as err:  # noqa: BLE001 - fail closed: never write the original image
            log.warning("processing failed on %s (%s); the whole image will be masked", source, err)
            image.pixels[...] = 0
            result = FrameResult.closed(0, None, None, f"processing failed: {err}")
        save_image(image.pixels, task.output_tmp, task.suffix, image, options.keep_metadata)
        notes.write(result)
        work.account(result)
    finally:
        notes.close()
    task.progress(1)
    return work.tally.figures(width, height, time.perf_counter() - started, None)
