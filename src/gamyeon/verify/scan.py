"""Pairing frames of the original and the anonymized output and deciding, per face, what leaks.

For every examined frame pair:

1. both detectors run on the original and on the output (``detectors.py``);
2. each face found in the original gets its coverage (``coverage.py``): masked boxes from the
   annotations, or the pixel change;
3. a face still found in the output at the same place is *residual*; a face found in the output
   where none was found in the original counts as a face instance of its own;
4. faces of at least ``min_identity_face`` px get descriptors of the original face and of the
   output at the same place (``identity.py``), filed under their track: the annotations' track of
   the masked region they lie in, else one linked from verify's own detections (``attack.py``).

A face *leaks* when it is less than ``min_coverage`` covered or still detectable. After the last
frame, the file's descriptors go to the identity attack (``attack.footage_attack``): identification
against chance, calibrated on the same footage. The per-face distance to the face's own original
(*re-identifiable* below dlib's 0.6) is kept as information; it is not the identity gate.

Videos are read in lockstep, one frame of each at a time, so memory does not depend on length.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from itertools import zip_longest
from pathlib import Path
from typing import Any

import numpy as np

from gamyeon.annotations import read_jsonl
from gamyeon.media.decode import DecodedFrame, VideoReader, to_rgb
from gamyeon.media.geometry import rotate_view, upright_size
from gamyeon.media.images import load_image, upright_view
from gamyeon.types import Array, Box
from gamyeon.verify.attack import IdentitySample, TrackLinker, footage_attack, identities
from gamyeon.verify.coverage import PixelChange, mask_coverage
from gamyeon.verify.detectors import FaceHit, IndependentFaces, same_face
from gamyeon.verify.evidence import make_evidence
from gamyeon.verify.identity import FaceEmbedder, closest
from gamyeon.verify.pairs import MismatchError, Pair
from gamyeon.verify.remask import anonymize_folder, write_png
from gamyeon.verify.result import FaceCheck, FileResult, FrameCheck, VerifyOptions
from gamyeon.verify.sampling import SamplePlan, TrackSpans, plan

log = logging.getLogger(__name__)

#: annotated kinds whose tracks name a face for the identity attack (a person box may hold
#: someone else's face: persons overlap)
IDENTITY_KINDS = ("face", "head")

Progress = Callable[[int], None]


class Notes:
    """The annotations of one video read along with its frames: masks of frame ``index``."""

    def __init__(self, path: Path) -> None:
        self._lines: Iterator[dict[str, Any]] = read_jsonl(path)
        self._pending: dict[str, Any] | None = None
        #: (region box, track id) of the frame last asked for: the identity attack's tracks
        self.tracks: list[tuple[Box, str]] = []

    def at(self, index: int, width: int, height: int) -> tuple[list[Box], bool]:
        """Mask boxes and fail-closed flag of frame ``index`` (no masks if the file has no line)."""
        self.tracks = []
        while self._pending is None or int(self._pending["frame"]) < index:
            line = next(self._lines, None)
            if line is None:
                return [], False
            self._pending = line
        if int(self._pending["frame"]) != index:
            return [], False
        regions = self._pending.get("regions", [])
        self.tracks = [
            (Box(*map(float, r["box"])), str(r["track"]))
            for r in regions
            if r.get("track") is not None and r.get("kind", "face") in IDENTITY_KINDS
        ]
        if self._pending.get("fail_closed"):
            return [Box(0.0, 0.0, float(width), float(height))], True
        return [Box(*map(float, r["mask"])) for r in regions], False


def track_of(box: Box, regions: list[tuple[Box, str]]) -> str | None:
    """The track of the annotated region that is the same face as ``box`` (largest overlap)."""
    best: tuple[float, str] | None = None
    for region, track in regions:
        if same_face(region, box):
            iou = region.iou(box)
            if best is None or iou > best[0]:
                best = (iou, track)
    return None if best is None else best[1]


class Verifier:
    """Holds the models (loaded once) and examines file pairs."""

    def __init__(self, options: VerifyOptions) -> None:
        self.options = options
        self.faces = IndependentFaces(options.min_face, options.mtcnn_threshold)
        self.embedder = FaceEmbedder()

    def with_options(self, options: VerifyOptions) -> Verifier:
        """This verifier's loaded models under other thresholds (new models if detection differs)."""
        if (options.min_face, options.mtcnn_threshold) != (self.options.min_face, self.options.mtcnn_threshold):
            return Verifier(options)
        clone = copy.copy(self)
        clone.options = options
        return clone

    # ------------------------------------------------------------------ one frame
    def check_frame(
        self,
        index: int,
        seconds: float | None,
        original: Array,
        output: Array,
        masks: list[Box] | None,
        reason: str,
        fail_closed: bool = False,
        tracks: list[tuple[Box, str]] | None = None,
        linker: TrackLinker | None = None,
        samples: list[IdentitySample] | None = None,
    ) -> FrameCheck:
        """Examine one upright RGB frame pair; ``masks`` from the annotations, or None for pixel change.

        ``tracks`` (annotated regions with their track ids) and ``linker`` (verify's own tracks for
        faces the annotations do not name) file each identity-tested face under a track; its
        descriptors are appended to ``samples``."""
        o = self.options
        height, width = original.shape[:2]
        found = self.faces.detect(original)
        still = self.faces.detect(output)
        change = PixelChange(original, output) if masks is None else None

        # each output hit belongs to the original face it overlaps most, if any
        owner: list[int | None] = []
        for hit in still:
            best: tuple[float, int] | None = None
            for k, face in enumerate(found):
                if same_face(face.box, hit.box):
                    iou = face.box.iou(hit.box)
                    if best is None or iou > best[0]:
                        best = (iou, k)
            owner.append(None if best is None else best[1])

        distances, descriptors = self._identity(original, output, found, still, owner)
        names = self._tracks(found, sorted(descriptors), tracks or [], linker or TrackLinker())
        if samples is not None:
            for k, (ref, masked) in descriptors.items():
                samples.append(IdentitySample(index, names[k], ref, masked, found[k].box))
        checks: list[FaceCheck] = []
        for k, face in enumerate(found):
            if change is not None:
                covered = change.coverage(face.box)
            else:
                covered = mask_coverage(face.box, masks or [], width, height)
            residual = sorted(
                {name for hit, own in zip(still, owner, strict=True) if own == k for name in hit.found_by}
            )
            distance = distances.get(k)
            checks.append(
                FaceCheck(
                    box=face.box,
                    found_by=face.found_by,
                    coverage=covered,
                    residual=tuple(residual),
                    distance=distance,
                    uncovered=covered < o.min_coverage,
                    reidentifiable=distance is not None and distance < o.match_threshold,
                    track=names.get(k),
                )
            )
        for hit, own in zip(still, owner, strict=True):
            if own is None:
                checks.append(FaceCheck(hit.box, (), None, hit.found_by, None, uncovered=False, reidentifiable=False))
        return FrameCheck(index, seconds, tuple(checks), reason, fail_closed)

    @staticmethod
    def _tracks(
        found: list[FaceHit], tested: list[int], regions: list[tuple[Box, str]], linker: TrackLinker
    ) -> dict[int, str]:
        """Track per tested face: the annotations' where a masked region is that face, else linked."""
        names: dict[int, str] = {}
        for k in tested:
            track = track_of(found[k].box, regions)
            if track is not None:
                names[k] = track
        rest = [k for k in tested if k not in names]
        for k, name in zip(rest, linker.link([found[k].box for k in rest]), strict=True):
            names[k] = name
        return names

    def _identity(
        self, original: Array, output: Array, found: list[FaceHit], still: list[FaceHit], owner: list[int | None]
    ) -> tuple[dict[int, float], dict[int, tuple[Array, Array]]]:
        """Per original face (index into ``found``) big enough to identify: the distance to the
        closest of the output at the face's own box and at every output hit on it, and the
        descriptors of the original face and of the output at the face's box (the attack's)."""
        tested = [k for k, f in enumerate(found) if min(f.box.width, f.box.height) >= self.options.min_identity_face]
        if not tested:
            return {}, {}
        references = self.embedder.descriptors(original, [found[k].box for k in tested])
        candidates: list[Box] = []
        spans: list[tuple[int, int]] = []
        for k in tested:
            start = len(candidates)
            candidates.append(found[k].box)
            candidates += [hit.box for hit, own in zip(still, owner, strict=True) if own == k]
            spans.append((start, len(candidates)))
        probes = self.embedder.descriptors(output, candidates)
        pairs = list(enumerate(zip(tested, spans, strict=True)))
        distances = {k: closest(references[i], probes[a:b]) for i, (k, (a, b)) in pairs}
        return distances, {k: (references[i], probes[a]) for i, (k, (a, _)) in pairs}

    def _keep(self, result: FileResult, check: FrameCheck, output: Array) -> None:
        result.frames.append(check)
        if check.flagged and len(result.evidence) < self.options.max_thumbnails:
            result.evidence.append(make_evidence(output, check))

    # ------------------------------------------------------------------ files
    def scan(self, pair: Pair, progress: Progress | None = None, on_total: Progress | None = None) -> FileResult:
        started = time.perf_counter()
        result = FileResult(
            original=str(pair.original),
            anonymized=str(pair.anonymized),
            media="image" if pair.image else "video",
            annotations=None if pair.annotations is None else str(pair.annotations),
            coverage_method="annotations" if pair.annotations is not None else "pixels",
        )
        if pair.image:
            self._scan_image(pair, result)
        else:
            with tempfile.TemporaryDirectory(prefix="gamyeon-verify-parrot-") as tmp:
                parrot = Path(tmp) if self.options.parrot else None
                self._scan_video(pair, result, progress or (lambda n: None), on_total or (lambda n: None), parrot)
                if parrot is not None and identities(result.samples) >= 2:
                    result.samples = self._remask(result.samples, parrot)
        result.identity = footage_attack(result.samples, self.options.alpha)
        result.seconds = time.perf_counter() - started
        return result

    def _scan_image(self, pair: Pair, result: FileResult) -> None:
        a = load_image(pair.original)
        b = load_image(pair.anonymized)
        original = np.ascontiguousarray(upright_view(a.pixels, a.orientation))
        output = np.ascontiguousarray(upright_view(b.pixels, b.orientation))
        if original.shape != output.shape:
            raise MismatchError(
                f"{pair.anonymized} is {output.shape[1]}x{output.shape[0]} but {pair.original} is "
                f"{original.shape[1]}x{original.shape[0]}: not its anonymized version"
            )
        height, width = original.shape[:2]
        result.width, result.height, result.frames_total = width, height, 1
        result.sampling = "the whole image"
        masks: list[Box] | None = None
        fail_closed = False
        tracks: list[tuple[Box, str]] = []
        if pair.annotations is not None:
            notes = Notes(pair.annotations)
            masks, fail_closed = notes.at(0, width, height)
            tracks = notes.tracks
        check = self.check_frame(
            0, None, original, output, masks, "image", fail_closed, tracks, TrackLinker(), result.samples
        )
        self._keep(result, check, output)

    def _remask(self, samples: list[IdentitySample], work: Path) -> list[IdentitySample]:
        """The parrot attacker's descriptors: the saved original frames anonymized in a run of his
        own (``remask.py``), described at each face's box."""
        started = time.perf_counter()
        masked_dir = anonymize_folder(work / "frames", self.options.attacker_options, work, self.options.attacker_key)
        by_frame: dict[int, list[int]] = {}
        for i, sample in enumerate(samples):
            by_frame.setdefault(sample.frame, []).append(i)
        out = list(samples)
        for frame, rows in by_frame.items():
            image = load_image(masked_dir / f"{frame:07d}.png")
            picture = np.ascontiguousarray(image.pixels)
            boxes = [samples[i].box or Box(0.0, 0.0, 1.0, 1.0) for i in rows]
            for i, descriptor in zip(rows, self.embedder.descriptors(picture, boxes), strict=True):
                out[i] = dataclasses.replace(samples[i], remasked=descriptor)
        log.debug("parrot: %d frames re-masked and described in %.1f s", len(by_frame), time.perf_counter() - started)
        return out

    def _scan_video(
        self, pair: Pair, result: FileResult, progress: Progress, on_total: Progress, parrot: Path | None = None
    ) -> None:
        with VideoReader(pair.original) as ro, VideoReader(pair.anonymized) as ra:
            io, ia = ro.info, ra.info
            size_o = upright_size(io.width, io.height, io.rotation)
            size_a = upright_size(ia.width, ia.height, ia.rotation)
            if size_o != size_a:
                raise MismatchError(
                    f"{pair.anonymized} is {size_a[0]}x{size_a[1]} but {pair.original} is {size_o[0]}x{size_o[1]} "
                    "(as displayed): not its anonymized version"
                )
            if io.frames and ia.frames and io.frames != ia.frames:
                raise MismatchError(
                    f"{pair.anonymized} declares {ia.frames} frames but {pair.original} {io.frames}: "
                    "not its anonymized version"
                )
            spans = TrackSpans.read(pair.annotations) if pair.annotations is not None else None
            # gamyeon's annotations have one line per frame: exact, where a container's count may be
            # missing (raw streams) or wrong
            total = spans.lines if spans is not None and spans.lines else io.frames
            if not total:
                total = _count_frames(pair.original)
            samples = plan(total, self.options.sample, spans, self.options.identity_frames)
            result.width, result.height = size_o
            result.frames_total = total
            result.sampling = samples.description
            on_total(total)
            notes = Notes(pair.annotations) if pair.annotations is not None else None
            count = self._lockstep(pair, ro, ra, samples, notes, result, progress, parrot)
            result.frames_total = count
            if ro.decode_errors or ra.decode_errors:
                log.warning(
                    "%s: %d / %d frame(s) could not be decoded", pair.anonymized, ro.decode_errors, ra.decode_errors
                )

    def _lockstep(
        self,
        pair: Pair,
        ro: VideoReader,
        ra: VideoReader,
        samples: SamplePlan,
        notes: Notes | None,
        result: FileResult,
        progress: Progress,
        parrot: Path | None = None,
    ) -> int:
        """Walk both videos frame by frame; examine the sampled ones. Returns the frame count.

        With ``parrot``, every original frame that gave the identity attack a face is saved there
        (``frames/NNNNNNN.png``) for the parrot attacker to mask (``_remask``)."""
        if parrot is not None:
            (parrot / "frames").mkdir()
        rot_o, rot_a = ro.info.rotation, ra.info.rotation
        tb = ro.info.time_base
        width, height = result.width, result.height
        linker = TrackLinker()
        count = 0
        for fo, fa in zip_longest(_frames(ro), _frames(ra)):
            if fo is None or fa is None:
                longer, shorter = (pair.original, pair.anonymized) if fa is None else (pair.anonymized, pair.original)
                raise MismatchError(
                    f"{shorter} ends after {count} frames but {longer} has more: not its anonymized version"
                )
            count += 1
            progress(1)
            reason = samples.reason(fo.index)
            if reason is None:
                continue
            if fo.frame is None or fa.frame is None:
                result.undecodable += 1
                continue
            original = np.ascontiguousarray(rotate_view(to_rgb(fo.frame), rot_o))
            output = np.ascontiguousarray(rotate_view(to_rgb(fa.frame), rot_a))
            masks: list[Box] | None = None
            fail_closed = False
            if notes is not None:
                masks, fail_closed = notes.at(fo.index, width, height)
            check = self.check_frame(
                fo.index,
                float(fo.pts * tb),
                original,
                output,
                masks,
                reason,
                fail_closed,
                notes.tracks if notes is not None else None,
                linker,
                result.samples,
            )
            if parrot is not None and result.samples and result.samples[-1].frame == fo.index:
                write_png(original, parrot / "frames" / f"{fo.index:07d}.png")
            self._keep(result, check, output)
        return count


def _frames(reader: VideoReader) -> Iterator[DecodedFrame]:
    return (item for item in reader if isinstance(item, DecodedFrame))


def _count_frames(path: Path) -> int:
    """Frame count of a video that declares none (raw streams): one decoding pass."""
    with VideoReader(path) as reader:
        return sum(1 for _ in _frames(reader))
