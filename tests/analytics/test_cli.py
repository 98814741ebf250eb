"""``gamyeon analyze`` end to end on a real gamyeon output of a synthetic clip (two real people
from a public-domain photo, detected by the bundled person detector), its one-line errors, the
webhook against a real local HTTP server, and the ledger record of a contact trace."""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Iterator
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import make_video
from gamyeon.cli import main
from gamyeon.keys import MasterKey, write_key
from gamyeon.ledger.store import Ledger

skimage_data = pytest.importorskip("skimage.data")

#: the walker's ground point passes within this many pixels of the man standing still
CONTACT_PX = "300"
RESULT_FILES = {
    "analytics.json",
    "events.jsonl",
    "tracks.csv",
    "zones.csv",
    "visits.csv",
    "occupancy.csv",
    "contacts.csv",
    "report.html",
}


def two_people(index: int, width: int, height: int) -> np.ndarray:
    """The cameraman (~200 px tall) twice on a grey street: one standing at x=400, one walking right."""
    man = cv2.cvtColor(cv2.resize(skimage_data.camera(), (200, 200), interpolation=cv2.INTER_AREA), cv2.COLOR_GRAY2RGB)
    frame = np.full((height, width, 3), 140, dtype=np.uint8)
    frame[40:240, 400:600] = man
    x = 20 + 8 * index
    frame[40:240, x : x + 200] = man
    return frame


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real gamyeon output (persons tracked) of a 2 s clip at 10 fps; its own key and ledger, so
    nothing reaches the user's key store."""
    work = tmp_path_factory.mktemp("analytics")
    clip = work / "two.mp4"
    make_video(clip, size=(640, 272), frames=20, rate=Fraction(10), picture=two_people)
    key = work / "k.key"
    write_key(MasterKey.generate(), key)
    out = work / "two.anon.mp4"
    ledger = str(work / "ledger.sqlite")
    args = ["--kinds", "persons", "--key", str(key), "--ledger", ledger, "--export", "coco,mot", "-q"]
    assert main(["anonymize", str(clip), "-o", str(out), *args]) == 0
    return out


def tracks_by_place(sidecar: Path, identity: bool = True) -> tuple[str, str]:
    """(standing man, walker): the pseudonyms of the persons' identity tracks (what ``analyze``
    reads for persons in a sidecar), or with ``identity`` False of their masked person regions (all
    a COCO export has), at x=400 and x<100 on frame 0."""
    first = json.loads(sidecar.read_text().splitlines()[0])
    people = first["tracks"] if identity else [r for r in first["regions"] if r["kind"] == "person"]
    stander = next(r["track"] for r in people if r["box"][0] > 350)
    walker = next(r["track"] for r in people if r["box"][0] < 100)
    return stander, walker


def write_zones(path: Path) -> Path:
    path.write_text('[[zone]]\nname = "bench"\npolygon = [[380, 200], [540, 200], [540, 260], [380, 260]]\n')
    return path


