"""The review file (``OUTPUT.review.json``): a reviewer's decisions about one output, versioned.

Everything a re-render needs besides the original and the key is in this one JSON file beside
the output, so a re-render is reproducible from the command line alone and a second reviewer
continues where the first stopped. Its layout (``FORMAT``, ``VERSION`` 1)::

    {"format": "gamyeon-review", "version": 1, "revision": 4,
     "output": {"name": "clip.anon.mp4", "sha256": "...", "frames": 150, "width": 960, "height": 540},
     "base": {"name": "clip.anon.mp4.regions.jsonl", "sha256": "..."},
     "items": [{"id": "k3x9", "type": "exclude", "track": "3f9c0a1be2d47781", "start": null,
                "end": null, "note": "poster", "by": "kim", "at": "2026-12-07T10:01:02+00:00"}, ...],
     "signoffs": [{"reviewer": "kim", "verdict": "approve", "note": "", "revision": 4, "at": "..."}],
     "renders": [{"revision": 4, "reviewer": "kim", "output_sha256": "...", "approved": true, "at": "..."}],
     "saves": [{"revision": 4, "reviewer": "kim", "changes": 2, "at": "..."}]}

``revision`` grows by one with every save; a save names the revision it was made on and is
refused when the file has moved on (``store.StaleRevision``), so two tabs never overwrite each
other. ``base`` is the regions sidecar the decisions apply to: the one the detectors wrote, kept
as ``OUTPUT.review.base.jsonl`` once a re-render has rewritten the sidecar. Frames are 0-based
indices, spans inclusive; boxes are ``[x1, y1, x2, y2]`` pixels of the upright picture.

Item types: ``exclude`` (a track, or a span of it, is not masked), ``add`` (a region the detectors
missed: keyframes, interpolated between them and held before the first and after the last, over
``start``..``end``), ``adjust`` (a track's masks grown by ``grow`` and moved by ``dx``/``dy`` over a
span), ``reviewed`` (a span looked at), ``comment``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gamyeon.errors import GamyeonError

FORMAT = "gamyeon-review"
VERSION = 1
ITEM_TYPES = ("exclude", "add", "adjust", "reviewed", "comment")
VERDICTS = ("approve", "needs-changes")
#: an adjustment may grow a mask up to this factor; shrinking is not offered (it would unmask)
MAX_GROW = 4.0
MAX_TEXT = 2000
_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_TRACK = re.compile(r"^[0-9a-f]{1,64}$")


class ReviewFileError(GamyeonError, ValueError):
    """A review file, or a change sent to it, is not valid."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Bounds:
    """What items are checked against: the output's frame count and size, and its tracks."""

    frames: int
    width: int
    height: int
    #: pseudonym -> kind of every track of the base sidecar
    tracks: dict[str, str] = field(default_factory=dict)
    #: region kinds an added region may have
    kinds: tuple[str, ...] = ("face", "head", "person", "plate", "text")


def _fail(where: str, message: str) -> ReviewFileError:
    return ReviewFileError(f"{where}: {message}")


def _str(d: dict[str, Any], key: str, where: str, *, optional: bool = False, limit: int = MAX_TEXT) -> str | None:
    value = d.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _fail(where, f"'{key}' must be text")
    if len(value) > limit:
        raise _fail(where, f"'{key}' is longer than {limit} characters")
    return value


def _frame(value: Any, bounds: Bounds, where: str, key: str, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, f"'{key}' must be a frame number")
    if not 0 <= value < bounds.frames:
        raise _fail(where, f"'{key}' {value} is outside the video's frames 0..{bounds.frames - 1}")
    return value


def _span(d: dict[str, Any], bounds: Bounds, where: str, *, optional: bool) -> tuple[int | None, int | None]:
    start = _frame(d.get("start"), bounds, where, "start", optional=optional)
    end = _frame(d.get("end"), bounds, where, "end", optional=optional)
    if start is not None and end is not None and end < start:
        raise _fail(where, f"the span ends ({end}) before it starts ({start})")
    return start, end


def _number(value: Any, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(where, f"'{key}' must be a finite number")
    return float(value)


def _box(value: Any, bounds: Bounds, where: str) -> list[float]:
    if not isinstance(value, list) or len(value) != 4:
        raise _fail(where, "a box is [x1, y1, x2, y2]")
    x1, y1, x2, y2 = (_number(v, where, "box") for v in value)
    x1, x2 = max(0.0, x1), min(float(bounds.width), x2)
    y1, y2 = max(0.0, y1), min(float(bounds.height), y2)
    if x2 - x1 < 1 or y2 - y1 < 1:
        raise _fail(where, "a box must cover at least one pixel of the picture")
    return [round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1)]


