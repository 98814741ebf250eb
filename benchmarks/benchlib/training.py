"""The ``training`` section: what each masking mode keeps for training, and how much it masks.

A dataset anonymized for training is only useful if what the model must learn survives. Published
figures (Hukkelås & Lindseth 2023, BDD100K, Mask R-CNN trained on anonymized data, pedestrian mask
AP, single runs) put numbers on it: original 32.0; faces blurred 31.5-31.9, filled 31.3; whole
bodies blurred 0.4, filled 0.0, realistic replacement 13.1. This section measures the same
trade-off on our own footage for gamyeon's four ways of protecting people, each run as the
installed CLI with its default operators (what a user gets):

* ``faces``: ``--kinds faces``;
* ``default``: no flag (``faces,heads,plates``: heads of persons whose face is not found);
* ``body``: ``--person-mode body`` (whole person boxes pixelated);
* ``silhouette``: ``--person-mode silhouette`` (person outlines pixelated).

Two figures per video and mode:

* **frame area masked** (every dev video and the demo clip), per kind and in total, mean and max
  over frames. Box modes: the union of each frame's mask boxes from the ``OUT.regions.jsonl``
  sidecar, in the pixels the operators change (floor / ceil of the box); a fail-closed frame counts
  as wholly masked. Silhouettes are subsets of their boxes, so persons are counted in pixels: a
  second run with a lossless codec and persons filled in magenta, counting the pixels that turned
  magenta (and were not near magenta in the input); the other kinds still come from its sidecar.
* **training value** (videos with person ground truth): an independent person detector -- OpenCV's
  HOG + linear SVM people detector (Dalal & Triggs, trained on INRIA), not gamyeon's SSDLite -- is
  run on the input frames and on the anonymized frames; its recall of the ground-truth persons
  (IoU >= 0.5, visibility >= 0.5 or unknown, as ``video_gt_coverage.py`` counts them) on the
  anonymized frames *relative to* its recall on the input is the headline. A detector that still
  finds a person after masking is a proxy for a person detector that can still learn from them; it
  is not a training run, so the figures say what survives, not the AP a model trained on it reaches.

The detector and its settings were fixed before any anonymized frame was scored (see ``HOG_*``):
HOG because it is the only general person detector whose weights ship with a package already in
the venv (OpenCV), it shares nothing with gamyeon's detectors, and it looks at the whole body's
outline and gradients, which is exactly what body masking removes and face masking does not.
"""

from __future__ import annotations

import json
import logging
import math
import shlex
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av
import cv2
import numpy as np
import numpy.typing as npt

from benchlib import area, clips, procs, reencode
from benchlib.report import fmt, table

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]
BoolArray = npt.NDArray[np.bool_]
Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Mode:
    """One way of protecting people, as the CLI flags a user would pass."""

    name: str
    label: str
    flags: tuple[str, ...]
    protects: str
    keeps: str


MODES = (
    Mode(
        "faces",
        "`--kinds faces`",
        ("--kinds", "faces"),
        "faces the face detector finds",
        "bodies, heads of people turned away or too small for the face detector, plates",
    ),
    Mode(
        "default",
        "default (`faces,heads,plates`)",
        (),
        "faces; the head of every tracked person whose face is not found; plates",
        "bodies (gait, clothing, build), scene",
    ),
    Mode(
        "body",
        "`--person-mode body`",
        ("--person-mode", "body"),
        "whole person boxes (face, head, clothing, build), faces, plates",
        "scene outside the person boxes only",
    ),
    Mode(
        "silhouette",
        "`--person-mode silhouette`",
        ("--person-mode", "silhouette"),
        "each person's outline grown by 8 % of their height plus the head area, faces, plates",
        "scene around and between people; the person's shape only as the edge of the mask",
    ),
)
KINDS = ("face", "head", "person", "plate", "text")
CONTROL = "re-encode only (no masking)"

