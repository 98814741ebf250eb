"""Vault format 2: tracks sealed in segments (one lossless stream each). Exact reveal across
segments and rotations, tampering with segments, bounded memory with many tracks, a writer that
cannot code a segment, and vaults of format 1 still opening."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import struct
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import leftovers, make_video
from gamyeon.cli import main
from gamyeon.errors import VaultError
from gamyeon.keys import MasterKey, read_key, write_key
from gamyeon.media.decode import DecodedFrame, VideoReader, to_rgb
from gamyeon.media.geometry import rotate_view
from gamyeon.media.planes import plane_array
from gamyeon.operators import Fill, Shape
from gamyeon.types import Box, Region, Source
from gamyeon.vault import codec, writer
from gamyeon.vault.format import MAC_BYTES, MAGIC, VaultFile, mac_key
from gamyeon.vault.reveal import _Opener, list_tracks, open_vault
from gamyeon.vault.writer import VaultWriter

FIXTURE_V1 = Path(__file__).parents[1] / "data" / "vault_v1"
FIXTURE_V2 = Path(__file__).parents[1] / "data" / "vault_v2"


def region(track: int | None, box: tuple[int, int, int, int], kind: str = "face") -> Region:
    b = Box(*map(float, box))
    return Region(kind, b, b, 0.9, track, Source.DETECTED)


def track_name(kind: str, track: int) -> str:
    return f"{kind}-{track:03d}"


def photo(width: int, height: int, index: int) -> np.ndarray:
    """scikit-image's astronaut, moving and with a little noise: real content, never static."""
    import cv2
    from skimage import data

    picture = cv2.resize(np.asarray(data.astronaut()), (width, height), interpolation=cv2.INTER_AREA)
    noise = np.random.default_rng(index).integers(0, 6, picture.shape, dtype=np.uint8)
    return np.ascontiguousarray(np.roll(picture, 3 * index, axis=1) + noise)


def yuv_frame(rgb: np.ndarray, fmt: str, colorspace: int) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=fmt)
    frame.colorspace = colorspace
    return frame


def new_writer(path: Path, key: MasterKey, segment_frames: int) -> VaultWriter:
    return VaultWriter(path, key, dataset_id="ds", source="s.mp4", track_ids=track_name, segment_frames=segment_frames)


def crops_of(path: Path, key: MasterKey, track: str) -> dict[int, np.ndarray]:
    """The revealed pixels of ``track``'s box, per frame."""
    with open_vault(path, key) as vault:
        opener = _Opener(key, vault, {track})
        return {frame: opener.crop(p) for frame, placed in vault.frames() for p in placed if p.track == track}


