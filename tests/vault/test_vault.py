"""Sealed regions and per-track reveal: exactness, tamper evidence, wrong keys, other videos."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import leftovers, make_video
from gamyeon.cli import main
from gamyeon.errors import UsageError, VaultError
from gamyeon.keys import MasterKey, read_key, write_key
from gamyeon.media.decode import DecodedFrame, VideoReader, to_rgb
from gamyeon.operators import Fill, Shape
from gamyeon.types import Box, Region, Source
from gamyeon.vault.format import MAC_BYTES, MAGIC, RegionInfo, VaultFile, mac_key
from gamyeon.vault.reveal import _Opener, list_tracks, open_vault, restore
from gamyeon.vault.writer import VaultWriter

W, H = 96, 64


def region(track: int, box: tuple[int, int, int, int]) -> Region:
    b = Box(*map(float, box))
    return Region("face", b, b, 0.9, track, Source.DETECTED)


def track_name(kind: str, track: int) -> str:
    return f"t{track:02d}"


def write_vault(
    path: Path,
    key: MasterKey,
    frames: list[np.ndarray],
    regions: list[list[Region]],
    *,
    segment_frames: int = 64,
    shape: Shape = Shape.BOX,
) -> VaultWriter:
    writer = VaultWriter(
        path, key, dataset_id="ds1", source="clip.mp4", track_ids=track_name, segment_frames=segment_frames
    )
    for i, (frame, regs) in enumerate(zip(frames, regions, strict=True)):
        writer.seal(i, i * 10, frame, regs, shapes=lambda _kind: shape)
    writer.finish(output_sha256="0" * 64, time_base="1/250")
    return writer


boxes = st.tuples(st.integers(0, W - 2), st.integers(0, H - 2), st.integers(1, 40), st.integers(1, 30)).map(
    lambda b: (b[0], b[1], min(W, b[0] + b[2]), min(H, b[1] + b[3]))
)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    layout=st.lists(st.lists(st.tuples(st.integers(0, 3), boxes), max_size=4), min_size=1, max_size=5),
    wanted=st.sets(st.integers(0, 3), min_size=1, max_size=2),
)
def test_reveal_restores_exactly_the_named_tracks(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    layout: list[list[tuple[int, tuple[int, int, int, int]]]],
    wanted: set[int],
) -> None:
    """Property: after restore, pixels under a named track's box equal the original unless another
    (unnamed) region covers them, which keeps its masked pixels; everything else is unchanged."""
    rng = np.random.default_rng(seed)
    path = tmp_path_factory.mktemp("v") / "x.vault"
    key = MasterKey.generate()
    originals = [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in layout]
    regions = [[region(t, b) for t, b in frame] for frame in layout]
    write_vault(path, key, originals, regions, segment_frames=2)
    names = {track_name("face", t) for t in wanted}
    vault = open_vault(path, key)
    opener = _Opener(key, vault, names & {r.track for r in vault.regions() if r.track is not None})
    by_frame = dict(vault.frames())
    for i, original in enumerate(originals):
        masked = np.zeros_like(original)  # stands in for the anonymized picture
        view = masked.copy()
        restore(view, by_frame.get(i, []), opener, _result())
        expect = masked.copy()
        for r in regions[i]:
            if track_name("face", r.track or 0) in names:
                x1, y1, x2, y2 = r.mask.pixel_bounds(W, H)
                expect[y1:y2, x1:x2] = original[y1:y2, x1:x2]
        if any(track_name("face", r.track or 0) in names for r in regions[i]):
            for r in regions[i]:
                if track_name("face", r.track or 0) not in names:
                    x1, y1, x2, y2 = r.mask.pixel_bounds(W, H)
                    expect[y1:y2, x1:x2] = masked[y1:y2, x1:x2]
        assert np.array_equal(view, expect)
    vault.close()


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    layout=st.lists(st.lists(st.tuples(st.integers(0, 3), boxes), max_size=4), min_size=1, max_size=4),
    wanted=st.sets(st.integers(0, 3), min_size=1, max_size=2),
)
def test_reveal_of_ellipses_restores_exactly_what_was_masked(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    layout: list[list[tuple[int, tuple[int, int, int, int]]]],
    wanted: set[int],
) -> None:
    """Property, with every region masked by an ellipse: after restore, pixels inside a named
    track's ellipse equal the original unless an unnamed region's ellipse covers them; every
    other pixel, the corners of the boxes included, is the anonymized picture's."""
    rng = np.random.default_rng(seed)
    path = tmp_path_factory.mktemp("v") / "x.vault"
    key = MasterKey.generate()
    originals = [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in layout]
    regions = [[region(t, b) for t, b in frame] for frame in layout]
    write_vault(path, key, originals, regions, segment_frames=2, shape=Shape.ELLIPSE)
    names = {track_name("face", t) for t in wanted}
    vault = open_vault(path, key)
    opener = _Opener(key, vault, names & {r.track for r in vault.regions() if r.track is not None})
    by_frame = dict(vault.frames())
    for i, original in enumerate(originals):
        masked = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)  # stands in for the anonymized picture
        view = masked.copy()
        restore(view, by_frame.get(i, []), opener, _result())
        named = np.zeros((H, W), bool)
        unnamed = np.zeros((H, W), bool)
        for r in regions[i]:
            drawn = np.zeros((H, W, 3), np.uint8)
            Fill(color=(255, 255, 255)).apply(drawn, r.mask, Shape.ELLIPSE)
            (named if track_name("face", r.track or 0) in names else unnamed)[...] |= drawn[..., 0] == 255
        expect = masked.copy()
        if named.any():
            expect[named & ~unnamed] = original[named & ~unnamed]
        assert np.array_equal(view, expect)
    vault.close()


