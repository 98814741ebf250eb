"""The installed version, in a leaf module so that any module can import it without importing
the package's public API (``gamyeon/__init__`` imports the pipeline, which would make a cycle)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gamyeon")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+src"
