"""A background worker: one daemon thread running a job per queued collection.

Used for work off the request path (automatic seals, index builds). A failing job is logged and
the worker goes on with the next; `wait_idle` lets tests and shutdown wait for the queue to
drain, bounded by a timeout.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from elanus.engine.collection import Collection

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, name: str, job: Callable[[Collection], object]) -> None:
        self.name = name
        self._job = job
        self._queue: queue.Queue[tuple[Collection, Callable[[], object] | None] | None] = (
            queue.Queue())
        self._idle = threading.Condition()
        self._busy = 0
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"elanus-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, collection: Collection, job: Callable[[], object] | None = None) -> None:
        """Queue the worker's job for `collection`, or `job` in its place."""
        with self._idle:
            self._busy += 1
        self._queue.put((collection, job))

    def stop(self, timeout: float = 60) -> None:
        """Stop after the job under way (which may check `stopping` to end early); queued jobs
        are dropped: each is derived work (a seal, a compaction, an index build) that the next
        open redoes from the WAL and the catalog."""
        self.stopping.set()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Block until every submitted job is done; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout=timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            collection, job = item
            try:
                if self.stopping.is_set():
                    continue
                if job is None:
                    self._job(collection)
                else:
                    job()
            except Exception:
                log.exception("%s failed for collection %s", self.name, collection.name)
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()
