"""The vault file: the original pixels of every masked region, sealed per track in segments.

Layout of format 3 (all integers big-endian)::

    MAGIC                                   8 bytes  b"GMVAULT3"
    u32 length, header JSON                 format, dataset id, vault id, key fingerprint, source, cipher
    repeated segments:
        b"S", u32 length, meta JSON         seq, track (pseudonym), kind, codec, picture format,
                                            colour, turns, frame size, canvas size and origin, and
                                            per crop: frame, pts, box [, ellipse]
        u32 length, nonce(12) + ciphertext  AES-256-GCM of the segment's coded stream (``codec``)
    b"T", u32 length, trailer JSON          segment and region counts, output SHA-256, per-track index
    HMAC-SHA256 (32 bytes)                  over every byte before it

A segment holds up to ``writer.SEGMENT_FRAMES`` crops of one track, coded as one lossless video
stream so that frames predict each other (``vault.codec``); each crop sits at its own place on the
segment's canvas (a part of the frame), and of a region masked with an ellipse only the pixels
inside it are coded (``Crop.inside``). Older formats are still read: format 2 (b"GMVAULT2") put
every crop, its whole box, at the top left of the canvas (no origin, no ellipses); format 1
(b"GMVAULT1") held one lossless WebP per region, each block with the meta of that one region.

Why this shape:
- Each segment's key is derived for its **track** (HKDF over the master key, the dataset, the vault
  and the track's pseudonym), so revealing one track never needs a key that opens another.
- Each segment's associated data is its own meta plus the header's ids, so a segment moved to
  another track, other frames, other boxes, another position or another vault fails authentication.
- The trailing HMAC (a key derived per vault) covers the whole file, so truncation, appended
  bytes, deleted, duplicated or swapped segments are detected before a single pixel is decrypted.
- Metas are plain: ``reveal --list`` and the masking of other tracks need boxes and shapes, not
  pixels, and the same boxes are already in the annotations sidecar. A crop's ellipse is in its
  meta, so it is authenticated with the pixels: changing it fails decryption.
- Segments are written when they are full or their track has gone quiet, so they are not in frame
  order; the reader keeps a small index (offset, first and last frame per segment) and merges them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from gamyeon.errors import VaultError
from gamyeon.keys import MasterKey
from gamyeon.media.geometry import to_stored
from gamyeon.operators.base import ellipse_mask
from gamyeon.types import Array

MAGIC = b"GMVAULT3"
MAGICS = {b"GMVAULT1": 1, b"GMVAULT2": 2, MAGIC: 3}
FORMAT = 3
SEGMENT, BLOCK, TRAILER = b"S", b"B", b"T"
MAC_BYTES = 32
NONCE_BYTES = 12
CIPHER = "AES-256-GCM"
#: codecs of sealed crops: per region (format 1), and per segment (format 2)
WEBP, H264, FFV1 = "webp-lossless", "h264-lossless", "ffv1"
#: picture formats of a segment: the decoder's own 4:2:0 samples, or RGB
YUV_FORMATS = frozenset({"yuv420p", "yuvj420p"})
RGB = "rgb24"
#: a meta or header longer than this is damage, not data (keeps a corrupt length from eating memory)
MAX_JSON = 1 << 20
#: the largest sealed block: a segment is cut at ``writer.SEGMENT_BYTES`` of raw samples, but one
#: crop is never split (a whole 8K RGB frame), and lossless coding can exceed the raw size slightly
MAX_BLOCK = 1 << 28
#: crops in one segment: far more than the writer puts there
MAX_CROPS = 4096

Box = tuple[int, int, int, int]


def canonical(value: Any) -> bytes:
    """One byte string per value: sorted keys, no spaces, so the MAC and AAD are reproducible."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Header:
    dataset_id: str
    vault_id: str
    key_fingerprint: str
    source: str
    cipher: str = CIPHER
    format: int = FORMAT

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": self.format,
            "dataset_id": self.dataset_id,
            "vault_id": self.vault_id,
            "key_fingerprint": self.key_fingerprint,
            "source": self.source,
            "cipher": self.cipher,
        }
        if self.format == 1:
            out["codec"] = WEBP
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any], version: int) -> Header:
        if d.get("format") != version:
            raise VaultError(f"unsupported vault format {d.get('format')!r}")
        if version == 1 and d.get("codec") != WEBP:
            raise VaultError(f"unsupported codec in a format-1 vault: {d.get('codec')!r}")
        try:
            header = cls(
                dataset_id=str(d["dataset_id"]),
                vault_id=str(d["vault_id"]),
                key_fingerprint=str(d["key_fingerprint"]),
                source=str(d["source"]),
                cipher=str(d["cipher"]),
                format=version,
            )
        except (KeyError, TypeError, ValueError) as err:
            raise VaultError(f"the vault header is damaged ({err})") from None
        if header.cipher != CIPHER:
            raise VaultError(f"unsupported vault cipher {header.cipher!r}")
        return header


