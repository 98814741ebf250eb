"""Carry a box a reviewer drew on one frame forward or backward through the output.

A region the detectors missed is, by definition, not masked in the output, so it can be followed
on the output's own pixels: OpenCV's MIL tracker (in the main ``opencv-python`` modules, no model
file) is started on the reviewer's box and run frame by frame. What it finds becomes keyframes
of the added region, every ``STEP`` frames and at the end, which the reviewer then checks and
moves; between them the region is interpolated like any other keyframes. Tracking stops early
when the tracker loses the target, and nothing is kept of it but the boxes.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from gamyeon.review.frames import FrameSource

#: longest span followed in one request, frames
MAX_SPAN = 150
#: a keyframe every this many frames
STEP = 5


def follow(
    source: FrameSource, frame: int, box: list[float], span: int, width: int, height: int
) -> list[dict[str, Any]]:
    """Keyframes ``{frame, box}`` from ``frame`` (the drawn ``box``) over ``span`` frames: forward
    when ``span`` > 0, backward when < 0."""
    span = max(-MAX_SPAN, min(MAX_SPAN, span))
    last = min(max(frame + span, 0), len(source.pts) - 1)
    step = 1 if last >= frame else -1
    order = list(range(frame, last + step, step))
    # backward: decode forward (cheap) and walk the frames backward
    pictures = {i: source.rgb(i) for i in reversed(order)} if step < 0 else {}
    x1, y1, x2, y2 = box
    tracker = cv2.TrackerMIL.create()
    first = pictures.get(frame) if step < 0 else source.rgb(frame)
    assert first is not None
    tracker.init(cv2.cvtColor(first, cv2.COLOR_RGB2BGR), (int(x1), int(y1), max(1, int(x2 - x1)), max(1, int(y2 - y1))))
    keys = [{"frame": frame, "box": [round(v, 1) for v in box]}]
    previous = keys[0]
    for count, index in enumerate(order[1:], 1):
        picture = pictures.pop(index) if step < 0 else source.rgb(index)
        ok, (x, y, w, h) = tracker.update(cv2.cvtColor(np.ascontiguousarray(picture), cv2.COLOR_RGB2BGR))
        if not ok:
            break
        found = [
            max(0.0, float(x)),
            max(0.0, float(y)),
            min(float(width), float(x + w)),
            min(float(height), float(y + h)),
        ]
        if found[2] - found[0] < 1 or found[3] - found[1] < 1:
            break
        previous = {"frame": index, "box": [round(v, 1) for v in found]}
        if count % STEP == 0:
            keys.append(previous)
    if keys[-1] is not previous:
        keys.append(previous)
    return sorted(keys, key=lambda k: int(k["frame"]))
