"""Index benchmark: recall@10 and QPS of every vector index type, elanus vs raw faiss vs milvus-lite.

Run from the repository root with the project's venv:

    .venv/bin/python bench/index_bench.py [--with-lite] [--smoke] [--out FILE]

Data: shared/data/pydocs-minilm-384 (20,000 x 384 unit vectors, COSINE, exact top-100 ground
truth, meta.parquet `num` 0..999) when present; `--synthetic N` (or no pydocs folder) uses
Gaussian-cluster data of shared/data/tools/gen_synth.py (N x `--dim`, `--metric`, default 128-d
L2; without that script, a seeded generator of the same kind here), written once under
/tmp/elanus-bench-data and reused. `--rows R` takes the first R rows (ground truth recomputed).

Phases (`--phases`, default all three), each point searched one query per call, top 10, one
client, after a short warm-up; a point stops early once its time budget is spent:

  index   per index type (Milvus's names; `--index-types`), a fresh collection (id, vector, num),
          rows inserted in batches, then flush + create_index until describe_index says Finished
          (the build time), load, and the type's search-parameter sweep: recall@10 against exact
          ground truth, QPS, p50/p99 latency.
  filter  HNSW ef=64 and IVF_FLAT nprobe=16 with `num < 10` / `< 100` / `< 500` (1%, 10%, 50%
          of rows): recall@10 against exact filtered ground truth (numpy over the passing rows).
  scale   HNSW ef=64 on the synthetic generator's data at 20,000 rows and at `--scale-rows`
          (default 100,000; the 20,000 are the first rows of the larger set), 128-d L2.

Engines, each in its own bounded subprocess of this script (`--engine NAME --workdir DIR`):
raw faiss (the yardstick: the equivalent faiss index, same data and parameters; COSINE as inner
product on normalised rows), elanus embedded (`elanus.MilvusClient(path)`), elanus served
(`elanus serve` on a free loopback port, pymilvus client) and, with `--with-lite`, milvus-lite
3.2.2 from its own venv (default /tmp/mlite-venv; fewer queries and a shorter budget per point).
An index type an engine refuses at create_index is shown as "refused: <message>"; one that fails
later (build, load, search) as "failed: <stage>: <message>"; the run goes on.

Results go to stdout (one table per phase, ratios elanus/faiss and elanus/milvus-lite) and to
JSON (default /tmp/elanus-bench/index.json). `--smoke` runs a reduced preset in under a minute.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py, also under lite's venv
from common import (
    SHARED,
    chosen_engines,
    driver_parser,
    emit,
    fmt,
    lite_python,
    local_client,
    ratio,
    render,
    run_engine,
    wait_index,
    work_dir,
    write_report,
)
from common import (
    run_served as serve_and_run,
)

DEFAULT_DATA = SHARED / "data" / "pydocs-minilm-384"
GEN_SYNTH = SHARED / "data" / "tools" / "gen_synth.py"
SYNTH_ROOT = Path("/tmp/elanus-bench-data")
DEFAULT_OUT = Path("/tmp/elanus-bench/index.json")

K = 10
COLLECTION = "idx"
HNSW_M, EF_CONSTRUCTION = 16, 200
DISKANN_DEGREE, DISKANN_BUILD_LIST = 56, 100
AUTO_M, AUTO_EF_CONSTRUCTION = 18, 240  # what elanus's AUTOINDEX builds on float vectors
NRQ, NBITS = 2, 8
FILTERS = {"1%": 10, "10%": 100, "50%": 500}  # selectivity -> `num <` bound; num in 0..999
FILTER_TARGET = 0.95  # filtered recall@10 elanus must reach at every selectivity
SCALE_SMALL = 20_000
SEED = 20261126
QUERIES, LITE_QUERIES = 200, 100
BUDGET_S, LITE_BUDGET_S = 60.0, 15.0  # per point: no query started after this much
WARMUP = 5
BATCH_FLOATS = 1_000_000  # rows per insert call: this many floats (2,604 rows at 384-d)
CALL_TIMEOUT_S = 600.0
INDEX_WAIT_S = 900.0
WORKER_TIMEOUT_S = 3600.0

ENGINES = ("faiss", "lite", "embedded", "served")
SHORT = {"faiss": "faiss", "lite": "lite", "embedded": "emb", "served": "srv"}
INDEX_TYPES = ("FLAT", "IVF_FLAT", "IVF_SQ8", "IVF_PQ", "IVF_RABITQ", "HNSW", "HNSW_SQ",
               "HNSW_PQ", "HNSW_PRQ", "SCANN", "DISKANN", "AUTOINDEX")
NPROBES = (1, 4, 16, 64)
EFS = (16, 32, 64, 128, 256)


# --------------------------------------------------------------------------------------------
# what each index type is built and searched with (Milvus's names), and its faiss twin


def nlist_for(rows: int) -> int:
    """The power of two nearest sqrt(rows): 128 at 20,000 rows, 1024 at 1,000,000."""
    return int(2 ** round(math.log2(max(4.0, math.sqrt(rows)))))


def pq_m_for(dim: int) -> int:
    """PQ sub-vectors: the largest divisor of dim not above dim / 8 (48 at 384-d, 16 at 128-d).

    dim / 4 trains four-dimensional codebooks, which faiss does about 25 times slower at 384-d
    (~50 s on 2 cores for 20,000 rows) for little recall; the PRQ of HNSW_PRQ gets the same code
    size (m / nrq splits of nrq bytes)."""
    return max(d for d in range(1, max(1, dim // 8) + 1) if dim % d == 0)


def build_params(index_type: str, rows: int, dim: int, nlist: int, pq_m: int) -> dict[str, Any]:
    nlist = nlist or nlist_for(rows)
    pq_m = pq_m or pq_m_for(dim)
    graph = {"M": HNSW_M, "efConstruction": EF_CONSTRUCTION}
    return {
        "FLAT": {},
        "IVF_FLAT": {"nlist": nlist},
        "IVF_SQ8": {"nlist": nlist},
        "IVF_PQ": {"nlist": nlist, "m": pq_m, "nbits": NBITS},
        "IVF_RABITQ": {"nlist": nlist, "refine": True, "refine_type": "SQ8"},
        "HNSW": graph,
        "HNSW_SQ": {**graph, "sq_type": "SQ8", "refine": True, "refine_type": "FP32"},
        "HNSW_PQ": {**graph, "m": pq_m, "nbits": NBITS, "refine": True, "refine_type": "FP32"},
        "HNSW_PRQ": {**graph, "m": max(1, pq_m // NRQ), "nbits": NBITS, "nrq": NRQ},
        "SCANN": {"nlist": nlist, "with_raw_data": True},
        "DISKANN": {"max_degree": DISKANN_DEGREE, "search_list_size": DISKANN_BUILD_LIST},
        "AUTOINDEX": {},
    }[index_type]


def sweep(index_type: str) -> list[dict[str, Any]]:
    """The search parameters of each point of an index type's sweep."""
    if index_type in ("IVF_FLAT", "IVF_SQ8", "IVF_PQ"):
        return [{"nprobe": p} for p in NPROBES]
    if index_type == "IVF_RABITQ":
        # rbq_query_bits 0 (Milvus's default) searches with the float query; 4 quantizes it
        return [*({"nprobe": p, "refine_k": 2} for p in NPROBES),
                {"nprobe": 64, "refine_k": 4}, {"nprobe": 64, "refine_k": 2, "rbq_query_bits": 4}]
    if index_type == "SCANN":
        return [*({"nprobe": p, "reorder_k": 100} for p in NPROBES),
                {"nprobe": 64, "reorder_k": 200}]
    if index_type == "DISKANN":
        return [{"search_list": s} for s in (16, 32, 64, 100, 200)]
    if index_type.startswith("HNSW"):
        return [{"ef": e} for e in EFS]
    return [{}]  # FLAT; AUTOINDEX with the engine's default search parameters