@dataclass(frozen=True, slots=True)
class Crop:
    """One sealed region on one frame. ``box`` is integer pixel bounds of the upright picture.

    ``ellipse`` (format 3): the region was masked with an ellipse, the one inscribed in this
    whole-pixel box (not clipped to the frame, as ``Operator.apply`` draws it); only the pixels
    of ``box`` inside it were sealed, the others are left as the output has them. None: every
    pixel of ``box`` was masked and sealed."""

    frame: int
    pts: int | None
    box: Box
    ellipse: Box | None = None

    def inside(self) -> Array | None:
        """Which pixels of ``box`` (rows, columns) were masked and sealed; None: all of them."""
        if self.ellipse is None:
            return None
        x1, y1, x2, y2 = self.box
        ex1, ey1, ex2, ey2 = self.ellipse
        return ellipse_mask(ey2 - ey1, ex2 - ex1, rows=(y1 - ey1, y2 - ey1), cols=(x1 - ex1, x2 - ex1))

    def as_list(self) -> list[Any]:
        out: list[Any] = [self.frame, self.pts, *self.box]
        if self.ellipse is not None:
            out.append(list(self.ellipse))
        return out

    @classmethod
    def from_list(cls, item: list[Any]) -> Crop:
        frame, pts, x1, y1, x2, y2, *rest = item
        if len(rest) > 1:
            raise ValueError(f"a crop of {len(item)} values")
        ellipse = None
        if rest:
            ex1, ey1, ex2, ey2 = (int(v) for v in rest[0])
            ellipse = (ex1, ey1, ex2, ey2)
        box = (int(x1), int(y1), int(x2), int(y2))
        return cls(int(frame), None if pts is None else int(pts), box, ellipse)


