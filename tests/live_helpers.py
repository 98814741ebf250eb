"""Helpers of the live tests: a clip with a real face at a known place and its frame number drawn
in every frame, GStreamer's RTSP server as a subprocess, and reading outputs back.

The clip is scikit-image's astronaut photo (public domain, as in ``gamyeon.demo``), scaled so the
face is about 60 x 75 px and panned back and forth over a grey 640 x 360 picture; the loop is
``LOOP`` frames at 15 fps. A strip at the bottom left carries a white start block and the frame
number (mod 256) in 8 black/white blocks, far from the face, so a frame read back from an
output tells which input frame it was -- or, without a white start block, that it left fully
masked.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

WIDTH, HEIGHT, RATE, LOOP = 640, 360, 15, 60
#: the face in the 512 x 512 photo, as CenterFace finds it
PHOTO_FACE = (175.0, 54.0, 275.0, 180.0)
SCALE = 0.6
TOP = 10
BLOCK, STRIP_X, STRIP_Y = 16, 8, 336
SERVER = Path(__file__).resolve().parent / "live" / "rtsp_server.py"
#: what tests/live/rtsp_server.py needs from Debian: Python's GObject bindings, the RTSP server
#: library, and the elements it plays and records with
DEBIAN_PACKAGES = (
    "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good "
    "gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav"
)
#: the GStreamer elements it uses (and an H.264 decoder for decodebin: libav's or openh264's)
ELEMENTS = "rawvideoparse multifilesrc x264enc h264parse rtph264pay rtph264depay decodebin videoconvert qtdemux"


def _left(n: int) -> float:
    """The photo's left edge on frame ``n``: from 20 to 320 px and back over the loop."""
    t = (n % LOOP) / LOOP
    return 20.0 + 300.0 * (2 * t if t < 0.5 else 2 - 2 * t)


def face_box(n: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = PHOTO_FACE
    left = _left(n)
    return (round(left + x1 * SCALE), round(TOP + y1 * SCALE), round(left + x2 * SCALE), round(TOP + y2 * SCALE))


@functools.lru_cache(maxsize=LOOP)
def clip_frame(n: int) -> np.ndarray:
    """Frame ``n`` of the loop (cached: the checks compare every output frame with it)."""
    import cv2
    from skimage import data

    photo = cv2.resize(np.asarray(data.astronaut()), None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_AREA)
    image = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
    left = round(_left(n))
    h, w = photo.shape[:2]
    image[TOP : TOP + h, left : left + w] = photo[: HEIGHT - TOP, : WIDTH - left]
    code = n % 256
    image[STRIP_Y - 4 : STRIP_Y + BLOCK + 4, : STRIP_X + 10 * BLOCK] = 128
    bits = [1] + [(code >> (7 - b)) & 1 for b in range(8)]
    for b, bit in enumerate(bits):
        x = STRIP_X + b * BLOCK
        image[STRIP_Y : STRIP_Y + BLOCK, x : x + BLOCK] = 255 if bit else 0
    return image


def write_clip(path: Path, frames: int = LOOP, *, scale: int = 1, rate: int = RATE) -> Path:
    """The clip's first ``frames`` frames, ``scale`` times as large, at ``rate`` fps."""
    import cv2

    from gamyeon.media.encode import write_clip as encode

    def frame(n: int) -> np.ndarray:
        image = clip_frame(n)
        return image if scale == 1 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)

    encode(path, (frame(n) for n in range(frames)), Fraction(rate), crf=16)
    return path


def read_code(image: np.ndarray) -> int | None:
    """The frame number (mod 256) drawn in ``image``; None when the start block is not white."""
    centres = [
        float(image[STRIP_Y + 4 : STRIP_Y + BLOCK - 4, x + 4 : x + BLOCK - 4].mean())
        for x in range(STRIP_X, STRIP_X + 9 * BLOCK, BLOCK)
    ]
    if centres[0] < 200:
        return None
    value = 0
    for c in centres[1:]:
        value = value * 2 + (1 if c > 128 else 0)
    return value


def is_black(image: np.ndarray) -> bool:
    return float(image.mean()) < 8.0


def face_changed(image: np.ndarray, n: int) -> float:
    """Mean absolute difference from the input frame ``n`` inside its face box: a few grey
    levels for a re-encoded original, tens for a masked face."""
    x1, y1, x2, y2 = face_box(n)
    original = clip_frame(n)[y1:y2, x1:x2].astype(np.int16)
    return float(np.abs(image[y1:y2, x1:x2].astype(np.int16) - original).mean())


