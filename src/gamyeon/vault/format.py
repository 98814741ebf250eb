"""The vault file: the original pixels of every masked region, each sealed on its own.

Layout (all integers big-endian)::

    MAGIC                                   8 bytes  b"GMVAULT1"
    u32 length, header JSON                 dataset id, vault id, key fingerprint, cipher, codec
    repeated blocks:
        b"B", u32 length, meta JSON         seq, frame, pts, track (pseudonym), kind, box, shape
        u32 length, nonce(12) + ciphertext  AES-256-GCM of the lossless WebP of the crop
    b"T", u32 length, trailer JSON          block count, output SHA-256, per-track index
    HMAC-SHA256 (32 bytes)                  over every byte before it

Why this shape:
- Each block's key is derived for its **track** (HKDF over the master key, the dataset, the vault
  and the track's pseudonym), so revealing one track never needs a key that opens another.
- Each block's associated data is its own meta plus the header's ids, so a block moved to another
  region, frame, track, position or vault fails authentication.
- The trailing HMAC (a key derived per vault) covers the whole file, so truncation, appended
  bytes, deleted, duplicated or swapped blocks are detected before a single pixel is decrypted.
- Metas are plain: ``reveal --list`` and the masking of other tracks need boxes, not pixels, and the
  same boxes are already in the annotations sidecar.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from gamyeon.errors import VaultError
from gamyeon.keys import MasterKey

MAGIC = b"GMVAULT1"
BLOCK, TRAILER = b"B", b"T"
MAC_BYTES = 32
NONCE_BYTES = 12
CIPHER = "AES-256-GCM"
CODEC = "webp-lossless"
#: a meta or header longer than this is damage, not data (keeps a corrupt length from eating memory)
MAX_JSON = 1 << 20
#: the largest sealed crop: a whole 8K RGB frame as an uncompressed PNG, plus slack
MAX_BLOCK = 8192 * 4320 * 3 + (1 << 20)


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
    codec: str = CODEC

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": 1,
            "dataset_id": self.dataset_id,
            "vault_id": self.vault_id,
            "key_fingerprint": self.key_fingerprint,
            "source": self.source,
            "cipher": self.cipher,
            "codec": self.codec,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Header:
        if d.get("format") != 1:
            raise VaultError(f"unsupported vault format {d.get('format')!r}")
        try:
            return cls(
                dataset_id=str(d["dataset_id"]),
                vault_id=str(d["vault_id"]),
                key_fingerprint=str(d["key_fingerprint"]),
                source=str(d["source"]),
                cipher=str(d["cipher"]),
                codec=str(d["codec"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise VaultError(f"the vault header is damaged ({err})") from None


@dataclass(frozen=True, slots=True)
class BlockMeta:
    """Where one sealed crop belongs. ``box`` is integer pixel bounds of the upright picture."""

    seq: int
    frame: int
    pts: int | None
    track: str | None
    kind: str
    box: tuple[int, int, int, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "frame": self.frame,
            "pts": self.pts,
            "track": self.track,
            "kind": self.kind,
            "box": list(self.box),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BlockMeta:
        try:
            x1, y1, x2, y2 = (int(v) for v in d["box"])
            return cls(
                seq=int(d["seq"]),
                frame=int(d["frame"]),
                pts=None if d["pts"] is None else int(d["pts"]),
                track=None if d["track"] is None else str(d["track"]),
                kind=str(d["kind"]),
                box=(x1, y1, x2, y2),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise VaultError(f"a vault block is damaged ({err})") from None


def aad(header: Header, meta: BlockMeta) -> bytes:
    """Associated data of a block: its place (meta) inside this dataset and this vault."""
    return canonical({"dataset_id": header.dataset_id, "vault_id": header.vault_id, "meta": meta.as_dict()})


def track_key(key: MasterKey, header: Header, track: str | None) -> bytes:
    """The AES key of one track's blocks; untracked regions share one key of their own."""
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
class Block:
    meta: BlockMeta
    sealed: bytes  # nonce + ciphertext; empty when read with ``skip_pixels``


class VaultFile:
    """Reads a vault: header, blocks in frame order, trailer, and checks the whole-file MAC."""

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
            if self._fh.read(len(MAGIC)) != MAGIC:
                raise VaultError(f"{path} is not a gamyeon vault")
            n = _read_len(self._fh, MAX_JSON, "header")
            self.header = Header.from_dict(_json(_read_exact(self._fh, n, "header"), "header"))
        except BaseException:
            self._fh.close()
            raise
        self._blocks_at = self._fh.tell()
        self.trailer: dict[str, Any] | None = None

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> VaultFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def blocks(self, *, skip_pixels: bool = False) -> Iterator[Block]:
        """Every block in file order; sets ``trailer`` when the end is reached."""
        fh = self._fh
        fh.seek(self._blocks_at)
        expected = 0
        while True:
            tag = _read_exact(fh, 1, "block tag")
            if tag == TRAILER:
                n = _read_len(fh, MAX_JSON, "trailer")
                self.trailer = _json(_read_exact(fh, n, "trailer"), "trailer")
                _read_exact(fh, MAC_BYTES, "MAC")
                if fh.read(1):
                    raise VaultError("the vault has bytes after its end (appended or damaged)")
                if self.trailer.get("blocks") != expected:
                    raise VaultError("the vault's block count does not match its trailer (blocks removed or added)")
                return
            if tag != BLOCK:
                raise VaultError("the vault is damaged (unknown block tag)")
            n = _read_len(fh, MAX_JSON, "block meta")
            meta = BlockMeta.from_dict(_json(_read_exact(fh, n, "block meta"), "block meta"))
            if meta.seq != expected:
                raise VaultError(f"vault block {expected} is out of place (blocks reordered, removed or added)")
            expected += 1
            n = _read_len(fh, MAX_BLOCK, "block data")
            if skip_pixels:
                fh.seek(n, 1)
                sealed = b""
            else:
                sealed = _read_exact(fh, n, "block data")
            yield Block(meta, sealed)

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