@dataclass(frozen=True, slots=True)
class SegmentMeta:
    """Where a segment's crops belong and how they are coded.

    ``picture`` is ``rgb24`` (each crop is the box's upright RGB pixels) or a 4:2:0 format (each
    crop is the decoder's samples of the box grown to even bounds, in the stored orientation of a
    ``frame_size`` frame that ``turns`` quarter turns counter-clockwise make upright; ``colour``
    is its (colour space, range) for the conversion to RGB).

    ``origin`` None (format 2): crops sit at the top left of a ``size`` canvas, padded by
    repeating their last row and column. Otherwise (format 3) the canvas is the part of the
    frame, in the coded orientation, whose top-left corner is ``origin``, and each crop sits at
    its own place in it, so a still background stays still for the coder; samples outside a
    crop and outside what it sealed (``Crop.inside``) hold no one's pixels (``codec.encode``)."""

    seq: int
    track: str | None
    kind: str
    codec: str
    picture: str
    colour: tuple[int, int] | None
    turns: int
    frame_size: tuple[int, int] | None
    size: tuple[int, int]
    crops: tuple[Crop, ...]
    origin: tuple[int, int] | None = None

    @property
    def first_frame(self) -> int:
        return self.crops[0].frame

    @property
    def last_frame(self) -> int:
        return self.crops[-1].frame

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "track": self.track,
            "kind": self.kind,
            "codec": self.codec,
            "picture": self.picture,
            "colour": None if self.colour is None else list(self.colour),
            "turns": self.turns,
            "frame_size": None if self.frame_size is None else list(self.frame_size),
            "size": list(self.size),
            "crops": [c.as_list() for c in self.crops],
        } | ({} if self.origin is None else {"origin": list(self.origin)})

    @classmethod
    def from_dict(cls, d: dict[str, Any], version: int = FORMAT) -> SegmentMeta:
        """A segment's meta as read from a vault of format ``version``: format 3 places its
        crops (``origin``) and may seal ellipses; format 2 does neither."""
        try:
            crops = [Crop.from_list(item) for item in d["crops"]]
            origin = d.get("origin")
            if (origin is None) != (version < FORMAT) or (version < FORMAT and any(c.ellipse for c in crops)):
                raise ValueError(f"a layout that is not format {version}'s")
            colour, frame_size = d["colour"], d["frame_size"]
            width, height = (int(v) for v in d["size"])
            meta = cls(
                seq=int(d["seq"]),
                track=None if d["track"] is None else str(d["track"]),
                kind=str(d["kind"]),
                codec=str(d["codec"]),
                picture=str(d["picture"]),
                colour=None if colour is None else (int(colour[0]), int(colour[1])),
                turns=int(d["turns"]),
                frame_size=None if frame_size is None else (int(frame_size[0]), int(frame_size[1])),
                size=(width, height),
                crops=tuple(crops),
                origin=None if origin is None else (int(origin[0]), int(origin[1])),
            )
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise VaultError(f"a vault segment is damaged ({err})") from None
        meta.check()
        return meta

    def check(self) -> None:
        """Refuse a meta that cannot describe real crops (damage that a MAC check did not see:
        the index is also read without a key)."""
        problem = None
        if not 0 < len(self.crops) <= MAX_CROPS:
            problem = f"{len(self.crops)} crops"
        elif any(b.frame < a.frame for a, b in zip(self.crops, self.crops[1:], strict=False)):
            problem = "crops out of frame order"
        elif any(c.box[2] <= c.box[0] or c.box[3] <= c.box[1] or min(c.box) < 0 for c in self.crops):
            problem = "an empty box"
        elif (self.codec, self.picture in YUV_FORMATS) not in {(H264, True), (FFV1, False), (WEBP, False)}:
            problem = f"codec {self.codec!r} for pictures {self.picture!r}"
        elif self.picture != RGB and self.picture not in YUV_FORMATS:
            problem = f"picture format {self.picture!r}"
        elif self.turns not in range(4) or min(self.size) < 1:
            problem = "its geometry"
        elif self.picture in YUV_FORMATS and (self.colour is None or self.frame_size is None):
            problem = "no colour or frame size for 4:2:0 samples"
        elif any(not self._fits(c) for c in self.crops):
            problem = "a crop outside its canvas"
        elif any(c.ellipse is not None and not _holds(c.ellipse, c.box) for c in self.crops):
            problem = "an ellipse that does not hold its box"
        if problem is not None:
            raise VaultError(f"vault segment {self.seq} is damaged ({problem})")

    def coded_size(self, crop: Crop) -> tuple[int, int]:
        """Width and height of ``crop`` as coded (stored orientation, even bounds for 4:2:0)."""
        x1, y1, x2, y2 = even(crop.box) if self.picture in YUV_FORMATS else crop.box
        return (y2 - y1, x2 - x1) if self.turns % 2 else (x2 - x1, y2 - y1)

    def coded_box(self, crop: Crop) -> Box:
        """``crop``'s box as coded: on even bounds in the stored frame for 4:2:0, else upright."""
        if self.picture not in YUV_FORMATS or self.frame_size is None:
            return crop.box
        return to_stored(even(crop.box), self.turns, *self.frame_size)

    def place(self, crop: Crop) -> tuple[int, int]:
        """Column and row of ``crop``'s coded samples on the canvas."""
        if self.origin is None:
            return 0, 0
        x1, y1, _, _ = self.coded_box(crop)
        return x1 - self.origin[0], y1 - self.origin[1]

    def _fits(self, crop: Crop) -> bool:
        left, top = self.place(crop)
        width, height = self.coded_size(crop)
        chroma = self.picture in YUV_FORMATS and (left % 2 or top % 2)
        return not chroma and left >= 0 and top >= 0 and left + width <= self.size[0] and top + height <= self.size[1]


def _holds(outer: Box, inner: Box) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def even(box: Box) -> Box:
    """``box`` grown to even bounds: the 4:2:0 samples that hold its pixels (frames with 4:2:0
    samples have even sizes, so this never leaves the frame)."""
    x1, y1, x2, y2 = box
    return x1 - x1 % 2, y1 - y1 % 2, x2 + x2 % 2, y2 + y2 % 2


def v1_meta(d: dict[str, Any]) -> tuple[SegmentMeta, dict[str, Any]]:
    """A format-1 block's meta as a one-crop segment, and the meta dict its AAD was made of."""
    try:
        x1, y1, x2, y2 = (int(v) for v in d["box"])
        seq, frame = int(d["seq"]), int(d["frame"])
        pts = None if d["pts"] is None else int(d["pts"])
        track = None if d["track"] is None else str(d["track"])
        kind = str(d["kind"])
    except (KeyError, TypeError, ValueError) as err:
        raise VaultError(f"a vault block is damaged ({err})") from None
    plain = {"seq": seq, "frame": frame, "pts": pts, "track": track, "kind": kind, "box": [x1, y1, x2, y2]}
    crop = Crop(frame, pts, (x1, y1, x2, y2))
    meta = SegmentMeta(seq, track, kind, WEBP, RGB, None, 0, None, (x2 - x1, y2 - y1), (crop,))
    meta.check()
    return meta, plain


