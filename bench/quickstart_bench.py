"""Quickstart benchmark: raw faiss HNSW vs elanus (embedded and served) vs milvus-lite.

Run from the repository root with the project's venv:

    .venv/bin/python bench/quickstart_bench.py [--with-lite] [--out FILE]

Data: shared/data/pydocs-minilm-384 (20,000 x 384 unit vectors, 1,000 queries, exact top-100,
meta.parquet `num` 0..999) when that folder exists, else generated data of the same shape
(random unit vectors, exact ground truth computed with numpy). `--synthetic` forces generated
data; `--n-base` / `--queries` / `--filtered-queries` shrink the run for a smoke test.

Every engine runs in its own subprocess of this script (`--engine NAME --workdir DIR`), which
prints one line `BENCH_JSON {...}` on stdout; the driver collects those, prints one table and
writes the JSON (default /tmp/elanus-bench/quickstart.json). milvus-lite runs under its own venv
(default /tmp/mlite-venv), created and filled (milvus-lite==3.2.2, pymilvus, numpy, pyarrow) only
when `--with-lite` is given; it is never a dependency of elanus. Every loop and wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py, also under lite's venv
from common import (
    REPO,
    chosen_engines,
    connect,
    driver_parser,
    emit,
    ensure_lite_venv,
    fmt,
    free_port,
    ratio,
    render,
    start_server,
    stop_server,
    work_dir,
    worker_result,
    write_report,
)
from common import run_worker as _run_worker

DEFAULT_DATA = REPO.parent / "shared" / "data" / "pydocs-minilm-384"
if not DEFAULT_DATA.is_dir():
    DEFAULT_DATA = Path("/work/shared/data/pydocs-minilm-384")
DEFAULT_OUT = Path("/tmp/elanus-bench/quickstart.json")

DIM = 384
K = 10
EF_SEARCH = 64
HNSW_M = 16
EF_CONSTRUCTION = 200
BATCH = 2000
COLLECTION = "bench"
FILTERS = {"10%": ("num < 100", 100), "1%": ("num < 10", 10)}
COUNT_FILTER, COUNT_THRESHOLD, COUNT_REPEATS = "num < 500", 500, 20
WARMUP = 10

INDEX_WAIT_S = 300.0  # create_index -> describe_index state Finished
WORKER_TIMEOUT_S = 480.0  # one engine's whole subprocess


# --------------------------------------------------------------------------------------------
# data preparation (driver)


def exact_topk(queries: np.ndarray, base: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k of inner product (cosine on unit vectors), as ids, best first."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for s in range(0, len(queries), 256):
        sims = queries[s : s + 256] @ base.T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1)
        out[s : s + 256] = ids[np.take_along_axis(part, order, axis=1)]
    return out


def prepare_data(args: argparse.Namespace, path: Path) -> dict[str, Any]:
    """Load (or generate) the data set, compute filtered ground truth, write data.npz."""
    data_dir = Path(args.data)
    if not args.synthetic and data_dir.is_dir():
        import pyarrow.parquet as pq

        base = np.load(data_dir / "base.npy").astype(np.float32)
        queries = np.load(data_dir / "queries.npy").astype(np.float32)
        gt = np.load(data_dir / "gt.npy")[:, :K].astype(np.int64)
        meta = pq.read_table(data_dir / "meta.parquet", columns=["pk", "num"])
        pk = meta.column("pk").to_numpy()
        num = meta.column("num").to_numpy().astype(np.int64)
        assert (pk == np.arange(len(base))).all(), "meta.parquet pk is not the row number"
        source = str(data_dir)
        if args.n_base and args.n_base < len(base):  # smoke-test subset: recompute ground truth
            base, num = base[: args.n_base], num[: args.n_base]
            gt = exact_topk(queries, base, np.arange(len(base)), K)
    else:
        rng = np.random.default_rng(20261122)
        n = args.n_base or 20000
        base = rng.standard_normal((n, DIM), dtype=np.float32)
        base /= np.linalg.norm(base, axis=1, keepdims=True)
        queries = rng.standard_normal((1000, DIM), dtype=np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        num = rng.permutation(np.arange(n) % 1000).astype(np.int64)
        gt = exact_topk(queries, base, np.arange(n), K)
        source = f"generated: {n} x {DIM} random unit vectors (seed 20261122)"
    nq, nf = min(args.queries, len(queries)), min(args.filtered_queries, len(queries))
    arrays: dict[str, np.ndarray] = {
        "base": base,
        "num": num,
        "queries": queries[:nq],
        "gt": gt[:nq],
        "fqueries": queries[:nf],
    }
    for label, (_, threshold) in FILTERS.items():
        ids = np.nonzero(num < threshold)[0]
        arrays["fgt_" + label] = exact_topk(queries[:nf], base[ids], ids, min(K, len(ids)))
    np.savez(path, **arrays)
    return {
        "source": source,
        "n_base": len(base),
        "dim": int(base.shape[1]),
        "queries": nq,
        "filtered_queries": nf,
        "count_expected": np.count_nonzero(num < COUNT_THRESHOLD).item(),
    }


def load_data(workdir: Path) -> dict[str, np.ndarray]:
    with np.load(workdir / "data.npz") as f:
        return {key: f[key] for key in f.files}


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    hits = sum(len(set(f) & set(t.tolist())) for f, t in zip(found, truth))
    return hits / float(truth.size)


# --------------------------------------------------------------------------------------------
# workers (one per engine, each in its own subprocess)


def run_faiss(workdir: Path) -> dict[str, Any]:
    import faiss

    d = load_data(workdir)
    base, queries = d["base"], d["queries"]
    index = faiss.IndexHNSWFlat(base.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = EF_CONSTRUCTION
    t0 = time.perf_counter()
    index.add(base)
    build_s = time.perf_counter() - t0
    index.hnsw.efSearch = EF_SEARCH
    for q in queries[:WARMUP]:
        index.search(q[None, :], K)
    found, lat = [], []
    t0 = time.perf_counter()
    for q in queries:
        t1 = time.perf_counter()
        _, ids = index.search(q[None, :], K)
        lat.append(time.perf_counter() - t1)
        found.append([int(i) for i in ids[0] if i >= 0])
    elapsed = time.perf_counter() - t0
    return {
        "version": faiss.__version__,
        "index_s": build_s,
        "search_qps": len(queries) / elapsed,
        "search_p50_ms": statistics.median(lat) * 1e3,
        "recall": recall(found, d["gt"]),
    }


def _milvus_workload(client: Any, d: dict[str, np.ndarray], info: dict[str, Any]) -> dict[str, Any]:
    """The same workload for elanus (embedded or served) and milvus-lite."""
    from pymilvus import DataType, MilvusClient

    r: dict[str, Any] = {}
    stage = "drop"
    try:
        if client.has_collection(COLLECTION):
            client.drop_collection(COLLECTION)
        stage = "create_collection"
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=int(d["base"].shape[1]))
        schema.add_field("num", DataType.INT64)
        client.create_collection(COLLECTION, schema=schema)

        stage = "insert"
        base, num = d["base"], d["num"]
        vecs = base.tolist()  # row dicts are built outside the timed part
        batches = [
            [{"id": i, "vector": vecs[i], "num": int(num[i])} for i in range(s, min(s + BATCH, len(vecs)))]
            for s in range(0, len(vecs), BATCH)
        ]
        inserted = 0
        t0 = time.perf_counter()
        for rows in batches:
            res = client.insert(COLLECTION, rows)
            inserted += int(res["insert_count"])
        insert_s = time.perf_counter() - t0
        r["insert_rows_per_s"] = inserted / insert_s
        r["inserted"] = inserted

        stage = "flush"
        t0 = time.perf_counter()
        client.flush(COLLECTION)
        r["flush_s"] = time.perf_counter() - t0

        stage = "create_index"
        ip = client.prepare_index_params()
        ip.add_index(
            field_name="vector",
            index_name="vector",
            index_type="HNSW",
            metric_type="COSINE",
            params={"M": HNSW_M, "efConstruction": EF_CONSTRUCTION},
        )
        t0 = time.perf_counter()
        client.create_index(COLLECTION, ip)
        stage = "describe_index (wait for Finished)"
        deadline = t0 + INDEX_WAIT_S
        desc: dict[str, Any] = {}
        while True:
            desc = client.describe_index(COLLECTION, index_name="vector") or {}
            state = str(desc.get("state", ""))
            if state.endswith("Finished"):
                break
            if state.endswith("Failed"):
                raise RuntimeError(f"index build failed: {desc}")
            if time.perf_counter() > deadline:
                raise TimeoutError(f"index not Finished after {INDEX_WAIT_S:.0f} s: {desc}")
            time.sleep(0.05)
        r["index_s"] = time.perf_counter() - t0
        r["index_desc"] = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in desc.items()}

        stage = "load_collection"
        t0 = time.perf_counter()
        client.load_collection(COLLECTION, timeout=INDEX_WAIT_S)
        r["load_s"] = time.perf_counter() - t0

        params = {"metric_type": "COSINE", "params": {"ef": EF_SEARCH}}

        def searches(queries: np.ndarray, flt: str) -> tuple[float, float, list[list[int]]]:
            qs = queries.tolist()
            for q in qs[:WARMUP]:
                client.search(COLLECTION, data=[q], limit=K, search_params=params, filter=flt)
            found, lat = [], []
            t0 = time.perf_counter()
            for q in qs:
                t1 = time.perf_counter()
                res = client.search(COLLECTION, data=[q], limit=K, search_params=params, filter=flt)
                lat.append(time.perf_counter() - t1)
                found.append([int(h["id"]) for h in res[0]])
            return len(qs) / (time.perf_counter() - t0), statistics.median(lat) * 1e3, found

        stage = "search"
        qps, p50, found = searches(d["queries"], "")
        r["search_qps"], r["search_p50_ms"], r["recall"] = qps, p50, recall(found, d["gt"])
        for label, (flt, _) in FILTERS.items():
            stage = f"search filter {flt!r}"
            qps, p50, found = searches(d["fqueries"], flt)
            r[f"fsearch_{label}_qps"] = qps
            r[f"fsearch_{label}_p50_ms"] = p50
            r[f"fsearch_{label}_recall"] = recall(found, d["fgt_" + label])

        stage = f"query count(*) {COUNT_FILTER!r}"
        lat, counts = [], set()
        for _ in range(COUNT_REPEATS):
            t0 = time.perf_counter()
            res = client.query(COLLECTION, filter=COUNT_FILTER, output_fields=["count(*)"])
            lat.append(time.perf_counter() - t0)
            counts.add(int(res[0]["count(*)"]))
        r["count_ms"] = statistics.median(lat) * 1e3
        r["count_values"] = sorted(counts)
        r["count_ok"] = counts == {info["count_expected"]}
    except Exception as exc:  # noqa: BLE001 - keep the figures measured so far and say where it broke
        r["error"] = f"{stage}: {type(exc).__name__}: {exc}"
        r["traceback"] = traceback.format_exc()
    return r


def run_embedded(workdir: Path, info: dict[str, Any]) -> dict[str, Any]:
    import elanus
    from elanus import MilvusClient

    d = load_data(workdir)
    with tempfile.TemporaryDirectory(prefix="elanus-emb-") as tmp:
        client = MilvusClient(os.path.join(tmp, "bench.db"))
        try:
            r = _milvus_workload(client, d, info)
        finally:
            client.close()
    r["version"] = getattr(elanus, "__version__", "?")
    return r


def run_served(workdir: Path, info: dict[str, Any], server_python: str) -> dict[str, Any]:
    import pymilvus

    d = load_data(workdir)
    r: dict[str, Any] = {"version": f"pymilvus {pymilvus.__version__} client"}
    with tempfile.TemporaryDirectory(prefix="elanus-srv-") as tmp:
        port = free_port()
        log_path = Path(tmp) / "server.log"
        proc = start_server(server_python, Path(tmp) / "data", port, log_path)
        try:
            t0 = time.perf_counter()
            client = connect(proc, port)
            r["server_start_s"] = time.perf_counter() - t0
            r.update(_milvus_workload(client, d, info))
            client.close()
        except Exception as exc:  # noqa: BLE001
            r["error"] = f"server: {type(exc).__name__}: {exc}"
            r["traceback"] = traceback.format_exc()
        finally:
            problem = stop_server(proc)
            if problem:
                r["stop_problem"] = problem
            r["server_exit_code"] = proc.returncode
            log_text = log_path.read_text(errors="replace")
            r["server_log_tail"] = log_text[-3000:]
    return r


def run_lite(workdir: Path, info: dict[str, Any]) -> dict[str, Any]:
    from importlib.metadata import version

    from pymilvus import MilvusClient

    d = load_data(workdir)
    with tempfile.TemporaryDirectory(prefix="mlite-") as tmp:
        client = MilvusClient(os.path.join(tmp, "lite.db"))
        try:
            r = _milvus_workload(client, d, info)
        finally:
            client.close()
    r["version"] = f"milvus-lite {version('milvus-lite')}, pymilvus {version('pymilvus')}"
    return r


def worker_main(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir)
    info = json.loads((workdir / "info.json").read_text())

    def run() -> dict[str, Any]:
        if args.engine == "faiss":
            return run_faiss(workdir)
        if args.engine == "embedded":
            return run_embedded(workdir, info)
        if args.engine == "served":
            return run_served(workdir, info, args.server_python)
        if args.engine == "lite":
            return run_lite(workdir, info)
        raise ValueError(args.engine)

    emit(worker_result(run))
    return 0


# --------------------------------------------------------------------------------------------
# driver


def run_worker(engine: str, python: str, workdir: Path, extra: list[str], timeout: float) -> dict[str, Any]:
    return _run_worker(Path(__file__).resolve(), engine, python, workdir, extra, timeout)


ROWS = [  # key, label, format
    ("insert_rows_per_s", "insert rows/s (batches of 2000)", "{:,.0f}"),
    ("flush_s", "flush s", "{:.2f}"),
    ("index_s", "HNSW build s (faiss add / until Finished)", "{:.2f}"),
    ("load_s", "load s", "{:.2f}"),
    ("search_qps", "search QPS (ef=64, k=10, 1 query/call)", "{:,.0f}"),
    ("search_p50_ms", "search p50 ms", "{:.2f}"),
    ("recall", "recall@10", "{:.4f}"),
    ("fsearch_10%_qps", "filtered 10% (num < 100) QPS", "{:,.0f}"),
    ("fsearch_10%_recall", "filtered 10% recall@10", "{:.4f}"),
    ("fsearch_1%_qps", "filtered 1% (num < 10) QPS", "{:,.0f}"),
    ("fsearch_1%_recall", "filtered 1% recall@10", "{:.4f}"),
    ("count_ms", "count(*) num < 500 median ms", "{:.2f}"),
]


def render_table(results: dict[str, dict[str, Any]]) -> str:
    engines = [e for e in ("faiss", "lite", "embedded", "served") if e in results]
    names = {"faiss": "faiss", "lite": "milvus-lite", "embedded": "elanus-emb", "served": "elanus-srv"}
    cols = [names[e] for e in engines]
    ratio_cols: list[tuple[str, str, str]] = []
    for e in ("embedded", "served"):
        if e in results:
            for ref in ("faiss", "lite"):
                if ref in results:
                    ratio_cols.append((f"{names[e][7:]}/{names[ref].split('-')[-1]}", e, ref))
    header = ["metric", *cols, *[c[0] for c in ratio_cols]]
    lines = []
    for key, label, spec in ROWS:
        row = [label, *[fmt(results[e].get(key), spec) for e in engines]]
        row += [ratio(results[e].get(key), results[ref].get(key)) for _, e, ref in ratio_cols]
        lines.append(row)
    out = [render(header, lines)]
    out.append("ratios are value / reference value (for s and ms, > 1 means slower; for QPS, rows/s, recall, > 1 means higher)")
    return "\n".join(out)


def driver_main(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    with work_dir("elanus-bench-") as work_root:
        info = prepare_data(args, work_root / "data.npz")
        (work_root / "info.json").write_text(json.dumps(info))
        print(f"[data] {info}", file=sys.stderr, flush=True)
        results: dict[str, dict[str, Any]] = {}
        me = sys.executable
        server_python = args.server_python
        engines = chosen_engines(["faiss", "embedded", "served", "lite"], args.with_lite,
                                 args.engines)
        for engine in engines:
            if engine == "lite":
                try:
                    py = ensure_lite_venv(Path(args.lite_venv))
                except Exception as exc:  # noqa: BLE001
                    results["lite"] = {"error": f"lite venv: {type(exc).__name__}: {exc}"}
                    continue
                results["lite"] = run_worker("lite", py, work_root, [], args.worker_timeout)
            elif engine == "served":
                results[engine] = run_worker(
                    engine, me, work_root, ["--server-python", server_python], args.worker_timeout
                )
            else:
                results[engine] = run_worker(engine, me, work_root, [], args.worker_timeout)
        table = render_table(results)
        print()
        print(f"data: {info['source']}; {info['n_base']} x {info['dim']}; {info['queries']} queries unfiltered, "
              f"{info['filtered_queries']} filtered; HNSW M={HNSW_M} efConstruction={EF_CONSTRUCTION} ef={EF_SEARCH}")
        print(table)
        for engine, r in results.items():
            if "error" in r:
                print(f"\n[{engine}] ERROR {r['error']}")
                if r.get("traceback"):
                    print(r["traceback"])
            if r.get("count_ok") is False:
                print(f"\n[{engine}] count(*) returned {r.get('count_values')}, expected {info['count_expected']}")
        params = {"M": HNSW_M, "efConstruction": EF_CONSTRUCTION, "ef": EF_SEARCH, "k": K,
                  "batch": BATCH}
        return write_report(args.out, {"data": info, "params": params}, results, table, t_start,
                            results.values())


def main() -> int:
    p = driver_parser(__doc__, DEFAULT_OUT, WORKER_TIMEOUT_S)
    p.add_argument("--data", default=str(DEFAULT_DATA), help="pydocs-minilm-384 folder (generated data if missing)")
    p.add_argument("--synthetic", action="store_true", help="use generated data even if --data exists")
    p.add_argument("--n-base", type=int, default=0, help="base vectors (default: all / 20000)")
    p.add_argument("--queries", type=int, default=1000, help="unfiltered queries (default 1000)")
    p.add_argument("--filtered-queries", type=int, default=200, help="queries per filter (default 200)")
    p.add_argument("--engines", default="", help="comma list subset of faiss,embedded,served,lite")
    args = p.parse_args()
    return worker_main(args) if args.engine else driver_main(args)


if __name__ == "__main__":
    sys.exit(main())
