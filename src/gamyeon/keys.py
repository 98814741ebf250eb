"""Key material: a 256-bit master key per key file, and HKDF-derived keys per dataset and purpose.

Key bytes live only in key files and in memory. ``MasterKey`` never shows them: its repr and str
carry only a fingerprint (the first bytes of SHA-256 over a derived, non-secret value), which is
what logs, annotations and records may show.

File format (text, mode 0600)::

    gamyeon-key-v1
    <base64 of 32 random bytes>

or, wrapped with a passphrase (scrypt n=2**15, r=8, p=1 derives a key-encryption key; AES-256-GCM
seals the master key, its header line is the associated data)::

    gamyeon-key-v1-scrypt
    <base64 of salt(16) | nonce(12) | ciphertext+tag(48)>

A passphrase comes from ``$GAMYEON_KEY_PASSPHRASE`` or, on a terminal, a prompt.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import hashlib
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from gamyeon.errors import KeyFileError

HEADER = "gamyeon-key-v1"
WRAPPED_HEADER = "gamyeon-key-v1-scrypt"
KEY_BYTES = 32
PASSPHRASE_ENV = "GAMYEON_KEY_PASSPHRASE"
#: scrypt cost: about 0.1 s and 32 MiB per unwrap, the interactive-login level of RFC 7914
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SALT_BYTES, NONCE_BYTES = 16, 12


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

    def mask_secret(self, dataset_id: str, relative: object) -> bytes:
        """The secret that seeds the operators' randomness (mosaic grid, noise) of one file:
        per file, so that one file's grids say nothing about another's, and derived from the
        key so that only the key holder can reproduce an output. Every path that writes an
        output (``anonymize``, batch whole files and chunks) must use this one derivation, or the
        same file masked twice differs."""
        return self.derive("mask-seed", f"{dataset_id}/{relative}")

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(KEY_BYTES))


def _kek(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=KEY_BYTES, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(passphrase.encode("utf-8"))


def wrap_key(key: MasterKey, passphrase: str) -> bytes:
    """The key file body for ``key`` sealed under ``passphrase``."""
    if not passphrase:
        raise KeyFileError("the passphrase is empty")
    salt, nonce = secrets.token_bytes(SALT_BYTES), secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(_kek(passphrase, salt)).encrypt(nonce, key.secret, WRAPPED_HEADER.encode())
    return salt + nonce + sealed


def unwrap_key(blob: bytes, passphrase: str, path: Path) -> MasterKey:
    salt, nonce, sealed = (
        blob[:SALT_BYTES],
        blob[SALT_BYTES : SALT_BYTES + NONCE_BYTES],
        blob[SALT_BYTES + NONCE_BYTES :],
    )
    if len(sealed) != KEY_BYTES + 16:
        raise KeyFileError(f"{path} is damaged: the wrapped key has the wrong length")
    try:
        return MasterKey(AESGCM(_kek(passphrase, salt)).decrypt(nonce, sealed, WRAPPED_HEADER.encode()))
    except InvalidTag:
        raise KeyFileError(f"wrong passphrase for {path} (or the key file is damaged)") from None


def ask_passphrase(prompt: str, *, confirm: bool = False) -> str:
    """The passphrase from ``$GAMYEON_KEY_PASSPHRASE``, else from a terminal prompt."""
    env = os.environ.get(PASSPHRASE_ENV)
    if env is not None:
        return env
    if not sys.stdin.isatty():
        raise KeyFileError(f"a passphrase is needed: set ${PASSPHRASE_ENV} or run on a terminal")
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("repeat passphrase: ") != first:
        raise KeyFileError("the two passphrases differ")
    return first


def write_key(key: MasterKey, path: Path, passphrase: str | None = None) -> None:
    """Write ``key`` to a new file readable only by its owner; never overwrites.

    With ``passphrase`` the key is stored wrapped (see the module docstring).
    """
    if passphrase is None:
        data = f"{HEADER}\n{base64.b64encode(key.secret).decode()}\n".encode()
    else:
        data = f"{WRAPPED_HEADER}\n{base64.b64encode(wrap_key(key, passphrase)).decode()}\n".encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"refusing to overwrite existing key file {path}") from None
    except OSError as err:
        raise KeyFileError(f"cannot create key file {path}: {err.strerror}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def read_key(path: Path, passphrase: str | None = None) -> MasterKey:
    """The master key in ``path``; a wrapped key asks for its passphrase when none is given."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KeyFileError(f"key file not found: {path}") from None
    except IsADirectoryError:
        raise KeyFileError(f"{path} is a folder, not a key file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise KeyFileError(f"cannot read key file {path}: {err}") from None
    return parse_key(text, path, passphrase)


def parse_key(text: str, path: Path, passphrase: str | None = None) -> MasterKey:
    """The master key in a key file's ``text`` (read from ``path``, or handed over another way,
    e.g. uploaded to ``gamyeon review``: ``path`` then only names it in messages)."""
    lines = text.split()
    if len(lines) != 2 or lines[0] not in {HEADER, WRAPPED_HEADER}:
        raise KeyFileError(f"{path} is not a gamyeon key file (expected a '{HEADER}' header)")
    try:
        body = base64.b64decode(lines[1], validate=True)
    except binascii.Error:
        raise KeyFileError(f"{path} is damaged: the key is not valid base64") from None
    if lines[0] == HEADER:
        return MasterKey(body)
    if passphrase is None:
        passphrase = ask_passphrase(f"passphrase for {path}: ")
    return unwrap_key(body, passphrase, path)


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
