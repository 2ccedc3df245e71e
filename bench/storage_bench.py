"""Storage benchmark: write-ahead log, seal, compaction and restart, elanus vs milvus-lite.

Run from the repository root with the project's venv:

    .venv/bin/python bench/storage_bench.py [--with-lite] [--out FILE]

Data: generated Gaussian clusters (1,000 centres, float32, 128-d, seed 20261123), metric L2, a
scalar `num` (0..999, 10% of rows under 100). Workloads:

1. insert: 200,000 rows in batches of 2,000 row dicts (id, vector as a list, num), one client,
   write-ahead log on (every engine's default); elanus served also with 4 client threads inserting
   disjoint id ranges at once (group commit).
2. seal: `flush` right after those 200,000 rows (rows/s sealed).
3. compaction (elanus only; milvus-lite fakes manual compaction): a FLAT-indexed, loaded collection
   built from 10 flushes of 20,000 rows, 10% deleted by filter (`num < 100`), then `compact()`
   and `get_compaction_state` polled until Completed. Segment counts come from the data
   directory's catalog (`catalog.sqlite`, table `files`, kind 'segment'). elanus compacts small
   segments automatically after each flush, so the count is reported right after the flushes,
   when `compact()` is called (after auto-compaction settled) and after it.
4. restart: 1,000,000 rows inserted in batches of 10,000 (numpy vectors in the row dicts), flush,
   index (FLAT by default: HNSW M=16 efConstruction=200 on 1M x 128 takes more than 5 minutes on
   a 2-core machine; `--restart-index HNSW` to try), wait for Finished, load; then stop (served:
   SIGTERM; embedded and milvus-lite: close the client and its in-process server) and time from
   start (served: process spawn; embedded / lite: opening a new client on the same path) until
   the first search returns results. The first search's top hit is checked (the query is a
   stored vector).

Every engine and workload runs in its own bounded subprocess of this script (`--engine NAME
--phase PHASE --workdir DIR`); results go to one table on stdout (values and elanus/milvus-lite
ratios) and to JSON (default /tmp/elanus-bench/storage.json). milvus-lite 3.2.2 runs from its own
venv (default /tmp/mlite-venv), made only with `--with-lite`. Smoke test:
`--n-insert 20000 --compact-rows 2000 --restart-rows 50000`.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py, also under lite's venv
from common import (
    chosen_engines,
    connect,
    create_plain_collection,
    driver_parser,
    emit,
    first_results,
    fmt,
    free_port,
    lite_python,
    local_client,
    ratio,
    render,
    run_engine,
    start_server,
    stop_server,
    work_dir,
    worker_result,
    write_report,
)

DEFAULT_OUT = Path("/tmp/elanus-bench/storage.json")
DIM = 128
METRIC = "L2"
CENTRES = 1000
SEED = 20261123
BATCH = 2000
THREADS = 4
N_INSERT = 200_000
COMPACT_FLUSHES = 10
COMPACT_ROWS = 20_000
DELETE_FILTER, DELETE_THRESHOLD = "num < 100", 100
RESTART_ROWS = 1_000_000
RESTART_BATCH = 10_000
HNSW_M, EF_CONSTRUCTION, EF_SEARCH = 16, 200, 64

INDEX_WAIT_S = 300.0  # create_index -> Finished
COMPACT_WAIT_S = 300.0  # compact() -> Completed
SETTLE_S, SETTLE_MAX_S = 3.0, 60.0  # auto-compaction: catalog unchanged this long / at most
FIRST_QUERY_S = 300.0  # restart -> first search with results
WORKER_TIMEOUT_S = 480.0

PHASES = {"insert": ("lite", "embedded", "served"), "compact": ("embedded", "served"),
          "restart": ("lite", "embedded", "served")}


# --------------------------------------------------------------------------------------------
# data


def make_data(n: int, workdir: Path) -> None:
    rng = np.random.default_rng(SEED)
    centres = rng.standard_normal((CENTRES, DIM), dtype=np.float32) * 4.0
    base = centres[rng.integers(0, CENTRES, n)]
    base += rng.standard_normal((n, DIM), dtype=np.float32)
    np.save(workdir / "base.npy", base)
    np.save(workdir / "num.npy", rng.permutation(np.arange(n) % 1000).astype(np.int64))


def load(workdir: Path) -> tuple[np.ndarray, np.ndarray]:
    return np.load(workdir / "base.npy", mmap_mode="r"), np.load(workdir / "num.npy")


def row_batches(base: np.ndarray, num: np.ndarray, start: int, stop: int, batch: int,
                as_lists: bool) -> list[list[dict[str, Any]]]:
    out = []
    for s in range(start, stop, batch):
        e = min(s + batch, stop)
        vecs = base[s:e].tolist() if as_lists else np.ascontiguousarray(base[s:e])
        out.append([{"id": i, "vector": vecs[i - s], "num": int(num[i])} for i in range(s, e)])
    return out


# --------------------------------------------------------------------------------------------
# engine-independent steps


def insert_all(client: Any, name: str, batches: list[list[dict[str, Any]]]) -> int:
    n = 0
    for rows in batches:
        n += int(client.insert(name, rows)["insert_count"])
    return n


def build_index(client: Any, name: str, index_type: str) -> dict[str, Any]:
    """Create the vector index and wait for Finished (bounded); the final description."""
    ip = client.prepare_index_params()
    params = {"M": HNSW_M, "efConstruction": EF_CONSTRUCTION} if index_type == "HNSW" else {}
    ip.add_index(field_name="vector", index_name="vector", index_type=index_type,
                 metric_type=METRIC, params=params)
    client.create_index(name, ip)
    deadline = time.perf_counter() + INDEX_WAIT_S
    while True:
        desc = client.describe_index(name, index_name="vector") or {}
        state = str(desc.get("state", ""))
        if state.endswith("Finished"):
            return {k: (v if isinstance(v, (int, float, str, bool)) else str(v))
                    for k, v in desc.items()}
        if state.endswith("Failed"):
            raise RuntimeError(f"index build failed: {desc}")
        if time.perf_counter() > deadline:
            raise TimeoutError(f"index not Finished after {INDEX_WAIT_S:.0f} s: {desc}")
        time.sleep(0.05)


def search_params(index_type: str) -> dict[str, Any]:
    return {"metric_type": METRIC, "params": {"ef": EF_SEARCH} if index_type == "HNSW" else {}}


def segment_stats(data_dir: Path, name: str) -> tuple[int, int]:
    """(sealed segments, rows in them) of collection `name`, from the elanus catalog."""
    con = sqlite3.connect(f"file:{data_dir / 'catalog.sqlite'}?mode=ro", uri=True, timeout=10)
    try:
        row = con.execute(
            "SELECT count(*), coalesce(sum(f.num_rows), 0) FROM files f JOIN collections c "
            "ON c.id = f.collection_id WHERE c.name = ? AND f.kind = 'segment'", (name,)).fetchone()
        return int(row[0]), int(row[1])
    finally:
        con.close()


# --------------------------------------------------------------------------------------------
# workloads


def phase_insert(client: Any, workdir: Path, cfg: dict[str, Any], r: dict[str, Any],
                 new_client: Callable[[], Any] | None) -> None:
    """Workloads 1 and 2; with `new_client`, also the concurrent insert."""
    base, num = load(workdir)
    n = cfg["n_insert"]
    batches = row_batches(base, num, 0, n, BATCH, as_lists=True)  # built outside the timing
    stage = "create_collection"
    try:
        create_plain_collection(client, "ins", DIM)
        stage = "insert"
        t0 = time.perf_counter()
        inserted = insert_all(client, "ins", batches)
        r["insert_s"] = time.perf_counter() - t0
        r["inserted"] = inserted
        r["insert_rows_per_s"] = inserted / r["insert_s"]
        stage = "flush"
        t0 = time.perf_counter()
        client.flush("ins")
        r["flush_s"] = time.perf_counter() - t0
        r["seal_rows_per_s"] = inserted / r["flush_s"]
        if new_client is None:
            return
        stage = "concurrent insert"
        create_plain_collection(client, "ins4", DIM)
        per = (len(batches) + THREADS - 1) // THREADS
        chunks = [batches[t * per:(t + 1) * per] for t in range(THREADS)]  # disjoint id ranges
        clients = [new_client() for _ in range(THREADS)]
        barrier = threading.Barrier(THREADS + 1, timeout=60)
        counts, errors = [0] * THREADS, [""] * THREADS

        def work(t: int) -> None:
            try:
                barrier.wait()
                counts[t] = insert_all(clients[t], "ins4", chunks[t])
            except Exception:  # noqa: BLE001
                errors[t] = traceback.format_exc()

        threads = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(THREADS)]
        for th in threads:
            th.start()
        barrier.wait()
        t0 = time.perf_counter()
        deadline = t0 + 300
        for th in threads:
            th.join(timeout=max(0.0, deadline - time.perf_counter()))
        r["insert4_s"] = time.perf_counter() - t0
        if any(th.is_alive() for th in threads):
            raise TimeoutError("concurrent insert threads still running after 300 s")
        for c in clients:
            c.close()
        if any(errors):
            raise RuntimeError("concurrent insert failed:\n" + "\n".join(e for e in errors if e))
        r["inserted4"] = sum(counts)
        r["insert4_rows_per_s"] = sum(counts) / r["insert4_s"]
        stage = "concurrent insert: flush + count"
        t0 = time.perf_counter()
        client.flush("ins4")
        r["flush4_s"] = time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - keep the figures so far, say where it broke
        r["error"] = f"{stage}: {type(exc).__name__}: {exc}"
        r["traceback"] = traceback.format_exc()


def phase_compact(client: Any, workdir: Path, cfg: dict[str, Any], r: dict[str, Any],
                  data_dir: Path) -> None:
    """Workload 3 (elanus only)."""
    base, num = load(workdir)
    per, flushes = cfg["compact_rows"], COMPACT_FLUSHES
    total = per * flushes
    stage = "create_collection"
    try:
        create_plain_collection(client, "cmp", DIM)
        build_index(client, "cmp", "FLAT")
        client.load_collection("cmp")
        r["segments_per_flush"] = []
        for f in range(flushes):
            stage = f"insert + flush {f + 1}"
            insert_all(client, "cmp", row_batches(base, num, f * per, (f + 1) * per, BATCH, True))
            client.flush("cmp")
            r["segments_per_flush"].append(segment_stats(data_dir, "cmp")[0])
        r["segments_after_flushes"] = r["segments_per_flush"][-1]
        stage = "settle (auto-compaction)"
        t0 = time.perf_counter()
        last, since = segment_stats(data_dir, "cmp"), time.perf_counter()
        while time.perf_counter() - since < SETTLE_S and time.perf_counter() - t0 < SETTLE_MAX_S:
            time.sleep(0.1)
            now = segment_stats(data_dir, "cmp")
            if now != last:
                last, since = now, time.perf_counter()
        r["settle_s"] = time.perf_counter() - t0
        stage = f"delete {DELETE_FILTER!r}"
        t0 = time.perf_counter()
        client.delete("cmp", filter=DELETE_FILTER)
        r["delete_s"] = time.perf_counter() - t0
        expected_deleted = int(np.count_nonzero(num[:total] < DELETE_THRESHOLD))
        r["segments_before"], r["rows_before"] = segment_stats(data_dir, "cmp")
        stage = "compact"
        t0 = time.perf_counter()
        job = client.compact("cmp")
        deadline = t0 + COMPACT_WAIT_S
        states = []
        while True:
            state = str(client.get_compaction_state(job))
            if not states or states[-1] != state:
                states.append(state)
            if state == "Completed":
                break
            if time.perf_counter() > deadline:
                raise TimeoutError(f"compaction {job} not Completed after {COMPACT_WAIT_S:.0f} s")
            time.sleep(0.02)
        r["compact_s"] = time.perf_counter() - t0
        r["compact_states"] = states
        r["segments_after"], r["rows_after"] = segment_stats(data_dir, "cmp")
        r["compact_rows_per_s"] = r["rows_before"] / r["compact_s"]
        r["rows_after_ok"] = r["rows_after"] == total - expected_deleted
        try:
            plans = client.get_compaction_plans(job)
            r["compact_plans"] = str(plans)[:2000]
        except Exception as exc:  # noqa: BLE001 - informational only
            r["compact_plans"] = f"{type(exc).__name__}: {exc}"
        stage = "count(*) after compaction"
        res = client.query("cmp", filter="", output_fields=["count(*)"])
        r["count_after"] = int(res[0]["count(*)"])
        r["count_ok"] = r["count_after"] == total - expected_deleted
    except Exception as exc:  # noqa: BLE001
        r["error"] = f"{stage}: {type(exc).__name__}: {exc}"
        r["traceback"] = traceback.format_exc()


def catalog_files(data_dir: Path, name: str) -> list[tuple[str, int, int]]:
    """(kind, rows, bytes) of every file of collection `name` in the elanus catalog."""
    con = sqlite3.connect(f"file:{data_dir / 'catalog.sqlite'}?mode=ro", uri=True, timeout=10)
    try:
        return [(str(k), int(n), int(b)) for k, n, b in con.execute(
            "SELECT f.kind, f.num_rows, f.size FROM files f JOIN collections c "
            "ON c.id = f.collection_id WHERE c.name = ? ORDER BY f.key", (name,))]
    finally:
        con.close()


def build_restart_collection(client: Any, workdir: Path, n: int, index_type: str,
                             r: dict[str, Any],
                             data_dir: Path | None = None) -> tuple[list[float], int]:
    """Workload 4, before the restart; the probe query and the id it must find first."""
    base, num = load(workdir)
    batches = row_batches(base, num, 0, n, RESTART_BATCH, as_lists=False)
    create_plain_collection(client, "rst", DIM)
    t0 = time.perf_counter()
    r["restart_inserted"] = insert_all(client, "rst", batches)
    r["restart_insert_rows_per_s"] = r["restart_inserted"] / (time.perf_counter() - t0)
    del batches
    t0 = time.perf_counter()
    client.flush("rst")
    r["restart_flush_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    r["restart_index_desc"] = build_index(client, "rst", index_type)
    r["restart_index_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    client.load_collection("rst", timeout=INDEX_WAIT_S)
    r["restart_load_s"] = time.perf_counter() - t0
    if data_dir is not None:  # elanus: what the restart has to open
        files = catalog_files(data_dir, "rst")
        r["restart_files"] = files
        r["restart_segments"] = sum(1 for f in files if f[0] == "segment")
        r["restart_index_mb"] = sum(f[2] for f in files if f[0] == "index") / 2**20
    probe = (n * 7) // 13
    q = np.asarray(base[probe]).tolist()
    res = client.search("rst", data=[q], limit=10, search_params=search_params(index_type))
    r["before_top1_ok"] = bool(res and res[0] and int(res[0][0]["id"]) == probe)
    return q, probe


def first_query(client: Any, q: list[float], probe: int, index_type: str, t0: float,
                r: dict[str, Any]) -> None:
    """Search until results come back (bounded); figures relative to `t0`."""
    res, r["restart_first_query_s"], needed_load = first_results(
        lambda: client.search("rst", data=[q], limit=10, search_params=search_params(index_type)),
        lambda: client.load_collection("rst", timeout=FIRST_QUERY_S), t0, FIRST_QUERY_S)
    r["after_top1_ok"] = int(res[0][0]["id"]) == probe
    r["restart_needed_load"] = needed_load


def count_rows(client: Any, r: dict[str, Any]) -> None:
    t0 = time.perf_counter()
    try:
        res = client.query("rst", filter="", output_fields=["count(*)"], timeout=120)
        r["restart_count"] = int(res[0]["count(*)"])
        r["restart_count_ok"] = r["restart_count"] == r["restart_inserted"]
    except Exception as exc:  # noqa: BLE001 - informational
        r["restart_count_error"] = f"{type(exc).__name__}: {exc}"
    r["restart_count_s"] = time.perf_counter() - t0


# --------------------------------------------------------------------------------------------
# engines (one subprocess each per phase)


def run_local(engine: str, phase: str, workdir: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    """elanus embedded or milvus-lite: a client over a local path."""
    r: dict[str, Any] = {}
    MilvusClient, r["version"], release = local_client(engine)
    with tempfile.TemporaryDirectory(prefix=f"storage-{engine}-") as tmp:
        path = os.path.join(tmp, "bench.db")
        client: Any = MilvusClient(path)
        try:
            if phase == "insert":
                phase_insert(client, workdir, cfg, r, None)
            elif phase == "compact":
                phase_compact(client, workdir, cfg, r, Path(path))
            else:
                n = cfg["lite_restart_rows"] if engine == "lite" else cfg["restart_rows"]
                index_type = cfg["restart_index"]
                stage = "build"
                try:
                    q, probe = build_restart_collection(
                        client, workdir, n, index_type, r,
                        Path(path) if engine == "embedded" else None)
                    stage = "close"
                    t0 = time.perf_counter()
                    client.close()
                    client = None
                    release(path)
                    r["restart_stop_s"] = time.perf_counter() - t0
                    stage = "reopen + first search"
                    t0 = time.perf_counter()
                    client = MilvusClient(path)
                    r["restart_open_s"] = time.perf_counter() - t0
                    first_query(client, q, probe, index_type, t0, r)
                    stage = "count(*)"
                    count_rows(client, r)
                except Exception as exc:  # noqa: BLE001
                    r["error"] = f"{stage}: {type(exc).__name__}: {exc}"
                    r["traceback"] = traceback.format_exc()
        finally:
            if client is not None:
                client.close()
            release(path)
    return r


def run_served(phase: str, workdir: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    import pymilvus
    from pymilvus import MilvusClient

    r: dict[str, Any] = {"version": f"elanus server, pymilvus {pymilvus.__version__} client"}
    with tempfile.TemporaryDirectory(prefix="storage-srv-") as tmp:
        port, data, log_path = free_port(), Path(tmp) / "data", Path(tmp) / "server.log"
        extra = ["--segment-max-rows", str(cfg["segment_max_rows"])]
        proc = start_server(cfg["server_python"], data, port, log_path, extra)
        client = None
        stage = "start"
        try:
            client = connect(proc, port)
            if phase == "insert":
                phase_insert(client, workdir, cfg, r,
                             lambda: MilvusClient(uri=f"http://127.0.0.1:{port}"))
            elif phase == "compact":
                phase_compact(client, workdir, cfg, r, data)
            else:
                index_type = cfg["restart_index"]
                stage = "build"
                q, probe = build_restart_collection(client, workdir, cfg["restart_rows"],
                                                    index_type, r, data)
                stage = "SIGTERM"
                client.close()
                client = None
                t0 = time.perf_counter()
                problem = stop_server(proc)
                r["restart_stop_s"] = time.perf_counter() - t0
                r["first_exit_code"] = proc.returncode
                if problem:
                    r["stop_problem"] = problem
                stage = "restart + first search"
                t0 = time.perf_counter()
                proc = start_server(cfg["server_python"], data, port, log_path, extra)
                client = connect(proc, port, timeout=FIRST_QUERY_S)
                r["restart_open_s"] = time.perf_counter() - t0
                first_query(client, q, probe, index_type, t0, r)
                stage = "count(*)"
                count_rows(client, r)
        except Exception as exc:  # noqa: BLE001
            r["error"] = f"{stage}: {type(exc).__name__}: {exc}"
            r["traceback"] = traceback.format_exc()
        finally:
            if client is not None:
                client.close()
            problem = stop_server(proc)
            if problem:
                r["final_stop_problem"] = problem
            r["server_exit_code"] = proc.returncode
            r["server_log_tail"] = log_path.read_text(errors="replace")[-3000:]
    return r


def worker_main(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir)
    cfg = json.loads((workdir / "cfg.json").read_text())
    emit(worker_result(lambda: run_served(args.phase, workdir, cfg) if args.engine == "served"
                       else run_local(args.engine, args.phase, workdir, cfg)))
    return 0


# --------------------------------------------------------------------------------------------
# driver

NAMES = {"lite": "milvus-lite", "embedded": "elanus-emb", "served": "elanus-srv"}


def table_rows(cfg: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    n, c = cfg["n_insert"], cfg["compact_rows"]
    idx = cfg["restart_index"]
    return [  # phase, key, label, format
        ("insert", "insert_rows_per_s", f"insert rows/s, 1 client ({n:,} rows, batches of {BATCH})",
         "{:,.0f}"),
        ("insert", "insert4_rows_per_s", f"insert rows/s, {THREADS} client threads", "{:,.0f}"),
        ("insert", "flush_s", f"flush s after {n:,} rows", "{:.2f}"),
        ("insert", "seal_rows_per_s", "sealed rows/s (rows / flush s)", "{:,.0f}"),
        ("compact", "segments_after_flushes",
         f"segments right after {COMPACT_FLUSHES} flushes of {c:,}", "{:d}"),
        ("compact", "segments_before", "segments at compact() (auto-compaction settled)", "{:d}"),
        ("compact", "delete_s", f"delete {DELETE_FILTER} s", "{:.2f}"),
        ("compact", "compact_s", "compact() -> Completed s", "{:.2f}"),
        ("compact", "compact_rows_per_s", "compaction rows/s (rows read / s)", "{:,.0f}"),
        ("compact", "rows_after", "rows after compaction (catalog)", "{:,d}"),
        ("compact", "segments_after", "segments after compaction", "{:d}"),
        ("restart", "restart_inserted", "restart: rows", "{:,d}"),
        ("restart", "restart_insert_rows_per_s", f"restart: insert rows/s (batches of {RESTART_BATCH:,})",
         "{:,.0f}"),
        ("restart", "restart_flush_s", "restart: flush s", "{:.2f}"),
        ("restart", "restart_index_s", f"restart: {idx} index until Finished s", "{:.2f}"),
        ("restart", "restart_segments", "restart: sealed segments (catalog)", "{:d}"),
        ("restart", "restart_index_mb", "restart: index files MB (catalog)", "{:,.0f}"),
        ("restart", "restart_stop_s", "restart: stop s (SIGTERM->exit / close)", "{:.2f}"),
        ("restart", "restart_open_s", "restart: start -> connected/opened s", "{:.2f}"),
        ("restart", "restart_first_query_s", "restart: start -> first search results s", "{:.2f}"),
        ("restart", "after_top1_ok", "restart: first search top hit correct", "{}"),
        ("restart", "restart_count_s", "restart: count(*) after restart s", "{:.2f}"),
    ]


def render_table(results: dict[str, dict[str, dict[str, Any]]], cfg: dict[str, Any]) -> str:
    """results[phase][engine] -> one table: engines as columns, elanus/lite ratios."""
    engines = [e for e in ("lite", "embedded", "served")
               if any(e in per for per in results.values())]
    ratio_cols = [e for e in ("embedded", "served") if e in engines and "lite" in engines]
    header = ["metric", *[NAMES[e] for e in engines], *[f"{NAMES[e][7:]}/lite" for e in ratio_cols]]
    sizes_differ = cfg["lite_restart_rows"] != cfg["restart_rows"]
    lines = []
    for phase, key, label, spec in table_rows(cfg):
        per = results.get(phase, {})
        vals = {e: per.get(e, {}).get(key) for e in engines}
        row = [label, *[fmt(vals[e], spec) for e in engines]]
        for e in ratio_cols:
            if phase == "restart" and sizes_differ and key != "restart_inserted":
                row.append("n/a")
            else:
                row.append(ratio(vals[e], vals["lite"]))
        lines.append(row)
    note = ("ratios are elanus value / milvus-lite value (for s, > 1 means slower; for rows/s, "
            "> 1 means faster)")
    out = [render(header, lines), note]
    if sizes_differ:
        out.append(f"restart ratios n/a: milvus-lite ran the restart at {cfg['lite_restart_rows']:,}"
                   f" rows, elanus at {cfg['restart_rows']:,}")
    return "\n".join(out)


def driver_main(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    with work_dir("elanus-storage-bench-") as work_root:
        cfg = {
            "n_insert": args.n_insert,
            "compact_rows": args.compact_rows,
            "restart_rows": args.restart_rows,
            "lite_restart_rows": args.lite_restart_rows or args.restart_rows,
            "restart_index": args.restart_index,
            "segment_max_rows": args.segment_max_rows,
            "server_python": args.server_python,
        }
        n = max(cfg["n_insert"], cfg["compact_rows"] * COMPACT_FLUSHES, cfg["restart_rows"],
                cfg["lite_restart_rows"])
        t0 = time.perf_counter()
        make_data(n, work_root)
        (work_root / "cfg.json").write_text(json.dumps(cfg))
        print(f"[data] {n:,} x {DIM} Gaussian clusters in {time.perf_counter() - t0:.1f} s; {cfg}",
              file=sys.stderr, flush=True)
        engines = chosen_engines(["lite", "embedded", "served"], args.with_lite, args.engines)
        phases = [p for p in PHASES if not args.phases or p in args.phases.split(",")]
        lite_py = lite_python(engines, Path(args.lite_venv))
        results: dict[str, dict[str, dict[str, Any]]] = {}
        for phase in phases:
            for engine in engines:
                if engine not in PHASES[phase]:
                    continue
                label = f"{engine}/{phase}"
                results.setdefault(phase, {})[engine] = run_engine(
                    Path(__file__).resolve(), engine, lite_py, work_root, ["--phase", phase],
                    args.worker_timeout, label=label)
        table = render_table(results, cfg)
        print()
        print(f"data: {n:,} x {DIM} float32 Gaussian clusters ({CENTRES} centres, seed {SEED}), "
              f"{METRIC}; elanus served with --segment-max-rows {cfg['segment_max_rows']}; "
              f"restart index {cfg['restart_index']}")
        print(table)
        for phase, per in results.items():
            for engine, r in per.items():
                if "error" in r:
                    print(f"\n[{engine}/{phase}] ERROR {r['error']}")
                    if r.get("traceback"):
                        print(r["traceback"])
                for key in ("count_ok", "rows_after_ok", "after_top1_ok", "before_top1_ok",
                            "restart_count_ok"):
                    if r.get(key) is False:
                        print(f"\n[{engine}/{phase}] check {key} failed: "
                              f"{ {k: r.get(k) for k in ('count_after', 'rows_after', 'restart_count')} }")
                for key in ("stop_problem", "final_stop_problem", "restart_count_error"):
                    if r.get(key):
                        print(f"\n[{engine}/{phase}] {key}: {r[key]}")
        params = {"dim": DIM, "metric": METRIC, "batch": BATCH, "threads": THREADS,
                  "compact_flushes": COMPACT_FLUSHES, "delete_filter": DELETE_FILTER,
                  "restart_batch": RESTART_BATCH}
        return write_report(args.out, {"config": cfg, "params": params}, results, table, t_start,
                            (r for per in results.values() for r in per.values()))


def main() -> int:
    p = driver_parser(__doc__, DEFAULT_OUT, WORKER_TIMEOUT_S)
    p.add_argument("--engines", default="", help="comma list subset of lite,embedded,served")
    p.add_argument("--phases", default="", help="comma list subset of insert,compact,restart")
    p.add_argument("--n-insert", type=int, default=N_INSERT, help="rows for insert and flush")
    p.add_argument("--compact-rows", type=int, default=COMPACT_ROWS,
                   help=f"rows per flush of the compaction collection ({COMPACT_FLUSHES} flushes)")
    p.add_argument("--restart-rows", type=int, default=RESTART_ROWS)
    p.add_argument("--lite-restart-rows", type=int, default=0,
                   help="restart size for milvus-lite only (default: --restart-rows)")
    p.add_argument("--restart-index", default="FLAT", choices=["FLAT", "HNSW"])
    p.add_argument("--segment-max-rows", type=int, default=1_000_000,
                   help="elanus serve --segment-max-rows (default 1000000, elanus's default)")
    p.add_argument("--phase", help=argparse.SUPPRESS)
    args = p.parse_args()
    return worker_main(args) if args.engine else driver_main(args)


if __name__ == "__main__":
    sys.exit(main())
