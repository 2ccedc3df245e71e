"""Benchmark suite: the project's workloads on elanus served, elanus embedded and milvus-lite 3.2.2
through pymilvus, with raw faiss as the yardstick, in one run (`make bench`).

Run from the repository root with the project's venv:

    .venv/bin/python bench/suite.py [--with-lite] [--quick] [--datasets pydocs,synth1m,synth200k]
                                    [--markdown FILE] [--out FILE]

Data sets (`--datasets`, in the order given): `pydocs` (shared/data/pydocs-minilm-384, 20,000 x
384 COSINE; generated 20,000 x 384 unit vectors when that folder is missing), `synth1m`
(1,000,000 x 128 L2) and `synth200k` (200,000 x 768 COSINE), both from gen_synth.py, cached under
/tmp/elanus-bench-data with the suite's ground truths. Every row has id INT64 (explicit, the row
number), `vector`, `num` INT64 0..999 (the data set's), `meta` JSON {"a": 0..999, "b": "s<a%10>"}
and `tags` ARRAY<INT64> (1 to 4 values in 0..99), the last two generated with a seeded RNG.

Per data set, each engine in its own bounded subprocess of this script, in this order:

  insert     rows in batches of 2,000 pymilvus row dicts (only the insert calls timed), flush
  IVF_FLAT   create_index (nlist 1024; 128 at 20,000 rows) until describe_index says Finished,
             load, nprobe 1, 4, 16, 64; then release and drop_index
  HNSW       M=16 efConstruction=200, built and loaded the same way; resident memory after
             load; ef 16, 32, 64, 128, 256
  filters    HNSW ef=64 with `num < 10` / `< 100` / `< 500` (1%, 10%, 50%), `meta["a"] < 100`
             and `array_contains(tags, 7)`: recall@10 against exact filtered ground truth, QPS
  scalar     query `num < 500` limit 1,000 (output num, meta), count(*) `num < 500`, get of 100
             ids: p50 ms (each result checked)
  delete     delete `num >= 900` (10%), then HNSW ef=64 against ground truth without those rows
  reopen     close (served: SIGTERM), open again, time until the first search returns results

Every search is top 10, one query per call, after a short warm-up: recall@10, QPS, p50/p99 ms with
one client, and at every sweep point QPS with 4 client threads (each its own client; served and
milvus-lite clients `dedicated`, i.e. their own gRPC channel). No query starts after the point's
time budget; milvus-lite gets fewer queries and a shorter budget, and the table marks points cut
short. Raw faiss (IndexHNSWFlat M=16 efConstruction=200, IVF{nlist},Flat, filters through an
IDSelectorBitmap, reopen = read_index) runs the same search loops.

Output: one table per data set (rows: workload / metric; columns: faiss, embedded, served, lite
and the ratios embedded/faiss, served/faiss, embedded/lite, served/lite) on stdout, JSON to
bench/results/latest.json (`--out`), the same tables as Markdown with `--markdown FILE`.
`--quick`: pydocs only, 200 queries per point (milvus-lite 50), budgets 5 s, about 75 s.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    first_results,
    fmt,
    free_port,
    lite_python,
    local_client,
    measure,
    measure_threads,
    point_options,
    ratio,
    render,
    rss_bytes,
    run_engine,
    searcher,
    start_server,
    stop_server,
    timed_calls,
    wait_index,
    work_dir,
    worker_result,
    write_report,
)
from datasets import (
    DEFAULT_DATA,
    SEED,
    SYNTH_ROOT,
    K,
    exact_topk,
    read_rows,
    read_set,
    synthetic,
)
from indexes import EF_CONSTRUCTION, EFS, HNSW_M, NPROBES, faiss_params, nlist_for

DEFAULT_OUT = REPO / "bench" / "results" / "latest.json"
SETS = {"pydocs": (20_000, 384, "COSINE"), "synth1m": (1_000_000, 128, "L2"),
        "synth200k": (200_000, 768, "COSINE")}
ENGINES = ("faiss", "embedded", "served", "lite")
COLLECTION = "suite"
BATCH = 2000
THREADS = 4
BIG_NLIST = 1024  # IVF lists from 200,000 rows up; ~sqrt(rows) below (128 at 20,000)
FILTER_EF = 64
NUM_FILTERS = {"1%": 10, "10%": 100, "50%": 500}  # `num < bound`
JSON_FILTER = 'meta["a"] < 100'
ARRAY_FILTER = "array_contains(tags, 7)"
DELETE_BOUND, SCALAR_BOUND = 900, 500
DELETE_FILTER = f"num >= {DELETE_BOUND}"  # 10% of rows
SCALAR_FILTER = f"num < {SCALAR_BOUND}"
QUERY_LIMIT = 1000
GET_IDS = 100
REPS = 20  # calls per scalar workload (budget permitting)
QUERIES, LITE_QUERIES = 1000, 200
BUDGET_S, LITE_BUDGET_S = 20.0, 10.0  # per point: no query started after this much
CALL_TIMEOUT_S = 600.0
INDEX_WAIT_S = 1800.0
REOPEN_S = 600.0
WORKER_TIMEOUT_S = 2400.0
MB = 2**20


# --------------------------------------------------------------------------------------------
# data (driver)


def source_folder(name: str, data: str) -> tuple[Path, str]:
    """The folder holding data set `name`, and a description of where it comes from."""
    n, dim, metric = SETS[name]
    if name == "pydocs" and Path(data).is_dir():
        return Path(data), str(data)
    note = f" ({data} not found)" if name == "pydocs" else ""
    return synthetic(n, dim, metric), f"synthetic {n:,} x {dim} {metric}{note}"


def attributes(rows: int) -> tuple[np.ndarray, np.ndarray]:
    """meta["a"] (uniform 0..999) and tags (rows x 4, 1 to 4 values in 0..99, -1 pads), seeded."""
    rng = np.random.default_rng(SEED + rows)
    meta_a = rng.integers(0, 1000, rows)
    n_tags = rng.integers(1, 5, rows)
    tags = np.where(np.arange(4)[None, :] < n_tags[:, None], rng.integers(0, 100, (rows, 4)), -1)
    return meta_a, tags


def passing(num: np.ndarray, meta_a: np.ndarray, tags: np.ndarray) -> dict[str, np.ndarray]:
    """Row masks of every filtered workload, by truth file name."""
    masks = {f"f{sel[:-1]}": num < bound for sel, bound in NUM_FILTERS.items()}
    masks["fjson"] = meta_a < 100
    masks["farray"] = (tags == 7).any(axis=1)
    masks["deleted"] = num < DELETE_BOUND  # what remains after DELETE_FILTER
    return masks


def prepare(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Data set `name` for the workers: its arrays and exact ground truths under a cache folder
    (computed once per rows and query count); its description."""
    folder, source = source_folder(name, args.data)
    _, _, metric = SETS[name]
    s = read_set(folder, metric)
    rows = min(args.rows or len(s["base"]), len(s["base"]))
    nq = min(max(args.queries, args.lite_queries), len(s["queries"]))
    cache = SYNTH_ROOT / f"suite-{name}-{rows}-{nq}"
    info = cache / "suite.json"
    desc = {"name": name, "source": source, "base": s["base_path"], "rows": rows,
            "dim": int(s["base"].shape[1]), "metric": s["metric"], "queries": nq,
            "nlist": BIG_NLIST if rows >= 200_000 else nlist_for(rows), "cache": str(cache)}
    if info.exists() and json.loads(info.read_text()).get("base") == desc["base"]:
        return {**json.loads(info.read_text()), **desc}
    print(f"[data] {name}: ground truths into {cache}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    cache.mkdir(parents=True, exist_ok=True)
    base = s["base"][:rows]
    queries = s["queries"][:nq].astype(np.float32)
    num = s["num"][:rows]
    meta_a, tags = attributes(rows)
    gt = (s["gt"][:nq, :K].astype(np.int64) if rows == len(s["base"])
          else exact_topk(queries, base, s["metric"]))
    for key, arr in (("queries", queries), ("num", num), ("meta_a", meta_a), ("tags", tags),
                     ("gt", gt)):
        np.save(cache / f"{key}.npy", arr)
    fractions = {}
    for key, mask in passing(num, meta_a, tags).items():
        np.save(cache / f"gt_{key}.npy", exact_topk(queries, base, s["metric"],
                                                    np.flatnonzero(mask)))
        fractions[key] = float(mask.mean())
    extra = {"fractions": fractions, "count_expected": int((num < SCALAR_BOUND).sum()),
             "deleted_expected": int((num >= DELETE_BOUND).sum()),
             "truth_s": time.perf_counter() - t0}
    info.write_text(json.dumps({**desc, **extra}))
    return {**desc, **extra}


def load_arrays(cfg: dict[str, Any]) -> dict[str, np.ndarray]:
    cache = Path(cfg["cache"])
    return {p.stem: np.load(p) for p in cache.glob("*.npy")}


# --------------------------------------------------------------------------------------------
# engines (worker)


def log(cfg: dict[str, Any], engine: str, text: str) -> None:
    """A progress line on stderr and in <workdir>/<engine>.log (to follow a long run)."""
    line = f"[{cfg['name']} {engine}] {text}"
    print(line, file=sys.stderr, flush=True)
    with open(Path(cfg["workdir"]) / f"{engine}.log", "a") as f:
        f.write(f"{time.strftime('%H:%M:%S')} {line}\n")


def point(m: dict[str, Any], key: str, res: dict[str, Any], suffix: str = "") -> None:
    """Store one measured point's figures as `key.figure` (suffix `4` for the threaded run)."""
    for fig, value in res.items():
        if fig != "threads":
            m[f"{key}.{fig}{suffix}"] = value


def run_faiss(cfg: dict[str, Any]) -> dict[str, Any]:
    """The yardstick: faiss indexes over the same rows, searched one query per call."""
    import faiss

    r: dict[str, Any] = {"version": f"faiss {faiss.__version__}", "m": {}}
    m = r["m"]
    a = load_arrays(cfg)
    nq, budget = cfg["queries_per_point"], cfg["budget_s"]
    fm = faiss.METRIC_L2 if cfg["metric"] == "L2" else faiss.METRIC_INNER_PRODUCT
    rss0 = rss_bytes(os.getpid())
    base = read_rows(cfg["base"], 0, cfg["rows"]).astype(np.float32, copy=False)
    queries = a["queries"][:nq].copy()
    if cfg["metric"] == "COSINE":
        base /= np.linalg.norm(base, axis=1, keepdims=True)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    qs = [q[None, :] for q in queries]

    def sweep_point(index: Any, key: str, itype: str, params: dict[str, Any], truth: np.ndarray,
                    mask: np.ndarray | None = None, threads: bool = True) -> None:
        sel, bits = None, None
        if mask is not None:
            bits = np.packbits(mask, bitorder="little")
            sel = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
        sp, held = faiss_params(itype, params, sel)

        def one(q: np.ndarray) -> list[int]:
            ids = index.search(q, K, params=sp)[1][0]
            return ids[ids >= 0].tolist()

        point(m, key, measure(one, qs, truth, budget))
        if threads:
            point(m, key, measure_threads([one] * THREADS, qs, truth, budget), "4")
        del held, bits

    t0 = time.perf_counter()
    ivf = faiss.index_factory(cfg["dim"], f"IVF{cfg['nlist']},Flat", fm)
    ivf.train(base)
    ivf.add(base)
    m["ivf_build_s"] = m["ivf_ready_s"] = time.perf_counter() - t0
    log(cfg, "faiss", f"IVF built in {m['ivf_build_s']:.1f} s")
    for p in NPROBES:
        sweep_point(ivf, f"ivf.nprobe={p}", "IVF_FLAT", {"nprobe": p}, a["gt"])
    del ivf
    t0 = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(cfg["dim"], HNSW_M, fm)
    hnsw.hnsw.efConstruction = EF_CONSTRUCTION
    hnsw.add(base)
    m["hnsw_build_s"] = m["hnsw_ready_s"] = time.perf_counter() - t0
    log(cfg, "faiss", f"HNSW built in {m['hnsw_build_s']:.1f} s")
    m["raw_mb"] = base.nbytes / MB
    del base
    gc.collect()
    m["rss_mb"] = (rss_bytes(os.getpid()) - rss0) / MB
    m["rss_total_mb"] = rss_bytes(os.getpid()) / MB
    m["index_mb"] = faiss.serialize_index(hnsw).size / MB
    with tempfile.TemporaryDirectory(prefix="suite-faiss-") as tmp:
        path = os.path.join(tmp, "hnsw.faiss")
        faiss.write_index(hnsw, path)
        del hnsw
        gc.collect()
        t0 = time.perf_counter()
        hnsw = faiss.read_index(path)
        hnsw.search(qs[0], K)
        m["reopen_s"] = time.perf_counter() - t0
    for ef in EFS:
        sweep_point(hnsw, f"hnsw.ef={ef}", "HNSW", {"ef": ef}, a["gt"])
    masks = passing(a["num"], a["meta_a"], a["tags"])
    for key in (*(f"f{sel[:-1]}" for sel in NUM_FILTERS), "fjson", "farray", "deleted"):
        sweep_point(hnsw, key, "HNSW", {"ef": FILTER_EF}, a[f"gt_{key}"], masks[key], False)
    log(cfg, "faiss", "done")
    return r


class Local:
    """elanus embedded or milvus-lite: clients over one local path inside this process."""

    def __init__(self, engine: str, tmp: str) -> None:
        self.engine = engine
        self.cls, self.version, self._release = local_client(engine)
        self.path = os.path.join(tmp, "suite.db")
        self.client: Any = None

    def start(self) -> Any:
        self.client = self.cls(self.path)
        return self.client

    def extra_client(self) -> Any:
        # milvus-lite's pymilvus: a channel of its own; elanus ignores the flag for a path
        return self.cls(self.path, dedicated=True)

    def rss(self) -> int:
        return rss_bytes(os.getpid())

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        self._release(self.path)


class Served:
    """elanus served: `elanus serve` over a data directory, pymilvus clients over loopback."""

    def __init__(self, server_python: str, tmp: str) -> None:
        import pymilvus

        self.version = f"elanus server, pymilvus {pymilvus.__version__} client"
        self.python, self.port = server_python, free_port()
        self.data, self.log_path = Path(tmp) / "data", Path(tmp) / "server.log"
        self.proc: Any = None
        self.client: Any = None

    def start(self) -> Any:
        self.proc = start_server(self.python, self.data, self.port, self.log_path)
        self.client = connect(self.proc, self.port, timeout=REOPEN_S)
        return self.client

    def extra_client(self) -> Any:
        from pymilvus import MilvusClient

        return MilvusClient(uri=f"http://127.0.0.1:{self.port}", dedicated=True)

    def rss(self) -> int:
        return rss_bytes(self.proc.pid) if self.proc is not None else 0

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.proc is not None:
            problem = stop_server(self.proc)
            if problem:
                print(f"[served] {problem}", file=sys.stderr, flush=True)


def timed(call: Callable[[], Any], reps: int, budget: float) -> tuple[float, Any, int]:
    """p50 ms of `call` over `reps` calls after one untimed call (no call after `budget` s),
    the last result and the number of timed calls."""
    out, stats = timed_calls(lambda _: call(), range(reps), budget, warmup=1)
    return stats["p50_ms"], out[-1], stats["n"]


def create(client: Any, dim: int) -> None:
    from pymilvus import DataType, MilvusClient

    if client.has_collection(COLLECTION):
        client.drop_collection(COLLECTION)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("num", DataType.INT64)
    schema.add_field("meta", DataType.JSON)
    schema.add_field("tags", DataType.ARRAY, element_type=DataType.INT64, max_capacity=4)
    client.create_collection(COLLECTION, schema=schema)


def insert(client: Any, cfg: dict[str, Any], a: dict[str, np.ndarray]) -> float:
    """Every row in batches of BATCH row dicts, built outside the timed calls; insert seconds."""
    num, meta_a, tags = a["num"].tolist(), a["meta_a"].tolist(), a["tags"].tolist()
    spent = 0.0
    for s in range(0, cfg["rows"], BATCH):
        vecs = read_rows(cfg["base"], s, min(s + BATCH, cfg["rows"])).tolist()
        rows = [{"id": i, "vector": v, "num": num[i],
                 "meta": {"a": meta_a[i], "b": f"s{meta_a[i] % 10}"},
                 "tags": [t for t in tags[i] if t >= 0]} for i, v in enumerate(vecs, s)]
        t0 = time.perf_counter()
        client.insert(COLLECTION, rows, timeout=CALL_TIMEOUT_S)
        spent += time.perf_counter() - t0
    return spent


def build(client: Any, cfg: dict[str, Any], index_type: str, params: dict[str, Any]
          ) -> tuple[float, float]:
    """create_index until Finished, then load: (build s, load s)."""
    ip = client.prepare_index_params()
    ip.add_index(field_name="vector", index_name="vector", index_type=index_type,
                 metric_type=cfg["metric"], params=params)
    t0 = time.perf_counter()
    try:
        client.create_index(COLLECTION, ip, timeout=CALL_TIMEOUT_S, sync=False)
    except Exception as exc:
        # milvus-lite builds inside create_index; past a few minutes its server drops the channel
        # (GOAWAY too_many_pings), pymilvus sends the call again, and the retry finds the index
        if "already exists" not in str(exc):
            raise
        desc = client.describe_index(COLLECTION, "vector", timeout=CALL_TIMEOUT_S) or {}
        if desc.get("index_type") != index_type:
            raise
    wait_index(client, COLLECTION, "vector", INDEX_WAIT_S, CALL_TIMEOUT_S)
    t1 = time.perf_counter()
    client.load_collection(COLLECTION, timeout=INDEX_WAIT_S)
    return t1 - t0, time.perf_counter() - t1


@contextmanager
def thread_clients(h: Local | Served) -> Iterator[list[Any]]:
    clients = [h.extra_client() for _ in range(THREADS)]
    try:
        yield clients
    finally:
        for c in clients:
            c.close()


def workload(engine: str, h: Local | Served, cfg: dict[str, Any], r: dict[str, Any]) -> None:
    """Every workload through pymilvus on one engine; figures into r["m"], failed steps into
    r["failed"] (the steps after a failed build or load are skipped)."""
    m, failed = r["m"], r["failed"]
    a = load_arrays(cfg)
    lite = engine == "lite"
    nq = cfg["lite_queries"] if lite else cfg["queries_per_point"]
    budget = cfg["lite_budget_s"] if lite else cfg["budget_s"]
    metric = cfg["metric"]
    qs = a["queries"][:nq].tolist()
    rss0 = h.rss()
    client = h.start()
    if engine == "served":
        rss0 = h.rss()  # the empty server

    def sweep_point(key: str, params: dict[str, Any], truth: np.ndarray, flt: str = "",
                    extra: list[Any] | None = None) -> None:
        try:
            point(m, key, measure(searcher(client, COLLECTION, metric, params, flt), qs, truth, budget))
            if extra:
                point(m, key, measure_threads([searcher(c, COLLECTION, metric, params, flt) for c in extra],
                                              qs, truth, budget), "4")
        except Exception as exc:  # noqa: BLE001 - one point's failure is a result
            failed[key] = f"{type(exc).__name__}: {getattr(exc, 'message', '') or exc}"
        log(cfg, engine, f"{key}: {m.get(key + '.qps', 0):,.0f} QPS, "
                         f"recall {m.get(key + '.recall', 0):.3f}")

    create(client, cfg["dim"])
    m["insert_s"] = insert(client, cfg, a)
    m["insert_rows_s"] = cfg["rows"] / m["insert_s"]
    t0 = time.perf_counter()
    client.flush(COLLECTION, timeout=CALL_TIMEOUT_S)
    m["flush_s"] = time.perf_counter() - t0
    log(cfg, engine, f"inserted {m['insert_rows_s']:,.0f} rows/s, flush {m['flush_s']:.1f} s")

    try:
        m["ivf_build_s"], m["ivf_load_s"] = build(client, cfg, "IVF_FLAT",
                                                  {"nlist": cfg["nlist"]})
        m["ivf_ready_s"] = m["ivf_build_s"] + m["ivf_load_s"]
        log(cfg, engine, f"IVF_FLAT build {m['ivf_build_s']:.1f} s, load {m['ivf_load_s']:.1f} s")
        with thread_clients(h) as extra:
            for p in NPROBES:
                sweep_point(f"ivf.nprobe={p}", {"nprobe": p}, a["gt"], extra=extra)
    except Exception as exc:  # noqa: BLE001 - HNSW still runs
        failed["ivf"] = f"{type(exc).__name__}: {getattr(exc, 'message', '') or exc}"
    client.release_collection(COLLECTION, timeout=CALL_TIMEOUT_S)
    client.drop_index(COLLECTION, "vector", timeout=CALL_TIMEOUT_S)

    m["hnsw_build_s"], m["hnsw_load_s"] = build(
        client, cfg, "HNSW", {"M": HNSW_M, "efConstruction": EF_CONSTRUCTION})
    m["hnsw_ready_s"] = m["hnsw_build_s"] + m["hnsw_load_s"]
    log(cfg, engine, f"HNSW build {m['hnsw_build_s']:.1f} s, load {m['hnsw_load_s']:.1f} s")
    gc.collect()
    m["rss_mb"] = (h.rss() - rss0) / MB
    m["rss_total_mb"] = h.rss() / MB
    with thread_clients(h) as extra:
        for ef in EFS:
            sweep_point(f"hnsw.ef={ef}", {"ef": ef}, a["gt"], extra=extra)
    for sel, bound in NUM_FILTERS.items():
        sweep_point(f"f{sel[:-1]}", {"ef": FILTER_EF}, a[f"gt_f{sel[:-1]}"], f"num < {bound}")
    sweep_point("fjson", {"ef": FILTER_EF}, a["gt_fjson"], JSON_FILTER)
    sweep_point("farray", {"ef": FILTER_EF}, a["gt_farray"], ARRAY_FILTER)

    scalar_budget = budget
    checks = r["checks"]
    for key, call, check in (
        ("query_ms", lambda: client.query(COLLECTION, filter=SCALAR_FILTER, limit=QUERY_LIMIT,
                                          output_fields=["num", "meta"], timeout=CALL_TIMEOUT_S),
         lambda res: len(res) == QUERY_LIMIT),
        ("count_ms", lambda: client.query(COLLECTION, filter=SCALAR_FILTER,
                                          output_fields=["count(*)"], timeout=CALL_TIMEOUT_S),
         lambda res: int(res[0]["count(*)"]) == cfg["count_expected"]),
        ("get_ms", lambda: client.get(COLLECTION, ids=cfg["get_ids"], output_fields=["num"],
                                      timeout=CALL_TIMEOUT_S),
         lambda res: sorted(int(x["id"]) for x in res) == sorted(cfg["get_ids"])),
    ):
        try:
            m[key], res, m[key + ".n"] = timed(call, REPS, scalar_budget)
            checks[key] = bool(check(res))
        except Exception as exc:  # noqa: BLE001
            failed[key] = f"{type(exc).__name__}: {getattr(exc, 'message', '') or exc}"
    log(cfg, engine, f"query {m.get('query_ms', 0):.1f} ms, count {m.get('count_ms', 0):.1f} ms, "
                     f"get {m.get('get_ms', 0):.1f} ms")

    t0 = time.perf_counter()
    client.delete(COLLECTION, filter=DELETE_FILTER, timeout=CALL_TIMEOUT_S)
    m["delete_s"] = time.perf_counter() - t0
    res = client.query(COLLECTION, filter="", output_fields=["count(*)"], timeout=CALL_TIMEOUT_S)
    checks["count_after_delete"] = (int(res[0]["count(*)"])
                                    == cfg["rows"] - cfg["deleted_expected"])
    sweep_point("deleted", {"ef": FILTER_EF}, a["gt_deleted"])

    h.stop()
    t0 = time.perf_counter()
    client = h.start()
    probe = searcher(client, COLLECTION, metric, {"ef": FILTER_EF})
    _, m["reopen_s"], r["reopen_needed_load"] = first_results(
        lambda: [probe(qs[0])], lambda: client.load_collection(COLLECTION, timeout=REOPEN_S),
        t0, REOPEN_S)
    log(cfg, engine, f"reopen to first result {m['reopen_s']:.2f} s")


def run_milvus(engine: str, cfg: dict[str, Any]) -> dict[str, Any]:
    r: dict[str, Any] = {"m": {}, "failed": {}, "checks": {}}
    with tempfile.TemporaryDirectory(prefix=f"suite-{engine}-") as tmp:
        h: Local | Served = (Served(cfg["server_python"], tmp) if engine == "served"
                             else Local(engine, tmp))
        r["version"] = h.version
        try:
            workload(engine, h, cfg, r)
        except Exception as exc:  # noqa: BLE001 - keep what was measured
            r["failed"]["run"] = f"{type(exc).__name__}: {getattr(exc, 'message', '') or exc}"
            r["traceback"] = traceback.format_exc()
        finally:
            try:
                h.stop()
            except Exception as exc:  # noqa: BLE001
                r["failed"]["stop"] = f"{type(exc).__name__}: {exc}"
            if isinstance(h, Served) and h.log_path.exists():
                r["server_log_tail"] = h.log_path.read_text(errors="replace")[-3000:]
    if engine != "lite" and (r["failed"] or not all(r["checks"].values())):
        r["error"] = "; ".join([*(f"{k}: {v}" for k, v in r["failed"].items()),
                                *(f"check {k} failed" for k, ok in r["checks"].items() if not ok)])
    return r


def load_average() -> float:
    """The 1-minute load average: how busy the machine was besides this worker."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def worker_main(args: argparse.Namespace) -> int:
    cfg = json.loads((Path(args.workdir) / "cfg.json").read_text())
    load = load_average()
    r = worker_result(lambda: run_faiss(cfg) if args.engine == "faiss"
                      else run_milvus(args.engine, cfg))
    r["loadavg"] = [load, load_average()]
    emit(r)
    return 0


# --------------------------------------------------------------------------------------------
# tables (driver)


COLUMNS = ["faiss", "embedded", "served", "lite", "emb/faiss", "srv/faiss", "emb/lite", "srv/lite"]


def table_rows(desc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, metric key, format) of every row of a data set's table; "" key: a heading."""
    sweep = [("recall@10", "recall", "{:.4f}"), ("QPS, 1 client", "qps", "{:,.0f}"),
             (f"QPS, {THREADS} clients", "qps4", "{:,.0f}"), ("p50 ms", "p50_ms", "{:.2f}"),
             ("p99 ms", "p99_ms", "{:.2f}")]
    small = "" if desc["nlist"] == BIG_NLIST else f" (not {BIG_NLIST}: {desc['rows']:,} rows)"
    rows = [("insert rows/s (2,000 row dicts a call)", "insert_rows_s", "{:,.0f}"),
            ("flush s", "flush_s", "{:.2f}"),
            (f"IVF_FLAT nlist={desc['nlist']}{small} build s", "ivf_build_s", "{:.1f}"),
            ("IVF_FLAT load s", "ivf_load_s", "{:.2f}"),
            ("IVF_FLAT build + load s", "ivf_ready_s", "{:.1f}"),
            (f"HNSW M={HNSW_M} efConstruction={EF_CONSTRUCTION} build s", "hnsw_build_s",
             "{:.1f}"),
            ("HNSW load s", "hnsw_load_s", "{:.2f}"),
            ("HNSW build + load s", "hnsw_ready_s", "{:.1f}"),
            ("memory: RSS growth after HNSW load MB", "rss_mb", "{:,.0f}"),
            ("memory: RSS after HNSW load MB", "rss_total_mb", "{:,.0f}"),
            ("raw vectors MB / faiss HNSW serialized MB", "raw_mb", "{:,.0f}"),
            ("", "index_mb", "{:,.0f}")]
    for p in NPROBES:
        rows += [(f"IVF_FLAT nprobe={p}: {lbl}", f"ivf.nprobe={p}.{fig}", spec)
                 for lbl, fig, spec in sweep]
    for ef in EFS:
        rows += [(f"HNSW ef={ef}: {lbl}", f"hnsw.ef={ef}.{fig}", spec) for lbl, fig, spec in sweep]
    fr = desc.get("fractions", {})
    filters = [*((f"f{sel[:-1]}", f"num < {bound}") for sel, bound in NUM_FILTERS.items()),
               ("fjson", JSON_FILTER), ("farray", ARRAY_FILTER)]
    for key, flt in filters:
        share = f" ({fr[key]:.1%})" if key in fr else ""
        rows += [(f"filter {flt}{share}, ef={FILTER_EF}: recall@10", f"{key}.recall", "{:.4f}"),
                 (f"filter {flt}: QPS", f"{key}.qps", "{:,.0f}")]
    rows += [(f"query {SCALAR_FILTER} limit {QUERY_LIMIT:,} p50 ms", "query_ms", "{:.1f}"),
             (f"count(*) {SCALAR_FILTER} p50 ms", "count_ms", "{:.2f}"),
             (f"get {GET_IDS} ids p50 ms", "get_ms", "{:.2f}"),
             (f"delete {DELETE_FILTER} (10%) s", "delete_s", "{:.2f}"),
             (f"after delete, ef={FILTER_EF}: recall@10", "deleted.recall", "{:.4f}"),
             ("after delete: QPS", "deleted.qps", "{:,.0f}"),
             ("reopen to first result s", "reopen_s", "{:.3f}"),
             ("results checked (query rows, count, get ids, count after delete)", "checks", "")]
    return rows


def cell(r: dict[str, Any], key: str, spec: str, planned: int) -> str:
    """A figure, with `*` when its point ran fewer queries than planned (time budget)."""
    value = r.get("m", {}).get(key)
    base, _, fig = key.rpartition(".")
    if fig in ("qps", "qps4") and isinstance(value, float) and value < 100:
        spec = "{:.1f}" if value >= 1 else "{:.2f}"  # milvus-lite's filtered searches at scale
    text = fmt(value, spec)
    n_key = f"{base}.n4" if fig == "qps4" else f"{base}.n"
    n = r.get("m", {}).get(n_key)
    if base and fig in ("qps", "qps4", "recall") and isinstance(n, int) and n < planned:
        text += "*"
    return text


def render_dataset(desc: dict[str, Any], results: dict[str, dict[str, Any]], markdown: bool
                   ) -> str:
    """One data set's table (plain text or Markdown), with its notes."""
    lines = []
    for lbl, key, spec in table_rows(desc):
        if key == "index_mb":
            continue
        if key == "checks":
            lines.append([lbl, *(checks_cell(results.get(e)) for e in ENGINES), *[""] * 4])
            continue
        vals = {}
        for e in ENGINES:
            r = results.get(e, {})
            planned = desc["lite_queries"] if e == "lite" else desc["queries_per_point"]
            vals[e] = cell(r, key, spec, planned)
            if key == "raw_mb" and e == "faiss":
                vals[e] = (f"{fmt(r.get('m', {}).get('raw_mb'), spec)} / "
                           f"{fmt(r.get('m', {}).get('index_mb'), spec)}")
            elif key == "raw_mb":
                vals[e] = ""
        figs = {e: results.get(e, {}).get("m", {}).get(key) for e in ENGINES}
        ratios = [ratio(figs[x], figs[y]) for x, y in (("embedded", "faiss"), ("served", "faiss"),
                                                      ("embedded", "lite"), ("served", "lite"))]
        if key == "raw_mb":
            ratios = [""] * 4
        lines.append([lbl, *(vals[e] for e in ENGINES), *ratios])
    header = ["workload / metric", *COLUMNS]
    title = (f"{desc['name']}: {desc['source']}; {desc['rows']:,} x {desc['dim']} "
             f"{desc['metric']}; {desc['queries_per_point']} queries per point (milvus-lite "
             f"{desc['lite_queries']}), budget {desc['budget_s']:.0f} s per point "
             f"(milvus-lite {desc['lite_budget_s']:.0f} s)")
    notes = notes_of(results)
    if markdown:
        body = "\n".join(["| " + " | ".join(header) + " |",
                          "|" + "|".join([" --- "] + [" ---: "] * len(COLUMNS)) + "|",
                          *("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"
                            for row in lines)])
        return "\n".join([f"### {desc['name']}", "", title, "", body, "",
                          *(f"- {n}" for n in notes)])
    return "\n".join([title, render(header, lines), *notes])


def checks_cell(r: dict[str, Any] | None) -> str:
    checks = (r or {}).get("checks")
    if not checks:
        return "-"
    bad = [k.removesuffix("_ms") for k, ok in checks.items() if not ok]
    return "NO: " + ", ".join(bad) if bad else "ok"


def notes_of(results: dict[str, dict[str, Any]]) -> list[str]:
    notes = [("ratios: engine value / other value (QPS, rows/s, recall: > 1 is better; s, ms, "
              "MB: < 1 is better); * = the time budget cut the point short (the JSON has the "
              "count)")]
    for e in ENGINES:
        r = results.get(e)
        if r is None:
            continue
        if "version" in r:
            load = "/".join(f"{x:.1f}" for x in r.get("loadavg", []))
            notes.append(f"{e}: {r['version']}, worker {r.get('wall_s', 0):.0f} s"
                         + (f", load average at start/end {load}" if load else ""))
        if r.get("error") and not r.get("failed"):
            notes.append(f"{e} ERROR: {r['error']}")
        for key, msg in r.get("failed", {}).items():
            notes.append(f"{e} failed at {key}: {msg[:300]}")
        bad = [k for k, ok in r.get("checks", {}).items() if not ok]
        if bad:
            notes.append(f"{e} wrong results: {', '.join(bad)}")
    return notes


def driver_main(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    if args.quick:
        args.datasets = args.datasets or "pydocs"
        args.queries, args.lite_queries = 200, 50
        args.budget, args.lite_budget = 5.0, 5.0
    names = [n for n in (args.datasets or ",".join(SETS)).split(",") if n]
    unknown = [n for n in names if n not in SETS]
    if unknown:
        raise SystemExit(f"unknown data set(s) {unknown}; choose from {', '.join(SETS)}")
    engines = chosen_engines(ENGINES, args.with_lite, args.engines)
    lite_py = lite_python(engines, Path(args.lite_venv))
    descs: dict[str, Any] = {}
    results: dict[str, dict[str, Any]] = {}
    code = 0
    with work_dir("elanus-suite-") as root:
        for name in names:
            desc = prepare(name, args)
            rng = np.random.default_rng(SEED)
            desc.update({"queries_per_point": args.queries, "lite_queries": args.lite_queries,
                         "budget_s": args.budget, "lite_budget_s": args.lite_budget,
                         "server_python": args.server_python, "workdir": str(root / name),
                         "get_ids": sorted(rng.choice(desc["rows"], GET_IDS,
                                                      replace=False).tolist())})
            desc["queries_per_point"] = min(desc["queries_per_point"], desc["queries"])
            descs[name] = desc
            (root / name).mkdir()
            (root / name / "cfg.json").write_text(json.dumps(desc))
            print(f"[data] {json.dumps({k: v for k, v in desc.items() if k != 'get_ids'})}",
                  file=sys.stderr, flush=True)
            results[name] = {e: run_engine(Path(__file__).resolve(), e, lite_py, root / name, [],
                                           args.worker_timeout, f"{name} {e}") for e in engines}
            print("\n" + render_dataset(desc, results[name], False), flush=True)
            code = report(args, descs, results, engines, t_start)
    if args.markdown:
        md = "\n\n".join(render_dataset(descs[n], results[n], True) for n in names)
        Path(args.markdown).write_text(md + "\n")
        print(f"wrote {args.markdown}")
    return code


def report(args: argparse.Namespace, descs: dict[str, Any], results: dict[str, Any],
           engines: list[str], t_start: float) -> int:
    """The JSON document so far (rewritten after every data set); the exit code."""
    table = "\n\n".join(render_dataset(descs[n], results[n], False) for n in results)
    runs = [r for per in results.values() for e, r in per.items() if e != "lite"]
    setup = {"config": {"queries": args.queries, "lite_queries": args.lite_queries,
                        "budget_s": args.budget, "lite_budget_s": args.lite_budget,
                        "threads": THREADS, "batch": BATCH},
             "datasets": descs, "engines": engines}
    return write_report(args.out, setup, results, table, t_start, runs)


def main() -> int:
    p = driver_parser(__doc__, DEFAULT_OUT, WORKER_TIMEOUT_S)
    p.add_argument("--datasets", default="",
                   help=f"comma list of {','.join(SETS)} (default: all, in that order)")
    p.add_argument("--quick", action="store_true",
                   help="smoke preset: pydocs only (unless --datasets), 200 queries per point "
                        "(milvus-lite 50), 5 s budgets")
    p.add_argument("--data", default=str(DEFAULT_DATA),
                   help="pydocs-minilm-384 folder (generated 20,000 x 384 when missing)")
    p.add_argument("--rows", type=int, default=0, help="use only the first ROWS rows of each set")
    p.add_argument("--engines", default="", help="comma list subset of faiss,embedded,served,lite")
    point_options(p, QUERIES, LITE_QUERIES, BUDGET_S, LITE_BUDGET_S)
    p.add_argument("--markdown", default="", help="also write the tables as Markdown to FILE")
    args = p.parse_args()
    return worker_main(args) if args.engine else driver_main(args)


if __name__ == "__main__":
    sys.exit(main())
