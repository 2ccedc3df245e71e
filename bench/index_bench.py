"""Index benchmark: recall@10 and QPS of every vector index type, elanus vs raw faiss vs milvus-lite.

Run from the repository root with the project's venv:

    .venv/bin/python bench/index_bench.py [--with-lite] [--smoke] [--out FILE]

Data: shared/data/pydocs-minilm-384 (20,000 x 384 unit vectors, COSINE, exact top-100 ground
truth, meta.parquet `num` 0..999) when present; `--synthetic N` (or no pydocs folder) uses
Gaussian-cluster data of shared/data/tools/gen_synth.py (N x `--dim`, `--metric`, default 128-d
L2; without that script, a seeded generator of the same kind in datasets.py), written once under
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
import os
import shutil
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
    chosen_engines,
    driver_parser,
    emit,
    fmt,
    lite_python,
    local_client,
    measure,
    point_options,
    ratio,
    render,
    run_engine,
    wait_index,
    work_dir,
    worker_problems,
    worker_result,
    write_report,
)
from common import (
    run_served as serve_and_run,
)
from datasets import DEFAULT_DATA, K, exact_topk, read_set, synthetic
from indexes import (
    EF_CONSTRUCTION,
    HNSW_M,
    INDEX_TYPES,
    build_faiss,
    build_params,
    faiss_params,
    faiss_recipe,
    label,
    sweep,
)

DEFAULT_OUT = Path("/tmp/elanus-bench/index.json")

COLLECTION = "idx"
FILTERS = {"1%": 10, "10%": 100, "50%": 500}  # selectivity -> `num <` bound; num in 0..999
FILTER_TARGET = 0.95  # filtered recall@10 elanus must reach at every selectivity
SCALE_SMALL = 20_000
QUERIES, LITE_QUERIES = 200, 100
BUDGET_S, LITE_BUDGET_S = 60.0, 15.0  # per point: no query started after this much
BATCH_FLOATS = 1_000_000  # rows per insert call: this many floats (2,604 rows at 384-d)
CALL_TIMEOUT_S = 600.0
INDEX_WAIT_S = 900.0
WORKER_TIMEOUT_S = 3600.0

ENGINES = ("faiss", "lite", "embedded", "served")
SHORT = {"faiss": "faiss", "lite": "lite", "embedded": "emb", "served": "srv"}


# --------------------------------------------------------------------------------------------
# data (driver)


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

    def run() -> dict[str, Any]:
        if args.engine == "faiss":
            return run_faiss(workdir, cfg)
        if args.engine == "served":
            return run_served(cfg, workdir)
        return run_local(args.engine, cfg, workdir)

    emit(worker_result(run))
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
        yield from worker_problems(engine, r)
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
    point_options(p, QUERIES, LITE_QUERIES, BUDGET_S, LITE_BUDGET_S)
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