def _track(d: dict[str, Any], bounds: Bounds, where: str) -> str:
    track = _str(d, "track", where, limit=64)
    assert track is not None
    if not _TRACK.match(track) or track not in bounds.tracks:
        raise _fail(where, f"no track {track!r} in this output")
    return track


def check_item(raw: Any, bounds: Bounds) -> dict[str, Any]:
    """One item, validated and normalized (unknown keys dropped); raises ``ReviewFileError``."""
    if not isinstance(raw, dict):
        raise ReviewFileError("an item must be an object")
    item_id = raw.get("id")
    if not isinstance(item_id, str) or not _ID.match(item_id):
        raise ReviewFileError(f"item id {item_id!r}: expected 1-40 letters, digits, '-' or '_'")
    kind = raw.get("type")
    where = f"item {item_id} ({kind})"
    if kind not in ITEM_TYPES:
        raise _fail(where, f"'type' must be one of {', '.join(ITEM_TYPES)}")
    out: dict[str, Any] = {"id": item_id, "type": kind}
    out["by"] = _str(raw, "by", where, optional=True, limit=200) or ""
    out["at"] = _str(raw, "at", where, optional=True, limit=40) or ""
    if kind == "exclude":
        out["track"] = _track(raw, bounds, where)
        out["start"], out["end"] = _span(raw, bounds, where, optional=True)
        out["note"] = _str(raw, "note", where, optional=True) or ""
    elif kind == "adjust":
        out["track"] = _track(raw, bounds, where)
        out["start"], out["end"] = _span(raw, bounds, where, optional=True)
        grow = _number(raw.get("grow", 1.0), where, "grow")
        if not 1.0 <= grow <= MAX_GROW:
            raise _fail(where, f"'grow' must be in 1.0..{MAX_GROW} (a mask is never shrunk)")
        out["grow"] = round(grow, 3)
        out["dx"] = round(_number(raw.get("dx", 0.0), where, "dx"), 1)
        out["dy"] = round(_number(raw.get("dy", 0.0), where, "dy"), 1)
        if grow == 1.0 and out["dx"] == 0 and out["dy"] == 0:
            raise _fail(where, "an adjustment must grow or move the mask")
    elif kind == "add":
        region_kind = raw.get("kind")
        if region_kind not in bounds.kinds:
            raise _fail(where, f"'kind' must be one of {', '.join(bounds.kinds)}")
        out["kind"] = region_kind
        keys = raw.get("keyframes")
        if not isinstance(keys, list) or not keys:
            raise _fail(where, "an added region needs at least one keyframe")
        frames: dict[int, list[float]] = {}
        for key in keys:
            if not isinstance(key, dict):
                raise _fail(where, "a keyframe is {frame, box}")
            index = _frame(key.get("frame"), bounds, where, "frame")
            assert index is not None
            frames[index] = _box(key.get("box"), bounds, where)
        out["keyframes"] = [{"frame": f, "box": frames[f]} for f in sorted(frames)]
        start, end = _span(raw, bounds, where, optional=True)
        first, last = min(frames), max(frames)
        out["start"] = first if start is None else min(start, first)
        out["end"] = last if end is None else max(end, last)
        out["note"] = _str(raw, "note", where, optional=True) or ""
    elif kind == "reviewed":
        start, end = _span(raw, bounds, where, optional=False)
        out["start"], out["end"] = start, end
    else:
        out["frame"] = _frame(raw.get("frame"), bounds, where, "frame", optional=True)
        track = raw.get("track")
        out["track"] = None if track is None else _track(raw, bounds, where)
        text = _str(raw, "text", where)
        if not text or not text.strip():
            raise _fail(where, "a comment needs text")
        out["text"] = text
    return out


@dataclass(frozen=True, slots=True)
class Signoff:
    reviewer: str
    verdict: str
    note: str
    revision: int
    at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "reviewer": self.reviewer,
            "verdict": self.verdict,
            "note": self.note,
            "revision": self.revision,
            "at": self.at,
        }


