"""The peer tool, deface 1.5.0, in its own venv (``.venv-peer``).

deface pulls opencv-python and imageio-ffmpeg (a bundled ffmpeg binary); installed into gamyeon's
.venv they would shadow opencv-python-headless and change what gamyeon's tests see, so the peer
lives apart and is only ever run as a command. The venv is created once and reused.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

DEFACE_REQUIREMENT = "deface==1.5.0"
DEFACE_VERSION = DEFACE_REQUIREMENT.split("==")[1]
# macro_block_size=1 stops imageio from rescaling the output to a multiple of 16 px
FFMPEG_CONFIG = '{"codec": "libx264", "macro_block_size": 1}'

_PROBE = """
import importlib, importlib.metadata as m, json
out = {}
for name in ("deface", "onnxruntime", "onnx", "opencv-python", "imageio", "imageio-ffmpeg", "numpy"):
    try:
        out[name] = m.version(name)
    except m.PackageNotFoundError:
        out[name] = None
try:
    import imageio_ffmpeg
    out["ffmpeg (imageio-ffmpeg)"] = imageio_ffmpeg.get_ffmpeg_version()
except (ImportError, RuntimeError, OSError) as err:  # report, do not fail: only a version string is wanted
    out["ffmpeg (imageio-ffmpeg)"] = f"unknown ({err})"
try:
    importlib.import_module("onnx"); importlib.import_module("onnxruntime")
    out["backend"] = "onnxrt"
except ImportError:
    out["backend"] = "opencv"
print(json.dumps(out))
"""


class Peer:
    """Paths and commands of the deface installation."""

    def __init__(self, venv: Path) -> None:
        self.venv = venv
        self.python = venv / "bin" / "python"
        self.deface = venv / "bin" / "deface"

    def video_command(self, src: Path, dst: Path) -> list[str]:
        return [str(self.deface), "--replacewith", "solid", "--boxes", "--ffmpeg-config", FFMPEG_CONFIG,
                "-o", str(dst), str(src)]

    def still_template(self) -> str:
        """Shell template for coverage.py, which fills it with ``str.format``: the JSON braces of
        --ffmpeg-config would break that, and stills are written by imageio without ffmpeg anyway."""
        return f"{self.deface} --replacewith solid --boxes -o {{out}} {{in}}"

    def video_template(self) -> str:
        """Shell template for video_leak.py (which substitutes with str.replace, so JSON is safe)."""
        return f"{self.deface} --replacewith solid --boxes --ffmpeg-config '{FFMPEG_CONFIG}' -o {{out}} {{in}}"

    def installed_version(self) -> str | None:
        if not self.python.exists() or not self.deface.exists():
            return None
        probe = subprocess.run(
            [str(self.python), "-c", "import importlib.metadata as m; print(m.version('deface'))"],
            capture_output=True, text=True, check=False,
        )
        return probe.stdout.strip() if probe.returncode == 0 else None

    def ensure(self) -> None:
        """Create the venv and install deface unless the right version is already there."""
        version = self.installed_version()
        if version == DEFACE_VERSION:
            log.info("reusing %s (deface %s)", self.venv, version)
            return
        if not self.python.exists():
            log.info("creating %s", self.venv)
            subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True)
        log.info("installing %s into %s (once)", DEFACE_REQUIREMENT, self.venv)
        subprocess.run([str(self.python), "-m", "pip", "install", "--quiet", DEFACE_REQUIREMENT], check=True)
        if self.installed_version() != DEFACE_VERSION:
            raise RuntimeError(f"{DEFACE_REQUIREMENT} did not install into {self.venv}")

    def versions(self) -> dict[str, str | None]:
        probe = subprocess.run([str(self.python), "-c", _PROBE], capture_output=True, text=True, check=False)
        if probe.returncode != 0:
            log.warning("could not read the peer's versions: %s", probe.stderr.strip()[-500:])
            return {}
        parsed: dict[str, str | None] = json.loads(probe.stdout)
        return parsed
