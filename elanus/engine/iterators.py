"""Search iterators between pages: each one's position, kept by its token.

pymilvus's search iterator sends the last page's bound (the score of its last hit) and the
iterator's token with every page. The bound alone would drop or repeat rows whose score equals
it, so the engine also keeps, per token, the rows already returned at that bound and how deep
the last page searched. A token the engine no longer holds (evicted, or the server restarted)
still works: the next page then takes the rows strictly past the bound, as Milvus does.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from elanus.engine.lru import LRU
from elanus.engine.requests import IteratorPage

CAPACITY = 1024  # iterators remembered at once; the least recently used is forgotten first


class IteratorPages:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self._pages: LRU[str, IteratorPage] = LRU(capacity)

    def resume(self, page: IteratorPage) -> IteratorPage:
        """The full position of an iterator from what its client sent."""
        if not page.token:
            return replace(page, token=uuid.uuid4().hex, seen=None, depth=0)
        kept = self._pages.get(page.token)
        if kept is None or kept.last_bound != page.last_bound:
            return replace(page, seen=None, depth=0)
        return kept

    def keep(self, page: IteratorPage) -> None:
        self._pages.put(page.token, page)
