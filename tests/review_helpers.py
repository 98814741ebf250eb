"""A reviewable output made for the review tests: a real clip with a face, anonymized and sealed
through the CLI, lossless (FFV1) so that re-rendered pixels can be compared exactly."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gamyeon.cli import main
from gamyeon.keys import MasterKey, write_key
from gamyeon.media.decode import DecodedFrame, VideoReader, to_rgb
from gamyeon.types import Array

FRAMES = 12
SIZE = (320, 240)
#: a box on the background, away from the face, that the tests add as a missed region
ADDED = [12.0, 150.0, 72.0, 210.0]


@dataclass
class Made:
    root: Path
    source: Path
    output: Path
    key: Path
    ledger: str

    @property
    def sidecar(self) -> Path:
        return self.output.with_name(self.output.name + ".regions.jsonl")

    @property
    def review(self) -> Path:
        return self.output.with_name(self.output.name + ".review.json")


def make_output(root: Path) -> Made:
    from conftest import face_picture, make_video

    source = root / "clip.mp4"
    make_video(source, size=SIZE, frames=FRAMES, picture=face_picture)
    key = root / "site.key"
    write_key(MasterKey.generate(), key)
    output = root / "out.mkv"
    ledger = str(root / "ledger.sqlite")
    args = ["anonymize", str(source), "-o", str(output), "--kinds", "faces", "--codec", "ffv1", "--seal", str(key)]
    assert main([*args, "--ledger", ledger, "-q"]) == 0
    return Made(root, source, output, key, ledger)


def decoded(path: Path) -> list[Array]:
    with VideoReader(path) as reader:
        return [to_rgb(e.frame) for e in reader if isinstance(e, DecodedFrame) and e.frame is not None]


def notes(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def area(boxes: list[list[float]], shape: tuple[int, ...], grow: int = 0) -> Array:
    """Boolean picture of the pixels of ``boxes`` (pixel bounds, outward), grown by ``grow``."""
    out = np.zeros(shape[:2], dtype=bool)
    for x1, y1, x2, y2 in boxes:
        rows = slice(max(0, int(np.floor(y1)) - grow), int(np.ceil(y2)) + grow)
        out[rows, max(0, int(np.floor(x1)) - grow) : int(np.ceil(x2)) + grow] = True
    return out


def check_rerendered(
    made: Made,
    before: list[Array],
    before_notes: list[dict],
    track: str,
    added: dict[int, list[float]],  # type: ignore[type-arg]
) -> None:
    """The re-rendered output differs from ``before`` exactly where ``track`` was excluded (now the
    original's pixels) and where ``added`` boxes (frame -> box) are (now masked); 2 pixels of slack
    around each for 4:2:0 chroma, which masks in 2x2 blocks."""
    after, original = decoded(made.output), decoded(made.source)
    assert len(after) == len(before) == len(original) == FRAMES
    for i in range(FRAMES):
        excluded = [r["mask"] for r in before_notes[i]["regions"] if r["track"] == track]
        assert excluded, f"frame {i}: the excluded track should have been masked before"
        box = added.get(i)
        changed = area(excluded + ([box] if box else []), after[i].shape, grow=2)
        assert np.array_equal(after[i][~changed], before[i][~changed]), f"frame {i}: pixels changed outside the edits"
        inner_excluded = area(excluded, after[i].shape) & ~area([box] if box else [], after[i].shape, grow=3)
        assert np.array_equal(after[i][inner_excluded], original[i][inner_excluded]), f"frame {i}: not the original"
        assert not np.array_equal(before[i][inner_excluded], original[i][inner_excluded])
        if box:
            inside = area([box], after[i].shape)
            diff = np.abs(after[i][inside].astype(int) - original[i][inside].astype(int)).mean()
            assert diff > 5, f"frame {i}: the added region is not masked (mean difference {diff:.1f})"
            assert np.array_equal(before[i][inside], original[i][inside]), "the added area was masked before"
