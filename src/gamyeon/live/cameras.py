"""A camera list: many cameras in one TOML file, each with its source and outputs.

::

    [defaults]                      # optional: what every camera has unless it says otherwise
    record = "/srv/anon"            # folders: each camera writes into <folder>/<name>/
    hls = "/srv/hls"
    publish = "rtsp://relay:8554/{camera}"   # {camera} becomes the camera's name
    segment_minutes = 5

    [[camera]]
    name = "gate-north"
    source = "rtsp://user:secret@10.0.0.5/stream1"
    fps = 15                        # when the stream does not say
    input_options = { buffer_size = "1048576" }

Per camera (and in ``[defaults]``): ``source`` (required, per camera), ``name`` (required),
``rtsp_transport``, ``realtime``, ``loop``, ``input_format``, ``input_options``, ``fps``,
``timeout``, ``publish``, ``hls``, ``record``, ``segment_minutes``, ``hls_seconds``, ``cpus``.
The command line's output options are the defaults of the file's defaults. Relative folders
are relative to the file's folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from gamyeon.errors import UsageError
from gamyeon.infra.tomlfile import read_toml
from gamyeon.live.config import Camera, OutputSpec, SourceSpec

#: keys a camera entry and ``[defaults]`` may have
KEYS = frozenset(
    {
        "name",
        "source",
        "rtsp_transport",
        "realtime",
        "loop",
        "input_format",
        "input_options",
        "fps",
        "timeout",
        "publish",
        "hls",
        "record",
        "segment_minutes",
        "hls_seconds",
        "cpus",
    }
)


@dataclass(frozen=True, slots=True)
class Defaults:
    """What the command line says for every camera (the file's ``[defaults]`` overrides it)."""

    publish: str | None = None
    hls: Path | None = None
    record: Path | None = None
    segment_minutes: float = 5.0
    hls_seconds: float = 1.0
    rtsp_transport: str = "tcp"
    realtime: bool = False
    loop: bool = False
    input_format: str | None = None
    input_options: tuple[tuple[str, str], ...] = ()
    fps: Fraction | None = None
    timeout: float = 5.0

    def entry(self) -> dict[str, Any]:
        return {
            "publish": self.publish,
            "hls": self.hls,
            "record": self.record,
            "segment_minutes": self.segment_minutes,
            "hls_seconds": self.hls_seconds,
            "rtsp_transport": self.rtsp_transport,
            "realtime": self.realtime,
            "loop": self.loop,
            "input_format": self.input_format,
            "input_options": dict(self.input_options),
            "fps": self.fps,
            "timeout": self.timeout,
        }


def camera(entry: Mapping[str, Any], base: Path | None = None) -> Camera:
    """One camera from its settings (a camera list entry merged over the defaults). ``base``:
    the folder relative output folders are taken from (None: as given)."""
    unknown = set(entry) - KEYS
    if unknown:
        raise UsageError(f"camera list: unknown key(s) {sorted(unknown)}; expected some of {sorted(KEYS)}")
    for required in ("name", "source"):
        if not entry.get(required):
            raise UsageError(f"camera list: every camera needs a {required!r}")
    name = str(entry["name"])

    def folder(key: str) -> Path | None:
        value = entry.get(key)
        if value is None:
            return None
        path = Path(str(value)).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        return path / name

    publish = entry.get("publish")
    options = entry.get("input_options") or {}
    if not isinstance(options, Mapping):
        raise UsageError(f"camera {name}: input_options must be a table of FFmpeg options")
    source = SourceSpec(
        url=str(entry["source"]),
        realtime=bool(entry.get("realtime", False)),
        loop=bool(entry.get("loop", False)),
        rtsp_transport=str(entry.get("rtsp_transport", "tcp")),
        input_format=entry.get("input_format"),
        input_options=tuple((str(k), str(v)) for k, v in options.items()),
        fps=_rate(entry.get("fps"), name),
        timeout=float(entry.get("timeout", 5.0)),
    )
    outputs = OutputSpec(
        publish=None if publish is None else str(publish).replace("{camera}", name),
        hls=folder("hls"),
        record=folder("record"),
        segment_seconds=60.0 * float(entry.get("segment_minutes", 5.0)),
        hls_seconds=float(entry.get("hls_seconds", 1.0)),
    )
    return Camera(name, source, outputs, cpus=float(entry.get("cpus", 1.0)))


def _rate(value: object, name: str) -> Fraction | None:
    if value is None:
        return None
    try:
        rate = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"camera {name}: fps must be a number like 15 or 30000/1001, got {value!r}") from None
    if rate <= 0:
        raise UsageError(f"camera {name}: fps must be positive, got {value!r}")
    return rate


def read_cameras(path: Path, defaults: Defaults) -> list[Camera]:
    """The cameras of a camera list file."""
    data = read_toml(path, "camera list", UsageError)
    unknown = set(data) - {"defaults", "camera"}
    if unknown:
        raise UsageError(
            f"camera list {path}: unknown section(s) {sorted(unknown)}; expected [defaults] and [[camera]]"
        )
    file_defaults = data.get("defaults", {})
    entries = data.get("camera", [])
    if not isinstance(file_defaults, dict) or not isinstance(entries, list) or not entries:
        raise UsageError(f"camera list {path}: expected at least one [[camera]] entry")
    if "name" in file_defaults or "source" in file_defaults:
        raise UsageError(f"camera list {path}: name and source belong to each [[camera]], not to [defaults]")
    base = path.resolve().parent
    merged_defaults = {**defaults.entry(), **file_defaults}
    cameras = [camera({**merged_defaults, **entry}, base) for entry in entries]
    names = [c.name for c in cameras]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UsageError(f"camera list {path}: camera names must be unique, repeated: {duplicates}")
    return cameras
