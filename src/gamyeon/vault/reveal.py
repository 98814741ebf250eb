"""Reveal: restore the original pixels of named tracks only; everyone else stays masked.

Order of checks, all before any output exists: the key is the vault's key (fingerprint), the
whole vault authenticates (MAC), and the anonymized file is the one the vault was made for
(SHA-256 in the vault's trailer). Then the video is re-encoded frame by frame: the named tracks'
crops are decrypted (a segment at a time, each authenticated against its place) and their sealed
pixels pasted, after which the masked pixels of every other region on that frame are put back on
top, so an overlap never uncovers someone who was not named.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gamyeon.errors import UsageError, VaultError
from gamyeon.infra.files import is_image, sha256_file, shred
from gamyeon.keys import MasterKey
from gamyeon.media.decode import AudioPacket, VideoReader, to_rgb
from gamyeon.media.encode import CODECS, EncodeSettings, VideoWriter
from gamyeon.media.geometry import rotate_view
from gamyeon.media.images import load_image, save_image, upright_view
from gamyeon.types import Array
from gamyeon.vault import codec
from gamyeon.vault.format import NONCE_BYTES, Box, Placed, Segment, VaultFile, track_key

log = logging.getLogger(__name__)

LOSSLESS_SUFFIXES = {".mkv"}
LOSSLESS_IMAGE_SUFFIXES = {".png", ".bmp", ".tif", ".tiff"}


@dataclass(frozen=True, slots=True)
class TrackInfo:
    track: str
    kind: str
    first_frame: int
    last_frame: int
    first_time: float | None
    last_time: float | None
    frames: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "track": self.track,
            "kind": self.kind,
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "first_time": self.first_time,
            "last_time": self.last_time,
            "frames": self.frames,
        }


@dataclass(slots=True)
class RevealResult:
    dataset_id: str
    vault_id: str
    tracks: list[str]
    frames: int = 0
    regions_revealed: int = 0
    regions_kept_masked: int = 0
    lossless: bool = False
    frames_with_track: set[int] = field(default_factory=set)
    anonymized_sha256: str = ""


def open_vault(path: Path, key: MasterKey | None) -> VaultFile:
    """The vault, with key and whole-file MAC checked when a key is given."""
    vault = VaultFile(path)
    try:
        if key is not None:
            if key.fingerprint != vault.header.key_fingerprint:
                raise VaultError(
                    f"wrong key: the vault was sealed with key {vault.header.key_fingerprint}, "
                    f"the key given is {key.fingerprint}"
                )
            vault.check_mac(key)
        # read to the end once: the trailer (index, output hash) and the structure are checked
        vault.scan()
    except BaseException:
        vault.close()
        raise
    return vault


def _time(pts: Any, time_base: Fraction | None) -> float | None:
    if pts is None or time_base is None:
        return None
    return round(float(int(pts) * time_base), 6)


def list_tracks(vault: VaultFile) -> list[TrackInfo]:
    trailer = vault.trailer or {}
    tb_text = trailer.get("time_base")
    tb = Fraction(tb_text) if tb_text else None
    tracks = []
    for track, t in sorted(trailer.get("tracks", {}).items(), key=lambda kv: (kv[1]["first_frame"], kv[0])):
        tracks.append(
            TrackInfo(
                track=track,
                kind=str(t["kind"]),
                first_frame=int(t["first_frame"]),
                last_frame=int(t["last_frame"]),
                first_time=_time(t.get("first_pts"), tb),
                last_time=_time(t.get("last_pts"), tb),
                frames=int(t["frames"]),
            )
        )
    return tracks


def check_binding(vault: VaultFile, anonymized: Path) -> str:
    """The vault must belong to exactly this anonymized file; returns the file's SHA-256."""
    expected = (vault.trailer or {}).get("output_sha256")
    digest = sha256_file(anonymized)
    if expected != digest:
        raise VaultError(
            f"the vault {vault.path} does not belong to {anonymized} "
            "(it was sealed for another file, or this file was changed after anonymizing)"
        )
    return digest


def check_tracks(vault: VaultFile, wanted: list[str]) -> None:
    known = {t.track for t in list_tracks(vault)}
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise UsageError(f"no such track in the vault: {', '.join(unknown)} (see `gamyeon reveal --list`)")