def _result():  # type: ignore[no-untyped-def]
    from gamyeon.vault.reveal import RevealResult

    return RevealResult("ds1", "v", [])


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[Path, MasterKey]:
    key = MasterKey.generate()
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(3)]
    regions = [[region(1, (5, 5, 30, 30)), region(2, (40, 10, 70, 50))] for _ in frames]
    path = tmp_path / "x.vault"
    write_vault(path, key, frames, regions, segment_frames=1)  # six segments, in frame order
    return path, key


def blocks_layout(path: Path) -> tuple[bytes, list[tuple[int, int]], bytes]:
    """(head bytes, [(start, end) of each segment], tail bytes from the trailer on)."""
    data = path.read_bytes()
    pos = len(MAGIC)
    (n,) = struct.unpack(">I", data[pos : pos + 4])
    pos += 4 + n
    head_end, spans = pos, []
    while data[pos : pos + 1] == b"S":
        start = pos
        (n,) = struct.unpack(">I", data[pos + 1 : pos + 5])
        pos += 5 + n
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        pos += 4 + n
        spans.append((start, pos))
    return data[:head_end], spans, data[pos:]


def with_mac(path: Path, body: bytes, key: MasterKey) -> None:
    """Rewrite ``path`` as someone holding the key would: body + a valid MAC."""
    import hashlib
    import hmac

    vault = VaultFile(path)
    mk = mac_key(key, vault.header.dataset_id, vault.header.vault_id)
    vault.close()
    path.write_bytes(body + hmac.new(mk, body, hashlib.sha256).digest())


def test_an_intact_vault_opens_and_lists_its_tracks(sealed: tuple[Path, MasterKey]) -> None:
    path, key = sealed
    with open_vault(path, key) as vault:
        tracks = list_tracks(vault)
    assert [(t.track, t.frames, t.first_frame, t.last_frame) for t in tracks] == [("t01", 3, 0, 2), ("t02", 3, 0, 2)]
    assert tracks[0].last_time == pytest.approx(20 / 250)


@pytest.mark.parametrize("where", ["magic", "header", "meta", "ciphertext", "trailer", "mac"])
def test_a_flipped_byte_anywhere_is_detected(sealed: tuple[Path, MasterKey], where: str) -> None:
    path, key = sealed
    head, spans, _tail = blocks_layout(path)
    data = bytearray(path.read_bytes())
    offset = {
        "magic": 2,
        "header": len(head) - 5,
        "meta": spans[1][0] + 12,
        "ciphertext": spans[1][1] - 3,
        "trailer": len(data) - MAC_BYTES - 5,
        "mac": len(data) - 1,
    }[where]
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(VaultError):
        open_vault(path, key).close()


