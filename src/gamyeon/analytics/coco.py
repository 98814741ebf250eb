"""Reading the pseudonymous tracks of a gamyeon COCO export (``OUTPUT.coco.json``).

The export carries what the analytics need: one image per frame with its ``time``, and per
annotation the kind (category name), the ``bbox`` as detected or estimated, the ``track_id``
pseudonym and the ``source``. It is one JSON document, read whole (a sidecar streams); the MOT
export is not accepted, as it has neither timestamps nor pseudonyms nor kinds.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from gamyeon.analytics.records import FrameRecord
from gamyeon.analytics.sidecar import OBSERVED_SOURCES, NotARegionsRecord, frame_record
from gamyeon.errors import UnsupportedInputError

COCO_SUFFIX = ".coco.json"


def _not_export(path: Path, why: str) -> UnsupportedInputError:
    return UnsupportedInputError(f"{path} is not a gamyeon COCO export ({why})")


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _not_export(path, f"not JSON: {err}") from None
    except OSError as err:
        raise UnsupportedInputError(f"cannot read {path}: {err.strerror}") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "annotations")):
        raise _not_export(path, "expected 'images' and 'annotations'")
    if not isinstance(data.get("categories"), list):
        raise _not_export(path, "expected 'categories'")
    return data


def check_coco(path: Path) -> None:
    """Refuse a file that is not a gamyeon COCO export before any work is done."""
    list(read_coco(path, ()))


def read_coco(
    path: Path,
    kinds: Collection[str],
    sources: Collection[str] = OBSERVED_SOURCES,
    seen: set[str] | None = None,
) -> Iterator[FrameRecord]:
    """The frames of a COCO export in frame order, as ``sidecar.read_frames`` gives them."""
    data = _load(path)
    try:
        names = {c["id"]: c["name"] for c in data["categories"]}
        regions: dict[int, list[dict[str, Any]]] = {}
        for a in data["annotations"]:
            x, y, w, h = a["bbox"]
            regions.setdefault(a["image_id"], []).append(
                {
                    "kind": names[a["category_id"]],
                    "track": a.get("track_id"),
                    "box": [x, y, x + w, y + h],
                    "score": a.get("score"),
                    "source": a.get("source"),
                }
            )
        images = sorted(data["images"], key=lambda im: im["frame_index"])
        lines = [
            {"frame": im["frame_index"], "time": im.get("time"), "regions": regions.get(im["id"], [])} for im in images
        ]
    except (KeyError, TypeError, ValueError) as err:
        raise _not_export(path, f"missing or malformed {err}") from None
    for line in lines:
        try:
            yield frame_record(line, str(path), kinds, sources, seen)
        except NotARegionsRecord as err:
            raise _not_export(path, f"frame {line['frame']}: {err}") from None
