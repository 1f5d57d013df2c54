"""Threads for pure work that releases the GIL for the bulk of it: reading files (polars and the
file readers), so on the district's few cores two files (or two sources) read side by side take
about two thirds of the time one after the other (docs/SCALE.md); and packing the township
workbooks (zlib and the file writes). Writing to the warehouse stays on one thread: DuckDB has
one writer."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def reading_threads() -> int:
    """Threads that read side by side: FANGFAN_READ_THREADS, else the machine's cores (at most 4:
    beyond that the files' own parsing is already parallel)."""
    configured = os.environ.get("FANGFAN_READ_THREADS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, min(4, os.cpu_count() or 1))


def map_in_threads(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """[function(item) for item in items], items side by side; results in the items' order, and
    the first exception (in that order) raised as it would be one after the other."""
    items = list(items)
    threads = min(reading_threads(), len(items))
    if threads <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(threads, thread_name_prefix="fangfan-read") as pool:
        return list(pool.map(function, items))


def each_as_read(read: Callable[[T], R], items: Iterable[T], then: Callable[[T, R], None]) -> None:
    """read(item) for the items side by side, and then(item, result) on the calling thread as
    each read finishes (in the order they finish), with at most `reading_threads()` reads held
    at once: a result is released once handed on. When a read fails, the reads running with it
    are waited for, reads not yet started are not started, and of the failed ones the one first
    in `items` is raised: the same failure whichever thread was faster."""
    waiting = list(enumerate(items))
    threads = min(reading_threads(), len(waiting))
    if threads <= 1:
        for _, item in waiting:
            then(item, read(item))
        return
    waiting.reverse()
    with ThreadPoolExecutor(threads, thread_name_prefix="fangfan-read") as pool:
        running: dict[Future, tuple[int, T]] = {}
        while waiting or running:
            while waiting and len(running) < threads:
                position, item = waiting.pop()
                running[pool.submit(read, item)] = (position, item)
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            if any(future.exception() is not None for future in finished):
                waiting.clear()
                wait(running)
                failed = [(running[f][0], f) for f in running if f.exception() is not None]
                raise min(failed, key=lambda pair: pair[0])[1].exception()
            for future in finished:
                item = running.pop(future)[1]
                then(item, future.result())
