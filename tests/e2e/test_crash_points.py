"""A crash at each step of seal, index build, compaction and drop loses and duplicates nothing.

The server runs with ELANUS_FAULT naming one step; it dies there as kill -9 would (exit 86).
After a restart without the fault every acknowledged row is present exactly once and
searchable, and no file outside the catalog survives the restart.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from pymilvus import MilvusClient, MilvusException

from tests.conftest import Server

DIM = 8
POINTS = ["seal:segment-written", "seal:before-commit", "seal:after-commit",
          "index:before-commit", "compaction:before-commit", "compaction:after-commit",
          "drop:after-commit"]


def _rows(start: int, n: int) -> list[dict]:
    rng = np.random.default_rng(start)
    return [{"id": i, "vector": rng.random(DIM).tolist()} for i in range(start, start + n)]


def _drive(client: MilvusClient, acked: list[int]) -> None:
    """Writes that pass through every fault point; stops when the server dies."""
    for batch in range(4):
        rows = _rows(batch * 100, 100)
        client.insert("c", rows, timeout=10)
        acked.extend(r["id"] for r in rows)
        client.delete("c", ids=[batch * 100], timeout=10)
        acked.remove(batch * 100)
        client.flush("c", timeout=30)
        time.sleep(0.3)  # let the index builder and the compactor run
    client.compact("c", timeout=10)
    time.sleep(1.0)
    client.drop_collection("doomed", timeout=10)
    time.sleep(0.5)


@pytest.mark.parametrize("point", POINTS)
def test_crash_at_step_recovers_every_acknowledged_row_once(tmp_path: Path, point: str) -> None:
    data = tmp_path / "data"
    server = Server(data, env={"ELANUS_FAULT": point}).start()
    client = MilvusClient(uri=server.uri)
    client.create_collection("c", dimension=DIM)
    client.create_collection("doomed", dimension=DIM)
    client.insert("doomed", _rows(0, 10))
    acked: list[int] = []
    try:
        _drive(client, acked)
    except MilvusException:
        pass  # the server died at the fault point
    client.close()
    assert server.proc is not None
    deadline = time.monotonic() + 30
    while server.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.proc.returncode == 86, f"the server never reached {point}"

    # A new port: pymilvus would otherwise reuse its channel to the dead server, in backoff.
    server = Server(data).start()
    client = MilvusClient(uri=server.uri)
    try:
        rows = client.query("c", filter="id >= 0", output_fields=["id"], limit=16384)
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids)), "duplicated rows"
        assert set(acked) <= set(ids), f"lost {sorted(set(acked) - set(ids))[:10]}"
        assert not {0, 100, 200} & set(ids), "an acknowledged delete was undone"
        probe = acked[-1]
        vector = client.get("c", ids=[probe], output_fields=["vector"])[0]["vector"]
        assert client.search("c", data=[vector], limit=1)[0][0]["id"] == probe
    finally:
        client.close()
        server.stop()
    from elanus.storage.catalog import Catalog

    catalog = Catalog(data / "catalog.sqlite")
    named = {f.key for f in catalog.files()}
    catalog.close()
    stored = {str(p.relative_to(data / "objects")) for p in (data / "objects").rglob("*")
              if p.is_file() and not p.name.startswith(".")}
    assert stored <= named, f"unreferenced files survived: {sorted(stored - named)}"
