"""The speed section's inputs and run order: the concatenated real clip, the remux of raw H.264
(which deface cannot open), the interleaving of the tools and the under-load rule.

Tiny clips written with PyAV stand in for the dev videos, so these run in about a second.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from benchlib import clips, speed


def _write(path: Path, frames: list[np.ndarray], rate: Fraction, fmt: str | None = None) -> None:
    with av.open(str(path), mode="w", format=fmt) as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10", "preset": "medium", "bframes": "2"}
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            frame.time_base = 1 / rate
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def _solid(h: int, w: int, rgb: tuple[int, int, int]) -> np.ndarray:
    return np.full((h, w, 3), rgb, np.uint8)


def _decode(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as c:
        return list(c.decode(video=0))


def test_interleaved_runs_every_tool_once_per_repeat_in_the_same_order() -> None:
    assert speed.interleaved(["A", "B", "C"], 2) == [(0, "A"), (0, "B"), (0, "C"), (1, "A"), (1, "B"), (1, "C")]
    assert speed.interleaved(["A"], 1) == [(0, "A")]


def test_fit_box_shrinks_keeps_aspect_centres_and_never_enlarges() -> None:
    assert clips.fit_box(1920, 1080, 960, 540) == (960, 540, 0, 0)
    assert clips.fit_box(960, 366, 960, 540) == (960, 366, 0, 86)  # letterboxed
    assert clips.fit_box(1080, 1920, 960, 540) == (304, 540, 328, 0)  # portrait: pillarboxed
    assert clips.fit_box(480, 360, 960, 540) == (480, 360, 240, 90)  # small footage keeps its pixels


def test_concat_clip_pads_every_frame_to_one_size_and_rate(tmp_path: Path) -> None:
    red = tmp_path / "a.mp4"
    blue = tmp_path / "b.mkv"
    _write(red, [_solid(48, 64, (220, 30, 30))] * 3, Fraction(10))
    _write(blue, [_solid(32, 16, (30, 30, 220))] * 4, Fraction(30))  # narrow: padded left and right
    path, frames = clips.concat_clip(tmp_path / "out", [red, blue], 64, 48, Fraction(25))
    assert frames == 7
    decoded = _decode(path)
    assert len(decoded) == 7
    assert {(f.width, f.height) for f in decoded} == {(64, 48)}
    times = [f.pts * f.time_base for f in decoded]
    assert times == [Fraction(i, 25) for i in range(7)]
    first, last = decoded[0].to_ndarray(format="rgb24"), decoded[-1].to_ndarray(format="rgb24")
    assert first[24, 32, 0] > 180 and first[24, 32, 2] < 80  # the red clip fills the frame
    assert last[24, 32, 2] > 180 and last[24, 32, 0] < 80  # the blue clip in the middle, 16x32 at (24, 8)
    assert last[24, 4].max() < 40 and last[4, 32].max() < 40  # black padding beside and above it
    # cached: a second call reuses the file; a cap per source builds another one
    stamp = path.stat().st_mtime_ns
    assert clips.concat_clip(tmp_path / "out", [red, blue], 64, 48, Fraction(25)) == (path, 7)
    assert path.stat().st_mtime_ns == stamp
    capped, n = clips.concat_clip(tmp_path / "out", [red, blue], 64, 48, Fraction(25), max_frames=2)
    assert capped != path and n == 4


def test_remux_raw_h264_keeps_the_pixels_and_gives_display_order_times(tmp_path: Path) -> None:
    raw = tmp_path / "clip.h264"
    texture = np.random.default_rng(3).integers(0, 255, (48, 128, 3), dtype=np.uint8)
    images = [np.ascontiguousarray(texture[:, 2 * i : 2 * i + 64]) for i in range(12)]  # a slow pan
    _write(raw, images, Fraction(25), fmt="h264")
    with av.open(str(raw)) as c:  # B-frames: decode order differs from display order
        assert any(f.pict_type == av.video.frame.PictureType.B for f in c.decode(video=0))
    mp4 = clips.remux_raw_h264(tmp_path / "out", raw, Fraction(25))
    assert mp4.suffix == ".mp4"
    original, remuxed = _decode(raw), _decode(mp4)
    assert len(remuxed) == len(original) == 12
    for a, b in zip(original, remuxed, strict=True):
        assert np.array_equal(a.to_ndarray(format="yuv420p"), b.to_ndarray(format="yuv420p"))
    assert [f.pts * f.time_base for f in remuxed] == [Fraction(i, 25) for i in range(12)]


def _run(others: float | None, load: float = 0.0) -> speed.ToolRun:
    return speed.ToolRun(10.0, 15.0, True, None, load, load, others)


def test_under_load_counts_other_processes_not_the_run_itself() -> None:
    # 30 s busy on the machine during a 10 s run that used 15 CPU-s: others kept 1.5 cores busy
    assert speed.others_cores(30.0, 15.0, 10.0) == pytest.approx(1.5)
    assert speed.others_cores(14.0, 15.0, 10.0) == 0.0  # tick rounding never goes negative
    assert speed.others_cores(None, 15.0, 10.0) is None
    assert speed.under_load(_run(1.5), cores=2)
    assert not speed.under_load(_run(0.2, load=1.9), cores=2)  # high load average from the run itself
    assert speed.under_load(_run(None, load=1.9), cores=2)  # no /proc/stat: the load average decides
    assert speed.ratio(20.0, 5.0) == 4.0 and speed.ratio(None, 5.0) is None
