"""Setting up a worker process that a parent starts and owns: leaving Ctrl-C to the parent,
dying with the parent, and logging to stderr the way the ``gamyeon`` command does.

Nothing here knows what the worker runs; ``batch.context`` calls it for batch workers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys

log = logging.getLogger(__name__)

#: prctl option: signal to receive when the parent process dies (linux/prctl.h)
PR_SET_PDEATHSIG = 1


def ignore_interrupts() -> None:
    """Leave Ctrl-C to the parent, which stops its workers by other means (so that the terminal's
    SIGINT to the whole process group does not print a traceback per worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux ``PR_SET_PDEATHSIG``).

    A parent killed by SIGKILL, or by SIGTERM before it could shut its pool down, would otherwise
    leave idle workers behind, each holding its models (~0.7 GB). Where the call is missing, the
    caller must notice the parent's death itself (``os.getppid()`` changes)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        log.debug("no PR_SET_PDEATHSIG here; workers stop at their next frame instead")
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)


def log_to_stderr(level: int) -> None:
    """gamyeon's log records to stderr as ``gamyeon: message`` at ``level``, the chatty libraries
    quiet (a fresh worker process has no handler of its own)."""
    root = logging.getLogger("gamyeon")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("gamyeon: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("norfair", "libav"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
