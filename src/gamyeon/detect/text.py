"""Text regions and licence plates from the PP-OCRv6 text *detection* network on ONNX Runtime.

The network (PaddleOCR's DB, "Differentiable Binarization", as shipped in PyPI's ``rapidocr``
3.10.0, Apache-2.0) turns an image into a per-pixel text probability map. The post-processing
here is the DB reference one (threshold -> contours -> minimum-area rectangles scored by their
mean probability -> "unclip" grown by ``area * ratio / perimeter``), written with OpenCV only.
Recognition is never run: gamyeon finds where text is, never what it says, and stores nothing
of it.

No dedicated plate detector ships in any package gamyeon may use, so plates are text lines of a
plate's shape: a rectangle of a few characters, wider than tall (``is_plate_like``), grown to the
plate around them (border, state name, frame). Everything else is ``text`` (signs, name tags,
screens) and is masked only when the ``text`` kind is selected.

Two bundled copies of the network (``models/PROVENANCE.md``): the float one, and an int8 one
(``tools/make_ppocr_det_int8.py``) that runs several times faster on CPUs with VNNI. Video uses
the int8 one by default (``--text-precision auto``): the text pass is the most expensive pass of
the default kinds, and the int8 network finds the plates the float one finds on the dev videos
(``docs/models.md``). ``auto`` keeps the float network where the int8 one was not measured or
would not pay, as for faces (``centerface.model_path``): still images, GPU providers and CPUs
without VNNI.

On video the float network costs ~0.25 s per 960 x 544 frame, and a static camera watching an
empty scene sends the same picture pass after pass. ``ReusedProbability`` keeps the last probability
map and reuses it while no part of the frame has changed since it was computed, so what is
reported is what a full pass reports on a picture that differs from this one only below
``CHANGE_LEVEL``; every ``FULL_EVERY``-th pass runs the network regardless.
"""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from gamyeon.detect.base import nms
from gamyeon.detect.onnx import PRECISIONS as onnx_precisions
from gamyeon.detect.onnx import bundled_path, chosen_path, session
from gamyeon.errors import ModelError
from gamyeon.types import Array, Box, Detection

PLATE = "plate"
TEXT = "text"
MEAN = np.float32(0.5 * 255.0)
STD = np.float32(0.5 * 255.0)
#: DB post-processing as configured by rapidocr 3.10 for this model
BIN_THRESHOLD = 0.3
UNCLIP_RATIO = 1.6
MAX_CANDIDATES = 1000
MIN_SIDE = 3.0
MERGE_IOU = 0.5
#: a plate's text line: long side / short side (one-line plates 2-5, two-line or squat ones ~1.6)
PLATE_ASPECT = (1.6, 7.0)
#: most rotation a plate text line may have in the picture, degrees
PLATE_MAX_TILT = 30.0
#: the plate around its text line, as a multiple of the line's width and height
PLATE_GROW = (1.25, 2.0)
#: a plate's text line is a small part of the picture: at most this share of the longer side
PLATE_MAX_SHARE = 0.5
#: reuse of the probability map on video: the grid of change cells (network-input pixels), the
#: grey-level difference (after a 5x5 mean, so compression noise does not count) above which a
#: cell has changed, and how often the network sees the frame regardless (about once a second)
CELL = 32
CHANGE_LEVEL = 10.0
FULL_EVERY = 4


#: --text-precision: auto (int8 for video on a CPU with VNNI, else float), fp32 or int8 for both
PRECISIONS = onnx_precisions
BUNDLED = {"fp32": "ppocrv6_det_small.onnx", "int8": "ppocrv6_det_small_int8.onnx"}


def default_model_path(precision: str = "fp32") -> Path:
    return bundled_path(BUNDLED, precision)


def model_path(own: Path | None, precision: str, video: bool) -> Path:
    """The text network for video (``video``) or still images (``onnx.chosen_path``; the module
    docstring says why ``auto`` picks what it picks)."""
    return chosen_path(BUNDLED, own, precision, video)