def test_analyze_a_real_output_end_to_end(output: Path, tmp_path: Path) -> None:
    stander, walker = tracks_by_place(Path(f"{output}.regions.jsonl"))
    zones = write_zones(tmp_path / "zones.toml")
    args = ["--zones", str(zones), "--loiter", "1", "--contact-distance", CONTACT_PX, "--contact-seconds", "0.3", "-q"]
    assert main(["analyze", str(output), "-o", str(tmp_path / "by_video"), *args]) == 0
    assert main(["analyze", f"{output}.regions.jsonl", "-o", str(tmp_path / "by_sidecar"), *args]) == 0
    assert {p.name for p in (tmp_path / "by_video").iterdir()} == RESULT_FILES
    doc = json.loads((tmp_path / "by_video" / "analytics.json").read_text())
    assert doc == json.loads((tmp_path / "by_sidecar" / "analytics.json").read_text())  # both name the sidecar
    (source,) = doc["sources"]
    assert source["frames"] == 20 and {stander, walker} <= {t["track"] for t in source["tracks"]}
    # the standing man stays on the bench the whole clip; the walker never reaches it
    bench = [v for v in source["visits"] if v["zone"] == "bench"]
    assert [v["track"] for v in bench] == [stander]
    assert bench[0]["duration"] >= 1.5 and not bench[0]["entered"]
    events = [json.loads(line) for line in (tmp_path / "by_video" / "events.jsonl").read_text().splitlines()]
    assert [(e["event"], e["track"], e["ongoing"]) for e in events] == [
        ("loitering", stander, True),
        ("loitering", stander, False),
    ]
    # the walker comes within 300 px of the standing man in the second half
    pairs = {(c["a"], c["b"]): c for c in source["contacts"]}
    contact = pairs[tuple(sorted((stander, walker)))]
    assert 0.5 <= contact["start"] <= 1.5 and contact["end"] == pytest.approx(1.9)
    with (tmp_path / "by_video" / "zones.csv").open() as fh:
        (row,) = list(csv.DictReader(fh))
    assert (row["zone"], row["visits"], row["loitering"]) == ("bench", "1", "1")
    with (tmp_path / "by_video" / "occupancy.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 20 and {r["bench"] for r in rows} == {"1"}
    report = (tmp_path / "by_video" / "report.html").read_text()
    assert report.count('src="data:image/png;base64,') == 3  # occupancy, dwell, heatmap
    assert "http://" not in report and "https://" not in report  # nothing fetched: works offline
    assert "Not provided, by design" in report


def test_the_coco_export_gives_the_same_results_as_the_sidecar(output: Path, tmp_path: Path) -> None:
    zones = write_zones(tmp_path / "z.toml")
    args = ["--contact-distance", CONTACT_PX, "--contact-seconds", "0.3", "--zones", str(zones), "-q"]
    # the COCO export carries the masked regions, not the identity tracks: it matches the sidecar
    # read without them (the masked person regions are what is left)
    regions_only = tmp_path / "regions-only.regions.jsonl"
    lines = [json.loads(line) for line in Path(f"{output}.regions.jsonl").read_text().splitlines()]
    assert all("tracks" in line for line in lines)
    regions_only.write_text(
        "".join(json.dumps({k: v for k, v in line.items() if k != "tracks"}) + "\n" for line in lines)
    )
    assert main(["analyze", str(regions_only), "-o", str(tmp_path / "a"), *args]) == 0
    assert main(["analyze", f"{output}.coco.json", "-o", str(tmp_path / "b"), *args]) == 0

    def without_source(value: object) -> object:
        if isinstance(value, dict):
            return {k: without_source(v) for k, v in value.items() if k != "source"}
        if isinstance(value, list):
            return [without_source(v) for v in value]
        return value

    sidecar, coco = (
        without_source(json.loads((tmp_path / f / "analytics.json").read_text())["sources"]) for f in ("a", "b")
    )
    assert sidecar == coco
    assert isinstance(sidecar, list) and sidecar[0]["contacts"] and sidecar[0]["visits"]


@pytest.mark.parametrize("what", ["text", "video", "jsonl", "image", "mot", "coco"])
def test_an_input_that_is_not_a_sidecar_is_one_clear_line(
    output: Path, tmp_path: Path, what: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if what == "text":
        bad = tmp_path / "notes.regions.jsonl"
        bad.write_text("hello\n")
    elif what == "video":
        bad = tmp_path / "plain.mp4"
        make_video(bad, frames=2)
    elif what == "jsonl":
        bad = tmp_path / "other.regions.jsonl"
        bad.write_text('{"id": 1, "boxes": []}\n')
    elif what == "coco":
        bad = tmp_path / "other.coco.json"
        bad.write_text('{"images": [], "annotations": [{"bbox": [1, 2, 3, 4]}], "categories": []}')
    elif what == "mot":
        bad = tmp_path / "copy.mot.txt"
        bad.write_text(Path(f"{output}.mot.txt").read_text())
    else:
        bad = tmp_path / "photo.jpg.regions.jsonl"
        bad.write_text('{"frame": 0, "pts": null, "time": null, "fail_closed": false, "regions": []}\n')
    out = tmp_path / "res"
    assert main(["analyze", str(output), str(bad), "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gamyeon: error: ") and str(bad) in err[0]
    assert "Traceback" not in err[0]
    assert not out.exists()


def test_a_damaged_line_later_in_the_file_leaves_no_results(
    output: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = Path(f"{output}.regions.jsonl").read_text().splitlines()
    broken = tmp_path / "cut.regions.jsonl"
    broken.write_text("\n".join([*lines[:5], lines[5][:40], *lines[6:]]) + "\n")
    out = tmp_path / "res"
    assert main(["analyze", str(broken), "-o", str(out)]) == 1
    assert "line 6" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


class _Receiver(BaseHTTPRequestHandler):
    """Keeps every POST body; answers with the status the server was told to."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server = self.server
        assert isinstance(server, _Server)
        server.bodies.append((self.headers["Content-Type"], body))
        self.send_response(server.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    bodies: list[tuple[str, bytes]]
    status: int


@pytest.fixture
def receiver() -> Iterator[_Server]:
    server = _Server(("127.0.0.1", 0), _Receiver)
    server.bodies, server.status = [], 204
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_webhook_posts_each_event_to_a_real_server(output: Path, tmp_path: Path, receiver: _Server) -> None:
    url = f"http://127.0.0.1:{receiver.server_address[1]}/alerts"
    zones = write_zones(tmp_path / "zones.toml")
    assert main(["analyze", str(output), "-o", str(tmp_path / "r"), "--zones", str(zones), "--loiter", "1",
                 "--webhook", url, "-q"]) == 0  # fmt: skip
    events = [json.loads(line) for line in (tmp_path / "r" / "events.jsonl").read_text().splitlines()]
    assert len(events) == 2
    assert [json.loads(body) for _, body in receiver.bodies] == events
    assert {ctype for ctype, _ in receiver.bodies} == {"application/json"}


def test_a_refusing_webhook_is_reported_and_the_analysis_goes_on(
    output: Path, tmp_path: Path, receiver: _Server, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver.status = 500
    url = f"http://127.0.0.1:{receiver.server_address[1]}/alerts"
    zones = write_zones(tmp_path / "zones.toml")
    assert main(["analyze", str(output), "-o", str(tmp_path / "r"), "--zones", str(zones), "--loiter", "1",
                 "--webhook", url]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert "HTTP 500" in err and "0 event(s) delivered, 2 failed" in err
    assert len(receiver.bodies) == 2 and (tmp_path / "r" / "events.jsonl").is_file()


def test_webhook_needs_an_http_url(output: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(output), "-o", str(tmp_path / "r"), "--webhook", "file:///etc/passwd"]) == 2
    assert "http://" in capsys.readouterr().err


def _trace_records(ledger: str) -> list[dict[str, object]]:
    with Ledger(ledger) as book:
        return [{"dataset": r.dataset_id, **r.payload} for r in book.records() if r.action == "trace"]


def test_a_contact_trace_is_recorded_in_the_ledger_and_shown(
    output: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stander, walker = tracks_by_place(Path(f"{output}.regions.jsonl"))
    ledger = str(output.parent / "ledger.sqlite")  # the one the output was recorded in
    out = tmp_path / "trace"
    code = main(["analyze", str(output), "-o", str(out), "--contact-distance", CONTACT_PX, "--contact-seconds",
                 "0.3", "--trace", stander, "--purpose", "epidemiological investigation", "--authority",
                 "KDCA case 2026-0412", "--ledger", ledger])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert walker in printed and stander not in printed
    trace = json.loads((out / "trace.json").read_text())
    assert trace["track"] == stander and walker in {c["contact"] for c in trace["contacts"]}
    (record,) = [r for r in _trace_records(ledger) if r["output"]["path"] == str((out / "trace.json").resolve())]  # type: ignore[index]
    assert record["track"] == stander
    assert record["purpose"] == "epidemiological investigation" and record["authority"] == "KDCA case 2026-0412"
    assert record["contact_tracks"] == sorted({c["contact"] for c in trace["contacts"]})
    assert record["contacts"] == len(trace["contacts"])
    with Ledger(ledger) as book:  # found by the sidecar's hash in the anonymize record
        (made,) = [r for r in book.records() if r.action == "anonymize"]
    assert record["dataset"] == made.dataset_id is not None
    sidecar = record["sidecars"]
    assert isinstance(sidecar, list) and sidecar[0]["sha256"] == made.payload["annotations"]["sha256"]
    output_facts = record["output"]
    assert isinstance(output_facts, dict) and output_facts["path"] == str((out / "trace.json").resolve())
    assert main(["ledger", "show", "--ledger", ledger, "--action", "trace"]) == 0
    (line,) = [x for x in capsys.readouterr().out.strip().splitlines() if str(out) in x]
    assert " trace " in line and f"track={stander}" in line and "authority=KDCA case 2026-0412" in line
    assert f"contacts={len(trace['contacts'])}" in line
    assert main(["ledger", "verify", "--ledger", ledger]) == 0


def test_a_trace_on_the_coco_export_is_recorded_for_its_dataset(output: Path, tmp_path: Path) -> None:
    stander, _ = tracks_by_place(Path(f"{output}.regions.jsonl"), identity=False)
    ledger = str(output.parent / "ledger.sqlite")
    out = tmp_path / "coco-trace"
    code = main(["analyze", f"{output}.coco.json", "-o", str(out), "--contact-distance", CONTACT_PX, "--trace",
                 stander, "--purpose", "p", "--authority", "a", "--ledger", ledger, "-q"])  # fmt: skip
    assert code == 0
    (record,) = [r for r in _trace_records(ledger) if r["output"]["path"] == str((out / "trace.json").resolve())]  # type: ignore[index]
    with Ledger(ledger) as book:
        (export,) = [r for r in book.records() if r.action == "export" and r.payload["format"] == "coco"]
    assert record["dataset"] == export.dataset_id is not None
    assert record["sidecars"][0]["sha256"] == export.payload["file"]["sha256"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--authority", "court order 12"], "--trace needs --purpose"),
        (["--purpose", "investigation"], "--trace needs --authority"),
        (["--purpose", " ", "--authority", "x"], "must not be empty"),
    ],
)
def test_a_trace_without_purpose_and_authority_is_refused(
    output: Path, tmp_path: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stander, _ = tracks_by_place(Path(f"{output}.regions.jsonl"))
    ledger = str(tmp_path / "ledger.sqlite")
    out = tmp_path / "trace"
    code = main(["analyze", str(output), "-o", str(out), "--contact-distance", CONTACT_PX, "--trace", stander,
                 "--ledger", ledger, *extra])  # fmt: skip
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
    assert not Path(ledger).exists()  # refused before the ledger was even opened


def test_a_trace_of_an_unknown_track_and_without_a_distance(
    output: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = str(tmp_path / "ledger.sqlite")
    common = [
        "analyze",
        str(output),
        "-o",
        str(tmp_path / "t"),
        "--purpose",
        "p",
        "--authority",
        "a",
        "--ledger",
        ledger,
    ]
    assert main([*common, "--contact-distance", "10", "--trace", "0123456789abcdef"]) == 2
    assert "not among the analysed tracks" in capsys.readouterr().err
    assert main([*common, "--trace", "0123456789abcdef"]) == 2
    assert "--contact-distance" in capsys.readouterr().err
    assert _trace_records(ledger) == []
    assert not (tmp_path / "t").exists()


def test_help_says_what_is_not_provided(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Not provided, by design: matching a person across cameras" in text


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--loiter", "5"], 2, "--loiter needs --zones"),
        (["--contact-distance", "0"], 2, "--contact-distance must be > 0"),
        (["--kinds", "plate"], 2, "--kinds: expected some of person, head, face"),
        (["--zones", "METRES"], 2, "give --homography"),
        (["--homography", "MISSING"], 1, "homography file not found"),
    ],
)
def test_options_that_do_not_fit_are_refused_before_any_work(
    output: Path, tmp_path: Path, extra: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    metres = tmp_path / "m.toml"
    metres.write_text('units = "metres"\n[[zone]]\nname = "z"\npolygon = [[0, 0], [1, 0], [1, 1]]\n')
    extra = [str(metres) if e == "METRES" else str(tmp_path / "nope.toml") if e == "MISSING" else e for e in extra]
    out = tmp_path / "res"
    assert main(["analyze", str(output), "-o", str(out), *extra]) == code
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_the_output_must_be_a_folder(output: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    taken = tmp_path / "file.txt"
    taken.write_text("x")
    assert main(["analyze", str(output), "-o", str(taken)]) == 1
    assert "must be a folder" in capsys.readouterr().err
    assert taken.read_text() == "x"


def test_an_output_without_the_kinds_asked_for_says_which_it_has(
    output: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analyze", str(output), "-o", str(tmp_path / "r"), "--kinds", "head"]) == 0
    assert "has no tracks of kind head; kinds in it: person" in capsys.readouterr().err
    doc = json.loads((tmp_path / "r" / "analytics.json").read_text())
    assert doc["sources"][0]["tracks"] == [] and doc["sources"][0]["frames"] == 20
