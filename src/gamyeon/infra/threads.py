"""How many threads one gamyeon process may use, for ONNX Runtime, the decoder and the encoder.

``$GAMYEON_THREADS`` unset: every library picks its own count (about one per core), which is
right for one process on its own. ``gamyeon batch`` runs several worker processes side by side
and sets it per worker, so that N workers do not each start a thread per core and
oversubscribe the machine.
"""

from __future__ import annotations

import os

THREADS_ENV = "GAMYEON_THREADS"


def threads_from_env() -> int | None:
    """The thread count from ``$GAMYEON_THREADS``; None when unset, empty or not a positive int."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value.isdigit() or int(value) < 1:
        return None
    return int(value)


def limit_process_threads(threads: int) -> None:
    """Limit this process to ``threads`` threads per library (call before loading any model)."""
    import cv2

    os.environ[THREADS_ENV] = str(threads)
    cv2.setNumThreads(threads)
