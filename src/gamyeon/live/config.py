"""What a live run is told, as frozen values: each camera's source and outputs, the delay budget,
and the live encoder's settings.

Kept apart from the modules that act on them so a camera list (``cameras``), the command line
(``cli``) and a Ray actor (``ray_actors``, which receives them pickled) state the same things.
"""

from __future__ import annotations

import functools
import re
import urllib.parse
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from gamyeon.errors import UsageError
from gamyeon.keys import MasterKey, read_key
from gamyeon.options import Options

#: what happens to a frame that cannot be decided before its deadline: sent fully masked, or dropped
LATE_ACTIONS = ("mask", "drop")
RTSP_TRANSPORTS = ("tcp", "udp")
#: schemes FFmpeg reads as network streams (anything else is a file or a device)
NETWORK_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "srt", "udp", "rtp", "tcp", "http", "https")
#: a camera name becomes a folder and file name prefix
CAMERA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def redact(url: str) -> str:
    """``url`` without its password (``rtsp://user:secret@host`` -> ``rtsp://user:***@host``):
    camera URLs often carry credentials, which must not reach logs, status or the ledger."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A live input: a network URL, a V4L2 device, or a file played at its own pace."""

    url: str
    #: a file played at the pace of its timestamps (tests and demos); live sources need nothing
    realtime: bool = False
    #: a file source starts again at its end instead of ending the run
    loop: bool = False
    rtsp_transport: str = "tcp"
    #: FFmpeg demuxer to use (``v4l2`` for /dev/video*, chosen automatically); None: probed
    input_format: str | None = None
    #: further FFmpeg options for the input (``--input-option KEY=VALUE``)
    input_options: tuple[tuple[str, str], ...] = ()
    #: the camera's frame rate when the stream does not state one
    fps: Fraction | None = None
    #: seconds to wait for the input to open, and for each read, before it counts as lost
    timeout: float = 5.0

    def __post_init__(self) -> None:
        if self.rtsp_transport not in RTSP_TRANSPORTS:
            raise UsageError(f"--rtsp-transport: expected one of {list(RTSP_TRANSPORTS)}, got {self.rtsp_transport!r}")
        if self.timeout <= 0:
            raise UsageError(f"--timeout: expected a positive number of seconds, got {self.timeout}")

    @property
    def scheme(self) -> str:
        return urllib.parse.urlsplit(self.url).scheme.lower()

    @property
    def is_network(self) -> bool:
        return self.scheme in NETWORK_SCHEMES

    @property
    def is_device(self) -> bool:
        return self.url.startswith("/dev/video")

    @property
    def is_file(self) -> bool:
        return not self.is_network and not self.is_device

    @property
    def shown(self) -> str:
        """The URL as logs and records show it (no password)."""
        return redact(self.url)

    def check(self) -> None:
        """Refuse what cannot be a live source; a file must be played in real time."""
        if self.is_file:
            path = Path(self.url)
            if not path.is_file():
                raise UsageError(f"live source not found (not a stream URL, device or file): {self.url}")
            if not self.realtime:
                raise UsageError(
                    f"{self.url} is a file: add --realtime to play it at its own pace, or use `gamyeon anonymize`"
                )
        elif self.loop:
            raise UsageError("--loop applies to file sources played with --realtime")
        if self.is_device and not Path(self.url).exists():
            raise UsageError(f"no such video device: {self.url}")


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """Where a camera's pseudonymized stream goes; any of the three, at least one."""

    #: an RTSP server's URL to publish to (ANNOUNCE/RECORD)
    publish: str | None = None
    #: the camera's folder for its HLS playlist (``index.m3u8``) and segments
    hls: Path | None = None
    #: the camera's folder for recorded segments, each a normal gamyeon output with its sidecars
    record: Path | None = None
    #: length of a recorded segment
    segment_seconds: float = 300.0
    #: HLS segment length (a viewer is about three of them behind)
    hls_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.segment_seconds <= 0:
            raise UsageError(f"--segment-minutes: expected a positive length, got {self.segment_seconds / 60:g}")
        if self.hls_seconds <= 0:
            raise UsageError(f"--hls-seconds: expected a positive length, got {self.hls_seconds}")
        if self.publish is not None and urllib.parse.urlsplit(self.publish).scheme.lower() not in {"rtsp", "rtsps"}:
            raise UsageError(f"--publish: expected an rtsp:// URL, got {redact(self.publish)!r}")

    @property
    def any(self) -> bool:
        return self.publish is not None or self.hls is not None or self.record is not None

    def describe(self) -> dict[str, object]:
        """The outputs as records and status show them (no password)."""
        return {
            "publish": None if self.publish is None else redact(self.publish),
            "hls": None if self.hls is None else str(self.hls),
            "record": None if self.record is None else str(self.record),
            "segment_seconds": self.segment_seconds,
        }


