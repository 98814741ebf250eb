"""The pipeline stage thread: order, bounded queue, errors handed back to the producer."""

from __future__ import annotations

import threading

import pytest

from gamyeon.infra.worker import Worker


def test_items_are_handled_in_order_on_another_thread() -> None:
    seen: list[tuple[int, str]] = []
    worker: Worker[int] = Worker(lambda i: seen.append((i, threading.current_thread().name)), depth=2, name="w")
    for i in range(50):
        worker.put(i)
    worker.close()
    assert [i for i, _ in seen] == list(range(50))
    assert {name for _, name in seen} == {"w"}


def test_the_first_error_reaches_the_producer_and_later_items_are_dropped() -> None:
    handled: list[int] = []

    def handle(i: int) -> None:
        if i == 3:
            raise ValueError("boom")
        handled.append(i)

    worker: Worker[int] = Worker(handle, depth=1, name="w")
    with pytest.raises(ValueError, match="boom"):
        for i in range(100):
            worker.put(i)
        worker.close()
    worker.abort()  # after a failure: stops quietly
    assert handled == [0, 1, 2]


def test_abort_stops_without_handling_the_rest_and_never_raises() -> None:
    gate = threading.Event()
    handled: list[int] = []

    def handle(i: int) -> None:
        gate.wait()
        handled.append(i)

    worker: Worker[int] = Worker(handle, depth=10, name="w")
    for i in range(5):
        worker.put(i)
    gate.set()
    worker.abort()
    worker.abort()
    assert handled == list(range(len(handled)))  # a prefix, in order; the rest were dropped
    with pytest.raises(RuntimeError, match="aborted"):
        worker.put(6)
