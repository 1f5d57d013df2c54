"""Reading side by side: results in order, failures raised, writes on the calling thread."""

from __future__ import annotations

import threading
import time

import pytest

from pipelines import threads as pool


@pytest.fixture(autouse=True)
def two_threads(monkeypatch):
    monkeypatch.setenv("FANGFAN_READ_THREADS", "2")


def test_results_come_back_in_the_items_order_from_several_threads():
    seen: set[str] = set()

    def read(n: int) -> int:
        seen.add(threading.current_thread().name)
        time.sleep(0.01 * (5 - n))  # the first items finish last
        return n * n

    assert pool.map_in_threads(read, range(5)) == [0, 1, 4, 9, 16]
    assert len(seen) == 2


def test_the_first_failure_in_order_is_raised():
    def read(n: int) -> int:
        if n in (1, 3):
            raise ValueError(f"item {n}")
        return n

    with pytest.raises(ValueError, match="item 1"):
        pool.map_in_threads(read, range(5))


def test_each_result_is_handed_on_on_the_calling_thread_and_no_more_than_two_are_held():
    caller = threading.current_thread()
    running, most = 0, 0
    lock = threading.Lock()
    handed: list[tuple[int, bool]] = []

    def read(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return n + 100

    pool.each_as_read(
        read, range(6), lambda n, r: handed.append((r - n, threading.current_thread() is caller))
    )
    assert sorted(handed) == [(100, True)] * 6
    assert most == 2


def test_a_failed_read_stops_the_reads_not_started_and_hands_on_nothing_after_it():
    started: list[int] = []
    handed: list[int] = []

    def read(n: int) -> int:
        started.append(n)
        if n == 0:
            time.sleep(0.02)
            raise RuntimeError("unreadable")
        time.sleep(0.05)
        return n

    with pytest.raises(RuntimeError, match="unreadable"):
        pool.each_as_read(read, range(6), lambda n, _: handed.append(n))
    assert sorted(started) == [0, 1] and handed == []


def test_of_two_failed_reads_the_one_first_in_order_is_raised_whichever_failed_first():
    # roster and grid both missing: the run names the roster, not whichever thread lost the race
    def read(n: int) -> int:
        time.sleep(0.05 if n == 0 else 0.0)
        raise RuntimeError(f"item {n}")

    for _ in range(3):
        with pytest.raises(RuntimeError, match="item 0"):
            pool.each_as_read(read, range(2), lambda n, _: None)


def test_one_thread_reads_one_after_the_other(monkeypatch):
    monkeypatch.setenv("FANGFAN_READ_THREADS", "1")
    names: set[str] = set()
    pool.map_in_threads(lambda n: names.add(threading.current_thread().name), range(3))
    assert names == {threading.current_thread().name}
