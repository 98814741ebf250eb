"""Annotations for AI training: a JSON Lines sidecar, plus COCO and MOT exports made from it.

JSONL schema, one line per frame, in frame order (documented in the README)::

    {"frame": 0, "pts": 0, "time": 0.0, "fail_closed": false,
     "regions": [{"kind": "face", "track": "3f9c0a1be2d47781", "box": [x1, y1, x2, y2],
                  "mask": [x1, y1, x2, y2], "score": 0.91, "source": "detected"}],
     "tracks": [{"kind": "person", "track": "a07be3c1d29f5e40", "box": [x1, y1, x2, y2],
                 "score": 0.88, "source": "interpolated"}]}

``regions`` are what was masked; ``tracks`` (runs that track persons) are the persons' identity
tracks (``track.identity``), whether or not anything of them was masked on the frame.
Boxes are pixels of the upright (displayed) picture; ``mask`` is the whole pixels the operator
may change (its box's pixel bounds, clipped), so a re-render from the sidecar masks exactly the
same pixels. ``track`` is a pseudonym (HMAC of the
dataset secret), never the tracker's internal number. Exports stream from the JSONL file, so
memory does not grow with video length.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from gamyeon.errors import UsageError
from gamyeon.track.identity import MIN_HITS
from gamyeon.types import FrameResult

EXPORT_FORMATS = ("coco", "mot")


class JsonlWriter:
    def __init__(self, path: Path, track_id: Callable[[str, int], str], width: int, height: int) -> None:
        self.path = path
        self._track_id = track_id
        self._size = (width, height)
        self._fh: IO[str] = path.open("w", encoding="utf-8")

    def write(self, result: FrameResult) -> None:
        line: dict[str, Any] = {
            "frame": result.index,
            "pts": result.pts,
            "time": None if result.time is None else round(result.time, 6),
            "fail_closed": result.fail_closed,
            "regions": [
                {
                    "kind": r.kind,
                    "track": None if r.track is None else self._track_id(r.kind, r.track),
                    "box": r.box.as_list(),
                    "mask": list(r.mask.pixel_bounds(*self._size)),
                    "score": round(r.score, 4),
                    "source": r.source.value,
                }
                for r in result.regions
            ],
        }
        if result.tracks is not None:
            line["tracks"] = [
                {
                    "kind": t.kind,
                    "track": self._track_id(t.kind, t.track),
                    "box": t.box.as_list(),
                    "score": round(t.score, 4),
                    "source": t.source.value,
                }
                for t in result.tracks
            ]
        self._fh.write(json.dumps(line, separators=(",", ":")) + "\n")

    def close(self) -> None:
        self._fh.close()


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def export_mot(jsonl: Path, out: Path) -> None:
    """MOTChallenge text: ``frame,id,x,y,w,h,conf,-1,-1,-1`` with 1-based frames.

    MOT files hold one class of object. When the run tracked persons (the sidecar has
    ``tracks``), the rows are the persons' identity tracks: their estimated box on every frame a
    track was detected or interpolated, for tracks detected at least ``identity.MIN_HITS``
    times (shorter ones are mostly detector noise). Otherwise (``--kinds faces``) they are
    the regions' boxes, every kind with a track.

    MOT needs integer ids; pseudonyms are numbered in order of first appearance, which reveals
    nothing beyond what the file already shows.
    """
    persons = any("tracks" in line for line in read_jsonl(jsonl))
    confirmed: set[str] = set()
    if persons:
        hits: Counter[str] = Counter(
            t["track"] for line in read_jsonl(jsonl) for t in line.get("tracks", ()) if t["source"] == "detected"
        )
        confirmed = {track for track, n in hits.items() if n >= MIN_HITS}
    numbers: dict[str, int] = {}
    with out.open("w", encoding="utf-8") as fh:
        for line in read_jsonl(jsonl):
            rows = [t for t in line.get("tracks", ()) if t["track"] in confirmed] if persons else line["regions"]
            for r in rows:
                if r["track"] is None:
                    continue
                tid = numbers.setdefault(r["track"], len(numbers) + 1)
                x1, y1, x2, y2 = r["box"]
                frame = line["frame"] + 1
                fh.write(f"{frame},{tid},{x1:.1f},{y1:.1f},{x2 - x1:.1f},{y2 - y1:.1f},{r['score']:.4f},-1,-1,-1\n")


def export_coco(jsonl: Path, out: Path, *, file_name: str, width: int, height: int, info: dict[str, Any]) -> None:
    """COCO detection JSON, one image entry per frame (``file_name#frame=N``), written streaming."""
    categories: dict[str, int] = {}
    ann_id = 0
    with out.open("w", encoding="utf-8") as fh:
        fh.write('{"info":' + json.dumps(info) + ',"images":[')
        first = True
        for line in read_jsonl(jsonl):
            entry = {
                "id": line["frame"] + 1,
                "file_name": f"{file_name}#frame={line['frame']}",
                "width": width,
                "height": height,
                "frame_index": line["frame"],
                "time": line["time"],
            }
            fh.write(("" if first else ",") + json.dumps(entry))
            first = False
        fh.write('],"annotations":[')
        first = True
        for line in read_jsonl(jsonl):
            for r in line["regions"]:
                cat = categories.setdefault(r["kind"], len(categories) + 1)
                ann_id += 1
                x1, y1, x2, y2 = r["box"]
                w, h = round(x2 - x1, 1), round(y2 - y1, 1)
                entry = {
                    "id": ann_id,
                    "image_id": line["frame"] + 1,
                    "category_id": cat,
                    "bbox": [x1, y1, w, h],
                    "area": round(w * h, 1),
                    "iscrowd": 0,
                    "score": r["score"],
                    "track_id": r["track"],
                    "source": r["source"],
                }
                fh.write(("" if first else ",") + json.dumps(entry))
                first = False
        cats = [{"id": i, "name": name} for name, i in categories.items()]
        fh.write('],"categories":' + json.dumps(cats) + "}")


def export_path(output: Path, fmt: str) -> Path:
    """Where the ``fmt`` export of ``output`` goes: beside it, ``<OUTPUT>.coco.json`` / ``.mot.txt``."""
    return output.with_name(output.name + f".{fmt}" + (".json" if fmt == "coco" else ".txt"))


def write_export(fmt: str, jsonl: Path, out: Path, *, file_name: str, width: int, height: int, dataset_id: str) -> None:
    """Write the ``fmt`` export (``EXPORT_FORMATS``) of the annotations ``jsonl`` to ``out``."""
    if fmt == "mot":
        export_mot(jsonl, out)
    else:
        export_coco(
            jsonl,
            out,
            file_name=file_name,
            width=width,
            height=height,
            info={"dataset_id": dataset_id, "description": "gamyeon pseudonymized regions"},
        )


def parse_exports(values: list[str] | None) -> tuple[str, ...]:
    out: list[str] = []
    for value in values or []:
        for name in value.split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name not in EXPORT_FORMATS:
                raise UsageError(f"--export: expected some of {list(EXPORT_FORMATS)}, got {name!r}")
            if name not in out:
                out.append(name)
    return tuple(out)