def aad(header: Header, meta: SegmentMeta) -> bytes:
    """Associated data of a segment: its place (meta) inside this dataset and this vault."""
    return canonical({"dataset_id": header.dataset_id, "vault_id": header.vault_id, "segment": meta.as_dict()})


def track_key(key: MasterKey, header: Header, track: str | None) -> bytes:
    """The AES key of one track's segments; untracked regions share one key of their own."""
    name = track if track is not None else "~untracked"
    return key.derive("vault-track", f"{header.dataset_id}/{header.vault_id}/{name}")


def mac_key(key: MasterKey, dataset_id: str, vault_id: str) -> bytes:
    return key.derive("vault-mac", f"{dataset_id}/{vault_id}")


def sized(payload: bytes) -> bytes:
    """``payload`` prefixed by its length."""
    return struct.pack(">I", len(payload)) + payload


def pack(tag: bytes, payload: bytes) -> bytes:
    return tag + sized(payload)


def _read_exact(fh: IO[bytes], n: int, what: str) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise VaultError(f"the vault is truncated (in {what})")
    return data


def _read_len(fh: IO[bytes], limit: int, what: str) -> int:
    (n,) = struct.unpack(">I", _read_exact(fh, 4, what))
    if n > limit:
        raise VaultError(f"the vault is damaged ({what} claims {n} bytes)")
    return int(n)


