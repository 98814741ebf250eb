"""A pipeline stage on its own thread: items are handled in order, behind a bounded queue.

A video run encodes on such a stage (``media.encode.ThreadedWriter``) while the caller decodes,
detects, tracks and masks. Decoders, ONNX Runtime, swscale, OpenCV and the encoders release the
GIL, so on 2 cores the two overlap. The queue is bounded
so memory stays bounded and a fast producer waits for a slow consumer; the first error of the
stage is re-raised to the producer at its next ``put`` or at ``close``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Worker(Generic[T]):
    """Calls ``handle(item)`` on its own thread for every item ``put``, in order."""

    _STOP = object()

    def __init__(self, handle: Callable[[T], None], *, depth: int, name: str) -> None:
        self._handle = handle
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is self._STOP:
                return
            if self._error is not None:
                continue  # drain without work after a failure
            try:
                self._handle(item)  # type: ignore[arg-type]  # everything but _STOP is a T
            except BaseException as err:  # noqa: BLE001 - handed to the producer, which re-raises it
                self._error = err

    def check(self) -> None:
        """Re-raise the stage's first error, if any."""
        if self._error is not None:
            raise self._error

    def put(self, item: T) -> None:
        self.check()
        self._queue.put(item)

    def _join(self) -> None:
        self._queue.put(self._STOP)
        self._thread.join()

    def close(self) -> None:
        """Wait until every item is handled; re-raise the stage's error, if any."""
        self._join()
        self.check()

    def abort(self) -> None:
        """Stop without handling the items still queued (idempotent; never raises)."""
        if self._thread.is_alive():
            self._error = self._error or RuntimeError("aborted")
            self._join()