class _Opener:
    """Decrypts the segments of the named tracks only; holds keys for those tracks and no other.

    A segment is decrypted and decoded when its first crop is needed and kept until ``forget``
    passes its last frame, so a reveal holds only the segments that span the current frame."""

    def __init__(self, key: MasterKey, vault: VaultFile, wanted: set[str]) -> None:
        self._vault = vault
        self._aeads = {t: AESGCM(track_key(key, vault.header, t)) for t in wanted}
        self._decoded: dict[int, tuple[Segment, list[av.VideoFrame] | list[Array]]] = {}

    def wants(self, placed: Placed) -> bool:
        return placed.track in self._aeads

    def _coded(self, segment: Segment) -> list[av.VideoFrame] | list[Array]:
        meta = segment.meta
        found = self._decoded.get(meta.seq)
        if found is not None:
            return found[1]
        aead = self._aeads[meta.track]  # type: ignore[index]
        sealed = self._vault.sealed(segment)
        nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        try:
            payload = aead.decrypt(nonce, body, segment.aad)
        except InvalidTag:
            raise VaultError(f"vault segment {meta.seq} failed authentication (tampered or moved)") from None
        coded = codec.decode(meta, payload)
        self._decoded[meta.seq] = (segment, coded)
        return coded

    def crop(self, placed: Placed) -> Array:
        """The original upright RGB pixels of ``placed``'s box."""
        coded = self._coded(placed.segment)
        pixels = codec.upright(placed.segment.meta, coded[placed.index], placed.crop)
        x1, y1, x2, y2 = placed.crop.box
        if pixels.shape != (y2 - y1, x2 - x1, 3):
            raise VaultError(f"vault segment {placed.segment.meta.seq} does not hold a crop of its box")
        return pixels

    def forget(self, before: int) -> None:
        """Drop decoded segments that end before frame ``before``."""
        for seq in [s for s, (seg, _) in self._decoded.items() if seg.meta.last_frame < before]:
            del self._decoded[seq]


def _paste(view: Array, box: Box, pixels: Array, inside: Array | None) -> None:
    x1, y1, x2, y2 = box
    if inside is None:
        view[y1:y2, x1:x2] = pixels
    else:
        np.copyto(view[y1:y2, x1:x2], pixels, where=inside[..., None])


def restore(view: Array, placed: list[Placed], opener: _Opener, result: RevealResult) -> bool:
    """Paste the named tracks' originals into the upright ``view``, then put every other region's
    masked pixels back on top. Only sealed pixels are pasted (``Crop.inside``: of an ellipse, the
    pixels inside it); the rest of a box stays as the output has it. Returns whether anything was
    revealed."""
    mine = [p for p in placed if opener.wants(p)]
    if not mine:
        return False
    others = [p.crop for p in placed if not opener.wants(p)]
    keep = [(c.box, view[c.box[1] : c.box[3], c.box[0] : c.box[2]].copy(), c.inside()) for c in others]
    height, width = view.shape[:2]
    for p in mine:
        _, _, x2, y2 = p.crop.box
        if x2 > width or y2 > height:
            raise VaultError(f"vault segment {p.segment.meta.seq} lies outside the picture: wrong video")
        _paste(view, p.crop.box, opener.crop(p), p.crop.inside())
    for box, pixels, inside in keep:
        _paste(view, box, pixels, inside)
    result.regions_revealed += len(mine)
    result.regions_kept_masked += len(others)
    return True


def _settings(codec: str, lossless: bool, suffix: str) -> EncodeSettings:
    if lossless:
        if suffix not in LOSSLESS_SUFFIXES:
            raise UsageError(f"--lossless writes FFV1 RGB, which needs an .mkv output, got {suffix!r}")
        return EncodeSettings(codec="ffv1", pix_fmt="bgr0")
    return EncodeSettings(codec=codec if codec in CODECS else None)