def _json(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise VaultError(f"the vault is damaged ({what} is not valid JSON)") from None
    if not isinstance(value, dict):
        raise VaultError(f"the vault is damaged ({what} is not an object)")
    return value


@dataclass(frozen=True, slots=True)
class Segment:
    """A segment as read: its meta, the associated data it was sealed with, and where its
    sealed bytes (nonce + ciphertext) are in the file."""

    meta: SegmentMeta
    aad: bytes
    data_at: int
    data_len: int


@dataclass(frozen=True, slots=True)
class Placed:
    """One crop of a segment, as met in frame order."""

    segment: Segment
    index: int

    @property
    def crop(self) -> Crop:
        return self.segment.meta.crops[self.index]

    @property
    def track(self) -> str | None:
        return self.segment.meta.track

    @property
    def kind(self) -> str:
        return self.segment.meta.kind


@dataclass(frozen=True, slots=True)
class RegionInfo:
    """What the plain metas say about one sealed region (no pixels)."""

    frame: int
    pts: int | None
    track: str | None
    kind: str
    box: Box
    #: see ``Crop.ellipse``
    ellipse: Box | None = None

    def inside(self) -> Array | None:
        """Which pixels of ``box`` were masked and sealed (``Crop.inside``); None: all."""
        return Crop(self.frame, self.pts, self.box, self.ellipse).inside()


class VaultFile:
    """Reads a vault of format 1 or 2: header, segments, trailer, and checks the whole-file MAC.

    ``scan`` walks the file once (metas only) and keeps, per segment, its offset and first and
    last frames: 24 bytes each, so the index of a long video stays small. ``frames`` then merges
    the segments in frame order, holding only the metas of segments that span the current frame.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fh: IO[bytes] = path.open("rb")
        except FileNotFoundError:
            raise VaultError(f"vault not found: {path}") from None
        except IsADirectoryError:
            raise VaultError(f"{path} is a folder, not a vault") from None
        except OSError as err:
            raise VaultError(f"cannot read vault {path}: {err.strerror}") from None
        try:
            version = MAGICS.get(self._fh.read(len(MAGIC)))
            if version is None:
                raise VaultError(f"{path} is not a gamyeon vault")
            self.version = version
            n = _read_len(self._fh, MAX_JSON, "header")
            self.header = Header.from_dict(_json(_read_exact(self._fh, n, "header"), "header"), version)
        except BaseException:
            self._fh.close()
            raise
        self._blocks_at = self._fh.tell()
        self.trailer: dict[str, Any] | None = None
        self._offsets = array("q")
        self._first = array("q")
        self._last = array("q")
        self._scanned = False

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> VaultFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _record(self, expected: int) -> Segment | None:
        """The segment at the current position (its sealed bytes skipped), or None at the
        trailer, which is then read and checked."""
        fh = self._fh
        tag = _read_exact(fh, 1, "segment tag")
        if tag == TRAILER:
            n = _read_len(fh, MAX_JSON, "trailer")
            self.trailer = _json(_read_exact(fh, n, "trailer"), "trailer")
            _read_exact(fh, MAC_BYTES, "MAC")
            if fh.read(1):
                raise VaultError("the vault has bytes after its end (appended or damaged)")
            if self.trailer.get("blocks") != expected:
                raise VaultError("the vault's segment count does not match its trailer (segments removed or added)")
            return None
        if tag != (BLOCK if self.version == 1 else SEGMENT):
            raise VaultError("the vault is damaged (unknown segment tag)")
        n = _read_len(fh, MAX_JSON, "segment meta")
        raw = _json(_read_exact(fh, n, "segment meta"), "segment meta")
        if self.version == 1:
            meta, plain = v1_meta(raw)
            ids = {"dataset_id": self.header.dataset_id, "vault_id": self.header.vault_id}
            associated = canonical({**ids, "meta": plain})
        else:
            meta = SegmentMeta.from_dict(raw, self.version)
            associated = aad(self.header, meta)
        if meta.seq != expected:
            raise VaultError(f"vault segment {expected} is out of place (segments reordered, removed or added)")
        n = _read_len(fh, MAX_BLOCK, "segment data")
        at = fh.tell()
        fh.seek(n, 1)
        return Segment(meta, associated, at, n)

    def scan(self) -> None:
        """Read every meta and the trailer once: checks the structure and builds the index."""
        self._fh.seek(self._blocks_at)
        offsets, first, last = array("q"), array("q"), array("q")
        self._offsets, self._first, self._last = offsets, first, last
        while True:
            at = self._fh.tell()
            segment = self._record(len(offsets))
            if segment is None:
                break
            offsets.append(at)
            first.append(segment.meta.first_frame)
            last.append(segment.meta.last_frame)
        self._scanned = True

    @property
    def segment_count(self) -> int:
        return len(self._offsets)

    def segment(self, index: int) -> Segment:
        """The ``index``-th segment in file order (after ``scan``)."""
        self._fh.seek(self._offsets[index])
        segment = self._record(index)
        if segment is None:  # the file changed under us since scan
            raise VaultError(f"vault segment {index} is missing")
        return segment

    def sealed(self, segment: Segment) -> bytes:
        """The nonce and ciphertext of ``segment``."""
        self._fh.seek(segment.data_at)
        return _read_exact(self._fh, segment.data_len, "segment data")

    def frames(self) -> Iterator[tuple[int, list[Placed]]]:
        """Every frame that has sealed regions, in frame order, with its crops.

        Segments are opened when the merge reaches their first frame and dropped after their
        last, so memory follows the segments open at once, not the length of the video."""
        if not self._scanned:
            self.scan()
        order = sorted(range(len(self._offsets)), key=lambda i: (self._first[i], i))
        following = 0
        active: list[tuple[Segment, int]] = []  # (segment, index of its next crop)
        while following < len(order) or active:
            upcoming = [seg.meta.crops[i].frame for seg, i in active]
            if following < len(order):
                upcoming.append(self._first[order[following]])
            frame = min(upcoming)
            while following < len(order) and self._first[order[following]] == frame:
                active.append((self.segment(order[following]), 0))
                following += 1
            placed: list[Placed] = []
            still: list[tuple[Segment, int]] = []
            for seg, i in active:
                crops = seg.meta.crops
                while i < len(crops) and crops[i].frame == frame:
                    placed.append(Placed(seg, i))
                    i += 1
                if i < len(crops):
                    still.append((seg, i))
            active = still
            yield frame, placed

    def regions(self) -> Iterator[RegionInfo]:
        """Every sealed region in frame order, from the plain metas."""
        for _frame, placed in self.frames():
            for p in placed:
                c = p.crop
                yield RegionInfo(c.frame, c.pts, p.track, p.kind, c.box, c.ellipse)

    def check_mac(self, key: MasterKey) -> None:
        """Authenticate the whole file before anything in it is trusted or decrypted."""
        fh = self._fh
        size = fh.seek(0, 2)
        if size < len(MAGIC) + MAC_BYTES:
            raise VaultError("the vault is truncated")
        fh.seek(0)
        mac = hmac.new(mac_key(key, self.header.dataset_id, self.header.vault_id), digestmod=hashlib.sha256)
        remaining = size - MAC_BYTES
        while remaining:
            chunk = fh.read(min(remaining, 1 << 20))
            if not chunk:
                raise VaultError("the vault is truncated")
            mac.update(chunk)
            remaining -= len(chunk)
        if not hmac.compare_digest(mac.digest(), fh.read(MAC_BYTES)):
            raise VaultError(
                f"the vault {self.path} failed authentication: it was changed, truncated or extended after sealing"
            )