@dataclass(frozen=True, slots=True)
class Review:
    """One review file's content. Frozen: a save makes a new ``Review`` (``store.ReviewStore``)."""

    output_name: str
    output_sha256: str
    frames: int
    width: int
    height: int
    base_name: str
    base_sha256: str
    revision: int = 0
    items: tuple[dict[str, Any], ...] = ()
    signoffs: tuple[Signoff, ...] = ()
    renders: tuple[dict[str, Any], ...] = ()
    saves: tuple[dict[str, Any], ...] = ()

    def bounds(self, tracks: dict[str, str]) -> Bounds:
        return Bounds(self.frames, self.width, self.height, tracks)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [i for i in self.items if i["type"] == kind]

    @property
    def approved(self) -> bool:
        """Whether the last sign-off approves the current revision."""
        return (
            bool(self.signoffs)
            and self.signoffs[-1].verdict == "approve"
            and (self.signoffs[-1].revision == self.revision)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "revision": self.revision,
            "output": {
                "name": self.output_name,
                "sha256": self.output_sha256,
                "frames": self.frames,
                "width": self.width,
                "height": self.height,
            },
            "base": {"name": self.base_name, "sha256": self.base_sha256},
            "items": list(self.items),
            "signoffs": [s.as_dict() for s in self.signoffs],
            "renders": list(self.renders),
            "saves": list(self.saves),
        }


def _int(d: Any, key: str, where: str) -> int:
    value = d.get(key) if isinstance(d, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ReviewFileError(f"{where}: '{key}' must be a whole number >= 0")
    return value


def _text(d: Any, key: str, where: str) -> str:
    value = d.get(key) if isinstance(d, dict) else None
    if not isinstance(value, str):
        raise ReviewFileError(f"{where}: '{key}' must be text")
    return value


def parse(data: Any, tracks: dict[str, str] | None = None) -> Review:
    """A ``Review`` from a review file's JSON; ``tracks`` (pseudonym -> kind): check the items'
    tracks too. Raises ``ReviewFileError`` naming what is wrong."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ReviewFileError(f'not a gamyeon review file (expected "format": "{FORMAT}")')
    version = data.get("version")
    if version != VERSION:
        raise ReviewFileError(f"review file version {version!r} is not supported (this gamyeon reads {VERSION})")
    output, base = data.get("output"), data.get("base")
    review = Review(
        output_name=_text(output, "name", "output"),
        output_sha256=_text(output, "sha256", "output"),
        frames=_int(output, "frames", "output"),
        width=_int(output, "width", "output"),
        height=_int(output, "height", "output"),
        base_name=_text(base, "name", "base"),
        base_sha256=_text(base, "sha256", "base"),
        revision=_int(data, "revision", "review"),
    )
    if review.frames < 1 or review.width < 1 or review.height < 1:
        raise ReviewFileError("output: frames, width and height must be positive")
    bounds = Bounds(review.frames, review.width, review.height, tracks or {})
    raw_items = data.get("items", [])
    if not isinstance(raw_items, list):
        raise ReviewFileError("'items' must be a list")
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for raw in raw_items:
        item = _loose_item(raw) if tracks is None else check_item(raw, bounds)
        if item["id"] in seen:
            raise ReviewFileError(f"item id {item['id']} appears twice")
        seen.add(item["id"])
        items.append(item)
    signoffs = []
    for s in _list(data, "signoffs"):
        verdict = _text(s, "verdict", "sign-off")
        if verdict not in VERDICTS:
            raise ReviewFileError(f"sign-off: verdict must be one of {', '.join(VERDICTS)}")
        signoffs.append(
            Signoff(
                _text(s, "reviewer", "sign-off"),
                verdict,
                _text(s, "note", "sign-off"),
                _int(s, "revision", "sign-off"),
                _text(s, "at", "sign-off"),
            )
        )
    return Review(
        **{
            **_fields(review),
            "items": tuple(items),
            "signoffs": tuple(signoffs),
            "renders": tuple(_list(data, "renders")),
            "saves": tuple(_list(data, "saves")),
        }
    )


def _loose_item(raw: Any) -> dict[str, Any]:
    """An item checked only for its shape (tracks are checked once the sidecar is read)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or raw.get("type") not in ITEM_TYPES:
        raise ReviewFileError("an item needs an 'id' and a 'type' of " + ", ".join(ITEM_TYPES))
    return dict(raw)


def _list(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ReviewFileError(f"'{key}' must be a list of objects")
    return value


def _fields(review: Review) -> dict[str, Any]:
    return {name: getattr(review, name) for name in Review.__dataclass_fields__}
