"""Hybrid timestamps, as Milvus makes them: physical milliseconds << 18 | logical counter.

One allocator per engine. Timestamps are strictly increasing within a process; across restarts
the engine raises the floor to the largest timestamp it recovered, so a clock that went back
never reissues a timestamp. Any thread may call.
"""

from __future__ import annotations

import threading
import time

LOGICAL_BITS = 18
LOGICAL_MASK = (1 << LOGICAL_BITS) - 1


def compose(physical_ms: int, logical: int = 0) -> int:
    return (physical_ms << LOGICAL_BITS) | logical


def physical_ms(ts: int) -> int:
    return ts >> LOGICAL_BITS


class TimestampOracle:
    def __init__(self, floor: int = 0) -> None:
        self._lock = threading.Lock()
        self._last = floor

    def raise_floor(self, ts: int) -> None:
        with self._lock:
            self._last = max(self._last, ts)

    def allocate(self, count: int = 1) -> int:
        """Reserve `count` consecutive timestamps; returns the last of them."""
        with self._lock:
            now = compose(int(time.time() * 1000))
            first = max(now, self._last + 1)
            self._last = first + count - 1
            return self._last

    @property
    def last(self) -> int:
        with self._lock:
            return self._last