#: inputs longer than this are cut to their first frames with --quick
QUICK_FRAMES = 200
#: persons are detected on every STRIDE-th frame of longer videos (HOG costs ~0.3 s per PETS frame)
STRIDE, STRIDE_ABOVE = 4, 50

#: OpenCV's default people detector: 64 x 128 window, the person ~96 px tall inside it (INRIA)
HOG_WINDOW_PERSON_PX = 96.0
#: frames are upscaled so that persons down to this share of the frame height fill the window (the
#: HOG pyramid only shrinks); 0.11 of 360 px is 40 px, the smaller PETS09 pedestrians
HOG_MIN_PERSON_SHARE = 0.11
HOG_WIN_STRIDE, HOG_PADDING, HOG_SCALE = (8, 8), (8, 8), 1.05
#: HOG reports the whole 64 x 128 window; the person is its middle half across and 3/4 down
#: (INRIA's 16 px margins), the shape of MOTChallenge's tight full-body boxes
HOG_BOX_SHRINK = (0.5, 0.75)
IOU_MIN, VISIBILITY_MIN = 0.5, 0.5

MAGENTA = (255, 0, 255)
MAGENTA_POLICY = '[kinds.person]\noperator = "fill"\n[kinds.person.params]\ncolor = [255, 0, 255]\n'
#: 4:2:0 chroma smears a mask's edge over a pixel or two: near-magenta counts
MAGENTA_TOLERANCE = 70

PUBLISHED = (
    "Hukkelås & Lindseth 2023 (BDD100K, Mask R-CNN trained on anonymized data, pedestrian mask AP, "
    "single runs): original 32.0; faces blurred 31.5-31.9, filled 31.3; whole bodies blurred 0.4, "
    "filled 0.0, realistic replacement 13.1"
)


class BenchLike(Protocol):
    """What this section needs of ``run.Bench``."""

    out: Path
    quick: bool
    evaldata: Path
    env: dict[str, str]
    results: dict[str, Any]

    def emit(self, text: str) -> None: ...


# ====================================================================== pure helpers
def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``[x1, y1, x2, y2]`` boxes (0 for empty boxes)."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True, slots=True)
class FrameMatch:
    """Detections against one frame's ground truth."""

    eligible: int  # ground-truth persons that count (visibility >= VISIBILITY_MIN or unknown)
    matched: int  # of those, found by a detection at IoU >= IOU_MIN
    false_positives: int  # detections matching no ground-truth person, counted or ignored


def match_frame(
    gt: Sequence[Sequence[float]],
    visibility: Sequence[float | None],
    detections: Sequence[Sequence[float]],
    ignored: Sequence[Sequence[float]] = (),
    iou_min: float = IOU_MIN,
    visibility_min: float = VISIBILITY_MIN,
) -> FrameMatch:
    """Greedy one-to-one matching, highest IoU first.

    Ground-truth persons below ``visibility_min`` (mostly hidden) and ``ignored`` boxes do not count
    towards recall, and a detection on one of them is not a false positive either: the detector is
    not blamed for finding a half-hidden person, nor credited for it.
    """
    boxes = [*gt, *ignored]
    vis = [*visibility[: len(gt)], *([None] * (len(gt) - len(visibility)))]
    counts = [v is None or v >= visibility_min for v in vis] + [False] * len(ignored)
    pairs = sorted(
        ((iou(g, d), gi, di) for gi, g in enumerate(boxes) for di, d in enumerate(detections)),
        reverse=True,
    )
    used_g: set[int] = set()
    used_d: set[int] = set()
    matched = 0
    for value, gi, di in pairs:
        if value < iou_min:
            break
        if gi in used_g or di in used_d:
            continue
        used_g.add(gi)
        used_d.add(di)
        matched += int(counts[gi])
    return FrameMatch(sum(map(int, counts)), matched, len(detections) - len(used_d))


