"""The built-in demo: a clip made from a real photo shipped in a package, then anonymized.

scikit-image's ``data.astronaut()`` (Eileen Collins, NASA, public domain) is panned and zoomed so
the face moves across the frame and changes size, like a camera following someone.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from gamyeon.errors import UsageError
from gamyeon.media.encode import write_clip
from gamyeon.options import Options
from gamyeon.types import Array, Summary

log = logging.getLogger(__name__)

WIDTH, HEIGHT = 960, 540
RATE = Fraction(30000, 1001)  # 29.97: shows that the rate survives exactly


def astronaut() -> Array:
    try:
        from skimage import data
    except ImportError:
        raise UsageError("the demo needs scikit-image: pip install 'gamyeon[demo]'") from None
    return np.asarray(data.astronaut())


def demo_frames(n: int, width: int = WIDTH, height: int = HEIGHT) -> Iterator[Array]:
    """Frames of a slow pan and zoom over the photo on a grey background; the face grows from
    about 40 px to about 200 px tall while it travels across the frame."""
    photo = astronaut()
    ph, _pw = photo.shape[:2]
    for i in range(n):
        t = i / max(1, n - 1)
        zoom = 0.5 + 2.1 * (0.5 - 0.5 * math.cos(math.pi * t))  # 0.5x .. 2.6x of "fit height"
        scale = zoom * height / ph
        # keep the face (around x=240, y=110 in the photo) travelling from right to left
        fx, fy = 240.0, 110.0
        target_x = width * (0.75 - 0.5 * t)
        target_y = height * (0.35 + 0.1 * math.sin(2 * math.pi * t))
        m = np.array([[scale, 0, target_x - fx * scale], [0, scale, target_y - fy * scale]], dtype=np.float32)
        yield np.asarray(
            cv2.warpAffine(
                photo,
                m,
                (width, height),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=(128, 128, 128),
            )
        )


def run_demo(folder: Path, frames: int = 150, quiet: bool = False) -> list[Summary]:
    from gamyeon.api import anonymize

    if frames < 1:
        raise UsageError(f"--frames: expected at least 1, got {frames}")
    folder.mkdir(parents=True, exist_ok=True)
    clip = folder / "demo_input.mp4"
    n = write_clip(clip, demo_frames(frames), RATE, tone_hz=440.0)
    log.info("demo clip: %s (%d frames, %dx%d, %s fps, with audio)", clip, n, WIDTH, HEIGHT, float(RATE))
    out = folder / "demo_anonymized.mp4"
    summaries = anonymize([clip], out, Options(keep_audio=True, exports=("coco", "mot"), quiet=quiet))
    log.info("anonymized video: %s; annotations: %s", out, summaries[0].annotations)
    return summaries
