"""Key material: a 256-bit master key per key file, and HKDF-derived keys per dataset and purpose.

Key bytes live only in key files and in memory. ``MasterKey`` never shows them: its repr and str
carry only a fingerprint (the first bytes of SHA-256 over a derived, non-secret value), which is
what logs, annotations and records may show.

File format (text, mode 0600)::

    gamyeon-key-v1
    <base64 of 32 random bytes>
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gamyeon.errors import KeyFileError

HEADER = "gamyeon-key-v1"
KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class MasterKey:
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise KeyFileError(f"a master key must be {KEY_BYTES} bytes, got {len(self.secret)}")

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.derive("fingerprint")).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"MasterKey(fingerprint={self.fingerprint})"

    __str__ = __repr__

    def derive(self, purpose: str, context: str = "", length: int = 32) -> bytes:
        """HKDF-SHA256 subkey for ``purpose`` (e.g. 'pseudonym') within ``context`` (a dataset id)."""
        info = f"gamyeon/{purpose}/{context}".encode()
        return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(self.secret)

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(KEY_BYTES))


def write_key(key: MasterKey, path: Path) -> None:
    """Write ``key`` to a new file readable only by its owner; never overwrites."""
    data = f"{HEADER}\n{base64.b64encode(key.secret).decode()}\n".encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"refusing to overwrite existing key file {path}") from None
    except OSError as err:
        raise KeyFileError(f"cannot create key file {path}: {err.strerror}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def read_key(path: Path) -> MasterKey:
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KeyFileError(f"key file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise KeyFileError(f"cannot read key file {path}: {err}") from None
    lines = text.split()
    if len(lines) != 2 or lines[0] != HEADER:
        raise KeyFileError(f"{path} is not a gamyeon key file (expected a '{HEADER}' header)")
    try:
        secret = base64.b64decode(lines[1], validate=True)
    except binascii.Error:
        raise KeyFileError(f"{path} is damaged: the key is not valid base64") from None
    return MasterKey(secret)


def key_store() -> Path:
    """Where generated keys go when the user gives none: apart from any output folder."""
    base = os.environ.get("GAMYEON_KEY_DIR")
    if base:
        return Path(base)
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "gamyeon" / "keys"


def new_stored_key(dataset_id: str) -> tuple[MasterKey, Path]:
    """Generate a key for ``dataset_id`` and store it in the key store (mode 0700 folder)."""
    store = key_store()
    try:
        store.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as err:
        raise KeyFileError(f"cannot create key store {store}: {err.strerror}") from None
    key = MasterKey.generate()
    path = store / f"{dataset_id}.key"
    write_key(key, path)
    return key, path