def box_mask(boxes: Iterable[Sequence[float]], width: int, height: int) -> BoolArray:
    """Union of ``[x1, y1, x2, y2]`` boxes as pixels, floor / ceil as gamyeon's operators cut them."""
    mask = np.zeros((height, width), dtype=bool)
    for x1, y1, x2, y2 in boxes:
        c1, r1 = min(max(math.floor(x1), 0), width), min(max(math.floor(y1), 0), height)
        c2, r2 = min(max(math.ceil(x2), c1), width), min(max(math.ceil(y2), r1), height)
        mask[r1:r2, c1:c2] = True
    return mask


def frame_areas(
    record: dict[str, Any], width: int, height: int, person_pixels: BoolArray | None = None
) -> dict[str, float]:
    """Share of the frame masked, per kind present and ``total``, for one sidecar record.

    ``person_pixels``: the persons' masked pixels when they are not whole boxes (silhouettes);
    their boxes in the record are then ignored. A fail-closed frame is masked whole: ``total`` 1,
    its regions still count for their kinds (the rules of ``benchlib.area``, which box modes use).
    """
    by_kind: dict[str, list[Sequence[float]]] = {}
    for region in record.get("regions") or []:
        by_kind.setdefault(region["kind"], []).append(region["mask"])
    pixels = width * height
    total = np.zeros((height, width), dtype=bool)
    out: dict[str, float] = {}
    for kind, boxes in by_kind.items():
        if kind == "person" and person_pixels is not None:
            continue
        mask = box_mask(boxes, width, height)
        out[kind] = float(mask.sum()) / pixels
        total |= mask
    if person_pixels is not None:
        out["person"] = float(person_pixels.sum()) / pixels
        total |= person_pixels
    out["total"] = 1.0 if record.get("fail_closed") else float(total.sum()) / pixels
    return out


def summarize_areas(frames: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and max over frames of each kind's share (a frame without the kind counts 0)."""
    keys = sorted({k for f in frames for k in f} | {"total"})
    n = max(len(frames), 1)
    return {
        k: {"mean": sum(f.get(k, 0.0) for f in frames) / n, "max": max((f.get(k, 0.0) for f in frames), default=0.0)}
        for k in keys
    }


def colour_mask(
    output: Image, source: Image, colour: Sequence[int] = MAGENTA, tolerance: int = MAGENTA_TOLERANCE
) -> BoolArray:
    """Pixels within ``tolerance`` (max over channels) of ``colour`` in ``output`` and not in ``source``."""
    target = np.asarray(colour, dtype=np.int16)
    near_out = np.abs(output.astype(np.int16) - target).max(axis=2) <= tolerance
    near_in = np.abs(source.astype(np.int16) - target).max(axis=2) <= tolerance
    return np.asarray(near_out & ~near_in)


def hog_boxes(
    rects: Iterable[Sequence[float]], scale: float, shrink: tuple[float, float] = HOG_BOX_SHRINK
) -> list[Box]:
    """HOG windows ``(x, y, w, h)`` found on a frame upscaled by ``scale`` -> person boxes in frame pixels."""
    out: list[Box] = []
    for x, y, w, h in rects:
        cx, cy = (x + w / 2) / scale, (y + h / 2) / scale
        hw, hh = w * shrink[0] / scale / 2, h * shrink[1] / scale / 2
        out.append((cx - hw, cy - hh, cx + hw, cy + hh))
    return out


def hog_scale(height: int) -> float:
    """How much a frame of ``height`` px is enlarged before HOG (never shrunk)."""
    return max(1.0, HOG_WINDOW_PERSON_PX / (HOG_MIN_PERSON_SHARE * height))


# ====================================================================== media
def decode(path: Path, fmt_: str = "rgb24", limit: int | None = None) -> Iterator[Image]:
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if limit is not None and i >= limit:
                return
            yield np.asarray(f.to_ndarray(format=fmt_), dtype=np.uint8)


def frame_size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        return int(frame.width), int(frame.height)


def count_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def trim(src: Path, dst: Path, frames: int) -> Path:
    """The first ``frames`` frames of ``src``, losslessly (FFV1 in Matroska), cached by name."""
    if dst.exists():
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.stem + ".part" + dst.suffix)
    with av.open(str(src)) as inp, av.open(str(tmp), "w") as out:
        stream_in = inp.streams.video[0]
        rate = stream_in.average_rate or Fraction(25)
        stream = out.add_stream("ffv1", rate=rate)
        stream.width, stream.height = stream_in.codec_context.width, stream_in.codec_context.height
        stream.pix_fmt = "yuv420p"
        # carry the colour tags, or the copy decodes to other RGB values (BT.601 assumed when untagged)
        for attr in ("color_range", "colorspace", "color_primaries", "color_trc"):
            setattr(stream.codec_context, attr, getattr(stream_in.codec_context, attr))
        stream.codec_context.time_base = Fraction(1) / Fraction(rate)
        for i, frame in enumerate(inp.decode(video=0)):
            if i >= frames:
                break
            new = frame.reformat(format="yuv420p")
            new.pts = i
            new.time_base = stream.codec_context.time_base
            for packet in stream.encode(new):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    tmp.replace(dst)
    return dst