@pytest.mark.parametrize(
    ("rotation", "fmt", "colorspace"), [(0, "yuv420p", 1), (90, "yuvj420p", 5), (270, "yuv420p", 2)]
)
def test_a_growing_track_reveals_exactly_across_segments(
    tmp_path: Path, rotation: int, fmt: str, colorspace: int
) -> None:
    """Crops of changing size and odd bounds, more frames than a segment holds, 4:2:0 samples of
    a rotated video: every revealed pixel equals the whole-frame RGB conversion the pipeline uses."""
    key = MasterKey.generate()
    stored_w, stored_h = 96, 64
    up_w, up_h = (stored_h, stored_w) if rotation % 180 else (stored_w, stored_h)
    frames = [yuv_frame(photo(stored_w, stored_h, i), fmt, colorspace) for i in range(11)]
    boxes = {i: (3 + i, 5 + i // 2, min(up_w, 20 + 3 * i), min(up_h, 17 + 3 * i)) for i in range(11)}
    other = {i: (up_w - 25, up_h - 21, up_w - 2 - i % 3, up_h - 1) for i in range(2, 9)}
    path = tmp_path / "v.vault"
    w = new_writer(path, key, segment_frames=4)
    for i, frame in enumerate(frames):
        regions = [region(1, boxes[i])] + ([region(2, other[i])] if i in other else [])
        w.seal_planes(i, 100 * i, frame, regions, rotation=rotation)
    w.finish(output_sha256="0" * 64, time_base="1/2500")
    for track, expected in ((track_name("face", 1), boxes), (track_name("face", 2), other)):
        revealed = crops_of(path, key, track)
        assert sorted(revealed) == sorted(expected)
        for i, (x1, y1, x2, y2) in expected.items():
            original = rotate_view(to_rgb(frames[i]), rotation)[y1:y2, x1:x2]
            assert revealed[i].shape == original.shape and np.array_equal(revealed[i], original), (track, i)
    with open_vault(path, key) as vault:
        assert vault.segment_count == 3 + 2  # 11 crops in segments of 4, and 7
        assert vault.trailer is not None and vault.trailer["regions"] == 11 + 7


def test_rgb_crops_of_one_track_reveal_exactly_across_segments(tmp_path: Path) -> None:
    key = MasterKey.generate()
    path = tmp_path / "v.vault"
    w = new_writer(path, key, segment_frames=3)
    pictures = [photo(80, 60, i) for i in range(8)]
    boxes = {i: (i, 2 * i, 9 + 5 * i, 7 + 6 * i) for i in range(8)}
    for i, picture in enumerate(pictures):
        w.seal(i, i, picture, [region(4, boxes[i])])
    w.finish(output_sha256="0" * 64, time_base=None)
    revealed = crops_of(path, key, track_name("face", 4))
    for i, (x1, y1, x2, y2) in boxes.items():
        assert np.array_equal(revealed[i], pictures[i][y1:y2, x1:x2])


# --- tampering, by someone who holds the key and so can recompute the MAC ---------------------


def parse(path: Path) -> tuple[bytes, list[tuple[dict, bytes]], bytes]:
    """(magic and header, [(meta, sealed bytes)] per segment, trailer record without the MAC)."""
    data = path.read_bytes()[:-MAC_BYTES]
    (n,) = struct.unpack(">I", data[len(MAGIC) : len(MAGIC) + 4])
    pos = len(MAGIC) + 4 + n
    head, segments = data[:pos], []
    while data[pos : pos + 1] == b"S":
        (n,) = struct.unpack(">I", data[pos + 1 : pos + 5])
        meta = json.loads(data[pos + 5 : pos + 5 + n])
        pos += 5 + n
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        segments.append((meta, data[pos + 4 : pos + 4 + n]))
        pos += 4 + n
    return head, segments, data[pos:]


def forge(path: Path, key: MasterKey, head: bytes, segments: list[tuple[dict, bytes]], tail: bytes) -> None:
    body = head
    for meta, sealed in segments:
        text = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
        body += b"S" + struct.pack(">I", len(text)) + text + struct.pack(">I", len(sealed)) + sealed
    body += tail
    with VaultFile(path) as vault:
        mk = mac_key(key, vault.header.dataset_id, vault.header.vault_id)
    path.write_bytes(body + hmac.new(mk, body, hashlib.sha256).digest())


@pytest.fixture
def two_tracks(tmp_path: Path) -> tuple[Path, MasterKey, list[av.VideoFrame]]:
    """Two tracks over 8 frames in segments of 4: segments 0-1 (frames 0-3), then 2-3 (4-7)."""
    key = MasterKey.generate()
    frames = [yuv_frame(photo(64, 48, i), "yuv420p", 1) for i in range(8)]
    path = tmp_path / "a.vault"
    w = new_writer(path, key, segment_frames=4)
    for i, frame in enumerate(frames):
        w.seal_planes(i, i, frame, [region(1, (4, 4, 24, 30)), region(2, (34, 10, 60, 40))], rotation=0)
    w.finish(output_sha256="0" * 64, time_base="1/25")
    return path, key, frames


def reveal_all(path: Path, key: MasterKey, tracks: set[str]) -> None:
    with open_vault(path, key) as vault:
        opener = _Opener(key, vault, tracks)
        for _frame, placed in vault.frames():
            for p in placed:
                if opener.wants(p):
                    opener.crop(p)


def test_the_intact_vault_reveals(two_tracks: tuple[Path, MasterKey, list[av.VideoFrame]]) -> None:
    path, key, _ = two_tracks
    reveal_all(path, key, {track_name("face", 1), track_name("face", 2)})
    _head, segments, _tail = parse(path)
    assert [(m["seq"], m["track"], m["crops"][0][0]) for m, _ in segments] == [
        (0, "face-001", 0), (1, "face-002", 0), (2, "face-001", 4), (3, "face-002", 4)
    ]  # fmt: skip


@pytest.mark.parametrize("change", ["other track", "other frames", "other pts", "other box", "other canvas"])
def test_a_segment_moved_to_another_place_fails_authentication(
    two_tracks: tuple[Path, MasterKey, list[av.VideoFrame]], change: str
) -> None:
    path, key, _ = two_tracks
    head, segments, tail = parse(path)
    meta = segments[0][0]
    if change == "other track":  # also needs the other track's key: both are named below
        meta["track"] = "face-002"
    elif change == "other frames":
        meta["crops"] = [[c[0] + 4, *c[1:]] for c in meta["crops"]]
    elif change == "other pts":
        meta["crops"][1][1] += 1
    elif change == "other box":  # the canvas moves with it, else the meta is refused as damaged
        for crop in meta["crops"]:
            crop[2] += 2
            crop[4] += 2
        meta["origin"][0] += 2
    else:
        meta["size"] = [meta["size"][0] + 2, meta["size"][1]]
    forge(path, key, head, segments, tail)
    with pytest.raises(VaultError, match="segment 0 failed authentication"):
        reveal_all(path, key, {"face-001", "face-002"})


def test_swapped_segments_of_one_track_fail_even_with_their_sequence_fixed(
    two_tracks: tuple[Path, MasterKey, list[av.VideoFrame]],
) -> None:
    path, key, _ = two_tracks
    head, segments, tail = parse(path)
    (m0, s0), (m2, s2) = segments[0], segments[2]
    m0["seq"], m2["seq"] = 2, 0
    segments[0], segments[2] = (m2, s2), (m0, s0)
    forge(path, key, head, segments, tail)
    with pytest.raises(VaultError, match="failed authentication"):
        reveal_all(path, key, {"face-001"})


def test_a_segment_from_another_vault_fails_authentication(
    two_tracks: tuple[Path, MasterKey, list[av.VideoFrame]], tmp_path: Path
) -> None:
    """Same key, dataset, tracks and frames: only the vault id differs, and it is bound."""
    path, key, frames = two_tracks
    other = tmp_path / "b.vault"
    w = VaultWriter(other, key, dataset_id="ds", source="s.mp4", track_ids=track_name, segment_frames=4)
    for i, frame in enumerate(frames):
        w.seal_planes(i, i, frame, [region(1, (4, 4, 24, 30)), region(2, (34, 10, 60, 40))], rotation=0)
    w.finish(output_sha256="0" * 64, time_base="1/25")
    head, segments, tail = parse(path)
    segments[0] = parse(other)[1][0]
    forge(path, key, head, segments, tail)
    with pytest.raises(VaultError, match="segment 0 failed authentication"):
        reveal_all(path, key, {"face-001"})


@pytest.mark.parametrize("recompute_mac", [False, True])
def test_a_flipped_bit_in_a_segment_is_detected(
    two_tracks: tuple[Path, MasterKey, list[av.VideoFrame]], recompute_mac: bool
) -> None:
    path, key, _ = two_tracks
    head, segments, tail = parse(path)
    meta, sealed = segments[2]
    flipped = bytearray(sealed)
    flipped[len(flipped) // 2] ^= 0x10
    if recompute_mac:
        segments[2] = (meta, bytes(flipped))
        forge(path, key, head, segments, tail)
        with pytest.raises(VaultError, match="segment 2 failed authentication"):
            reveal_all(path, key, {"face-001"})
    else:
        data = bytearray(path.read_bytes())
        data[data.index(sealed) + len(sealed) // 2] ^= 0x10
        path.write_bytes(bytes(data))
        with pytest.raises(VaultError, match="failed authentication"):
            open_vault(path, key)


def test_a_segment_whose_crops_are_not_in_frame_order_is_refused(
    two_tracks: tuple[Path, MasterKey, list[av.VideoFrame]],
) -> None:
    path, key, _ = two_tracks
    head, segments, tail = parse(path)
    meta = segments[1][0]
    meta["crops"][0][0], meta["crops"][1][0] = 1, 0
    forge(path, key, head, segments, tail)
    with pytest.raises(VaultError, match="out of frame order"):
        open_vault(path, key)


# --- many tracks, bounded memory -----------------------------------------------------------------


def test_many_short_tracks_are_written_as_they_end(tmp_path: Path) -> None:
    """150 tracks of 3 frames each, two at a time: segments are written when their track has been
    quiet for ``IDLE_FRAMES``, so the open segments stay few; every track lists and reveals."""
    key = MasterKey.generate()
    path = tmp_path / "many.vault"
    w = new_writer(path, key, segment_frames=writer.SEGMENT_FRAMES)
    frames = 301  # track t on frames 2t, 2t + 1, 2t + 2
    pictures = [yuv_frame(photo(64, 48, i % 7), "yuv420p", 1) for i in range(7)]
    most_open = 0
    for i in range(frames):
        tracks = [t for t in (i // 2 - 1, i // 2) if 0 <= t < 150 and t * 2 <= i <= t * 2 + 2]
        regions = [region(t, (2 + (t % 5) * 10, 3, 14 + (t % 5) * 10, 17 + i % 3)) for t in tracks]
        w.seal_planes(i, i, pictures[i % 7], regions, rotation=0)
        most_open = max(most_open, len(w._open))
    w.finish(output_sha256="0" * 64, time_base="1/25")
    assert most_open <= writer.IDLE_FRAMES // 2 + 3  # the tracks seen in the last IDLE_FRAMES frames
    with open_vault(path, key) as vault:
        listed = list_tracks(vault)
        assert len(listed) == 150 and {t.frames for t in listed} == {3}
        assert vault.segment_count == 150
    for t in (0, 77, 149):
        revealed = crops_of(path, key, track_name("face", t))
        assert sorted(revealed) == [2 * t, 2 * t + 1, 2 * t + 2]
        for i, crop in revealed.items():
            x1, y1, x2, y2 = (2 + (t % 5) * 10, 3, 14 + (t % 5) * 10, 17 + i % 3)
            assert np.array_equal(crop, to_rgb(pictures[i % 7])[y1:y2, x1:x2])


def test_the_open_segments_stay_under_the_buffer_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "BUFFER_BYTES", 40_000)
    key = MasterKey.generate()
    path = tmp_path / "b.vault"
    w = new_writer(path, key, segment_frames=64)
    picture = yuv_frame(photo(128, 96, 0), "yuv420p", 1)
    boxes = [(4 + 30 * t, 4, 34 + 30 * t, 60) for t in range(4)]  # 4 x 2520 samples per frame
    for i in range(20):
        w.seal_planes(i, i, picture, [region(t, b) for t, b in enumerate(boxes)], rotation=0)
        assert w._buffered <= writer.BUFFER_BYTES
    w.finish(output_sha256="0" * 64, time_base="1/25")
    with open_vault(path, key) as vault:
        assert vault.segment_count > 4  # cut early, largest first
    revealed = crops_of(path, key, track_name("face", 2))
    x1, y1, x2, y2 = boxes[2]
    assert len(revealed) == 20 and all(np.array_equal(c, to_rgb(picture)[y1:y2, x1:x2]) for c in revealed.values())


def test_untracked_regions_get_segments_of_their_own(tmp_path: Path) -> None:
    key = MasterKey.generate()
    path = tmp_path / "u.vault"
    w = new_writer(path, key, segment_frames=64)
    picture = photo(64, 48, 0)
    w.seal(0, None, picture, [region(None, (1, 1, 9, 9)), region(None, (20, 20, 30, 33)), region(3, (40, 2, 60, 30))])
    w.finish(output_sha256="0" * 64, time_base=None)
    with open_vault(path, key) as vault:
        assert vault.segment_count == 3 and [t.track for t in list_tracks(vault)] == ["face-003"]
        assert [r.track for r in vault.regions()] == [None, None, "face-003"]


# --- a segment that cannot be coded ----------------------------------------------------------


def test_a_writer_that_cannot_code_a_segment_refuses_to_finish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> bytes:
        raise RuntimeError("no encoder today")

    w = new_writer(tmp_path / "x.vault", MasterKey.generate(), segment_frames=2)
    picture = yuv_frame(photo(64, 48, 0), "yuv420p", 1)
    w.seal_planes(0, 0, picture, [region(1, (4, 4, 20, 20))], rotation=0)
    monkeypatch.setattr(codec, "encode", broken)
    with pytest.raises(VaultError, match="no encoder today"):  # the stage fails this frame closed
        w.seal_planes(1, 1, picture, [region(1, (4, 4, 20, 20))], rotation=0)
    w.seal_planes(2, 2, picture, [region(1, (4, 4, 20, 20))], rotation=0)
    with pytest.raises(VaultError, match="incomplete"):
        w.finish(output_sha256="0" * 64, time_base="1/25")
    w.abort()


def test_anonymize_leaves_nothing_when_the_vault_cannot_be_sealed(
    tmp_path: Path, key_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from conftest import face_picture

    def broken(*args: object) -> bytes:
        raise RuntimeError("no encoder today")

    src, out = tmp_path / "in.mp4", tmp_path / "out" / "o.mp4"
    out.parent.mkdir()
    make_video(src, size=(224, 176), frames=6, picture=face_picture)
    monkeypatch.setattr(codec, "encode", broken)
    capsys.readouterr()
    args = ["anonymize", str(src), "-o", str(out), "--kinds", "faces", "--seal", str(key_file), "-q"]
    code = main([*args, "--ledger", str(tmp_path / "l.sqlite")])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and "no encoder today" in err, err
    assert list(out.parent.iterdir()) == [] and leftovers(tmp_path) == []


# --- formats 1 and 2 -----------------------------------------------------------------------------


def decoded(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as r:
        return [to_rgb(e.frame) for e in r if isinstance(e, DecodedFrame) and e.frame is not None]


@pytest.mark.parametrize(("version", "fixture", "segments"), [(1, FIXTURE_V1, 11), (2, FIXTURE_V2, 3)])
def test_an_older_vault_still_opens_and_reveals_exactly(
    tmp_path: Path, version: int, fixture: Path, segments: int
) -> None:
    """``tests/data/vault_v1`` and ``vault_v2`` were written by the writers of formats 1 and 2
    (see their ``make_fixture.py``): the same layout, one WebP per region, or segments of 4:2:0
    samples at the top left of their canvases."""
    sys.path.insert(0, str(fixture))
    try:
        from make_fixture import LAYOUT  # the boxes it sealed
    finally:
        sys.path.remove(str(fixture))
        sys.modules.pop("make_fixture", None)
    folder = tmp_path / "old"
    shutil.copytree(fixture, folder)
    key = read_key(folder / "test.key")
    with open_vault(folder / "anon.mp4.vault", key) as vault:
        assert vault.version == version and vault.segment_count == segments
        assert [(t.track, t.frames) for t in list_tracks(vault)] == [("aaaa000000000001", 6), ("aaaa000000000002", 4)]
        assert [(r.frame, r.track, r.box) for r in vault.regions()] == [
            (i, None if t is None else f"aaaa{t:012d}", b) for i in range(6) for t, b in LAYOUT[i]
        ]
    out = tmp_path / "revealed.mkv"
    code = main(
        ["reveal", str(folder / "anon.mp4"), "--key", str(folder / "test.key"), "--track", "aaaa000000000001",
         "--purpose", "compatibility", "--authority", "test", "-o", str(out), "--lossless", "-q",
         "--ledger", str(tmp_path / "l.sqlite")]
    )  # fmt: skip
    assert code == 0
    original, anon, revealed = decoded(folder / "source.mp4"), decoded(folder / "anon.mp4"), decoded(out)
    assert len(original) == len(anon) == len(revealed) == 6
    for i in range(6):
        mine = np.zeros(original[i].shape[:2], bool)
        for t, (x1, y1, x2, y2) in LAYOUT[i]:
            if t == 1:
                mine[y1:y2, x1:x2] = True
        for t, (x1, y1, x2, y2) in LAYOUT[i]:
            if t != 1:
                mine[y1:y2, x1:x2] = False
        assert mine.any()
        assert np.array_equal(revealed[i][mine], original[i][mine])
        assert np.array_equal(revealed[i][~mine], anon[i][~mine])


def test_a_tampered_format_1_vault_is_refused(tmp_path: Path) -> None:
    vault = tmp_path / "v.vault"
    data = bytearray((FIXTURE_V1 / "anon.mp4.vault").read_bytes())
    data[len(data) // 2] ^= 0x01
    vault.write_bytes(bytes(data))
    with pytest.raises(VaultError, match="failed authentication"):
        open_vault(vault, read_key(FIXTURE_V1 / "test.key"))


def test_a_format_1_vault_refuses_another_key(tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    write_key(MasterKey.generate(), other)
    with pytest.raises(VaultError, match="wrong key"):
        open_vault(FIXTURE_V1 / "anon.mp4.vault", read_key(other))


# --- ellipses: only what the masking changes is sealed ---------------------------------------------


def ellipses(kind: str) -> Shape:
    return Shape.ELLIPSE


def float_region(track: int, box: tuple[float, float, float, float]) -> Region:
    b = Box(*box)
    return Region("face", b, b, 0.9, track, Source.DETECTED)


def drawn(region: Region, width: int, height: int) -> np.ndarray:
    """The pixels of the region's clipped box that the masking changes, as the operator draws them."""
    picture = np.zeros((height, width, 3), np.uint8)
    Fill(color=(255, 255, 255)).apply(picture, region.mask, Shape.ELLIPSE)
    x1, y1, x2, y2 = region.mask.pixel_bounds(width, height)
    return np.asarray(picture[y1:y2, x1:x2, 0] == 255)


@pytest.mark.parametrize(
    ("rotation", "fmt", "colorspace"), [(0, "yuv420p", 1), (90, "yuvj420p", 5), (270, "yuv420p", 2)]
)
def test_of_an_ellipse_only_its_pixels_are_sealed_and_they_reveal_exactly(
    tmp_path: Path, rotation: int, fmt: str, colorspace: int
) -> None:
    """4:2:0 samples: every pixel the operator changes comes back exactly (the same ellipse, also
    for a box reaching past the frame edge), and the coded pictures carry nothing of the box outside
    the ellipse: there each canvas repeats the one before (the first is flat grey)."""
    key = MasterKey.generate()
    stored_w, stored_h = 96, 64
    up_w, up_h = (stored_h, stored_w) if rotation % 180 else (stored_w, stored_h)
    frames = [yuv_frame(photo(stored_w, stored_h, i), fmt, colorspace) for i in range(9)]
    boxes = {i: (-6.5 + 2.3 * i, 3.2 + i, 21.7 + 3.1 * i, 30.4 + 1.5 * i) for i in range(9)}
    path = tmp_path / "v.vault"
    w = new_writer(path, key, segment_frames=5)
    for i, frame in enumerate(frames):
        w.seal_planes(i, i, frame, [float_region(1, boxes[i])], rotation=rotation, shapes=ellipses)
    w.finish(output_sha256="0" * 64, time_base="1/25")
    track = track_name("face", 1)
    kept = total = 0
    with open_vault(path, key) as vault:
        opener = _Opener(key, vault, {track})
        previous: dict[int, np.ndarray] = {}
        for i, placed in vault.frames():
            (p,) = placed
            inside = p.crop.inside()
            assert inside is not None and np.array_equal(inside, drawn(float_region(1, boxes[i]), up_w, up_h))
            x1, y1, x2, y2 = p.crop.box
            original = rotate_view(to_rgb(frames[i]), rotation)[y1:y2, x1:x2]
            assert np.array_equal(opener.crop(p)[inside], original[inside]), i
            # the coded luma of this crop outside the kept 2x2 blocks: nothing new
            meta = p.segment.meta
            coded = opener._coded(p.segment)[p.index]
            luma = plane_array(coded, 0).copy()
            keep = writer._chroma_keep(p.crop, meta.turns)
            assert keep is not None
            left, top = meta.place(p.crop)
            kept_luma = np.zeros(luma.shape, bool)
            rows, cols = keep.shape
            kept_luma[top : top + 2 * rows, left : left + 2 * cols] = np.repeat(np.repeat(keep, 2, axis=0), 2, axis=1)
            before = previous.get(meta.seq, np.full(luma.shape, codec.FILL, np.uint8))
            assert np.array_equal(luma[~kept_luma], before[~kept_luma]), i
            previous[meta.seq] = luma
            kept, total = kept + int(kept_luma.sum()), total + 4 * keep.size
    assert kept < 0.9 * total  # the corners were left out


def test_of_an_ellipse_on_rgb_pictures_only_its_pixels_are_sealed(tmp_path: Path) -> None:
    key = MasterKey.generate()
    path = tmp_path / "v.vault"
    w = new_writer(path, key, segment_frames=3)
    pictures = [photo(80, 60, i) for i in range(5)]
    boxes = {i: (i + 0.5, 2.0 * i, 19.5 + 5 * i, 27.0 + 6 * i) for i in range(5)}
    for i, picture in enumerate(pictures):
        w.seal(i, i, picture, [float_region(4, boxes[i])], shapes=ellipses)
    w.finish(output_sha256="0" * 64, time_base=None)
    track = track_name("face", 4)
    with open_vault(path, key) as vault:
        opener = _Opener(key, vault, {track})
        for i, placed in vault.frames():
            (p,) = placed
            inside = p.crop.inside()
            assert inside is not None and np.array_equal(inside, drawn(float_region(4, boxes[i]), 80, 60))
            x1, y1, x2, y2 = p.crop.box
            pixels = opener.crop(p)
            assert np.array_equal(pixels[inside], pictures[i][y1:y2, x1:x2][inside])
            assert (pixels[~inside] == codec.FILL).all()  # FFV1 pictures are flat outside