@pytest.mark.parametrize("cut", [1, MAC_BYTES, 200])
def test_truncation_is_detected(sealed: tuple[Path, MasterKey], cut: int) -> None:
    path, key = sealed
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(VaultError):
        open_vault(path, key).close()


def test_appended_bytes_are_detected(sealed: tuple[Path, MasterKey]) -> None:
    path, key = sealed
    path.write_bytes(path.read_bytes() + b"\x00" * 10)
    with pytest.raises(VaultError):
        open_vault(path, key).close()


def test_swapped_blocks_are_detected_by_the_mac(sealed: tuple[Path, MasterKey]) -> None:
    path, key = sealed
    head, spans, tail = blocks_layout(path)
    data = path.read_bytes()
    parts = [data[s:e] for s, e in spans]
    parts[0], parts[3] = parts[3], parts[0]
    path.write_bytes(head + b"".join(parts) + tail)
    with pytest.raises(VaultError, match="authentication"):
        open_vault(path, key).close()


def test_swapped_blocks_are_detected_even_by_a_key_holder_who_recomputes_the_mac(
    sealed: tuple[Path, MasterKey],
) -> None:
    path, key = sealed
    head, spans, tail = blocks_layout(path)
    data = path.read_bytes()
    parts = [data[s:e] for s, e in spans]
    parts[0], parts[2] = parts[2], parts[0]  # same track, different frames
    with_mac(path, head + b"".join(parts) + tail[:-MAC_BYTES], key)
    with pytest.raises(VaultError, match="out of place"):
        open_vault(path, key).close()


def test_a_segment_relabelled_to_another_frame_fails_its_own_authentication(sealed: tuple[Path, MasterKey]) -> None:
    """Even with a valid MAC and sequence, a segment whose meta is edited (moved to another frame)
    no longer decrypts: the meta is the segment's associated data."""
    path, key = sealed
    data = path.read_bytes()
    meta = b'"crops":[[0,0,'
    assert meta in data
    with_mac(path, data[:-MAC_BYTES].replace(meta, b'"crops":[[1,0,', 1), key)
    vault = open_vault(path, key)
    opener = _Opener(key, vault, {"t01"})
    with pytest.raises(VaultError, match="failed authentication"):
        for _frame, placed in vault.frames():
            for p in placed:
                if opener.wants(p):
                    opener.crop(p)
    vault.close()


def test_the_wrong_key_is_named_as_such(sealed: tuple[Path, MasterKey]) -> None:
    path, _ = sealed
    with pytest.raises(VaultError, match="wrong key"):
        open_vault(path, MasterKey.generate())


def test_a_non_vault_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.vault"
    junk.write_bytes(b"hello world" * 10)
    with pytest.raises(VaultError, match="not a gamyeon vault"):
        VaultFile(junk)


# --- end to end through the CLI, on a real video with two people ---------------------------------


