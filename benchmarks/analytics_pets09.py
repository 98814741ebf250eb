"""Measure ``gamyeon analyze`` on the pseudonymous tracks of a real dev clip: PETS09 S2.L1.

PETS09 S2.L1 (795 frames, 480x360, 10 fps, real CCTV of people walking and standing) is
anonymized with the installed CLI (default kinds: the persons' identity tracks are in the sidecar), then
analysed twice with the same options: on gamyeon's pseudonymous tracks and on the clip's ground
truth boxes (MOT15, written as a sidecar with ids ``gt-N``), so the loitering alerts and contacts
computed without identifying anyone can be compared with those of the true tracks. A contact
trace of one pseudonymous track is run too, recorded in a ledger of its own.

Each gamyeon track is assigned the GT person it overlaps (IoU >= 0.5) on most of its frames. A
gamyeon contact is *confirmed* when its two tracks belong to two GT persons who have a GT contact
overlapping it in time, *same person* when both tracks belong to one GT person (a person tracked
twice), and *other* otherwise. A GT contact is *found* when a confirmed gamyeon contact covers it.

Everything is written to ``--out`` (default: a temporary folder), never into the repository: the
dev set is for evaluation only. Run from the repository root:

    .venv/bin/python benchmarks/analytics_pets09.py [--out DIR] [--anonymized OUT.mp4]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from gamyeon.analytics.plane import Plane, load_plane

DEFAULT_EVALDATA = Path(__file__).resolve().parents[2] / "shared" / "evaldata"
VIDEO = "dev/videos/pets09_s2l1_vtest.avi"
GT = "dev/gt/pets09_s2l1_vtest.persons.json"

#: four ground points 10 m apart, projected into the 480x360 clip with the Tsai calibration the
#: PETS 2009 dataset publishes for View_001 (768x576; image points scaled by 0.625)
HOMOGRAPHY = """\
# PETS09 S2.L1 View_001 at 480x360: four ground points 10 m apart (world (-10,-10), (0,-10),
# (0,0), (-10,0) m of the dataset's frame), projected with its published Tsai calibration
image = [[314.1, 198.6], [423.3, 128.3], [219.9, 109.9], [73.0, 161.6]]
ground = [[0, 0], [10, 0], [10, 10], [0, 10]]
"""
ZONES = """\
units = "image"
[[zone]]
name = "lamp"      # the walkway around the lamp post and the sign
polygon = [[200, 100], [330, 100], [330, 190], [200, 190]]
[[zone]]
name = "lawn"      # the grass in the foreground
polygon = [[0, 175], [200, 195], [480, 330], [480, 360], [0, 360]]
"""
ANALYZE = ["--loiter", "10", "--contact-distance", "1.5", "--contact-seconds", "2"]
IOU_MATCH = 0.5


def gamyeon(*args: str) -> float:
    """Run the CLI; returns its CPU seconds (user + system of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "gamyeon.cli", *args], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def read_sidecar(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def gt_sidecar(gt: Path, ours: list[dict[str, Any]], out: Path) -> None:
    """The GT boxes as a regions sidecar on the anonymized output's frame times (video frame k,
    0-based, is GT frame k + 1)."""
    frames = json.loads(gt.read_text())["frames"]
    with out.open("w") as fh:
        for line in ours:
            entry = frames.get(str(line["frame"] + 1), {"persons": [], "ids": []})
            regions = [
                {"kind": "person", "track": f"gt-{i}", "box": box, "mask": box, "score": 1.0, "source": "detected"}
                for box, i in zip(entry["persons"], entry["ids"], strict=True)
            ]
            fh.write(json.dumps({"frame": line["frame"], "pts": line["pts"], "time": line["time"],
                                 "fail_closed": False, "regions": regions}) + "\n")  # fmt: skip


def iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def assign(ours: list[dict[str, Any]], truth: list[dict[str, Any]]) -> dict[str, str | None]:
    """Each pseudonymous person track -> the GT person it overlaps on most of its frames."""
    votes: dict[str, Counter[str]] = {}
    for mine, gt in zip(ours, truth, strict=True):
        gt_boxes = [(r["track"], r["box"]) for r in gt["regions"]]
        for r in mine.get("tracks", mine["regions"]):  # the identity tracks, which analyze reads
            if r["kind"] != "person" or r["source"] == "extended":
                continue
            tally = votes.setdefault(r["track"], Counter())
            best = max(gt_boxes, key=lambda g: iou(r["box"], g[1]), default=None)
            if best is not None and iou(r["box"], best[1]) >= IOU_MATCH:
                tally[best[0]] += 1
    return {t: (c.most_common(1)[0][0] if c else None) for t, c in votes.items()}


def overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(a["start"] <= b["end"] and b["start"] <= a["end"])


def gt_distance(places: dict[tuple[str, float], Any], a: str | None, b: str | None, c: dict[str, Any]) -> float | None:
    """The closest two GT persons came (metres) while a gamyeon contact between their tracks lasted."""
    if a is None or b is None:
        return None
    times = sorted({t for (_, t) in places if c["start"] - 1e-6 <= t <= c["end"] + 1e-6})
    found = [float(np.linalg.norm(places[a, t] - places[b, t])) for t in times if (a, t) in places and (b, t) in places]
    return round(min(found), 2) if found else None


def ground_places(truth: list[dict[str, Any]], plane: Plane) -> dict[tuple[str, float], Any]:
    """Each GT person's ground point (metres) by (id, frame time)."""
    places = {}
    for line in truth:
        for r in line["regions"]:
            x1, _, x2, y2 = r["box"]
            places[r["track"], round(line["time"], 6)] = plane.project(np.array([[(x1 + x2) / 2, y2]]))[0]
    return places


def compare(
    doc: dict[str, Any], truth: dict[str, Any], owner: dict[str, str | None], places: dict[tuple[str, float], Any]
) -> dict[str, Any]:
    gt_contacts = truth["sources"][0]["contacts"]
    kinds: Counter[str] = Counter()
    found: set[int] = set()
    other_gt_distances = []
    for c in doc["sources"][0]["contacts"]:
        ga, gb = owner.get(c["a"]), owner.get(c["b"])
        if ga is not None and ga == gb:
            kinds["same person"] += 1
            continue
        hits = [i for i, g in enumerate(gt_contacts) if {g["a"], g["b"]} == {ga, gb} and overlaps(c, g)]
        kinds["confirmed" if hits else "other"] += 1
        found.update(hits)
        if not hits:
            other_gt_distances.append(gt_distance(places, ga, gb, c))
    gt_alerts = [e for e in truth["events"] if e["ongoing"]]
    our_alerts = [e for e in doc["events"] if e["ongoing"]]
    closing = {(e["track"], e["zone"], e["start"]): e for e in truth["events"] if not e["ongoing"]}
    alerts_found = 0
    for g in gt_alerts:
        g_end = closing.get((g["track"], g["zone"], g["start"]), g)
        span = {"start": g["start"], "end": g_end["end"] if g_end.get("end") is not None else g["start"] + 1e9}
        mine = [e for e in our_alerts if e["zone"] == g["zone"] and owner.get(e["track"]) == g["track"]]
        alerts_found += any(overlaps({"start": e["start"], "end": e["start"] + e["duration"]}, span) for e in mine)
    return {
        "tracks": {"gamyeon": len(owner), "gt": len(truth["sources"][0]["tracks"]),
                   "gamyeon assigned to a GT person": sum(v is not None for v in owner.values())},
        "contacts": {"gamyeon": len(doc["sources"][0]["contacts"]), "gt": len(gt_contacts),
                     "gamyeon by kind": dict(kinds), "gt found": len(found),
                     "closest GT distance (m) of the persons in each 'other' contact": other_gt_distances},
        "loitering alerts": {"gamyeon": len(our_alerts), "gt": len(gt_alerts), "gt found": alerts_found},
        "zones": {"gamyeon": doc["sources"][0]["zones"], "gt": truth["sources"][0]["zones"]},
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evaldata", type=Path, default=DEFAULT_EVALDATA)
    parser.add_argument("--out", type=Path, help="folder for every file (default: a new temporary folder)")
    parser.add_argument("--anonymized", type=Path, help="an existing `anonymize` output of the clip (default kinds)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="gamyeon-analytics-"))
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("GAMYEON_KEY_DIR", str(out / "keys"))
    ledger = str(out / "ledger.sqlite")
    figures: dict[str, Any] = {"load_average_at_start": os.getloadavg()}
    anonymized = args.anonymized
    if anonymized is None:
        anonymized = out / "pets09.mp4"
        figures["anonymize_cpu_s"] = gamyeon("anonymize", str(args.evaldata / VIDEO), "-o", str(anonymized),
                                             "--ledger", ledger, "-q")  # fmt: skip
    (out / "pets09.homography.toml").write_text(HOMOGRAPHY)
    (out / "zones.toml").write_text(ZONES)
    ours = read_sidecar(Path(f"{anonymized}.regions.jsonl"))
    gt_path = out / "gt.regions.jsonl"
    gt_sidecar(args.evaldata / GT, ours, gt_path)
    common = ["--homography", str(out / "pets09.homography.toml"), "--zones", str(out / "zones.toml"), *ANALYZE, "-q"]
    start = time.perf_counter()
    figures["analyze_cpu_s"] = gamyeon("analyze", str(anonymized), "-o", str(out / "ours"), *common)
    figures["analyze_wall_s"] = time.perf_counter() - start
    gamyeon("analyze", str(gt_path), "-o", str(out / "gt"), *common)
    doc = json.loads((out / "ours" / "analytics.json").read_text())
    truth = json.loads((out / "gt" / "analytics.json").read_text())
    owner = assign(ours, read_sidecar(gt_path))
    places = ground_places(read_sidecar(gt_path), load_plane(out / "pets09.homography.toml"))
    figures.update(compare(doc, truth, owner, places))
    # trace the track with the most contacts, as an authority would after revealing it
    counts = Counter(t for c in doc["sources"][0]["contacts"] for t in (c["a"], c["b"]))
    if counts:
        target = counts.most_common(1)[0][0]
        gamyeon("analyze", str(anonymized), "-o", str(out / "trace"), *common, "--trace", target,
                "--purpose", "measurement of the contact trace on public benchmark footage",
                "--authority", "none: benchmark run", "--ledger", ledger)  # fmt: skip
        figures["trace"] = {"track": target, "gt person": owner.get(target),
                            **json.loads((out / "trace" / "trace.json").read_text())}  # fmt: skip
    figures["first alerts"] = [e for e in doc["events"] if e["ongoing"]][:5]
    (out / "summary.json").write_text(json.dumps(figures, indent=1))
    print(json.dumps(figures, indent=1))
    print(f"files in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