@dataclass(frozen=True, slots=True)
class TextLine:
    """One text region: its axis-aligned box and the rotated rectangle it came from (pixels)."""

    box: Box
    score: float
    long_side: float
    short_side: float
    tilt: float  # degrees between the long side and the horizontal, 0..90


class PpOcrDet:
    """The PP-OCR DB text detection network. Input ``x``: ``[B, 3, H, W]`` float, H and W
    multiples of 32, RGB scaled to [-1, 1]; output: ``[B, 1, H, W]`` text probability."""

    def __init__(self, path: Path | None = None, threads: int | None = None) -> None:
        self.path = path or default_model_path()
        self.session = session(self.path, threads)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[1] != 3:
            raise ModelError(
                f"{self.path} does not have a DB text detector's layout: expected one [B, 3, H, W] input and "
                f"one output, got {[(i.name, i.shape) for i in inputs]} -> {[o.name for o in outputs]}"
            )
        self.input = inputs[0].name

    def probability(self, image: Array, factor: float) -> Array:
        """The text probability map of ``image`` seen at ``factor`` x its size (map pixels are
        ``image`` pixels times the returned map's size / the image's size)."""
        return self.run(self.network_input(image, factor))

    @staticmethod
    def network_input(image: Array, factor: float) -> Array:
        """``image`` resized to ``factor`` x, each side a multiple of 32 (the network's stride)."""
        height, width = image.shape[:2]
        sw = max(32, round(width * factor / 32) * 32)
        sh = max(32, round(height * factor / 32) * 32)
        src = image if image.flags["C_CONTIGUOUS"] else np.ascontiguousarray(image)
        interp = cv2.INTER_AREA if sw < width else cv2.INTER_LINEAR
        resized: Array = cv2.resize(src, (sw, sh), interpolation=interp) if (sw, sh) != (width, height) else src
        return resized

    def run(self, resized: Array) -> Array:
        """The probability map of an RGB image whose sides are multiples of 32, same size."""
        blob = ((resized.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)[None]
        (prob,) = self.session.run(None, {self.input: np.ascontiguousarray(blob)})
        return np.asarray(prob[0, 0], dtype=np.float32)

    def lines(self, image: Array, factor: float, threshold: float) -> list[TextLine]:
        """Text lines of ``image`` seen at ``factor`` x, in ``image`` pixels."""
        prob = self.probability(image, factor)
        height, width = image.shape[:2]
        return db_lines(prob, width / prob.shape[1], height / prob.shape[0], threshold)


class ReusedProbability:
    """The probability map of successive video frames, reused while the picture stays the same.

    The frame is compared, in ``CELL``-pixel cells, with the grey picture the map was computed on:
    when no cell differs by more than ``CHANGE_LEVEL`` (a 5x5 mean of the difference, so that
    compression noise does not count) the map is reused; otherwise, and on every
    ``full_every``-th pass, the network runs on the whole frame. Comparing with the picture of the
    last computation, not the previous frame, makes slow changes add up until they count.

    Only whole frames are reused: maps of crops around the changed parts (with up to 2 cells of
    context) disagreed with the full pass on real footage (seams and crop borders split and add
    text lines), and with enough context to agree the crops covered the whole frame anyway.
    Safe to share between threads (one lock), but one per video: ``TextDetector.reuse_for``.
    """

    def __init__(self, model: PpOcrDet, full_every: int = FULL_EVERY) -> None:
        self.model = model
        self.full_every = max(1, full_every)
        self._lock = threading.Lock()
        self._prob: Array | None = None
        self._grey: Array | None = None
        self._since_full = 0
        #: network-input pixels computed and passes run, for the log and the tests
        self.pixels_run = 0
        self.passes = 0

    def probability(self, image: Array, factor: float) -> Array:
        """Like ``PpOcrDet.probability`` (same map), reused when the frame has not changed."""
        resized = self.model.network_input(image, factor)
        grey: Array = cv2.cvtColor(resized, cv2.COLOR_RGB2GRAY)
        with self._lock:
            self.passes += 1
            prob, old = self._prob, self._grey
            if (
                prob is not None
                and old is not None
                and old.shape == grey.shape
                and self._since_full + 1 < self.full_every
                and not changed_cells(old, grey).any()
            ):
                self._since_full += 1
                return prob.copy()
            prob = self.model.run(resized)
            self.pixels_run += grey.size
            self._prob, self._grey, self._since_full = prob, grey, 0
            return prob.copy()


def changed_cells(old: Array, new: Array) -> Array:
    """Which ``CELL`` x ``CELL`` cells of two grey pictures of one size (multiples of ``CELL``)
    differ by more than ``CHANGE_LEVEL`` somewhere (after a 5x5 mean of the difference)."""
    height, width = new.shape
    diff = cv2.blur(cv2.absdiff(old, new), (5, 5))
    cells: Array = (diff > CHANGE_LEVEL).reshape(height // CELL, CELL, width // CELL, CELL).any(axis=(1, 3))
    return cells


def db_lines(prob: Array, sx: float, sy: float, box_threshold: float) -> list[TextLine]:
    """DB post-processing: probability map -> text lines, scaled by ``sx``/``sy`` to image pixels."""
    binary = (prob > BIN_THRESHOLD).astype(np.uint8)
    bitmap: Array = cv2.dilate(binary, np.ones((2, 2), dtype=np.uint8))
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    out: list[TextLine] = []
    for contour in contours[:MAX_CANDIDATES]:
        (cx, cy), (w, h), angle = cv2.minAreaRect(contour)
        if min(w, h) < MIN_SIDE:
            continue
        corners = cv2.boxPoints(((cx, cy), (w, h), angle))
        score = box_score(prob, corners)
        if score < box_threshold:
            continue
        # unclip: DB's kernels are shrunk text; grow by area * ratio / perimeter on every side
        distance = w * h * UNCLIP_RATIO / (2.0 * (w + h))
        w, h = w + 2.0 * distance, h + 2.0 * distance
        if min(w, h) < MIN_SIDE + 2:
            continue
        corners = cv2.boxPoints(((cx, cy), (w, h), angle))
        xs, ys = corners[:, 0] * sx, corners[:, 1] * sy
        box = Box(float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
        # the long side's direction, in image pixels (sx and sy may differ slightly)
        theta = math.radians(angle)
        wx, wy = w * math.cos(theta) * sx, w * math.sin(theta) * sy
        hx, hy = -h * math.sin(theta) * sx, h * math.cos(theta) * sy
        side_w, side_h = math.hypot(wx, wy), math.hypot(hx, hy)
        if side_w >= side_h:
            long_side, short_side, lx, ly = side_w, side_h, wx, wy
        else:
            long_side, short_side, lx, ly = side_h, side_w, hx, hy
        tilt = math.degrees(math.atan2(abs(ly), abs(lx)))
        out.append(TextLine(box, float(score), long_side, short_side, tilt))
    return out


def box_score(prob: Array, corners: Array) -> float:
    """Mean probability inside the rotated rectangle ``corners`` (DB's "fast" score)."""
    height, width = prob.shape
    x1 = int(np.clip(np.floor(corners[:, 0].min()), 0, width - 1))
    x2 = int(np.clip(np.ceil(corners[:, 0].max()), 0, width - 1))
    y1 = int(np.clip(np.floor(corners[:, 1].min()), 0, height - 1))
    y2 = int(np.clip(np.ceil(corners[:, 1].max()), 0, height - 1))
    mask = np.zeros((y2 - y1 + 1, x2 - x1 + 1), dtype=np.uint8)
    shifted: Array = (corners - np.array([x1, y1], dtype=np.float32)).astype(np.int32)
    cv2.fillPoly(mask, [shifted], 1)
    return float(cv2.mean(prob[y1 : y2 + 1, x1 : x2 + 1], mask)[0])


def is_plate_like(line: TextLine, width: int, height: int) -> bool:
    """A text line that could be the characters of a licence plate: a short line of a few
    characters, not too tilted, small in the picture."""
    aspect = line.long_side / max(line.short_side, 1e-6)
    return (
        PLATE_ASPECT[0] <= aspect <= PLATE_ASPECT[1]
        and line.tilt <= PLATE_MAX_TILT
        and line.long_side <= PLATE_MAX_SHARE * max(width, height)
    )


def plate_box(line: TextLine) -> Box:
    """The plate around a plate-like text line: the line grown to the plate's border."""
    gx, gy = PLATE_GROW
    cx, cy = line.box.center
    # grow the line's own sides, then take the axis-aligned box of the tilted result
    theta = math.radians(line.tilt)
    lw, lh = line.long_side * gx, line.short_side * gy
    half_w = (lw * math.cos(theta) + lh * math.sin(theta)) / 2.0
    half_h = (lw * math.sin(theta) + lh * math.cos(theta)) / 2.0
    return Box(cx - half_w, cy - half_h, cx + half_w, cy + half_h).union(line.box)


class TextDetector:
    """Plates and/or other text on upright RGB images.

    ``kinds`` says what to report: ``plate`` (plate-like lines, grown to the plate) and/or
    ``text`` (every other line; every line when plates are not asked for).
    """

    def __init__(self, model: PpOcrDet, kinds: tuple[str, ...], threshold: float = 0.5, frame_side: int = 960) -> None:
        unknown = set(kinds) - {PLATE, TEXT}
        if unknown or not kinds:
            raise ValueError(f"TextDetector kinds must be some of {[PLATE, TEXT]}, got {kinds}")
        self.model = model
        self.kinds = kinds
        self.threshold = threshold
        self.frame_side = frame_side
        #: the reused map of calls that name no video (one video at a time: tests, benchmarks)
        self.video = ReusedProbability(model)
        self._videos: weakref.WeakKeyDictionary[object, ReusedProbability] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def reuse_for(self, video: object | None) -> ReusedProbability:
        """The reused map of ``video`` (a ``kinds.spec.VideoToken``; None: ``self.video``): the
        detector is shared by every file and camera of a process, the map and its count to the
        next full pass are not."""
        if video is None:
            return self.video
        with self._lock:
            state = self._videos.get(video)
            if state is None:
                state = self._videos[video] = ReusedProbability(self.model)
            return state

    def classify(self, lines: list[TextLine], width: int, height: int) -> list[Detection]:
        rows: dict[str, list[list[float]]] = {PLATE: [], TEXT: []}
        for line in lines:
            if PLATE in self.kinds and is_plate_like(line, width, height):
                b = plate_box(line)
                rows[PLATE].append([b.x1, b.y1, b.x2, b.y2, line.score])
            elif TEXT in self.kinds:
                b = line.box
                rows[TEXT].append([b.x1, b.y1, b.x2, b.y2, line.score])
        out: list[Detection] = []
        for kind, kind_rows in rows.items():
            if kind_rows:
                kept = nms(np.asarray(kind_rows, dtype=np.float32), MERGE_IOU)
                out.extend(Detection(kind, Box(*(float(v) for v in r[:4])), float(r[4])) for r in kept.tolist())
        return out

    def detect_frame(self, image: Array, video: object | None = None) -> list[Detection]:
        """One pass over a frame of ``video`` (``reuse_for``), its longer side at most
        ``frame_side`` pixels (the DB network costs ~0.25 s at 960 x 544 on two CPU cores); the
        map is reused while that video's picture stays the same (``ReusedProbability``)."""
        height, width = image.shape[:2]
        factor = min(1.0, self.frame_side / max(width, height))
        prob = self.reuse_for(video).probability(image, factor)
        lines = db_lines(prob, width / prob.shape[1], height / prob.shape[0], self.threshold)
        return self.classify(lines, width, height)

    def detect(self, image: Array) -> list[Detection]:
        """Still images: the shorter side seen at >= 736 px as rapidocr does (small text), capped
        so the input stays under ~2.4 megapixels."""
        height, width = image.shape[:2]
        factor = max(1.0, 736.0 / min(width, height))
        factor = min(factor, math.sqrt(2_400_000 / (width * height)))
        return self.classify(self.model.lines(image, factor, self.threshold), width, height)