def label(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "default"


def faiss_recipe(index_type: str, bp: dict[str, Any], dim: int) -> str:
    """The faiss index standing for `index_type` (index_factory notation where it has one)."""
    nlist, m = bp.get("nlist"), bp.get("m")
    return {
        "FLAT": "Flat",
        "IVF_FLAT": f"IVF{nlist},Flat",
        "IVF_SQ8": f"IVF{nlist},SQ8",
        "IVF_PQ": f"IVF{nlist},PQ{m}x{NBITS}",
        "IVF_RABITQ": f"RR{dim},IVF{nlist},RaBitQ,Refine(SQ8)",
        "HNSW": f"HNSW{HNSW_M}",
        "HNSW_SQ": f"HNSW{HNSW_M} graph, SQ8 codes, RFlat",
        "HNSW_PQ": f"HNSW{HNSW_M} graph, PQ{m}x{NBITS} codes, RFlat",
        "HNSW_PRQ": f"HNSW{HNSW_M} graph, PRQ{m}x{NRQ}x{NBITS} codes",
        "SCANN": f"IVF{nlist},PQ{dim // 2}x4fs,RFlat",
        "DISKANN": f"HNSW{DISKANN_DEGREE // 2} efConstruction {DISKANN_BUILD_LIST}",
        "AUTOINDEX": f"HNSW{AUTO_M} efConstruction {AUTO_EF_CONSTRUCTION}",
    }[index_type]


def build_faiss(index_type: str, base: np.ndarray, metric: str, bp: dict[str, Any]
                ) -> tuple[Any, list[Any]]:
    """The faiss twin of `index_type` over `base` (already normalised for COSINE), and the
    objects it points into, which must outlive it.

    HNSW_SQ/PQ/PRQ build their graph on the raw rows (HNSW16, efConstruction 200), then search it
    through the codes: building it through PQ or PRQ distances takes minutes on 2 cores. PRQ
    codebooks train without refinement (faiss's default refinement takes ~8 minutes here).
    """
    import faiss

    n, dim = base.shape
    fm = faiss.METRIC_L2 if metric == "L2" else faiss.METRIC_INNER_PRODUCT
    if index_type in ("HNSW", "DISKANN", "AUTOINDEX"):
        m, efc = {"HNSW": (HNSW_M, EF_CONSTRUCTION), "AUTOINDEX": (AUTO_M, AUTO_EF_CONSTRUCTION),
                  "DISKANN": (DISKANN_DEGREE // 2, DISKANN_BUILD_LIST)}[index_type]
        index = faiss.IndexHNSWFlat(dim, m, fm)
        index.hnsw.efConstruction = efc
        index.add(base)
        return index, []
    if index_type in ("HNSW_SQ", "HNSW_PQ", "HNSW_PRQ"):
        graph = faiss.IndexHNSWFlat(dim, HNSW_M, fm)
        graph.hnsw.efConstruction = EF_CONSTRUCTION
        graph.add(base)
        if index_type == "HNSW_SQ":
            codes = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit, fm)
        elif index_type == "HNSW_PQ":
            codes = faiss.IndexPQ(dim, bp["m"], NBITS, fm)
        else:
            codes = faiss.IndexProductResidualQuantizer(dim, bp["m"], NRQ, NBITS, fm)
            for i in range(bp["m"]):
                rq = faiss.downcast_AdditiveQuantizer(codes.prq.subquantizer(i))
                rq.train_type = faiss.ResidualQuantizer.Train_default
        codes.train(base)
        codes.add(base)
        index = faiss.IndexHNSW(codes, HNSW_M)
        index.hnsw = graph.hnsw  # a copy: the raw rows go with `graph`
        index.ntotal, index.is_trained = n, True
        if bp.get("refine"):
            return faiss.IndexRefineFlat(index, faiss.swig_ptr(base)), [index, codes]
        return index, [codes]
    if index_type == "FLAT":
        index = faiss.IndexFlat(dim, fm)
    else:
        recipe = faiss_recipe(index_type, bp, dim)
        index = faiss.index_factory(dim, recipe, fm)
        if index_type == "IVF_PQ":  # Hamming pre-filtering, which is never used here
            faiss.downcast_index(index).do_polysemous_training = False
        index.train(base)
    index.add(base)
    return index, []


def faiss_params(index_type: str, params: dict[str, Any], sel: Any) -> tuple[Any, list[Any]]:
    """faiss search parameters for one sweep point (nested as the index is), the filter selector
    at the bottom; the second value keeps the nested objects alive."""
    import faiss

    leaf: Any
    if index_type == "FLAT":
        leaf = faiss.SearchParameters()
    elif index_type == "IVF_RABITQ":
        leaf = faiss.IVFRaBitQSearchParameters()
        leaf.nprobe, leaf.qb = params["nprobe"], params.get("rbq_query_bits", 0)
    elif "nprobe" in params:
        leaf = faiss.SearchParametersIVF()
        leaf.nprobe = params["nprobe"]
    else:  # graphs: ef, DISKANN's search_list, or elanus's default (16) for AUTOINDEX
        leaf = faiss.SearchParametersHNSW()
        leaf.efSearch = max(params.get("ef", 0), params.get("search_list", 0), 16, K)
    if sel is not None:
        leaf.sel = sel
    keep, outer = [leaf], leaf
    if index_type == "IVF_RABITQ":
        outer = faiss.SearchParametersPreTransform()
        outer.index_params = leaf
        keep.append(outer)
    factor = {"IVF_RABITQ": params.get("refine_k", 1), "HNSW_SQ": 1, "HNSW_PQ": 1,
              "SCANN": params.get("reorder_k", K) / K}.get(index_type)
    if factor is not None:
        refine = faiss.IndexRefineSearchParameters()
        refine.k_factor, refine.base_index_params = float(factor), outer
        keep.append(refine)
        outer = refine
    return outer, keep


# --------------------------------------------------------------------------------------------
# data (driver)


def exact_topk(queries: np.ndarray, base: np.ndarray, metric: str,
               rows: np.ndarray | None = None, k: int = K) -> np.ndarray:
    """Exact top-k row numbers of `base` (only `rows` when given), best first, in chunks."""
    ids = np.arange(len(base)) if rows is None else rows
    q = queries.astype(np.float32)
    if metric == "COSINE":
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    best_s = np.full((len(q), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(q), 0), dtype=np.int64)
    for s in range(0, len(ids), 100_000):
        chunk = ids[s: s + 100_000]
        b = np.asarray(base[chunk], dtype=np.float32)
        if metric == "COSINE":
            b = b / np.linalg.norm(b, axis=1, keepdims=True)
        sims = q @ b.T  # larger is closer
        if metric == "L2":
            sims = 2 * sims - (b * b).sum(1)[None, :]
        kk = min(k, len(chunk))
        part = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        all_s = np.concatenate([best_s, np.take_along_axis(sims, part, axis=1)], axis=1)
        all_i = np.concatenate([best_i, chunk[part]], axis=1)
        order = np.argsort(-all_s, axis=1, kind="stable")[:, :k]
        best_s = np.take_along_axis(all_s, order, axis=1)
        best_i = np.take_along_axis(all_i, order, axis=1)
    return best_i


def generate(out: Path, n: int, dim: int, metric: str, nq: int = 1000) -> None:
    """Gaussian clusters (seeded) in gen_synth.py's layout: base, queries, gt, num."""
    rng = np.random.default_rng(SEED)
    clusters = max(1, min(1000, n // 20))
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    width = rng.uniform(0.2, 0.6, clusters).astype(np.float32)

    def draw(m: int) -> np.ndarray:
        c = rng.integers(0, clusters, m)
        x = centres[c] + rng.standard_normal((m, dim), dtype=np.float32) * width[c, None]
        return x / np.linalg.norm(x, axis=1, keepdims=True) if metric == "COSINE" else x

    out.mkdir(parents=True, exist_ok=True)
    base = np.concatenate([draw(min(100_000, n - s)) for s in range(0, n, 100_000)])
    queries = draw(nq)
    np.save(out / "base.npy", base)
    np.save(out / "queries.npy", queries)
    np.save(out / "gt.npy", exact_topk(queries, base, metric, k=100))
    np.save(out / "num.npy", rng.integers(0, 1000, n))
    (out / "dataset.json").write_text(json.dumps({"n_base": n, "dim": dim, "metric": metric,
                                                  "generator": "index_bench.generate"}))


def synthetic(n: int, dim: int, metric: str) -> Path:
    """The folder of an n x dim synthetic set, generated on first use (gen_synth.py if present)."""
    out = SYNTH_ROOT / f"synth-{n}-{dim}-{metric}"
    info = out / "dataset.json"
    if info.exists():
        return out
    print(f"[data] generating {out}", file=sys.stderr, flush=True)
    if GEN_SYNTH.exists():
        subprocess.run([sys.executable, str(GEN_SYNTH), "--out", str(out), "--n", str(n),
                        "--dim", str(dim), "--metric", metric], check=True, timeout=1800,
                       stdout=sys.stderr)
    else:
        generate(out, n, dim, metric)
    return out


def read_set(folder: Path, metric: str) -> dict[str, Any]:
    """base (memory-mapped), queries, gt, num and metric of a data folder."""
    base = np.load(folder / "base.npy", mmap_mode="r")
    if (folder / "num.npy").exists():
        num = np.load(folder / "num.npy")
    else:
        import pyarrow.parquet as pq

        meta = pq.read_table(folder / "meta.parquet", columns=["pk", "num"])
        if not (meta.column("pk").to_numpy() == np.arange(len(base))).all():
            raise ValueError(f"{folder}/meta.parquet: pk is not the row number")
        num = meta.column("num").to_numpy()
    if (folder / "dataset.json").exists():
        metric = json.loads((folder / "dataset.json").read_text()).get("metric", metric)
    return {"base_path": str(folder / "base.npy"), "base": base, "metric": metric,
            "queries": np.load(folder / "queries.npy"), "gt": np.load(folder / "gt.npy"),
            "num": num.astype(np.int64)}


def save_set(root: Path, name: str, s: dict[str, Any], rows: int, nq: int,
             filtered: bool) -> dict[str, Any]:
    """Write data set `name`'s first `rows` rows' arrays for the workers; its description."""
    rows = min(rows or len(s["base"]), len(s["base"]))
    queries = s["queries"][:nq].astype(np.float32)
    gt = (s["gt"][:nq, :K].astype(np.int64) if rows == len(s["base"])
          else exact_topk(queries, s["base"][:rows], s["metric"]))
    num = s["num"][:rows]
    np.save(root / f"{name}_queries.npy", queries)
    np.save(root / f"{name}_gt.npy", gt)
    np.save(root / f"{name}_num.npy", num)
    if filtered:
        for sel, bound in FILTERS.items():
            passing = np.flatnonzero(num < bound)
            np.save(root / f"{name}_fgt{sel[:-1]}.npy",
                    exact_topk(queries, s["base"][:rows], s["metric"], passing))
    return {"base": s["base_path"], "rows": rows, "dim": int(s["base"].shape[1]),
            "metric": s["metric"], "queries": len(queries)}


def prepare(args: argparse.Namespace, root: Path, phases: list[str]) -> dict[str, Any]:
    """Data sets for the workers (under `root`): main and, for the scale phase, two sizes."""
    nq = max(args.queries, args.lite_queries)
    datasets: dict[str, Any] = {}
    if {"index", "filter"} & set(phases):
        if args.synthetic:
            main = read_set(synthetic(args.synthetic, args.dim, args.metric), args.metric)
            source = f"synthetic {args.synthetic:,} x {args.dim} {args.metric}"
        elif Path(args.data).is_dir():
            main = read_set(Path(args.data), "COSINE")
            source = str(args.data)
        else:
            main = read_set(synthetic(SCALE_SMALL, 384, "COSINE"), "COSINE")
            source = f"synthetic {SCALE_SMALL:,} x 384 COSINE ({args.data} not found)"
        datasets["main"] = save_set(root, "main", main, args.rows, nq, "filter" in phases)
        datasets["main"]["source"] = source
    if "scale" in phases:
        big = read_set(synthetic(args.scale_rows, args.scale_dim, "L2"), "L2")
        small = min(args.scale_small, args.scale_rows)
        for name, rows in (("scale_small", small), ("scale_large", args.scale_rows)):
            datasets[name] = save_set(root, name, big, rows, nq, False)
            datasets[name]["source"] = f"synthetic {args.scale_rows:,} x {args.scale_dim} L2"
    return datasets


def plan(args: argparse.Namespace, datasets: dict[str, Any], phases: list[str]
         ) -> list[dict[str, Any]]:
    """Every job a worker runs: one collection (faiss index) and its search points each."""
    chosen = [t for t in INDEX_TYPES if not args.index_types
              or t in args.index_types.upper().split(",")]
    jobs: list[dict[str, Any]] = []
    main = datasets.get("main")
    for itype in INDEX_TYPES:
        points: list[dict[str, Any]] = []
        if "index" in phases and itype in chosen:
            full = sweep(itype)
            pts = [full[0], full[-1]] if args.smoke and len(full) > 2 else full
            points += [{"phase": "index", "params": p, "label": label(p)} for p in pts]
        fparams = {"HNSW": {"ef": 64}, "IVF_FLAT": {"nprobe": 16}}.get(itype)
        if "filter" in phases and fparams:
            points += [{"phase": "filter", "params": fparams, "label": label(fparams),
                        "selectivity": sel, "filter": f"num < {bound}", "bound": bound,
                        "truth": f"main_fgt{sel[:-1]}"}
                       for sel, bound in FILTERS.items()]
        if points and main:
            bp = build_params(itype, main["rows"], main["dim"], args.nlist, args.pq_m)
            jobs.append({"dataset": "main", "index_type": itype, "build": bp,
                         "faiss": faiss_recipe(itype, bp, main["dim"]), "points": points})
    if "scale" in phases:
        for name in ("scale_small", "scale_large"):
            ds = datasets[name]
            bp = build_params("HNSW", ds["rows"], ds["dim"], 0, 0)
            jobs.append({"dataset": name, "index_type": "HNSW", "build": bp,
                         "faiss": faiss_recipe("HNSW", bp, ds["dim"]),
                         "points": [{"phase": "scale", "params": {"ef": 64}, "label": "ef=64"}]})
    return jobs


# --------------------------------------------------------------------------------------------
# measuring (worker)


def load_set(workdir: Path, cfg: dict[str, Any], name: str) -> dict[str, Any]:
    ds = cfg["datasets"][name]
    return {**ds, "base": np.load(ds["base"], mmap_mode="r")[: ds["rows"]],
            "queries": np.load(workdir / f"{name}_queries.npy"),
            "num": np.load(workdir / f"{name}_num.npy"),
            "truth": lambda key: np.load(workdir / f"{key}.npy")}


def measure(search_one: Callable[[Any], list[int]], queries: list[Any], truth: np.ndarray,
            budget: float) -> dict[str, Any]:
    """recall@10, QPS and p50/p99 ms of one query per call, after WARMUP untimed calls; no query
    starts once `budget` s are spent."""
    for q in queries[:WARMUP]:
        search_one(q)
    found: list[list[int]] = []
    lat: list[float] = []
    t_begin = time.perf_counter()
    for q in queries:
        t0 = time.perf_counter()
        found.append(search_one(q))
        lat.append(time.perf_counter() - t0)
        if time.perf_counter() - t_begin >= budget:
            break
    elapsed = time.perf_counter() - t_begin
    n = len(found)
    hits = sum(len(set(f) & set(t.tolist())) for f, t in zip(found, truth[:n]))
    return {"n": n, "recall": hits / float(truth[:n].size), "qps": n / elapsed,
            "p50_ms": statistics.median(lat) * 1e3,
            "p99_ms": float(np.percentile(lat, 99)) * 1e3}


def truth_of(d: dict[str, Any], point: dict[str, Any], dataset: str) -> np.ndarray:
    return d["truth"](point.get("truth", f"{dataset}_gt"))


def run_faiss(workdir: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    import faiss

    r: dict[str, Any] = {"version": f"faiss {faiss.__version__}", "units": []}
    for job in cfg["jobs"]:
        d = load_set(workdir, cfg, job["dataset"])
        u: dict[str, Any] = {"dataset": job["dataset"], "index_type": job["index_type"],
                             "faiss": job["faiss"], "points": []}
        stage = "build"
        try:
            base = np.ascontiguousarray(d["base"], dtype=np.float32)
            queries = d["queries"][: cfg["queries"]].copy()
            if d["metric"] == "COSINE":
                base = base / np.linalg.norm(base, axis=1, keepdims=True)
                queries /= np.linalg.norm(queries, axis=1, keepdims=True)
            t0 = time.perf_counter()
            index, keep = build_faiss(job["index_type"], base, d["metric"], job["build"])
            u["build_s"] = time.perf_counter() - t0
            qs = [q[None, :] for q in queries]
            for point in job["points"]:
                stage = f"search {point['label']}"
                p = {k: v for k, v in point.items() if k != "truth"}
                bits, sel = None, None
                if "filter" in point:
                    bits = np.packbits(d["num"] < point["bound"], bitorder="little")
                    sel = faiss.IDSelectorBitmap(len(base), faiss.swig_ptr(bits))
                sp, held = faiss_params(job["index_type"], point["params"], sel)

                def one(q: np.ndarray, sp: Any = sp, held: Any = held, index: Any = index
                        ) -> list[int]:
                    ids = index.search(q, K, params=sp)[1][0]
                    return ids[ids >= 0].tolist()

                p.update(measure(one, qs, truth_of(d, point, job["dataset"]), cfg["budget_s"]))
                u["points"].append(p)
            del index, keep
        except Exception as exc:  # noqa: BLE001 - one index's failure is a result
            u["failed"] = f"{stage}: {type(exc).__name__}: {exc}"
            u["traceback"] = traceback.format_exc()
        log_unit("faiss", u)
        r["units"].append(u)
    return r


def log_unit(engine: str, u: dict[str, Any]) -> None:
    status = u.get("refused") or u.get("failed") or f"build {u.get('build_s', 0):.1f} s"
    print(f"[{engine}] {u['dataset']} {u['index_type']}: {status}", file=sys.stderr, flush=True)


def milvus_unit(client: Any, d: dict[str, Any], job: dict[str, Any], nq: int,
                budget: float) -> dict[str, Any]:
    """One index type through pymilvus: create, insert, flush + index (build), load, search."""
    from pymilvus import DataType, MilvusClient

    u: dict[str, Any] = {"dataset": job["dataset"], "index_type": job["index_type"],
                         "build_params": job["build"], "points": []}
    stage = "create_collection"
    try:
        if client.has_collection(COLLECTION):
            client.drop_collection(COLLECTION)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=d["dim"])
        schema.add_field("num", DataType.INT64)
        client.create_collection(COLLECTION, schema=schema)
        stage = "insert"
        base, num, rows = d["base"], d["num"].tolist(), d["rows"]
        batch = max(1, BATCH_FLOATS // d["dim"])
        u["insert_s"] = 0.0
        for s in range(0, rows, batch):
            vecs = np.asarray(base[s: s + batch], dtype=np.float32).tolist()
            data = [{"id": i, "vector": v, "num": num[i]} for i, v in enumerate(vecs, s)]
            t0 = time.perf_counter()
            client.insert(COLLECTION, data, timeout=CALL_TIMEOUT_S)
            u["insert_s"] += time.perf_counter() - t0
        stage = "flush"
        t0 = time.perf_counter()
        client.flush(COLLECTION, timeout=CALL_TIMEOUT_S)
        u["flush_s"] = time.perf_counter() - t0
        stage = "create_index"
        ip = client.prepare_index_params()
        ip.add_index(field_name="vector", index_name="vector", index_type=job["index_type"],
                     metric_type=d["metric"], params=job["build"])
        t1 = time.perf_counter()
        try:
            client.create_index(COLLECTION, ip, timeout=CALL_TIMEOUT_S, sync=False)
        except Exception as exc:  # noqa: BLE001 - a refused index type is a result
            u["refused"] = str(getattr(exc, "message", "") or exc)
            u["refused_code"] = getattr(exc, "code", None)
            return u
        stage = "index build"
        wait_index(client, COLLECTION, "vector", INDEX_WAIT_S, CALL_TIMEOUT_S)
        u["index_s"] = time.perf_counter() - t1
        u["build_s"] = u["flush_s"] + u["index_s"]
        stage = "load"
        t0 = time.perf_counter()
        client.load_collection(COLLECTION, timeout=CALL_TIMEOUT_S)
        u["load_s"] = time.perf_counter() - t0
        qs = d["queries"][:nq].tolist()
        for point in job["points"]:
            stage = f"search {point['label']}"
            p = {k: v for k, v in point.items() if k != "truth"}
            sp = {"metric_type": d["metric"], "params": point["params"]}
            flt = point.get("filter", "")

            def one(q: list[float], sp: dict[str, Any] = sp, flt: str = flt) -> list[int]:
                res = client.search(COLLECTION, data=[q], limit=K, anns_field="vector",
                                    search_params=sp, filter=flt, timeout=CALL_TIMEOUT_S)
                return [int(h["id"]) for h in res[0]]

            try:
                p.update(measure(one, qs, truth_of(d, point, job["dataset"]), budget))
            except Exception as exc:  # noqa: BLE001 - one point's failure is a result
                p["error"] = f"{type(exc).__name__}: {getattr(exc, 'message', '') or exc}"
            u["points"].append(p)
        if u["points"] and all("error" in p for p in u["points"]):
            u["failed"] = f"search: {u['points'][0]['error']}"
    except Exception as exc:  # noqa: BLE001 - say where this index type broke, go on
        u["failed"] = f"{stage}: {type(exc).__name__}: {getattr(exc, 'message', '') or exc}"
        u["traceback"] = traceback.format_exc()
    return u


def run_jobs(engine: str, cfg: dict[str, Any], workdir: Path,
             clients: Callable[[int], AbstractContextManager[Any]]) -> list[dict[str, Any]]:
    """milvus_unit for every job, each with a client from `clients(job number)`."""
    lite = engine == "lite"
    nq = cfg["lite_queries"] if lite else cfg["queries"]
    budget = cfg["lite_budget_s"] if lite else cfg["budget_s"]
    units, sets = [], {}
    for i, job in enumerate(cfg["jobs"]):
        name = job["dataset"]
        if name not in sets:
            sets[name] = load_set(workdir, cfg, name)
        with clients(i) as client:
            units.append(milvus_unit(client, sets[name], job, nq, budget))
        log_unit(engine, units[-1])
    return units


def run_local(engine: str, cfg: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """elanus embedded or milvus-lite: every job on a fresh local path (a crash stays there)."""
    client_cls, version, release = local_client(engine)
    with tempfile.TemporaryDirectory(prefix=f"index-{engine}-") as tmp:

        @contextmanager
        def clients(i: int) -> Iterator[Any]:
            path = os.path.join(tmp, f"u{i}.db")
            client = client_cls(path)
            try:
                yield client
            finally:
                try:
                    client.close()
                    release(path)
                except Exception as exc:  # noqa: BLE001 - the next job gets a fresh path
                    print(f"[{engine}] closing {path}: {exc}", file=sys.stderr, flush=True)
                for p in Path(tmp).glob(f"u{i}.db*"):
                    if p.is_dir():
                        shutil.rmtree(p, ignore_errors=True)
                    else:
                        p.unlink(missing_ok=True)

        return {"version": version, "units": run_jobs(engine, cfg, workdir, clients)}


def run_served(cfg: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """elanus served: one server for every job, the collection dropped after each."""

    def workload(client: Any, r: dict[str, Any]) -> None:
        @contextmanager
        def clients(i: int) -> Iterator[Any]:
            try:
                yield client
            finally:
                try:
                    if client.has_collection(COLLECTION):
                        client.drop_collection(COLLECTION)
                except Exception as exc:  # noqa: BLE001 - the next job drops it first
                    print(f"[served] drop after job {i}: {exc}", file=sys.stderr, flush=True)

        r["units"] = run_jobs("served", cfg, workdir, clients)

    return serve_and_run(cfg["server_python"], "index-srv-", workload)


def worker_main(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir)
    cfg = json.loads((workdir / "cfg.json").read_text())
    t0 = time.perf_counter()
    try:
        if args.engine == "faiss":
            r = run_faiss(workdir, cfg)
        elif args.engine == "served":
            r = run_served(cfg, workdir)
        else:
            r = run_local(args.engine, cfg, workdir)
    except Exception as exc:  # noqa: BLE001
        r = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    r["wall_s"] = time.perf_counter() - t0
    emit(r)
    return 0


# --------------------------------------------------------------------------------------------
# tables (driver)


def units_of(results: dict[str, dict[str, Any]], dataset: str, itype: str
             ) -> dict[str, dict[str, Any]]:
    """engine -> its unit for (dataset, index type)."""
    out = {}
    for engine, r in results.items():
        for u in r.get("units", []):
            if u["dataset"] == dataset and u["index_type"] == itype:
                out[engine] = u
    return out


def find_point(u: dict[str, Any] | None, phase: str, lbl: str, sel: str = ""
               ) -> dict[str, Any] | None:
    for p in (u or {}).get("points", []):
        if p["phase"] == phase and p["label"] == lbl and p.get("selectivity", "") == sel:
            return p
    return None


def first_sentence(text: str) -> str:
    head = text.split("; ")[0].split(". ")[0].strip().rstrip(".")
    return head if len(head) <= 70 else head[:67] + "..."


def point_rows(results: dict[str, dict[str, Any]], planned: dict[str, int], dataset: str,
               itype: str, phase: str, lbl: str, sel: str, first: bool, with_build: bool
               ) -> list[list[str]]:
    """One row per engine for one point: values, then ratios to faiss and to milvus-lite."""
    units = units_of(results, dataset, itype)
    ref = {e: find_point(units.get(e), phase, lbl, sel) for e in ("faiss", "lite")}
    rows = []
    for engine in ENGINES:
        u = units.get(engine)
        if u is None:
            continue
        if "refused" in u or ("failed" in u and not u.get("points")):
            if first:
                note = ("refused: " + first_sentence(u["refused"]) if "refused" in u
                        else "failed: " + first_sentence(u["failed"]))
                rows.append([SHORT[engine], *["-"] * (10 if with_build else 8), note])
            continue
        p = find_point(u, phase, lbl, sel) or {}
        vals = [fmt(p.get("recall"), "{:.4f}"), fmt(p.get("qps"), "{:,.0f}"),
                fmt(p.get("p50_ms"), "{:.2f}"), fmt(p.get("p99_ms"), "{:.2f}")]
        if with_build:
            vals += [fmt(u.get("build_s"), "{:.1f}") if first else "",
                     fmt(u.get("load_s"), "{:.1f}") if first else ""]
        elanus = engine in ("embedded", "served")
        ratios = [ratio(p.get(key), (ref[e] or {}).get(key)) if elanus else ""
                  for key in ("qps", "recall") for e in ("faiss", "lite")]
        note = "error: " + first_sentence(p["error"]) if "error" in p else ""
        if not p:
            note = "failed: " + first_sentence(u.get("failed", "no result"))
        elif p.get("n", planned[engine]) < planned[engine]:
            note = f"budget: {p['n']} queries"
        rows.append([SHORT[engine], *vals, *ratios, note])
    return rows


RATIO_HEAD = ["QPS/faiss", "QPS/lite", "rec/faiss", "rec/lite"]


def render_noted(header: list[str], lines: list[list[str]]) -> str:
    """render, with the last column (notes) left-aligned."""
    width = max(len(r[-1]) for r in [header, *lines])
    return render([*header[:-1], header[-1].ljust(width)],
                  [[*r[:-1], r[-1].ljust(width)] for r in lines])


def render_index(results: dict[str, dict[str, Any]], planned: dict[str, int],
                 jobs: list[dict[str, Any]]) -> str:
    header = ["index", "search params", "engine", "recall@10", "QPS", "p50 ms", "p99 ms",
              "build s", "load s", *RATIO_HEAD, "note"]
    lines = []
    for job in jobs:
        if job["dataset"] != "main":
            continue
        pts = [p for p in job["points"] if p["phase"] == "index"]
        for i, p in enumerate(pts):
            for j, row in enumerate(point_rows(results, planned, "main", job["index_type"],
                                               "index", p["label"], "", i == 0, True)):
                lines.append([job["index_type"] if i == 0 and j == 0 else "",
                              p["label"] if j == 0 else "", *row])
    return render_noted(header, lines) if lines else ""


def render_filter(results: dict[str, dict[str, Any]], planned: dict[str, int],
                  jobs: list[dict[str, Any]]) -> str:
    header = ["index", "filter", "engine", "recall@10", "QPS", "p50 ms", "p99 ms", *RATIO_HEAD,
              f">= {FILTER_TARGET}"]
    lines = []
    for job in jobs:
        pts = [p for p in job["points"] if p["phase"] == "filter"]
        for p in pts:
            for j, row in enumerate(point_rows(results, planned, "main", job["index_type"],
                                               "filter", p["label"], p["selectivity"], True,
                                               False)):
                rec = row[1]
                target = ""
                if row[0] in ("emb", "srv") and rec not in ("-", ""):
                    target = "ok" if float(rec) >= FILTER_TARGET else "MISS"
                note = row[-1]
                lines.append([f"{job['index_type']} {p['label']}" if j == 0 else "",
                              f"{p['selectivity']} ({p['filter']})" if j == 0 else "",
                              *row[:-1], target or note])
    return render_noted(header, lines) if lines else ""


def render_scale(results: dict[str, dict[str, Any]], datasets: dict[str, Any]) -> str:
    if "scale_large" not in datasets:
        return ""
    header = ["engine", "rows", "recall@10", "QPS", "p50 ms", "p99 ms", "build s", "insert s",
              "QPS vs small"]
    lines = []
    for engine in ENGINES:
        per = {name: units_of(results, name, "HNSW").get(engine)
               for name in ("scale_small", "scale_large")}
        if not any(per.values()):
            continue
        small_qps = (find_point(per["scale_small"], "scale", "ef=64") or {}).get("qps")
        for name, u in per.items():
            p = find_point(u, "scale", "ef=64") or {}
            rel = ratio(p.get("qps"), small_qps) if name == "scale_large" else ""
            if u and ("refused" in u or "failed" in u) and not p:
                rel = first_sentence(u.get("refused") or u["failed"])
            lines.append([SHORT[engine], f"{datasets[name]['rows']:,}",
                          fmt(p.get("recall"), "{:.4f}"), fmt(p.get("qps"), "{:,.0f}"),
                          fmt(p.get("p50_ms"), "{:.2f}"), fmt(p.get("p99_ms"), "{:.2f}"),
                          fmt((u or {}).get("build_s"), "{:.1f}"),
                          fmt((u or {}).get("insert_s"), "{:.1f}"), rel])
    return render(header, lines)


def problems(results: dict[str, dict[str, Any]]) -> Iterator[str]:
    """Full messages of refusals and failures, below the tables."""
    for engine, r in results.items():
        if "error" in r:
            yield f"[{engine}] ERROR {r['error']}"
            if r.get("traceback"):
                yield r["traceback"]
        if r.get("stop_problem"):
            yield f"[{engine}] stop_problem: {r['stop_problem']}"
        for u in r.get("units", []):
            where = f"[{engine}] {u['dataset']} {u['index_type']}"
            if "refused" in u:
                yield f"{where} refused (code {u.get('refused_code')}): {u['refused']}"
            if "failed" in u:
                yield f"{where} failed: {u['failed']}"
            for p in u.get("points", []):
                if "error" in p:
                    yield f"{where} {p['label']} {p.get('selectivity', '')}: {p['error']}"


def elanus_failures(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """elanus index types that failed after being accepted: errors of the run."""
    return [{"error": f"{e} {u['index_type']}: {u['failed']}"}
            for e in ("embedded", "served") for u in results.get(e, {}).get("units", [])
            if "failed" in u]


def driver_main(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    if args.smoke:  # the scale phase's 128-d set serves as main data too: quick to index
        args.rows, args.queries, args.lite_queries = args.rows or 3000, 30, 30
        args.scale_rows, args.scale_small = 10_000, 3000
        if not args.synthetic:
            args.synthetic, args.dim, args.metric = args.scale_rows, args.scale_dim, "L2"
        args.budget, args.lite_budget = 10.0, 10.0
    phases = [p for p in ("index", "filter", "scale")
              if not args.phases or p in args.phases.split(",")]
    engines = chosen_engines(ENGINES, args.with_lite, args.engines)
    with work_dir("elanus-index-bench-") as root:
        datasets = prepare(args, root, phases)
        jobs = plan(args, datasets, phases)
        cfg = {"queries": args.queries, "lite_queries": args.lite_queries,
               "budget_s": args.budget, "lite_budget_s": args.lite_budget,
               "server_python": args.server_python, "datasets": datasets, "jobs": jobs}
        (root / "cfg.json").write_text(json.dumps(cfg))
        print(f"[data] {json.dumps(datasets)}", file=sys.stderr, flush=True)
        lite_py = lite_python(engines, Path(args.lite_venv))
        results = {engine: run_engine(Path(__file__).resolve(), engine, lite_py, root, [],
                                      args.worker_timeout) for engine in engines}
    tables = []
    main = datasets.get("main")
    if main:
        tables.append(f"data: {main['source']}; {main['rows']:,} x {main['dim']} {main['metric']}; "
                      f"{args.queries} queries per point (milvus-lite {args.lite_queries}), "
                      f"top {K}, one query per call, one client")
    planned = {e: args.lite_queries if e == "lite" else args.queries for e in ENGINES}
    if t := render_index(results, planned, jobs):
        tables += ["", ("index types (build s: flush + create_index until Finished; faiss: "
                        "train + add)"), t]
    if t := render_filter(results, planned, jobs):
        tables += ["", (f"filtered search (faiss: IDSelectorBitmap in the same index; target: "
                        f"elanus recall@10 >= {FILTER_TARGET})"), t]
    if t := render_scale(results, datasets):
        tables += ["", (f"scale: HNSW M={HNSW_M} efConstruction={EF_CONSTRUCTION}, ef=64, the "
                        "first rows of the same synthetic set"), t]
    tables.append("ratios: elanus value / faiss or milvus-lite value (QPS and recall: > 1 means "
                  "elanus is higher)")
    faiss_twins = sorted({f"{j['index_type']}: {j['faiss']}" for j in jobs
                          if j["dataset"] == "main"})
    if faiss_twins:
        tables.append("faiss twins: " + "; ".join(faiss_twins))
    table = "\n".join(tables)
    print()
    print(table)
    for line in problems(results):
        print("\n" + line)
    setup = {"config": {k: v for k, v in cfg.items() if k != "jobs"}, "jobs": jobs,
             "phases": phases, "engines": engines}
    runs = [*results.values(), *elanus_failures(results)]
    return write_report(args.out, setup, results, table, t_start, runs)


def main() -> int:
    p = driver_parser(__doc__, DEFAULT_OUT, WORKER_TIMEOUT_S)
    p.add_argument("--data", default=str(DEFAULT_DATA),
                   help="pydocs-minilm-384 folder (synthetic data when missing)")
    p.add_argument("--synthetic", type=int, default=0, metavar="N",
                   help="use N synthetic rows (gen_synth.py, cached under /tmp) instead")
    p.add_argument("--dim", type=int, default=128, help="--synthetic dimension (default 128)")
    p.add_argument("--metric", default="L2", choices=["L2", "IP", "COSINE"],
                   help="--synthetic metric (default L2)")
    p.add_argument("--rows", type=int, default=0, help="use only the first ROWS rows")
    p.add_argument("--index-types", default="",
                   help=f"comma list subset of {','.join(INDEX_TYPES)}")
    p.add_argument("--phases", default="", help="comma list subset of index,filter,scale")
    p.add_argument("--engines", default="", help="comma list subset of faiss,embedded,served,lite")
    p.add_argument("--queries", type=int, default=QUERIES,
                   help=f"queries per point (default {QUERIES})")
    p.add_argument("--lite-queries", type=int, default=LITE_QUERIES,
                   help=f"queries per point, milvus-lite (default {LITE_QUERIES})")
    p.add_argument("--budget", type=float, default=BUDGET_S,
                   help=f"s per point, then no new query (default {BUDGET_S:.0f})")
    p.add_argument("--lite-budget", type=float, default=LITE_BUDGET_S,
                   help=f"the same for milvus-lite (default {LITE_BUDGET_S:.0f})")
    p.add_argument("--nlist", type=int, default=0, help="IVF lists (default: ~sqrt(rows))")
    p.add_argument("--pq-m", type=int, default=0, help="PQ sub-vectors (default: dim / 8)")
    p.add_argument("--scale-rows", type=int, default=100_000,
                   help="larger row count of the scale phase (default 100,000)")
    p.add_argument("--scale-small", type=int, default=SCALE_SMALL, help=argparse.SUPPRESS)
    p.add_argument("--scale-dim", type=int, default=128, help="scale phase dimension")
    p.add_argument("--smoke", action="store_true",
                   help="reduced preset: 3,000 rows of a 10,000 x 128 L2 synthetic set (unless "
                        "--synthetic), 30 queries, two points per sweep, scale 3,000 vs 10,000")
    args = p.parse_args()
    return worker_main(args) if args.engine else driver_main(args)


if __name__ == "__main__":
    sys.exit(main())
