"""engine/lru.py: the bounded map behind the engine's caches."""

from __future__ import annotations

import threading

from elanus.engine.lru import LRU


def test_the_least_recently_used_entry_goes_first() -> None:
    kept: LRU[str, int] = LRU(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # now "b" is the least recently used
    kept.put("c", 3)
    assert (kept.get("a"), kept.get("b"), kept.get("c"), len(kept)) == (1, None, 3, 2)
    kept.put("a", 10)  # replacing refreshes too
    kept.put("d", 4)
    assert (kept.get("a"), kept.get("c"), kept.get("d")) == (10, None, 4)


def test_threads_never_grow_it_past_its_capacity() -> None:
    kept: LRU[int, int] = LRU(16)

    def work(k: int) -> None:
        for i in range(2000):
            kept.put((k * 7919 + i) % 64, i)
            kept.get(i % 64)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(kept) == 16