def two_faces(index: int, width: int, height: int) -> np.ndarray:
    from skimage import data

    face = np.asarray(data.astronaut())[20:230, 140:320]
    half = cv2.resize(face, (width // 2, height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(np.concatenate([half, half[:, ::-1]], axis=1))


def anonymize_two(root: Path, *extra: str) -> dict[str, Path]:
    src = root / "two.mp4"
    make_video(src, size=(320, 176), frames=12, picture=two_faces)
    key = root / "k.key"
    write_key(MasterKey.generate(), key)
    out = root / "anon.mp4"
    ledger = str(root / "ledger.sqlite")
    args = ["anonymize", str(src), "-o", str(out), "--kinds", "faces", "--seal", str(key), "-q", "--ledger", ledger]
    code = main([*args, "--basis", "research", *extra])
    assert code == 0
    return {"root": root, "src": src, "key": key, "out": out, "vault": root / "anon.mp4.vault"}


@pytest.fixture(scope="module")
def anonymized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return anonymize_two(tmp_path_factory.mktemp("e2e"))


def tracks_of(vault: Path, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    capsys.readouterr()
    assert main(["reveal", "x.mp4", "--vault", str(vault), "--list", "--json", "-q"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def decoded(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as r:
        return [to_rgb(e.frame) for e in r if isinstance(e, DecodedFrame) and e.frame is not None]


def test_lossless_reveal_of_one_track_restores_it_exactly_and_keeps_the_other_masked(
    anonymized: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    tracks = tracks_of(anonymized["vault"], capsys)
    assert len(tracks) == 2, tracks
    target = tracks[0]["track"]
    out = anonymized["root"] / "revealed.mkv"
    code = main(
        ["reveal", str(anonymized["out"]), "--key", str(anonymized["key"]), "--track", target, "--purpose", "case",
         "--authority", "warrant 1", "-o", str(out), "--lossless", "-q"]
    )  # fmt: skip
    assert code == 0
    original, anon, revealed = decoded(anonymized["src"]), decoded(anonymized["out"]), decoded(out)
    assert len(original) == len(anon) == len(revealed) == 12
    boxes: dict[int, dict[str | None, list[tuple[int, int, int, int]]]] = {}
    with VaultFile(anonymized["vault"]) as vault:
        for r in vault.regions():
            boxes.setdefault(r.frame, {}).setdefault(r.track, []).append(r.box)
    for i in range(12):
        mine = np.zeros(original[i].shape[:2], bool)
        theirs = np.zeros_like(mine)
        for track, bs in boxes.get(i, {}).items():
            for x1, y1, x2, y2 in bs:
                (mine if track == target else theirs)[y1:y2, x1:x2] = True
        assert mine.any() and theirs.any(), f"frame {i}: both people should be masked"
        only_mine = mine & ~theirs
        assert np.array_equal(revealed[i][only_mine], original[i][only_mine])
        assert np.array_equal(revealed[i][~only_mine], anon[i][~only_mine])
        assert not np.array_equal(revealed[i][theirs], original[i][theirs])


def test_ellipse_masks_seal_only_the_ellipse_and_reveal_it_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--shape ellipse``: the vault holds the pixels inside each ellipse only; a lossless reveal
    gives them back exactly, and every other pixel -- the corners of the boxes included -- is the
    anonymized file's."""
    run = anonymize_two(tmp_path, "--shape", "ellipse")
    target = tracks_of(run["vault"], capsys)[0]["track"]
    out = tmp_path / "revealed.mkv"
    code = main(
        ["reveal", str(run["out"]), "--key", str(run["key"]), "--track", target, "--purpose", "case",
         "--authority", "warrant 1", "-o", str(out), "--lossless", "-q"]
    )  # fmt: skip
    assert code == 0
    original, anon, revealed = decoded(run["src"]), decoded(run["out"]), decoded(out)
    assert len(original) == len(anon) == len(revealed) == 12
    regions: dict[int, list[RegionInfo]] = {}
    with VaultFile(run["vault"]) as vault:
        for r in vault.regions():
            regions.setdefault(r.frame, []).append(r)
    corners = 0
    for i in range(12):
        mine, theirs = np.zeros(original[i].shape[:2], bool), np.zeros(original[i].shape[:2], bool)
        for r in regions.get(i, []):
            inside = r.inside()
            assert r.ellipse is not None and inside is not None
            x1, y1, x2, y2 = r.box
            (mine if r.track == target else theirs)[y1:y2, x1:x2] |= inside
            corners += int((~inside).sum())
        assert mine.any(), f"frame {i}: the track should be masked"
        only_mine = mine & ~theirs
        assert np.array_equal(revealed[i][only_mine], original[i][only_mine])
        assert np.array_equal(revealed[i][~only_mine], anon[i][~only_mine])
    assert corners > 0  # the boxes' corners outside the ellipses were left out


def test_default_reveal_keeps_the_codec_and_frame_count(
    anonymized: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    target = tracks_of(anonymized["vault"], capsys)[1]["track"]
    out = anonymized["root"] / "revealed.mp4"
    assert main(
        ["reveal", str(anonymized["out"]), "--key", str(anonymized["key"]), "--track", target, "--purpose", "case",
         "--authority", "warrant 2", "-o", str(out), "-q"]
    ) == 0  # fmt: skip
    with VideoReader(out) as r:
        assert r.info.codec == "h264"
    assert len(decoded(out)) == 12


@pytest.mark.parametrize(
    "problem", ["wrong key", "other video", "unknown track", "no purpose", "tampered", "lossless mp4"]
)
def test_reveal_refusals_write_nothing(
    anonymized: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], problem: str
) -> None:
    target = tracks_of(anonymized["vault"], capsys)[0]["track"]
    vault, key, video = anonymized["vault"], anonymized["key"], anonymized["out"]
    out = tmp_path / "revealed.mkv"
    extra: list[str] = ["--purpose", "case", "--authority", "ref"]
    if problem == "wrong key":
        key = tmp_path / "other.key"
        write_key(MasterKey.generate(), key)
    elif problem == "other video":
        video = tmp_path / "other.mp4"
        make_video(video, size=(320, 176), frames=12, picture=two_faces, preset="fast")
    elif problem == "unknown track":
        target = "0123456789abcdef"
    elif problem == "no purpose":
        extra = ["--authority", "ref"]
    elif problem == "tampered":
        copy = tmp_path / "t.vault"
        data = bytearray(vault.read_bytes())
        data[len(data) // 2] ^= 0xFF
        copy.write_bytes(bytes(data))
        vault = copy
    elif problem == "lossless mp4":
        out = tmp_path / "revealed.mp4"
        extra += ["--lossless"]
    capsys.readouterr()
    code = main(
        [
            "reveal",
            str(video),
            "--vault",
            str(vault),
            "--key",
            str(key),
            "--track",
            target,
            "-o",
            str(out),
            "-q",
            *extra,
        ]
    )
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert not out.exists() and leftovers(tmp_path) == []


def test_destroy_makes_reveal_impossible_and_is_recorded(
    anonymized: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "l.sqlite"
    copy = tmp_path / "copy.vault"
    copy.write_bytes(anonymized["vault"].read_bytes())
    assert main(["vault", "destroy", str(copy), "--key", str(anonymized["key"]), "--ledger", str(ledger)]) == 0
    assert not copy.exists()
    capsys.readouterr()
    assert main(["ledger", "show", "--ledger", str(ledger)]) == 0
    assert " destroy " in capsys.readouterr().out
    code = main(["reveal", str(anonymized["out"]), "--vault", str(copy), "--key", str(anonymized["key"]), "--track",
                 "x", "--purpose", "p", "--authority", "a", "-o", str(tmp_path / "r.mkv")])  # fmt: skip
    assert code == 1


def test_destroy_refuses_a_key_that_is_not_the_vaults(anonymized: dict[str, Path], tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    write_key(MasterKey.generate(), other)
    assert main(["vault", "destroy", str(anonymized["vault"]), "--key", str(other)]) == 1
    assert anonymized["vault"].exists()


def test_seal_key_and_a_different_pseudonym_key_are_refused(anonymized: dict[str, Path], tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    write_key(MasterKey.generate(), other)
    args = ["anonymize", str(anonymized["src"]), "-o", str(tmp_path / "o.mp4"), "--seal", str(anonymized["key"])]
    assert main([*args, "--key", str(other), "-q"]) == 2
    assert not (tmp_path / "o.mp4").exists()


def test_the_key_is_read_from_its_file_not_guessed(anonymized: dict[str, Path]) -> None:
    assert read_key(anonymized["key"]).fingerprint == VaultFile(anonymized["vault"]).header.key_fingerprint


def test_reveal_needs_a_reason(anonymized: dict[str, Path]) -> None:
    from gamyeon.vault.service import RevealRequest

    with pytest.raises(UsageError):
        RevealRequest(anonymized["out"], anonymized["vault"], anonymized["key"], ("a",), Path("o.mkv"), " ", "ref")
