"""The peer tool, deface 1.5.0, in venvs of its own (``.venv-peer``, ``.venv-peer-ort``).

deface pulls opencv-python and imageio-ffmpeg (a bundled ffmpeg binary); installed into gamyeon's
.venv they would shadow opencv-python-headless and change what gamyeon's tests see, so the peer
lives apart and is only ever run as a command. Each venv is created once and reused.

A plain ``pip install deface`` has no onnxruntime, and deface then runs CenterFace on OpenCV's DNN
module. If that fallback were slow, comparing gamyeon (onnxruntime) against it would flatter gamyeon,
so run.py --deface-ort also measures a variant with onnx + onnxruntime. On this machine (OpenCV 5.0,
onnxruntime 1.32) the plain install was the faster one on every file (see benchmarks/README.md).
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
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
    """One deface installation: its venv, extra requirements and the commands that run it.

    ``extras`` are installed next to deface (e.g. onnx + onnxruntime, which deface uses instead of
    its much slower OpenCV-DNN fallback when they can be imported); ``backend`` is passed as
    ``--backend`` so that a variant can never silently fall back to another backend.
    """

    def __init__(self, name: str, venv: Path, extras: Sequence[str] = (), backend: str | None = None) -> None:
        self.name = name
        self.venv = venv
        self.extras = list(extras)
        self.backend = backend
        self.python = venv / "bin" / "python"
        self.deface = venv / "bin" / "deface"

    def _options(self) -> list[str]:
        return ["--replacewith", "solid", "--boxes", *(["--backend", self.backend] if self.backend else [])]

    def video_command(self, src: Path, dst: Path) -> list[str]:
        return [str(self.deface), *self._options(), "--ffmpeg-config", FFMPEG_CONFIG, "-o", str(dst), str(src)]

    def still_template(self) -> str:
        """Shell template for coverage.py, which fills it with ``str.format``: the JSON braces of
        --ffmpeg-config would break that, and stills are written by imageio without ffmpeg anyway."""
        return f"{shlex.join([str(self.deface), *self._options()])} -o {{out}} {{in}}"

    def video_template(self) -> str:
        """Shell template for video_leak.py (which substitutes with str.replace, so JSON is safe)."""
        opts = shlex.join([str(self.deface), *self._options(), "--ffmpeg-config", FFMPEG_CONFIG])
        return f"{opts} -o {{out}} {{in}}"

    def requirements(self) -> list[str]:
        return [DEFACE_REQUIREMENT, *self.extras]

    def _installed(self) -> dict[str, str | None]:
        if not self.python.exists():
            return {}
        names = [re.split(r"[<>=!~ ]", r, maxsplit=1)[0] for r in self.requirements()]
        code = (
            "import importlib.metadata as m, json, sys\n"
            "def v(n):\n"
            "    try:\n        return m.version(n)\n"
            "    except m.PackageNotFoundError:\n        return None\n"
            "print(json.dumps({n: v(n) for n in sys.argv[1:]}))"
        )
        probe = subprocess.run([str(self.python), "-c", code, *names], capture_output=True, text=True, check=False)
        if probe.returncode != 0:
            return {}
        found: dict[str, str | None] = json.loads(probe.stdout)
        return found

    def _satisfied(self) -> bool:
        installed = self._installed()
        for req in self.requirements():
            name, _, pinned = req.partition("==")
            have = installed.get(name)
            if have is None or (pinned and have != pinned):
                return False
        return self.deface.exists()

    def ensure(self) -> None:
        """Create the venv and install the requirements unless they are already there (once)."""
        if self._satisfied():
            log.info("reusing %s (%s)", self.venv, ", ".join(self.requirements()))
            return
        if not self.python.exists():
            log.info("creating %s", self.venv)
            subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True)
        log.info("installing %s into %s", " ".join(self.requirements()), self.venv)
        subprocess.run([str(self.python), "-m", "pip", "install", "--quiet", *self.requirements()], check=True)
        if not self._satisfied():
            raise RuntimeError(f"{self.requirements()} did not install into {self.venv}")

    def versions(self) -> dict[str, str | None]:
        if not self.python.exists():  # sections without the peer never create its venv
            return {}
        probe = subprocess.run([str(self.python), "-c", _PROBE], capture_output=True, text=True, check=False)
        if probe.returncode != 0:
            log.warning("could not read %s's versions: %s", self.name, probe.stderr.strip()[-500:])
            return {}
        parsed: dict[str, str | None] = json.loads(probe.stdout)
        return parsed

    def describe(self) -> str:
        extras = f" + {', '.join(self.extras)}" if self.extras else ""
        backend = f"--backend {self.backend}" if self.backend else "default backend (OpenCV DNN without onnxruntime)"
        return f"{DEFACE_REQUIREMENT}{extras}, {backend}"