def reveal_video(
    anonymized: Path,
    vault: VaultFile,
    opener: _Opener,
    output_tmp: Path,
    *,
    suffix: str,
    lossless: bool,
    result: RevealResult,
    progress: Callable[[int], None],
) -> None:
    with VideoReader(anonymized, keep_audio=True) as reader:
        info = reader.info
        writer = VideoWriter(
            output_tmp,
            info,
            _settings(info.codec, lossless, suffix),
            suffix=suffix,
            matrix=reader.matrix,
            audio=reader.audio,
            metadata=reader.metadata,
            positional_shift=reader.positional_shift,
        )
        try:
            frames = vault.frames()
            pending = next(frames, None)
            for entry in reader:
                if isinstance(entry, AudioPacket):
                    writer.write_audio(entry.packet)
                    continue
                if entry.frame is None:
                    raise VaultError(f"frame {entry.index} of {anonymized} cannot be decoded; nothing was revealed")
                placed: list[Placed] = []
                if pending is not None and pending[0] < entry.index:
                    raise VaultError(f"the vault does not match {anonymized} (frame order differs)")
                if pending is not None and pending[0] == entry.index:
                    placed = pending[1]
                    pending = next(frames, None)
                opener.forget(entry.index)
                rgb = to_rgb(entry.frame)
                if restore(rotate_view(rgb, info.rotation), placed, opener, result):
                    result.frames_with_track.add(entry.index)
                    writer.write(rgb, entry.pts)
                else:
                    writer.write(rgb if lossless else entry.frame, entry.pts)
                result.frames += 1
                progress(1)
            if pending is not None:
                raise VaultError(f"the vault has regions for frames past the end of {anonymized}")
            writer.close()
        except BaseException:
            writer.abort()
            raise


def reveal_image(
    anonymized: Path,
    vault: VaultFile,
    opener: _Opener,
    output_tmp: Path,
    *,
    suffix: str,
    lossless: bool,
    result: RevealResult,
) -> None:
    if lossless and suffix not in LOSSLESS_IMAGE_SUFFIXES:
        raise UsageError(f"--lossless needs a lossless image output ({', '.join(sorted(LOSSLESS_IMAGE_SUFFIXES))})")
    image = load_image(anonymized)
    view = upright_view(image.pixels, image.orientation)
    placed = [p for _frame, group in vault.frames() for p in group]
    if any(p.crop.frame != 0 for p in placed):
        raise VaultError(f"the vault {vault.path} was made for a video, not an image")
    if restore(view, placed, opener, result):
        result.frames_with_track.add(0)
    save_image(image.pixels, output_tmp, suffix, image, keep_metadata=False)
    result.frames = 1


def reveal(
    anonymized: Path,
    vault: VaultFile,
    key: MasterKey,
    tracks: list[str],
    output_tmp: Path,
    *,
    suffix: str,
    lossless: bool,
    progress: Callable[[int], None],
) -> RevealResult:
    """Write ``output_tmp``: ``anonymized`` with ``tracks`` restored from ``vault`` (already opened
    with ``key`` by ``open_vault``)."""
    digest = check_binding(vault, anonymized)
    check_tracks(vault, tracks)
    result = RevealResult(
        vault.header.dataset_id, vault.header.vault_id, sorted(set(tracks)), lossless=lossless, anonymized_sha256=digest
    )
    opener = _Opener(key, vault, set(tracks))
    if is_image(anonymized):
        reveal_image(anonymized, vault, opener, output_tmp, suffix=suffix, lossless=lossless, result=result)
    else:
        reveal_video(
            anonymized, vault, opener, output_tmp, suffix=suffix, lossless=lossless, result=result, progress=progress
        )
    return result


def destroy(path: Path, key: MasterKey) -> dict[str, Any]:
    """Overwrite the vault with random bytes, flush it to disk and delete it.

    The key holder must prove they hold the vault's key (MAC check), so a stray command cannot
    destroy someone else's vault by mistake. Returns what the ledger records about it.
    """
    with open_vault(path, key) as vault:
        facts = {
            "dataset_id": vault.header.dataset_id,
            "vault_id": vault.header.vault_id,
            "vault": str(path),
            "vault_sha256": sha256_file(path),
            "bytes": path.stat().st_size,
            "tracks": len((vault.trailer or {}).get("tracks", {})),
            "key_fingerprint": vault.header.key_fingerprint,
        }
    shred(path)
    return facts
