"""``gamyeon review`` without a browser: the review file and its versioned saves, the decisions,
the re-render from the original (checked pixel by pixel on the decoded output), the app's
security (token, Host, Origin, no path outside the review's files), reveal, and the ledger."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

from conftest import make_video
from gamyeon.cli import main
from gamyeon.keys import MasterKey, write_key
from gamyeon.ledger.records import unreviewed_outputs
from gamyeon.ledger.store import Ledger
from gamyeon.review.app import Reviewed, build_app
from gamyeon.review.decide import Decisions, keyframe_box
from gamyeon.review.files import OutputFiles, find_outputs
from gamyeon.review.flags import verify_flags
from gamyeon.review.follow import follow
from gamyeon.review.frames import FrameSource
from gamyeon.review.model import ReviewFileError
from gamyeon.review.render import rerender
from gamyeon.review.server import settings_for
from gamyeon.review.sidecar import SidecarError
from gamyeon.review.store import ReviewStore, StaleRevision
from review_helpers import ADDED, FRAMES, Made, check_rerendered, decoded, make_output, notes

PORT = 8765


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    return make_output(tmp_path_factory.mktemp("review"))


@pytest.fixture
def fresh(made: Made, tmp_path: Path) -> Made:
    """A copy of the output (and its side files) that a test may change."""
    root = tmp_path / "copy"
    shutil.copytree(made.root, root)
    return Made(
        root, root / made.source.name, root / made.output.name, root / made.key.name, str(root / "ledger.sqlite")
    )


def face_track(made: Made) -> str:
    tracks = {r["track"] for line in notes(made.sidecar) for r in line["regions"] if r["kind"] == "face"}
    assert len(tracks) == 1, tracks
    return tracks.pop()


def put(item: dict) -> dict:  # type: ignore[type-arg]
    return {"op": "put", "item": item}


# --- the review file --------------------------------------------------------------------------------


def test_saves_are_versioned_and_a_stale_save_is_refused_without_writing(fresh: Made) -> None:
    store = ReviewStore(OutputFiles(fresh.output))
    track = face_track(fresh)
    review, changes = store.save([put({"id": "a1", "type": "comment", "frame": 3, "text": "hat?"})], "kim", 0)
    assert (review.revision, changes) == (1, 1)
    other = ReviewStore(OutputFiles(fresh.output))  # a second tab, opened on revision 1
    other.save([put({"id": "b1", "type": "exclude", "track": track})], "lee", 1)
    written = fresh.review.read_bytes()
    with pytest.raises(StaleRevision, match="saved elsewhere"):
        store.save([put({"id": "a2", "type": "reviewed", "start": 0, "end": 5})], "kim", 1)
    assert fresh.review.read_bytes() == written  # nothing lost, nothing overwritten
    data = json.loads(written)
    assert data["format"] == "gamyeon-review" and data["version"] == 1 and data["revision"] == 2
    assert [i["id"] for i in data["items"]] == ["a1", "b1"]
    assert [s["reviewer"] for s in data["saves"]] == ["kim", "lee"]


def test_invalid_changes_are_refused(fresh: Made) -> None:
    store = ReviewStore(OutputFiles(fresh.output))
    bad = [
        ({"id": "x", "type": "exclude", "track": "0123456789abcdef"}, "no track"),
        ({"id": "x", "type": "add", "kind": "face", "keyframes": [{"frame": FRAMES, "box": ADDED}]}, "outside"),
        ({"id": "x", "type": "add", "kind": "dragon", "keyframes": [{"frame": 0, "box": ADDED}]}, "kind"),
        ({"id": "x", "type": "adjust", "track": face_track(fresh), "grow": 0.5}, "never shrunk"),
        ({"id": "../x", "type": "comment", "text": "t"}, "item id"),
    ]
    for item, message in bad:
        with pytest.raises(ReviewFileError, match=message):
            store.save([put(item)], "kim", 0)
    assert not fresh.review.exists()


def test_a_corrupt_review_file_is_reported_and_left_alone(fresh: Made) -> None:
    fresh.review.write_text('{"format": "gamyeon-review", "version": 1, "revision": ', encoding="utf-8")
    before = fresh.review.read_bytes()
    with pytest.raises(ReviewFileError, match="damaged"):
        ReviewStore(OutputFiles(fresh.output))
    assert main(["review", str(fresh.output), "--render", "--reviewer", "kim", "--ledger", fresh.ledger, "-q"]) == 1
    assert fresh.review.read_bytes() == before


def test_a_sidecar_that_does_not_match_its_video_is_refused(fresh: Made, capsys: pytest.CaptureFixture[str]) -> None:
    lines = fresh.sidecar.read_text(encoding="utf-8").splitlines()
    fresh.sidecar.write_text("\n".join(lines[:-2]) + "\n", encoding="utf-8")
    with pytest.raises(SidecarError, match=f"describes {FRAMES - 2} frame"):
        ReviewStore(OutputFiles(fresh.output))
    junk = fresh.root / "plain.mp4"
    shutil.copy(fresh.source, junk)
    assert main(["review", str(junk), "--render", "--reviewer", "kim"]) == 1
    assert "not a gamyeon output" in capsys.readouterr().err


def test_keyframes_interpolate_and_hold() -> None:
    keys = [{"frame": 2, "box": [0, 0, 10, 10]}, {"frame": 6, "box": [40, 0, 50, 20]}]
    assert keyframe_box(keys, 0) == (0, 0, 10, 10)
    assert keyframe_box(keys, 4) == (20, 0, 30, 15)
    assert keyframe_box(keys, 9) == (40, 0, 50, 20)


def test_decisions_exclude_a_span_and_grow_a_mask(made: Made) -> None:
    store = ReviewStore(OutputFiles(made.output))
    track = face_track(made)
    items = [
        {"id": "e", "type": "exclude", "track": track, "start": 2, "end": 3},
        {"id": "g", "type": "adjust", "track": track, "start": 5, "end": None, "grow": 1.5, "dx": 0.0, "dy": 0.0},
    ]
    decisions = Decisions(items, 320, 240)
    states = [[p.state for p in decisions.frame(f)] for f in store.base.frames]
    assert states[1] == ["kept"] and states[2] == states[3] == ["excluded"] and states[4] == ["kept"]
    assert states[5] == ["adjusted"]
    before = store.base.frames[5].regions[0].mask
    after = decisions.frame(store.base.frames[5])[0].note.mask
    assert (after[2] - after[0]) > (before[2] - before[0]) * 1.3


# --- re-render -------------------------------------------------------------------------------------


def test_a_rerender_without_decisions_reproduces_the_output(fresh: Made) -> None:
    before, before_notes = decoded(fresh.output), fresh.sidecar.read_text(encoding="utf-8")
    result = rerender(ReviewStore(OutputFiles(fresh.output)), "kim", ledger=fresh.ledger, key_file=fresh.key)
    assert result.frames == FRAMES and result.renumbered == 0 and result.fail_closed_frames == 0
    assert fresh.sidecar.read_text(encoding="utf-8") == before_notes  # same regions, same pseudonyms
    assert all(np.array_equal(a, b) for a, b in zip(decoded(fresh.output), before, strict=True))


def test_excluding_a_track_and_adding_a_region_change_exactly_those_pixels(fresh: Made) -> None:
    before, before_notes = decoded(fresh.output), notes(fresh.sidecar)
    track = face_track(fresh)
    store = ReviewStore(OutputFiles(fresh.output))
    keys = [{"frame": 2, "box": ADDED}, {"frame": 5, "box": [ADDED[0] + 30, ADDED[1], ADDED[2] + 30, ADDED[3]]}]
    ops = [
        put({"id": "ex", "type": "exclude", "track": track}),
        put({"id": "ad", "type": "add", "kind": "face", "keyframes": keys, "start": 1, "end": 6}),
    ]
    review, _ = store.save(ops, "kim", 0)
    store.signoff("kim", "approve", "", review.revision)
    vault_before = (fresh.output.parent / (fresh.output.name + ".vault")).read_bytes()
    result = rerender(store, "kim", ledger=fresh.ledger, key_file=fresh.key)
    assert result.approved and result.added == 1 and result.excluded == FRAMES
    added = {i: list(keyframe_box(keys, i)) for i in range(1, 7)}
    check_rerendered(fresh, before, before_notes, track, added)
    after_notes = notes(fresh.sidecar)
    assert all(r["track"] != track for line in after_notes for r in line["regions"])
    reviewed = [r for line in after_notes for r in line["regions"] if r["source"] == "reviewed"]
    assert [len([r for r in line["regions"] if r["source"] == "reviewed"]) for line in after_notes] == [
        0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0
    ]  # fmt: skip
    assert len({r["track"] for r in reviewed}) == 1  # one pseudonym for the added region
    assert (fresh.output.parent / (fresh.output.name + ".vault")).read_bytes() != vault_before  # sealed again
    # the review continues on the new output: a second reviewer opens it, the base is the detectors'
    again = ReviewStore(OutputFiles(fresh.output))
    assert again.review.revision == review.revision and again.base.path.name.endswith(".review.base.jsonl")
    assert len(again.review.renders) == 1
    # the same review re-rendered from the CLI alone gives the same pixels
    first = decoded(fresh.output)
    args = [
        "review",
        str(fresh.output),
        "--render",
        "--reviewer",
        "lee",
        "--ledger",
        fresh.ledger,
        "--key",
        str(fresh.key),
    ]
    assert main([*args, "-q"]) == 0
    assert all(np.array_equal(a, b) for a, b in zip(decoded(fresh.output), first, strict=True))


def test_rerender_needs_the_original_and_the_key(
    fresh: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ReviewStore(OutputFiles(fresh.output)).save([put({"id": "c", "type": "comment", "text": "ok"})], "kim", 0)
    output = fresh.output.read_bytes()
    base = ["review", str(fresh.output), "--render", "--reviewer", "kim", "--ledger", fresh.ledger, "-q"]
    assert main(base) == 1  # a sealed run's key is not in the key store
    assert "give it with --key" in capsys.readouterr().err
    other = tmp_path / "other.key"
    write_key(MasterKey.generate(), other)
    assert main([*base, "--key", str(other)]) == 1
    assert "made with key" in capsys.readouterr().err
    impostor = tmp_path / "impostor.mp4"
    make_video(impostor, size=(320, 240), frames=FRAMES)
    assert main([*base, "--key", str(fresh.key), "--source", str(impostor)]) == 1
    assert "is not the original" in capsys.readouterr().err
    assert main([*base, "--key", str(fresh.key), "--source", str(tmp_path / "gone.mp4")]) == 1
    assert "--source" in capsys.readouterr().err
    assert fresh.output.read_bytes() == output  # nothing was overwritten
    moved = tmp_path / "moved.mp4"
    shutil.copy(fresh.source, moved)
    before = decoded(fresh.output)
    assert main([*base, "--key", str(fresh.key), "--source", str(moved)]) == 0
    assert all(np.array_equal(a, b) for a, b in zip(decoded(fresh.output), before, strict=True))


# --- the app ----------------------------------------------------------------------------------------


@pytest.fixture
def client(fresh: Made) -> TestClient:
    settings = settings_for("127.0.0.1", PORT, ledger=fresh.ledger, key_file=fresh.key, source=None, token="tok-123")
    outputs = [Reviewed.open(OutputFiles(fresh.output), fresh.ledger)]
    return TestClient(build_app(outputs, settings), base_url=f"http://127.0.0.1:{PORT}")


ORIGIN = {"Origin": f"http://127.0.0.1:{PORT}", "X-Gamyeon-Token": "tok-123"}


def test_every_request_needs_the_token(client: TestClient) -> None:
    assert client.get("/").status_code == 403
    assert client.get("/?token=wrong").status_code == 403
    assert client.get("/api/o/0", headers={"X-Gamyeon-Token": "tok-12"}).status_code == 403
    assert client.get("/api/o/0/frame/0.jpg").status_code == 403
    page = client.get("/?token=tok-123")
    assert page.status_code == 200 and "tok-123" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert client.get("/api/o/0", headers={"X-Gamyeon-Token": "tok-123"}).json()["frames"] == FRAMES
    jpeg = client.get("/api/o/0/frame/3.jpg?token=tok-123")
    assert jpeg.status_code == 200 and jpeg.content[:2] == b"\xff\xd8"


def test_writes_need_the_header_token_and_this_origin(client: TestClient, fresh: Made) -> None:
    body = {"reviewer": "kim", "revision": 0, "ops": [put({"id": "c", "type": "comment", "text": "x"})]}
    assert (
        client.post("/api/o/0/save?token=tok-123", json=body, headers={"Origin": ORIGIN["Origin"]}).status_code == 403
    )
    evil = {**ORIGIN, "Origin": "http://evil.example"}
    assert client.post("/api/o/0/save", json=body, headers=evil).status_code == 403
    no_origin = {"X-Gamyeon-Token": "tok-123"}
    assert client.post("/api/o/0/save", json=body, headers=no_origin).status_code == 403
    assert client.get("/?token=tok-123", headers={"Host": "attacker.example:8765"}).status_code == 421
    assert not fresh.review.exists()
    saved = client.post("/api/o/0/save", json=body, headers=ORIGIN)
    assert saved.status_code == 200 and saved.json()["review"]["revision"] == 1
    stale = client.post("/api/o/0/save", json=body, headers=ORIGIN)
    assert stale.status_code == 409 and "saved elsewhere" in stale.json()["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../../pyproject.toml",
        "/static/..%2F..%2F..%2Fpyproject.toml",
        "/static/%2e%2e/%2e%2e/cli.py",
        "/static/index.html",
        "/static/app.py",
        "/api/o/0/thumb/..%2F..%2Fetc%2Fpasswd.jpg",
        "/api/o/0/thumb/0123456789abcdef.jpg",
        "/api/o/1",
        "/api/o/0/frame/999.jpg",
        "/api/o/-1",
        "/etc/passwd",
        "/api/o/0/../../../etc/passwd",
    ],
)
def test_nothing_outside_the_review_is_served(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"X-Gamyeon-Token": "tok-123"})
    assert response.status_code in (404, 400, 405)
    assert (
        b"root:" not in response.content and b"[project]" not in response.content and b"import" not in response.content
    )


def test_a_reveal_needs_key_purpose_and_reviewer_and_is_recorded(client: TestClient, fresh: Made) -> None:
    track = face_track(fresh)
    key = fresh.key.read_text(encoding="utf-8")
    good = {"reviewer": "kim", "track": track, "frame": 4, "key": key, "purpose": "check a mask", "authority": "QA"}
    for missing, message in (("key", "needs the key"), ("purpose", "purpose"), ("reviewer", "reviewer")):
        response = client.post("/api/o/0/reveal", json={**good, missing: ""}, headers=ORIGIN)
        assert response.status_code == 400 and message in response.json()["error"]
    other = fresh.root / "other.key"
    write_key(MasterKey.generate(), other)
    wrong = client.post("/api/o/0/reveal", json={**good, "key": other.read_text(encoding="utf-8")}, headers=ORIGIN)
    assert wrong.status_code == 400 and "wrong key" in wrong.json()["error"]
    with Ledger(fresh.ledger) as book:
        assert not [r for r in book.records() if r.action == "reveal"]
    shown = client.post("/api/o/0/reveal", json=good, headers=ORIGIN)
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    assert shown.content[:8] == b"\x89PNG\r\n\x1a\n"
    with Ledger(fresh.ledger) as book:
        reveals = [r for r in book.records() if r.action == "reveal"]
    assert len(reveals) == 1 and reveals[0].payload["purpose"] == "check a mask"
    assert reveals[0].payload["reviewer"] == "kim" and reveals[0].payload["frame"] == 4
    assert not list(fresh.root.glob("**/revealed*"))


# --- ledger ---------------------------------------------------------------------------------------


def test_outputs_released_without_an_approving_review_are_due(
    client: TestClient, fresh: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    with Ledger(fresh.ledger) as book:
        due = unreviewed_outputs(book.records())
    assert [Path(d.output).name for d in due] == [fresh.output.name]
    capsys.readouterr()
    assert main(["ledger", "due", "--ledger", fresh.ledger]) == 0
    assert "without an approving review" in capsys.readouterr().out
    body = {"reviewer": "kim", "verdict": "needs-changes", "note": "", "revision": 0}
    assert client.post("/api/o/0/signoff", json=body, headers=ORIGIN).status_code == 200
    with Ledger(fresh.ledger) as book:
        assert len(unreviewed_outputs(book.records())) == 1
    body = {**body, "verdict": "approve", "note": "looked at every frame"}
    assert client.post("/api/o/0/signoff", json=body, headers=ORIGIN).status_code == 200
    with Ledger(fresh.ledger) as book:
        assert unreviewed_outputs(book.records()) == []
        actions = [r.action for r in book.records()]
    assert actions.count("review.signoff") == 2 and "review.open" in actions
    assert main(["ledger", "due", "--ledger", fresh.ledger]) == 0
    assert "without an approving review" not in capsys.readouterr().out
    assert main(["ledger", "show", "--ledger", fresh.ledger, "--action", "review"]) == 0
    assert "verdict=approve" in capsys.readouterr().out


def test_a_folder_of_outputs_is_found(made: Made) -> None:
    assert [f.video for f in find_outputs([made.root])] == [made.output]


def test_verify_flags_come_from_the_json_report(fresh: Made) -> None:
    report = {
        "created": "2026-12-07T10:00:00+09:00",
        "files": [
            {
                "anonymized": str(fresh.output),
                "frames": [
                    {"frame": 2, "leaks": 0, "reidentifiable": 0, "fail_closed": False, "checks": []},
                    {"frame": 7, "leaks": 1, "reidentifiable": 0, "fail_closed": False,
                     "checks": [{"box": [1.0, 2.0, 30.0, 40.0], "leak": True, "track": "abc"}]},
                ],
            }
        ],
    }  # fmt: skip
    OutputFiles(fresh.output).verify_json.write_text(json.dumps(report), encoding="utf-8")
    flags = verify_flags(OutputFiles(fresh.output).verify_json, fresh.output)
    assert flags["report"] == report["created"]
    assert flags["frames"] == [
        {"frame": 7, "leaks": 1, "reidentifiable": 0, "fail_closed": False, "boxes": [[1.0, 2.0, 30.0, 40.0]],
         "tracks": ["abc"]}
    ]  # fmt: skip
    OutputFiles(fresh.output).verify_json.write_text("{not json", encoding="utf-8")
    assert verify_flags(OutputFiles(fresh.output).verify_json, fresh.output)["frames"] == []


def test_the_tracker_carries_a_drawn_box_along_the_picture(made: Made) -> None:
    store = ReviewStore(OutputFiles(made.output))
    frames = FrameSource(made.output, list(store.facts.pts), store.facts.rotation)
    try:
        keys = follow(frames, 0, ADDED, FRAMES, store.facts.width, store.facts.height)
        back = follow(frames, FRAMES - 1, [ADDED[0] + 22, ADDED[1], ADDED[2] + 22, ADDED[3]], -FRAMES, 320, 240)
    finally:
        frames.close()
    assert [k["frame"] for k in keys] == [0, 5, 10, FRAMES - 1]
    # the clip pans 2 px to the right per frame: the tracker follows (within a few pixels)
    assert abs(keys[-1]["box"][0] - (ADDED[0] + 2 * (FRAMES - 1))) < 6, keys
    assert back[0]["frame"] == 0 and abs(back[0]["box"][0] - ADDED[0]) < 6, back
