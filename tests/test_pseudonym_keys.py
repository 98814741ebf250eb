"""Pseudonymous track ids (HMAC per dataset) and key files (0600, never overwritten, validated)."""

from __future__ import annotations

import base64
import os
import re
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gamyeon.errors import GamyeonError, KeyFileError
from gamyeon.keys import HEADER, KEY_BYTES, MasterKey, read_key, write_key
from gamyeon.pseudonym import Pseudonymizer

KEY_A = MasterKey(bytes(range(32)))
KEY_B = MasterKey(bytes(range(1, 33)))
names = st.text(min_size=0, max_size=20)


@settings(max_examples=60, deadline=None)
@given(dataset=names, source=names, kind=st.sampled_from(["face", "plate"]), track=st.integers(0, 10**9))
def test_same_inputs_same_id_and_format(dataset: str, source: str, kind: str, track: int) -> None:
    first = Pseudonymizer(KEY_A, dataset).track_id(source, kind, track)
    again = Pseudonymizer(MasterKey(bytes(range(32))), dataset).track_id(source, kind, track)
    assert first == again
    assert re.fullmatch(r"[0-9a-f]{16}", first)


@settings(max_examples=60, deadline=None)
@given(dataset=names, other=names, source=names, track=st.integers(0, 10**6))
def test_different_dataset_or_key_gives_different_ids(dataset: str, other: str, source: str, track: int) -> None:
    base = Pseudonymizer(KEY_A, dataset).track_id(source, "face", track)
    assert Pseudonymizer(KEY_B, dataset).track_id(source, "face", track) != base
    if other != dataset:
        assert Pseudonymizer(KEY_A, other).track_id(source, "face", track) != base


def test_different_track_kind_or_source_gives_different_ids() -> None:
    p = Pseudonymizer(KEY_A, "ds")
    ids = {
        p.track_id("a.mp4", "face", 1),
        p.track_id("a.mp4", "face", 2),
        p.track_id("a.mp4", "plate", 1),
        p.track_id("b.mp4", "face", 1),
        p.track_id("a.mp4", "face", 12),
        p.track_id("a.mp4", "face1", 2),
    }
    assert len(ids) == 6


def test_ids_do_not_reveal_the_track_number_or_key() -> None:
    p = Pseudonymizer(KEY_A, "ds")
    text = repr(p) + str(p)
    assert KEY_A.secret.hex() not in text and "ds" in text
    assert p.track_id("a", "face", 1)[:8] != p.track_id("a", "face", 2)[:8]


def secret_forms(key: MasterKey) -> list[str]:
    return [
        key.secret.hex(),
        key.secret.hex().upper(),
        base64.b64encode(key.secret).decode(),
        base64.urlsafe_b64encode(key.secret).decode().rstrip("="),
        repr(key.secret),
    ]


@pytest.mark.parametrize("key", [KEY_A, MasterKey.generate()])
def test_master_key_never_shows_its_bytes(key: MasterKey) -> None:
    shown = [repr(key), str(key), f"{key}", f"{key!r}", repr([key]), repr({"k": key})]
    for text in shown:
        assert "fingerprint" in text
        for form in secret_forms(key):
            assert form not in text, f"{form!r} leaked in {text!r}"
    assert re.fullmatch(r"[0-9a-f]{16}", key.fingerprint)
    assert key.fingerprint != MasterKey(bytes(32)).fingerprint


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_master_key_must_be_32_bytes(size: int) -> None:
    with pytest.raises(KeyFileError, match=str(size)):
        MasterKey(bytes(size))


def test_derive_separates_purposes_and_contexts() -> None:
    keys = {KEY_A.derive("pseudonym", "a"), KEY_A.derive("pseudonym", "b"), KEY_A.derive("other", "a")}
    assert len(keys) == 3
    assert all(len(k) == KEY_BYTES and k != KEY_A.secret for k in keys)


def test_write_key_round_trip_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    key = MasterKey.generate()
    old = os.umask(0o022)
    try:
        write_key(key, path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="ascii").splitlines()[0] == HEADER
    assert read_key(path) == key


def test_write_key_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    path.write_text("precious", encoding="utf-8")
    with pytest.raises(KeyFileError, match="overwrite"):
        write_key(MasterKey.generate(), path)
    assert path.read_text(encoding="utf-8") == "precious"
    existing = tmp_path / "e.key"
    write_key(KEY_A, existing)
    with pytest.raises(KeyFileError):
        write_key(KEY_B, existing)
    assert read_key(existing) == KEY_A


def test_write_key_into_missing_folder_is_a_key_file_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot create"):
        write_key(KEY_A, tmp_path / "no" / "such" / "k.key")


GOOD = base64.b64encode(bytes(range(32))).decode()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "not a gamyeon key file"),
        (b"hello world\n", "not a gamyeon key file"),
        (f"gamyeon-key-v2\n{GOOD}\n".encode(), "not a gamyeon key file"),
        (f"{GOOD}\n".encode(), "not a gamyeon key file"),
        (f"{HEADER}\n".encode(), "not a gamyeon key file"),
        (f"{HEADER}\n{GOOD}\n{GOOD}\n".encode(), "not a gamyeon key file"),
        (f"{HEADER}\n!!!not-base64!!!\n".encode(), "base64"),
        (f"{HEADER}\n{base64.b64encode(bytes(16)).decode()}\n".encode(), "32 bytes"),
        (b"\x00\xff\xfe\x80garbage", "cannot read"),
        (bytes(range(128)), "not a gamyeon key file"),
        (bytes(range(256)), "cannot read"),
    ],
)
def test_read_key_rejects_garbage(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    with pytest.raises(KeyFileError, match=match) as info:
        read_key(path)
    assert isinstance(info.value, GamyeonError)
    assert GOOD not in str(info.value)  # an error never echoes key material


def test_read_key_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="not found"):
        read_key(tmp_path / "absent.key")
