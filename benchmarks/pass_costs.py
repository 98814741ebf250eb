"""The floor under the default kinds' cost: one pass of each network against a re-encode.

For each video, on its first ``--frames`` decoded frames (real footage), the process CPU
milliseconds of one pass of each detector the default kinds run, as the video pipeline runs them
(the networks ``--*-precision auto`` picks here), and of re-encoding one frame with gamyeon's
output settings (libx264 crf 18, preset medium; the whole file, decode included):

* faces: the whole-frame base pass (``FaceDetector.whole`` at the plan's base scale), and the
  magnified small-face discovery pass (``FaceDetector.magnified``);
* persons: the budgeted pass (whole frame + base tiles, ``PersonDetector.detect_frame``), with no
  tracked person to look at closely;
* text: a full pass of the text network (``PpOcrDet.lines`` at the video scale).

From these it prints the cheapest schedule conceivable -- every network once a second, no
discovery, no refinement, no follow-up -- as a share of a re-encode of one second of the video,
and the share that "anonymizing costs at most one extra transcode" (≥ 0.5× a re-encode) allows
the detectors: one re-encode. When even that schedule costs more than one re-encode, the goal
cannot be met with these networks on this CPU at any schedule that still detects.

    .venv/bin/python benchmarks/pass_costs.py [--frames 40] VIDEO ...
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from gamyeon.detect.centerface import CenterFace
from gamyeon.detect.centerface import model_path as face_path
from gamyeon.detect.faces import FaceDetector
from gamyeon.detect.persons import PersonDetector
from gamyeon.detect.ssdlite import SsdLitePerson
from gamyeon.detect.ssdlite import model_path as person_path
from gamyeon.detect.text import PpOcrDet
from gamyeon.detect.text import model_path as text_path
from gamyeon.track.schedule import Plan

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.reencode import reencode

log = logging.getLogger("pass_costs")


def frames_of(video: Path, count: int) -> tuple[list[np.ndarray[Any, Any]], float]:
    """The first ``count`` frames (RGB) and the frame rate."""
    out: list[np.ndarray[Any, Any]] = []
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 25)
        for frame in container.decode(stream):
            out.append(frame.to_ndarray(format="rgb24"))
            if len(out) >= count:
                break
    return out, fps


def cpu_ms(run: Callable[[np.ndarray[Any, Any]], object], frames: list[np.ndarray[Any, Any]]) -> float:
    """Median process CPU milliseconds of ``run`` over ``frames`` (after one warm-up call)."""
    run(frames[0])
    costs = []
    for frame in frames:
        start = time.process_time()
        run(frame)
        costs.append(1000.0 * (time.process_time() - start))
    return float(np.median(costs))


def reencode_ms(video: Path) -> float:
    """CPU milliseconds per frame of decoding and re-encoding the whole of ``video``."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.process_time()
        written = reencode(video, Path(tmp) / "re.mp4")
        return 1000.0 * (time.process_time() - start) / max(1, written)


def measure(video: Path, count: int) -> dict[str, Any]:
    frames, fps = frames_of(video, count)
    height, width = frames[0].shape[:2]
    plan = Plan.for_video(width, height, fps, None, "auto")
    faces = FaceDetector(CenterFace(face_path(None, "auto", video=True)))
    persons = PersonDetector(SsdLitePerson(person_path("auto", video=True)))
    text = PpOcrDet(text_path(None, "auto", video=True))
    base_w, base_h = max(1, round(width * plan.base_factor)), max(1, round(height * plan.base_factor))
    text_factor = min(1.0, 960 / max(width, height))
    costs = {
        "face_base": cpu_ms(
            lambda f: faces.whole(cv2.resize(f, (base_w, base_h), interpolation=cv2.INTER_AREA)), frames
        ),
        "face_discovery": cpu_ms(lambda f: faces.magnified(f, plan.small_factor), frames[:10]),
        "person": cpu_ms(lambda f: persons.detect_frame(f), frames),
        "text": cpu_ms(lambda f: text.lines(f, text_factor, 0.5), frames),
    }
    encode = reencode_ms(video)
    per_pass = {name: round(ms, 1) for name, ms in costs.items()}
    floor = costs["face_base"] + costs["person"] + costs["text"]  # each once a second
    second = encode * fps
    return {
        "video": video.name,
        "size": [width, height],
        "fps": round(fps, 2),
        "cpu_ms_per_pass": per_pass,
        "reencode_cpu_ms_per_frame": round(encode, 2),
        "reencode_cpu_ms_per_second": round(second, 1),
        "floor_each_network_once_a_second_ms": round(floor, 1),
        "floor_in_reencodes": round(floor / second, 2),
        "best_ratio_to_reencode_at_that_floor": round(second / (second + floor), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", type=Path, nargs="+")
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for video in args.videos:
        log.info("%s", json.dumps(measure(video, args.frames)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