@dataclass(frozen=True, slots=True)
class Camera:
    """One camera: its name (folders, pseudonym domain, status), its source and its outputs."""

    name: str
    source: SourceSpec
    outputs: OutputSpec
    #: CPUs a Ray actor of this camera reserves
    cpus: float = 1.0

    def __post_init__(self) -> None:
        if not CAMERA_NAME.match(self.name):
            raise UsageError(
                f"camera name {self.name!r}: use letters, digits, '.', '_' and '-' (at most 64, not starting with "
                "'.', '_' or '-')"
            )
        if not self.outputs.any:
            raise UsageError(f"camera {self.name}: give an output (--publish, --hls and/or --record)")
        if self.cpus <= 0:
            raise UsageError(f"camera {self.name}: cpus must be positive, got {self.cpus}")


@dataclass(frozen=True, slots=True)
class Timing:
    """The real-time rules: how late a frame may leave, and what happens when it cannot."""

    #: seconds from a frame's arrival to its output: the look-ahead and the processing share it
    max_delay: float = 1.0
    #: what a frame that misses its deadline becomes: fully masked ("mask") or nothing ("drop")
    late: str = "mask"
    #: of ``max_delay``, the seconds kept for detecting, masking and encoding (the rest is look-ahead);
    #: None: a third of ``max_delay``, at most 0.4 s
    reserve: float | None = None
    #: reconnection back-off: first wait and longest wait, in seconds
    retry_min: float = 0.5
    retry_max: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.max_delay <= 60:
            raise UsageError(f"--max-delay: expected seconds in (0, 60], got {self.max_delay}")
        if self.late not in LATE_ACTIONS:
            raise UsageError(f"--late: expected one of {list(LATE_ACTIONS)}, got {self.late!r}")
        if self.reserve is not None and not 0 < self.reserve <= self.max_delay:
            raise UsageError(f"--reserve: expected seconds in (0, --max-delay], got {self.reserve}")
        if not 0 < self.retry_min <= self.retry_max:
            raise UsageError("reconnection waits must be positive, the first no longer than the longest")

    @property
    def processing_reserve(self) -> float:
        return self.reserve if self.reserve is not None else min(0.4, self.max_delay / 3)


@dataclass(frozen=True, slots=True)
class Encoding:
    """The live encoder: one H.264 encode per camera, shared by every output."""

    crf: int = 23
    preset: str = "veryfast"
    #: a keyframe at least this often (new viewers and HLS segments start at one)
    gop_seconds: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.crf <= 51:
            raise UsageError(f"--crf: expected 0..51 for H.264, got {self.crf}")
        if self.gop_seconds <= 0:
            raise UsageError(f"--gop-seconds: expected a positive length, got {self.gop_seconds}")


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """What every camera of one ``gamyeon live`` run shares: the masking options (as ``anonymize``
    takes them), the key file the pseudonyms, masks and vaults come from, the dataset the segments
    belong to, the timing rules and the encoder. Frozen and picklable: Ray actors receive it, and
    read the key from its file themselves (as batch workers do: key bytes never travel)."""

    options: Options
    key_file: Path
    dataset_id: str
    timing: Timing = Timing()
    encoding: Encoding = Encoding()

    @property
    def key(self) -> MasterKey:
        return _read_key(self.key_file)


@functools.lru_cache(maxsize=4)
def _read_key(path: Path) -> MasterKey:
    """Once per process and key file (a wrapped key would ask for its passphrase each time)."""
    return read_key(path)
