"""Writes this folder's vault of format 2 (per-track segments of whole boxes: the decoder's 4:2:0
samples coded with x264 at qp 0, crops at the top left of each segment's canvas), for the reader's
test that format 2 still opens and reveals exactly.

It was run once with the format-2 writer (gamyeon at commit 866dbdb); the current writer writes a
newer format, so running it again would not reproduce the fixture. The pixels are scikit-image's
astronaut photo (NASA, public domain). Files:

- ``source.mp4``: 6 frames, 128x96, the photo panning (the original);
- ``anon.mp4``: the same frames with every sealed box filled grey (stands in for the anonymized file);
- ``anon.mp4.vault``: the regions' original samples as decoded from ``source.mp4``: track
  ``aaaa000000000001`` with a box that grows, ``aaaa000000000002`` on frames 1-4, and one region
  without a track on frame 5;
- ``test.key``: the master key (a test key, no secret).
"""

from __future__ import annotations

import hashlib
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from gamyeon.keys import MasterKey, write_key
from gamyeon.media.decode import DecodedFrame, VideoReader, to_rgb
from gamyeon.media.encode import write_clip
from gamyeon.types import Box, Region, Source
from gamyeon.vault.writer import VaultWriter

W, H, N = 128, 96, 6
#: frame -> [(track or None, box)]
LAYOUT = {
    0: [(1, (40, 10, 70, 44))],
    1: [(1, (39, 10, 71, 46)), (2, (90, 50, 121, 90))],
    2: [(1, (37, 9, 73, 49)), (2, (91, 51, 123, 91))],
    3: [(1, (35, 8, 75, 52)), (2, (92, 52, 125, 92))],
    4: [(1, (33, 7, 77, 55)), (2, (93, 53, 127, 93))],
    5: [(1, (31, 6, 79, 58)), (None, (0, 60, 25, 90))],
}


def picture(index: int) -> np.ndarray:
    from skimage import data

    photo = np.asarray(data.astronaut())[:384]
    return np.roll(cv2.resize(photo, (W, H), interpolation=cv2.INTER_AREA), index * 2, axis=1)


def main(folder: Path) -> None:
    rate = Fraction(25)
    write_clip(folder / "source.mp4", (picture(i) for i in range(N)), rate)
    with VideoReader(folder / "source.mp4") as reader:
        decoded = [(e.pts, to_rgb(e.frame)) for e in reader if isinstance(e, DecodedFrame) and e.frame is not None]
        time_base = reader.info.time_base
    with VideoReader(folder / "source.mp4") as reader:
        planes = [e.frame for e in reader if isinstance(e, DecodedFrame) and e.frame is not None]
    originals = [rgb for _pts, rgb in decoded]
    masked = []
    for i, frame in enumerate(originals):
        grey = frame.copy()
        for _track, (x1, y1, x2, y2) in LAYOUT[i]:
            grey[y1:y2, x1:x2] = 128
        masked.append(grey)
    write_clip(folder / "anon.mp4", masked, rate)
    key = MasterKey.generate()
    write_key(key, folder / "test.key")
    writer = VaultWriter(
        folder / "anon.mp4.vault",
        key,
        dataset_id="fixture-dataset",
        source="source.mp4",
        track_ids=lambda kind, track: f"aaaa{track:012d}",
    )
    for i in range(N):
        regions = [
            Region("face", Box(*map(float, b)), Box(*map(float, b)), 0.9, t, Source.DETECTED) for t, b in LAYOUT[i]
        ]
        writer.seal_planes(i, decoded[i][0], planes[i], regions, rotation=0)
    digest = hashlib.sha256((folder / "anon.mp4").read_bytes()).hexdigest()
    writer.finish(output_sha256=digest, time_base=str(time_base))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