def read_sidecar(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ====================================================================== measurement
@dataclass(frozen=True, slots=True)
class Video:
    """One input: the file gamyeon is given (maybe a trimmed copy) and its person ground truth."""

    name: str
    path: Path
    frames: int
    gt: dict[str, Any] | None  # evaldata "frames" mapping, 1-based


class PersonDetector:
    """OpenCV's default HOG people detector with the fixed settings above."""

    def __init__(self) -> None:
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), dtype=np.float32))

    def __call__(self, bgr: Image) -> list[Box]:
        scale = hog_scale(bgr.shape[0])
        big = bgr if scale == 1.0 else cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        rects, _ = self.hog.detectMultiScale(big, winStride=HOG_WIN_STRIDE, padding=HOG_PADDING, scale=HOG_SCALE)
        return hog_boxes([tuple(map(float, r)) for r in rects], scale)

    def describe(self) -> str:
        return (
            f"cv2.HOGDescriptor_getDefaultPeopleDetector() (OpenCV {cv2.__version__}), frames upscaled "
            f"{HOG_WINDOW_PERSON_PX:g} / ({HOG_MIN_PERSON_SHARE} x height) (never shrunk), winStride "
            f"{HOG_WIN_STRIDE}, padding {HOG_PADDING}, scale {HOG_SCALE}, default grouping; windows shrunk "
            f"to {HOG_BOX_SHRINK[0]:g} x {HOG_BOX_SHRINK[1]:g} (INRIA margins); match IoU >= {IOU_MIN}, "
            f"GT visibility >= {VISIBILITY_MIN} or unknown"
        )


def detect_recall(
    detector: PersonDetector, path: Path, gt: dict[str, Any], sampled: set[int]
) -> dict[str, float | int]:
    """Recall and false positives of ``detector`` on the sampled frames (0-based) of ``path``."""
    eligible = matched = fps = frames = 0
    for i, bgr in enumerate(decode(path, "bgr24")):
        if i not in sampled:
            continue
        note = gt.get(str(i + 1)) or {}
        boxes = note.get("persons") or []
        m = match_frame(boxes, note.get("visibility") or [], detector(bgr), note.get("persons_ignore") or [])
        eligible, matched, fps, frames = eligible + m.eligible, matched + m.matched, fps + m.false_positives, frames + 1
    return {
        "frames": frames,
        "persons": eligible,
        "found": matched,
        "recall": matched / eligible if eligible else float("nan"),
        "false_positives": fps,
        "fp_per_frame": fps / frames if frames else float("nan"),
    }


def _kept(found: float, found_original: float) -> float:
    return found / found_original if found_original else float("nan")


def silhouette_person_pixels(source: Path, magenta_out: Path) -> Iterator[BoolArray]:
    for a, b in zip(decode(source), decode(magenta_out), strict=True):
        yield colour_mask(b, a)


