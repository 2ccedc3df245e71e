"""Hybrid timestamps, as Milvus makes them: physical milliseconds << 18 | logical counter.

One allocator per engine. Timestamps are strictly increasing within a process. Across restarts
they stay increasing too, even when the clock went back: the allocator never hands out a
timestamp above a durable limit, which it raises (through `persist`) a lease ahead at a time,
and a restarted allocator starts above the last limit. Any thread may call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

LOGICAL_BITS = 18
LOGICAL_MASK = (1 << LOGICAL_BITS) - 1


def compose(physical_ms: int, logical: int = 0) -> int:
    return (physical_ms << LOGICAL_BITS) | logical


def physical_ms(ts: int) -> int:
    return ts >> LOGICAL_BITS


LEASE_MS = 10_000  # how far ahead of the clock the durable limit is raised each time


class TimestampOracle:
    def __init__(self, floor: int = 0, persist: Callable[[int], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._last = floor
        self._limit = floor  # no timestamp above this is issued before it is persisted
        self._persist = persist

    def raise_floor(self, ts: int) -> None:
        with self._lock:
            self._last = max(self._last, ts)

    def allocate(self, count: int = 1) -> int:
        """Reserve `count` consecutive timestamps; returns the last of them."""
        with self._lock:
            now = compose(int(time.time() * 1000))
            first = max(now, self._last + 1)
            last = first + count - 1
            if self._persist is not None and last > self._limit:
                self._limit = max(last, now) + compose(LEASE_MS)
                self._persist(self._limit)
            self._last = last
            return last

    @property
    def last(self) -> int:
        with self._lock:
            return self._last
