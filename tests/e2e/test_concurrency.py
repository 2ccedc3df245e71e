"""Many clients at once: inserts, deletes, searches, queries, flushes and compactions together.

No call fails, no background job logs an error, and a restart finds exactly the rows the
running server counted, each once.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
from pymilvus import MilvusClient

from tests.conftest import Server

SECONDS = 8.0


def _work(uri: str, kind: str, seed: int, stop: float, errors: list[str]) -> None:
    client = MilvusClient(uri=uri)
    rng = np.random.default_rng(seed)
    next_id = seed * 10_000_000
    try:
        while time.monotonic() < stop:
            if kind == "insert":
                rows = [{"id": next_id + j, "vector": rng.random(8).tolist(), "g": j % 10}
                        for j in range(100)]
                client.insert("c", rows)
                next_id += 100
            elif kind == "search":
                client.search("c", data=[rng.random(8).tolist()], limit=5, filter="g < 5",
                              output_fields=["g"])
            elif kind == "query":
                client.query("c", filter="g == 3", limit=50)
            elif kind == "delete":
                client.delete("c", filter=f"g == {int(rng.integers(10))} and id % 7 == 0")
            elif kind == "flush":
                client.flush("c")
                time.sleep(0.3)
            else:
                client.compact("c")
                time.sleep(0.6)
    except Exception as exc:  # noqa: BLE001 (collected and asserted on below)
        errors.append(f"{kind}: {exc!r}")
    finally:
        client.close()


def test_concurrent_clients_and_background_work(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = Server(data).start()
    client = MilvusClient(uri=server.uri)
    client.create_collection("c", dimension=8)
    stop = time.monotonic() + SECONDS
    errors: list[str] = []
    kinds = ["insert", "insert", "search", "search", "query", "delete", "flush", "compact"]
    threads = [threading.Thread(target=_work, args=(server.uri, k, n, stop, errors))
               for n, k in enumerate(kinds)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a client is stuck"
    assert not errors, errors[:3]
    count = client.query("c", filter="", limit=1, output_fields=["count(*)"])[0]["count(*)"]
    assert count > 0
    client.close()
    assert server.stop() == 0
    assert "ERROR" not in server.log.read_text(), server.log.read_text()[-3000:]

    server = Server(data).start()
    client = MilvusClient(uri=server.uri)
    try:
        ids: list[int] = []
        for seed in (0, 1):  # the two insert workers' id ranges, in windows under the limit
            for lo in range(seed * 10_000_000, seed * 10_000_000 + 200_000, 10_000):
                rows = client.query("c", filter=f"id >= {lo} and id < {lo + 10_000}",
                                    output_fields=["id"], limit=16384)
                ids += [r["id"] for r in rows]
        assert len(ids) == len(set(ids)) == count
    finally:
        client.close()
        server.stop()
