"""Joining (or starting) the Ray cluster that ``batch --ray`` and ``live --ray`` run on.

Both need the same answers: Ray missing is a usage error naming the extra to install, a cluster
that cannot be reached is one line naming the address, and a run that started Ray itself (it was
not initialised before) is the one that shuts it down.
"""

from __future__ import annotations

import logging
from typing import Any

from gamyeon.errors import UsageError


def connect(address: str) -> tuple[Any, bool]:
    """(the ``ray`` module, whether this call initialised it) for ``address`` (``local``: a Ray
    instance on this machine, without its dashboard; otherwise a cluster address)."""
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs Ray: pip install 'gamyeon[cluster]' (on every node)") from None
    owns = not ray.is_initialized()
    if owns:
        kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": True}
        if address == "local":
            kwargs["include_dashboard"] = False
        else:
            kwargs["address"] = address
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise UsageError(f"cannot connect to the Ray cluster at {address!r}: {err}") from None
    return ray, owns
