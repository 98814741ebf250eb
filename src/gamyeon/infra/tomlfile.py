"""Reading a user's TOML file (a policy, a camera list) with one-line errors.

Every way such a file can be wrong -- missing, unreadable, not UTF-8, not TOML -- is a user error
that names the file and what it was meant to be, never a traceback.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any


def read_toml(path: Path, what: str, error: Callable[[str], Exception]) -> dict[str, Any]:
    """The parsed ``path``; ``what`` names the file in messages ("policy file"), ``error`` makes
    the exception raised for each problem."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise error(f"cannot read the {what} {path}: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise error(f"{what} {path} is not valid TOML: {err}") from None