def background_changed(image: np.ndarray, n: int) -> float:
    """The same difference in the frame's right and bottom-right area, far from the face (codec
    noise only)."""
    original = clip_frame(n)[200:330, 500:630].astype(np.int16)
    return float(np.abs(image[200:330, 500:630].astype(np.int16) - original).mean())


def decoded(path: Path) -> list[np.ndarray]:
    """Every frame of a video, at the clip's size (outputs of a larger clip are scaled down)."""
    with av.open(str(path)) as c:
        return [
            f.to_ndarray(format="rgb24", width=WIDTH, height=HEIGHT, interpolation="AREA") for f in c.decode(video=0)
        ]


def check_frames(frames: list[np.ndarray]) -> tuple[int, int, list[int | None]]:
    """(masked, black) counts; asserts every frame is one of the two: never an original face.
    Returns the codes read (None for black frames)."""
    masked = black = 0
    codes: list[int | None] = []
    for i, image in enumerate(frames):
        if is_black(image):
            black += 1
            codes.append(None)
            continue
        code = read_code(image)
        assert code is not None, f"frame {i} is neither fully masked nor readable"
        n = code % LOOP  # codes of a loop of fewer than 256 frames repeat with it
        changed, background = face_changed(image, n), background_changed(image, n)
        assert changed > 12.0 and changed > 3 * background, (
            f"frame {i} (input {n}): the face differs from the original by {changed:.1f} grey levels only "
            f"(background {background:.1f}): not masked"
        )
        masked += 1
        codes.append(code)
    return masked, black, codes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rtsp_server_missing() -> str | None:
    """Why the RTSP server cannot run here (None: it can)."""
    python = shutil.which("python3", path="/usr/bin")
    if python is None:
        return f"no /usr/bin/python3; apt-get install {DEBIAN_PACKAGES}"
    probe = (
        "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0')\n"
        "from gi.repository import Gst, GstRtspServer; Gst.init(None)\n"
        f"missing = [e for e in {ELEMENTS.split()!r} if Gst.ElementFactory.find(e) is None]\n"
        "if not any(Gst.ElementFactory.find(d) for d in ('avdec_h264', 'openh264dec')): missing.append('avdec_h264')\n"
        "print(' '.join(missing))"
    )
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"GStreamer's RTSP server is not installed: apt-get install {DEBIAN_PACKAGES}"
    if done.stdout.strip():
        return f"GStreamer elements missing ({done.stdout.strip()}): apt-get install {DEBIAN_PACKAGES}"
    return None


@dataclass
class RtspServer:
    """GStreamer's RTSP server serving ``clip`` at /in and recording /out into ``folder``."""

    clip: Path
    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None

    @property
    def source(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/in"

    @property
    def publish(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/out"

    @property
    def log(self) -> Path:
        return self.folder / "events.jsonl"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                "/usr/bin/python3",
                str(SERVER),
                "--port",
                str(self.port),
                "--clip",
                str(self.clip),
                "--fps",
                str(RATE),
                "--record-dir",
                str(self.folder),
                "--log",
                str(self.log),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("ready"):
            self.process.kill()
            _, err = self.process.communicate()
            raise RuntimeError(f"the RTSP server did not start: {line!r} {err}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def events(self) -> list[dict[str, object]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def recordings(self) -> list[Path]:
        return sorted(self.folder.glob("rec-*.h264"), key=lambda p: int(p.stem.split("-")[1]))


@contextlib.contextmanager
def rtsp_server(clip: Path, folder: Path) -> Iterator[RtspServer]:
    server = RtspServer(clip, folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def server_delays(server: RtspServer, codes: list[int | None], session: int) -> list[float]:
    """For each coded frame of record session ``session`` (its k-th frame read back with code
    ``codes[k]``): seconds from the server sending that input frame to receiving it back."""
    events = server.events()
    received = [e for e in events if e["ev"] == "recv" and e["s"] == session]
    sent = [e for e in events if e["ev"] == "sent"]
    delays = []
    for k, code in enumerate(codes):
        if code is None or k >= len(received):
            continue
        t = float(received[k]["t"])  # type: ignore[arg-type]
        candidates = [float(e["t"]) for e in sent if int(e["n"]) % LOOP == code and float(e["t"]) <= t]  # type: ignore[call-overload, arg-type]
        if candidates:
            delays.append(t - max(candidates))
    return delays


def wait_for(condition: object, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