def run_gamyeon(b: BenchLike, gamyeon: Path, src: Path, dst: Path, flags: Sequence[str]) -> str | None:
    """``gamyeon anonymize SRC -o DST -q FLAGS``; the error text, or None when it wrote its output."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    Path(f"{dst}.regions.jsonl").unlink(missing_ok=True)
    argv = [str(gamyeon), "anonymize", str(src), "-o", str(dst), "-q", *flags]
    m = procs.run_measured(argv, b.out / "logs" / f"{dst.name}.log", env=b.env)
    log.info("training %-40s %6.1f s%s", dst.name, m.wall_s, "" if m.ok else " FAILED")
    if not m.ok:
        return f"exit code {m.returncode}: {procs.log_tail(m.log_path)}"
    if not dst.exists() or not Path(f"{dst}.regions.jsonl").exists():
        return "no output or no regions sidecar written"
    return None


def videos(b: BenchLike) -> list[Video]:
    """Every dev video (with its person GT when it has one), then the demo clip."""
    found: list[Video] = []
    dev = b.evaldata / "dev"
    ann_path = dev / "annotations.json"
    if ann_path.is_file():
        for entry in json.loads(ann_path.read_text(encoding="utf-8"))["videos"]:
            path = dev / entry["file"]
            gt_file = entry.get("gt")
            gt = None
            if gt_file and "persons" in gt_file:
                gt = json.loads((dev / gt_file).read_text(encoding="utf-8"))["frames"]
            frames = int(entry["frames"])
            if b.quick and frames > QUICK_FRAMES:
                path = trim(path, b.out / "clips" / f"{path.stem}.first{QUICK_FRAMES}.mkv", QUICK_FRAMES)
                frames = QUICK_FRAMES
            found.append(Video(Path(entry["file"]).stem, path, frames, gt))
    else:
        log.warning("%s not found: the training section uses the demo clip only", ann_path)
    from gamyeon.demo import HEIGHT, WIDTH

    demo = clips.synthetic_clip(b.out / "clips", 150, WIDTH, HEIGHT)
    found.append(Video("demo", demo, count_frames(demo), None))
    return found


def measure_video(b: BenchLike, gamyeon: Path, video: Video, detector: PersonDetector) -> dict[str, Any]:
    width, height = frame_size(video.path)
    raw: dict[str, Any] = {"path": str(video.path), "frames": video.frames, "size": f"{width}x{height}", "modes": {}}
    sampled: set[int] = set()
    if video.gt is not None:
        stride = STRIDE if video.frames > STRIDE_ABOVE else 1
        sampled = set(range(0, video.frames, stride))
        raw["detector_stride"] = stride
        raw["original"] = detect_recall(detector, video.path, video.gt, sampled)
        log.info("training %s original: recall %.3f", video.name, raw["original"]["recall"])
        # the control: gamyeon's encoder settings alone, no masking, so that the codec's share of any
        # loss is not blamed on the masks
        control = b.out / "runs" / f"training-{video.name}-reencode.mp4"
        control.parent.mkdir(parents=True, exist_ok=True)
        reencode.reencode(video.path, control)
        raw["reencode"] = detect_recall(detector, control, video.gt, sampled)
        raw["reencode"]["recall_ratio"] = _kept(raw["reencode"]["found"], raw["original"]["found"])
        log.info("training %s re-encoded: recall %.3f", video.name, raw["reencode"]["recall"])
    runs = b.out / "runs"
    for mode in MODES:
        out = runs / f"training-{video.name}-{mode.name}.mp4"
        entry: dict[str, Any] = {"command": shlex.join(["gamyeon", "anonymize", "IN", "-o", "OUT", "-q", *mode.flags])}
        raw["modes"][mode.name] = entry
        error = run_gamyeon(b, gamyeon, video.path, out, mode.flags)
        if error is not None:
            entry["error"] = error
            continue
        if mode.name == "silhouette":
            policy = b.out / "training-magenta-persons.toml"
            policy.write_text(MAGENTA_POLICY, encoding="utf-8")
            lossless = runs / f"training-{video.name}-{mode.name}-magenta.mkv"
            flags = (*mode.flags, "--policy", str(policy), "--codec", "ffv1")
            error = run_gamyeon(b, gamyeon, video.path, lossless, flags)
            if error is not None:
                entry["error"] = f"magenta run: {error}"
                continue
            records = read_sidecar(Path(f"{lossless}.regions.jsonl"))
            per_frame = [
                frame_areas(r, width, height, pixels)
                for r, pixels in zip(records, silhouette_person_pixels(video.path, lossless), strict=True)
            ]
            lossless.unlink()  # large, and nothing reads it again
            entry["area_source"] = "persons: magenta pixels of a lossless fill run; other kinds: its sidecar boxes"
            entry["area"] = summarize_areas(per_frame)
            entry["fail_closed_frames"] = sum(1 for r in records if r.get("fail_closed"))
        else:
            boxes = area.masked_area(Path(f"{out}.regions.jsonl"), width, height)
            entry["area_source"] = "sidecar mask boxes (benchlib.area)"
            entry["area"] = {"total": boxes["total"], **boxes["kinds"]}
            entry["fail_closed_frames"] = boxes["fail_closed"]
        if video.gt is not None:
            anon = detect_recall(detector, out, video.gt, sampled)
            orig = raw["original"]
            anon["recall_ratio"] = _kept(anon["found"], orig["found"])
            entry["detector"] = anon
            log.info("training %s %s: recall %.3f", video.name, mode.name, anon["recall"])
    return raw


# ====================================================================== report
def _pct(value: float | None) -> str | None:
    return None if value is None or math.isnan(value) else f"{100 * value:.1f} %"


def _area_cell(area: dict[str, dict[str, float]], kind: str) -> str | None:
    a = area.get(kind)
    return None if a is None or a["max"] == 0.0 else _pct(a["mean"])


def pooled(raw: dict[str, Any], mode: str) -> dict[str, float] | None:
    """Ground-truth persons found on original and anonymized frames, summed over the videos with GT
    (``mode`` "reencode": the unmasked control)."""
    orig = anon = persons = 0
    for video in raw.values():
        det = video.get("reencode") if mode == "reencode" else video["modes"].get(mode, {}).get("detector")
        if det is None or "original" not in video:
            continue
        orig += video["original"]["found"]
        anon += det["found"]
        persons += det["persons"]
    if not persons:
        return None
    return {
        "persons": persons,
        "recall_original": orig / persons,
        "recall_anonymized": anon / persons,
        "ratio": anon / orig if orig else float("nan"),
    }


def section(b: BenchLike, gamyeon: Path) -> None:
    detector = PersonDetector()
    raw: dict[str, Any] = {}
    for video in videos(b):
        raw[video.name] = measure_video(b, gamyeon, video, detector)
        # a long section: keep what is measured even if a later video or the report fails
        (b.out / "training-partial.json").write_text(json.dumps(raw, indent=1), encoding="utf-8")
    b.results["training"] = {
        "detector": detector.describe(),
        "quick_frames": QUICK_FRAMES if b.quick else None,
        "videos": raw,
        "pooled": {m: pooled(raw, m) for m in ("reencode", *(m.name for m in MODES))},
        "published_context": PUBLISHED,
    }
    render(b.results["training"], b.emit)


def render(results: dict[str, Any], emit: Callable[[str], None]) -> None:
    """The section's Markdown from its raw figures (``results.json``'s ``training``), so a saved run
    can be reported again."""
    raw, summary = results["videos"], results["pooled"]
    detector_text = results["detector"]
    quick_frames = results.get("quick_frames")
    quick = f" (--quick: inputs cut to their first {quick_frames} frames)" if quick_frames else ""
    emit(f"## Training value: what each masking mode keeps, and what it masks{quick}\n")
    emit(
        "Each mode is the installed CLI with its default operators: `gamyeon anonymize IN -o OUT.mp4 -q FLAGS`. "
        "Frame area masked = share of the frame's pixels masked, mean (max) over frames; box modes from the "
        "union of the sidecar's mask boxes, silhouettes from the pixels of a second, lossless run with persons "
        "filled in magenta; a fail-closed frame counts whole.\n"
    )
    rows: list[list[object]] = []
    for name, video in raw.items():
        for mode in MODES:
            e = video["modes"].get(mode.name, {})
            if "area" not in e:
                rows.append([name, mode.label, None, *([None] * len(KINDS)), e.get("error", "not run")[:80]])
                continue
            area = e["area"]
            total = f"{_pct(area['total']['mean'])} ({_pct(area['total']['max'])})"
            rows.append(
                [name, mode.label, total, *(_area_cell(area, k) for k in KINDS), e["fail_closed_frames"] or None]
            )
    emit(table(["video", "mode", "**masked, mean (max)**", *KINDS, "fail-closed frames"], rows))
    emit(
        "\nPer kind: mean share of the frame masked by that kind's masks (kinds overlap: a face inside a person "
        "box counts for both; the total counts each pixel once). — = the kind masked nothing.\n"
    )
    rows = []
    for name, video in raw.items():
        if "original" not in video:
            continue
        orig = video["original"]
        ctl = video["reencode"]
        rows.append(
            [
                name,
                CONTROL,
                ctl["persons"],
                fmt(orig["recall"], 3),
                fmt(ctl["recall"], 3),
                fmt(ctl["recall_ratio"], 3),
                fmt(orig["fp_per_frame"], 2),
                fmt(ctl["fp_per_frame"], 2),
            ]
        )
        for mode in MODES:
            det = video["modes"].get(mode.name, {}).get("detector")
            if det is None:
                rows.append([name, mode.label, orig["persons"], fmt(orig["recall"], 3), None, None, None, None])
                continue
            rows.append(
                [
                    name,
                    mode.label,
                    det["persons"],
                    fmt(orig["recall"], 3),
                    fmt(det["recall"], 3),
                    f"**{fmt(det['recall_ratio'], 3)}**",
                    fmt(orig["fp_per_frame"], 2),
                    fmt(det["fp_per_frame"], 2),
                ]
            )
    for key, label in (("reencode", CONTROL), *((m.name, m.label) for m in MODES)):
        p = summary[key]
        if p is not None:
            row: list[object] = ["**pooled**", label, p["persons"], fmt(p["recall_original"], 3)]
            rows.append([*row, fmt(p["recall_anonymized"], 3), f"**{fmt(p['ratio'], 3)}**", None, None])
    emit(f"### Person detector recall, original vs anonymized ({detector_text})\n")
    emit(
        table(
            [
                "video",
                "mode",
                "GT persons",
                "recall original",
                "recall anonymized",
                "**kept (ratio)**",
                "FP/frame original",
                "FP/frame anonymized",
            ],
            rows,
        )
    )
    emit(
        f"\nEvery {STRIDE}th frame of videos longer than {STRIDE_ABOVE} frames, every frame otherwise. Kept = "
        "persons found on anonymized frames / persons found on the originals. The re-encode row is the control: "
        "the input through gamyeon's default encoder settings with nothing masked, so the codec's share of a loss "
        "is visible. The detector is a proxy for what a person detector can still learn, not a training run.\n"
    )
    rows = []
    pets = next((v for k, v in raw.items() if k.startswith("pets09")), None)
    for mode in MODES:
        p = summary[mode.name]
        area = (pets or {}).get("modes", {}).get(mode.name, {}).get("area")
        rows.append(
            [
                mode.label,
                mode.protects,
                mode.keeps,
                None if area is None else _pct(area["total"]["mean"]),
                None if p is None else fmt(p["ratio"], 2),
            ]
        )
    emit("### What each mode protects and keeps\n")
    emit(table(["mode", "masks", "keeps for training", "frame area masked (PETS09)", "persons kept (HOG)"], rows))
    emit(
        f"\nContext, not our measurement: {PUBLISHED}. In that study masking faces cost the detector almost "
        "nothing and masking whole bodies almost everything.\n"
    )
