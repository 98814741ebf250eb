"""Sealing: the original pixels of each masked region, encrypted per track as the video is written.

The masking stage calls ``seal_planes`` with each decoded 4:2:0 frame just before its regions
are masked (the decoder's samples under every region's mask box, grown to even bounds), and
``seal`` with the upright original RGB picture for other frames and for still images; so what
is sealed is exactly what was masked. Of a region masked with an ellipse only what lies inside
it is coded (for 4:2:0, the 2x2 blocks that touch it): the rest of its box is unchanged in the
output, and a reveal takes it from there.

Each track's crops gather in an open segment, which is coded as one lossless stream
(``vault.codec``), encrypted and written when it holds ``SEGMENT_FRAMES`` crops or
``SEGMENT_BYTES`` of samples, when its track has not been seen for ``IDLE_FRAMES`` frames, when
the open segments together hold more than ``BUFFER_BYTES`` (the largest goes first), and at the
end. So memory stays bounded however long the video is and however many tracks it has.

A segment that cannot be coded leaves the writer broken: that frame fails closed in the masking
stage, and ``finish`` refuses to complete the vault, so no vault that misses regions the output
masks is ever bound to an output.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import av
import numpy as np
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gamyeon.errors import VaultError
from gamyeon.keys import MasterKey
from gamyeon.media.geometry import to_stored
from gamyeon.media.planes import plane_array
from gamyeon.operators.base import Shape, ellipse_bounds
from gamyeon.types import Array, Region
from gamyeon.vault import codec
from gamyeon.vault.format import (
    FFV1,
    FORMAT,
    H264,
    MAGIC,
    NONCE_BYTES,
    RGB,
    SEGMENT,
    TRAILER,
    YUV_FORMATS,
    Box,
    Crop,
    Header,
    SegmentMeta,
    aad,
    canonical,
    even,
    mac_key,
    pack,
    sized,
    track_key,
)

#: crops per segment: longer segments gained 2 % on the demo clip (64 against 32 frames) and
#: cost memory while sealing and decoding while revealing
SEGMENT_FRAMES = 64
#: samples per segment, so a few huge crops (a face filling a 4K frame) do not pile up
SEGMENT_BYTES = 32 << 20
#: a track unseen for this many frames has ended or is hidden: its segment is written
IDLE_FRAMES = 64
#: samples held in all open segments together
BUFFER_BYTES = 128 << 20
#: the smallest canvas: FFV1 refuses some tiny sizes (1 pixel wide), and padding costs nothing
MIN_CANVAS = 16
#: a segment's canvas spans its crops' places in the frame; a track that crosses the frame fast
#: would make it far larger than its crops, and coding the empty part still costs time, so a
#: segment is written before its canvas grows past this many times the area of its largest crop
CANVAS_GROWTH = 4


@dataclass(frozen=True, slots=True)
class _Style:
    """How a crop is coded; a segment holds crops of one style (a track keeps it in practice)."""

    codec: str
    picture: str
    colour: tuple[int, int] | None = None
    turns: int = 0
    frame_size: tuple[int, int] | None = None


RGB_STYLE = _Style(FFV1, RGB)

#: the mask shape of each kind, as the masking draws it (the policy's). Of a region masked with
#: an ellipse only the pixels inside it are sealed: the rest of its box is unchanged in the output,
#: and a reveal takes it from there. None: every region's whole box is sealed.
Shapes = Callable[[str], Shape]


@dataclass(slots=True)
class _Open:
    """A segment being gathered."""

    kind: str
    style: _Style
    crops: list[Crop] = field(default_factory=list)
    pictures: list[codec.Picture] = field(default_factory=list)
    keeps: list[codec.Keep] = field(default_factory=list)
    nbytes: int = 0
    span: Box | None = None
    largest: int = 0


class VaultWriter:
    """Writes one vault for one output file (at a temporary path chosen by the caller)."""

    def __init__(
        self,
        path: Path,
        key: MasterKey,
        *,
        dataset_id: str,
        source: str,
        track_ids: Callable[[str, int], str],
        segment_frames: int = SEGMENT_FRAMES,
    ) -> None:
        codec.available()
        self.path = path
        self.header = Header(
            dataset_id=dataset_id,
            vault_id=uuid.uuid4().hex,
            key_fingerprint=key.fingerprint,
            source=source,
        )
        self._key = key
        self._track_ids = track_ids
        self._segment_frames = max(1, segment_frames)
        self._aeads: dict[str | None, AESGCM] = {}
        self._mac = hmac.new(mac_key(key, dataset_id, self.header.vault_id), digestmod=hashlib.sha256)
        self._open: dict[str, _Open] = {}
        self._buffered = 0
        self._broken: str | None = None
        self._fh: IO[bytes] = path.open("wb")
        self.blocks = 0
        self.regions = 0
        self.bytes_sealed = 0
        self._tracks: dict[str, dict[str, Any]] = {}
        self._write(MAGIC + sized(canonical(self.header.as_dict())))

    def _write(self, data: bytes) -> None:
        self._mac.update(data)
        self._fh.write(data)

    def _aead(self, track: str | None) -> AESGCM:
        aead = self._aeads.get(track)
        if aead is None:
            aead = self._aeads[track] = AESGCM(track_key(self._key, self.header, track))
        return aead

    def seal(
        self,
        frame: int,
        pts: int | None,
        view: Array,
        regions: list[Region],
        *,
        origin: tuple[int, int] = (0, 0),
        size: tuple[int, int] | None = None,
        shapes: Shapes | None = None,
    ) -> None:
        """Seal the pixels under every region's mask on the upright original ``view``: the whole
        frame, or a crop of it with its top-left corner at ``origin`` in a frame of ``size``
        (width, height) that holds every region's mask. ``shapes``: see ``Shapes``."""
        width, height = size if size is not None else (view.shape[1], view.shape[0])
        left, top = origin
        for region in regions:
            x1, y1, x2, y2 = region.mask.pixel_bounds(width, height)
            if x2 <= x1 or y2 <= y1:
                continue
            pixels = view[y1 - top : y2 - top, x1 - left : x2 - left]
            if min(x1 - left, y1 - top) < 0 or pixels.shape[:2] != (y2 - y1, x2 - x1):
                raise ValueError(f"the crop at {origin} does not hold the mask {(x1, y1, x2, y2)}")
            crop = _crop(region, (x1, y1, x2, y2), frame, pts, shapes)
            inside = crop.inside()
            keep = None if inside is None or inside.all() else inside
            self._add(region, crop, RGB_STYLE, (pixels.copy(),), keep)
        self._tidy(frame)

    def seal_planes(
        self,
        frame: int,
        pts: int | None,
        picture: av.VideoFrame,
        regions: list[Region],
        *,
        rotation: int,
        shapes: Shapes | None = None,
    ) -> None:
        """Seal the decoder's own samples under every region's mask on ``picture``, a 4:2:0 frame
        as decoded (stored orientation; ``rotation`` degrees counter-clockwise make it upright,
        the orientation of the regions). Read before the frame is masked; never changes it.
        ``shapes``: see ``Shapes``."""
        if picture.format.name not in YUV_FORMATS or picture.width % 2 or picture.height % 2:
            raise ValueError(f"seal_planes needs an even-sized 4:2:0 frame, got {picture.format.name}")
        turns = (rotation // 90) % 4
        width, height = picture.width, picture.height
        upright = (height, width) if turns % 2 else (width, height)
        planes = [plane_array(picture, i) for i in range(3)]
        colour = (int(picture.colorspace), int(picture.color_range))
        style = _Style(H264, picture.format.name, colour, turns, (width, height))
        for region in regions:
            box = region.mask.pixel_bounds(*upright)
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            x1, y1, x2, y2 = to_stored(even(box), turns, width, height)
            samples = (
                planes[0][y1:y2, x1:x2].copy(),
                planes[1][y1 // 2 : y2 // 2, x1 // 2 : x2 // 2].copy(),
                planes[2][y1 // 2 : y2 // 2, x1 // 2 : x2 // 2].copy(),
            )
            crop = _crop(region, box, frame, pts, shapes)
            self._add(region, crop, style, samples, _chroma_keep(crop, turns))
        self._tidy(frame)

    def _add(self, region: Region, crop: Crop, style: _Style, picture: codec.Picture, keep: codec.Keep) -> None:
        if self._broken is not None:  # ``finish`` will refuse: holding more samples serves nothing
            return
        self.regions += 1
        if region.track is None:  # nothing to predict it from: a segment of its own
            self._write_segment(None, region.kind, style, [crop], [picture], [keep])
            return
        track = self._track_ids(region.kind, region.track)
        self._index(track, region.kind, crop.frame, crop.pts)
        seg = self._open.get(track)
        box = _coded_box(style, crop)
        area = (box[2] - box[0]) * (box[3] - box[1])
        span = box if seg is None or seg.span is None else _union(seg.span, box)
        if seg is not None and (
            seg.style != style
            or seg.kind != region.kind
            or seg.crops[-1].frame > crop.frame
            or (span[2] - span[0]) * (span[3] - span[1]) > CANVAS_GROWTH * max(seg.largest, area)
        ):
            self._flush(track)
            seg, span = None, box
        if seg is None:
            seg = self._open[track] = _Open(region.kind, style)
        nbytes = sum(p.nbytes for p in picture)
        seg.crops.append(crop)
        seg.pictures.append(picture)
        seg.keeps.append(keep)
        seg.span, seg.largest = span, max(seg.largest, area)
        seg.nbytes += nbytes
        self._buffered += nbytes
        if len(seg.crops) >= self._segment_frames or seg.nbytes >= SEGMENT_BYTES:
            self._flush(track)

    def _tidy(self, frame: int) -> None:
        """Write the segments of tracks gone quiet, then the largest while too much is held."""
        for track in [t for t, seg in self._open.items() if seg.crops[-1].frame < frame - IDLE_FRAMES]:
            self._flush(track)
        while self._buffered > BUFFER_BYTES:
            self._flush(max(self._open, key=lambda t: self._open[t].nbytes))

    def _flush(self, track: str) -> None:
        seg = self._open.pop(track)
        self._buffered -= seg.nbytes
        self._write_segment(track, seg.kind, seg.style, seg.crops, seg.pictures, seg.keeps)

    def _write_segment(
        self,
        track: str | None,
        kind: str,
        style: _Style,
        crops: list[Crop],
        pictures: list[codec.Picture],
        keeps: list[codec.Keep],
    ) -> None:
        if self._broken is not None:
            return
        boxes = [_coded_box(style, c) for c in crops]
        left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
        width = max(MIN_CANVAS, max(b[2] for b in boxes) - left)
        height = max(MIN_CANVAS, max(b[3] for b in boxes) - top)
        meta = SegmentMeta(
            self.blocks, track, kind, style.codec, style.picture, style.colour, style.turns, style.frame_size,
            (width, height), tuple(crops), (left, top),
        )  # fmt: skip
        try:
            meta.check()
            places = [meta.place(c) for c in crops]
            payload = codec.encode(style.codec, pictures, (width, height), places, keeps)
        except Exception as err:  # whatever the codec raised: the vault cannot be complete
            self._broken = f"segment {meta.seq} of track {track} could not be coded ({err})"
            raise VaultError(f"sealing failed: {self._broken}") from err
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = nonce + self._aead(track).encrypt(nonce, payload, aad(self.header, meta))
        self._write(pack(SEGMENT, canonical(meta.as_dict())) + sized(sealed))
        self.blocks += 1
        self.bytes_sealed += len(sealed)

    def _index(self, track: str, kind: str, frame: int, pts: int | None) -> None:
        entry = self._tracks.get(track)
        if entry is None:
            self._tracks[track] = {"kind": kind, "first_frame": frame, "first_pts": pts, "frames": 0}
            entry = self._tracks[track]
        if entry.get("last_frame") != frame:
            entry["frames"] += 1
        entry["last_frame"], entry["last_pts"] = frame, pts

    def facts(self) -> dict[str, Any]:
        """What the ledger records about this vault (no key material)."""
        return {
            "vault_id": self.header.vault_id,
            "format": FORMAT,
            "blocks": self.blocks,
            "regions": self.regions,
            "tracks": len(self._tracks),
            "cipher": self.header.cipher,
        }

    def finish(self, *, output_sha256: str, time_base: str | None) -> None:
        """Write the open segments, the index and the whole-file MAC; binds the vault to the
        finished output file. Refuses when a segment could not be sealed."""
        for track in sorted(self._open, key=lambda t: self._open[t].crops[0].frame):
            try:
                self._flush(track)
            except VaultError:
                break  # the reason is kept in ``_broken``
        if self._broken is not None:
            raise VaultError(f"the vault is incomplete: {self._broken}")
        trailer = {
            "blocks": self.blocks,
            "regions": self.regions,
            "output_sha256": output_sha256,
            "time_base": time_base,
            "tracks": self._tracks,
        }
        self._write(pack(TRAILER, canonical(trailer)))
        self._fh.write(self._mac.digest())
        self._fh.flush()
        self._fh.close()

    def abort(self) -> None:
        self._open.clear()
        self._buffered = 0
        if not self._fh.closed:
            self._fh.close()


def _crop(region: Region, box: Box, frame: int, pts: int | None, shapes: Shapes | None) -> Crop:
    """The crop of ``region`` (clipped to the frame as ``box``), with the ellipse its operator
    draws, if it draws one."""
    ellipse = shapes is not None and shapes(region.kind) is Shape.ELLIPSE
    return Crop(frame, pts, box, ellipse_bounds(region.mask) if ellipse else None)


def _coded_box(style: _Style, crop: Crop) -> Box:
    """Where ``crop``'s coded samples lie in the coded frame (``SegmentMeta.coded_box``)."""
    if style.frame_size is None:
        return crop.box
    return to_stored(even(crop.box), style.turns, *style.frame_size)


def _union(a: Box, b: Box) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _chroma_keep(crop: Crop, turns: int) -> codec.Keep:
    """Which chroma samples (2x2 blocks of luma) of ``crop``'s box on even bounds, in the stored
    orientation, hold a sealed pixel: a pixel's RGB needs its luma sample and its block's chroma,
    so each such block is kept whole. None: all of them."""
    inside = crop.inside()
    if inside is None:
        return None
    x1, y1, x2, y2 = crop.box
    ex1, ey1, ex2, ey2 = even(crop.box)
    full = np.zeros((ey2 - ey1, ex2 - ex1), dtype=bool)
    full[y1 - ey1 : y2 - ey1, x1 - ex1 : x2 - ex1] = inside
    blocks = full.reshape(full.shape[0] // 2, 2, full.shape[1] // 2, 2).any(axis=(1, 3))
    if blocks.all():
        return None
    return np.ascontiguousarray(np.rot90(blocks, -turns))
