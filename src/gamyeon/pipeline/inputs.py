"""What one file's pass through the pipeline needs, as one frozen value.

``anonymize_video`` and ``anonymize_image`` take a ``FilePass`` rather than a dozen keyword
arguments, so every caller (a single run, a batch worker, a chunk of a long file) states the same
things in the same place, and a new need is one field, not an edit of every call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gamyeon.detect.faces import FaceDetector
from gamyeon.mask.stage import Sealer
from gamyeon.options import Options
from gamyeon.pipeline.given import GivenRegions

#: called with the number of frames just finished
Progress = Callable[[int], None]
#: (kind, local track number) -> the id written to the annotations (a pseudonym, or the number)
TrackIds = Callable[[str, int], str]


@dataclass(frozen=True, slots=True)
class FilePass:
    """One input, the temporary names its output and regions are written to, and the run's means.

    ``output_tmp``/``annotations_tmp`` are temporary names: making them final (atomically, only
    when complete) is the caller's business (``pipeline.job.run_file``).
    """

    source: Path
    output_tmp: Path
    annotations_tmp: Path
    #: the output's container suffix (the temporary name may not have it)
    suffix: str
    options: Options
    faces: FaceDetector
    track_ids: TrackIds
    progress: Progress
    #: seals each region's original pixels before they are masked; None: nothing is sealed
    sealer: Sealer | None = None
    #: the regions of every frame, given (a reviewed re-render); None: detect, track and estimate them
    regions: GivenRegions | None = None
