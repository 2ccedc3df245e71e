"""kill -9 during a stream of inserts: every acknowledged row survives exactly once.

Each cycle starts `elanus serve` on the same data directory, streams inserts (and the odd flush)
from a client thread, SIGKILLs the server at a random instant, restarts it and checks that every
acknowledged row is present exactly once and searchable. ELANUS_CRASH_CYCLES sets the number of
cycles (default 5; the durability probe runs 20).
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import numpy as np
from pymilvus import MilvusClient

from tests.conftest import Server

CYCLES = int(os.environ.get("ELANUS_CRASH_CYCLES", "5"))
BATCH = 100
DIM = 8
PAGE = 10_000


def _stream(uri: str, name: str, start: int, acked: list[int], stop: threading.Event) -> None:
    client = MilvusClient(uri=uri)
    batch = start
    rng = np.random.default_rng(start)
    try:
        while not stop.is_set():
            ids = range(batch * BATCH, (batch + 1) * BATCH)
            vectors = rng.random((BATCH, DIM), dtype=np.float32)
            rows = [{"id": i, "vector": v, "batch": batch} for i, v in zip(ids, vectors)]
            client.insert(name, rows, timeout=10)
            acked.append(batch)
            batch += 1
            if batch % 7 == 0:
                client.flush(name, timeout=30)
    except Exception:  # noqa: BLE001 (the server died under us: what was acknowledged is recorded)
        return
    finally:
        client.close()


def _present_ids(client: MilvusClient, name: str, upper: int) -> list[int]:
    ids: list[int] = []
    for lo in range(0, upper, PAGE):
        rows = client.query(name, filter=f"id >= {lo} and id < {lo + PAGE}",
                            output_fields=["id"], limit=PAGE)
        ids.extend(r["id"] for r in rows)
    return ids


def test_kill_9_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    name = "crash"
    server = Server(data).start()
    client = MilvusClient(uri=server.uri)
    client.create_collection(name, dimension=DIM)
    client.close()
    acked: list[int] = []
    next_batch = 0
    rnd = random.Random(7)
    for cycle in range(CYCLES):
        stop = threading.Event()
        writer = threading.Thread(target=_stream, args=(server.uri, name, next_batch, acked, stop))
        writer.start()
        time.sleep(rnd.uniform(0.3, 1.5))
        server.kill()
        stop.set()
        writer.join(30)
        assert not writer.is_alive()
        next_batch = (max(acked) + 1 if acked else next_batch) + 1000  # never reuse an id

        server = Server(data, port=server.port).start()
        client = MilvusClient(uri=server.uri)
        present = _present_ids(client, name, (next_batch + 1) * BATCH)
        assert len(present) == len(set(present)), f"cycle {cycle}: duplicated rows"
        want = {i for b in acked for i in range(b * BATCH, (b + 1) * BATCH)}
        missing = want - set(present)
        assert not missing, f"cycle {cycle}: {len(missing)} acknowledged rows lost"
        count = client.query(name, filter="", limit=1, output_fields=["count(*)"])[0]["count(*)"]
        assert count == len(present)
        if acked:
            probe = acked[-1] * BATCH
            row = client.get(name, ids=[probe], output_fields=["vector"])[0]
            hits = client.search(name, data=[row["vector"]], limit=1)
            assert hits[0][0]["id"] == probe
        client.close()
    assert acked, "the writer never got an insert acknowledged"
    assert server.stop() == 0
