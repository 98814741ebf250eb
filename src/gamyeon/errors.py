"""Errors a user can cause. Each also inherits the matching built-in (PyAV's habit), so callers
can catch either ``GamyeonError`` or e.g. ``FileNotFoundError``. The CLI prints ``str(err)`` as
one line and exits non-zero; anything that is not a ``GamyeonError`` is a bug and keeps its
traceback.
"""

from __future__ import annotations


class GamyeonError(Exception):
    """Base class of every user-facing error."""

    exit_code = 1


class UsageError(GamyeonError, ValueError):
    """Invalid option or option combination."""

    exit_code = 2


class PolicyError(GamyeonError, ValueError):
    """A policy file or value is invalid."""

    exit_code = 2


class InputNotFoundError(GamyeonError, FileNotFoundError):
    """An input path does not exist."""


class InputUnreadableError(GamyeonError, PermissionError):
    """An input exists but cannot be read."""


class UnsupportedInputError(GamyeonError, ValueError):
    """The input is not a video or image gamyeon can read."""


class CorruptInputError(GamyeonError, ValueError):
    """The input looks like media but cannot be decoded (empty, truncated, damaged)."""


class OutputError(GamyeonError, OSError):
    """The output cannot be written where asked."""


class ModelError(GamyeonError, RuntimeError):
    """A model file is missing or does not have the expected layout."""


class KeyFileError(GamyeonError, ValueError):
    """A key file is missing, malformed or cannot be written safely."""


class VaultError(GamyeonError, ValueError):
    """A vault is missing, damaged, tampered with, sealed with another key or for another video."""


class LedgerError(GamyeonError, RuntimeError):
    """The ledger cannot be opened or written, or its chain does not verify."""
