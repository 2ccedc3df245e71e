"""Filter benchmark: scalar filters over 1M rows, with and without indexes, elanus vs milvus-lite.

Run from the repository root with the project's venv:

    .venv/bin/python bench/filter_bench.py [--with-lite] [--rows N] [--reps R] [--out FILE]

Data (seeded numpy RNG, generated inside each worker; only the insert calls are timed): N rows
(default 1,000,000), id INT64 primary (explicit ids 0..N-1), num INT64 uniform in [0, N), tag
VARCHAR(32) f"tag_{k:05d}" with k uniform in [0, 10000), meta JSON {"a": uniform [0, 10000), "b":
"s" + str(k % 100)}, arr ARRAY<INT64> (max_capacity 8; 0-8 ints in [0, 1000)), vec FLOAT_VECTOR
8-d (uniform [0, 1)). Inserted with `client.insert(name, rows)` in batches of 50,000 row dicts
(pymilvus's MilvusClient takes row dicts only; each batch is built untimed before its call), then
flush, FLAT index (L2) on vec (milvus-lite loads only indexed collections) and load.

Queries, each `client.query(name, filter=F, output_fields=["count(*)"])` repeated --reps times
(default 20; milvus-lite --lite-reps, default 2, and every engine stops repeating a query once it
has spent its time budget), median and p90 latency in ms:

    range           num >= lo and num < lo + N // 100           (1%)
    in_list         num in [100 values]
    like_prefix     tag like "tag_012%"                         (k in [1200, 1300): 1%)
    json_path       meta["a"] < 100                             (1%)
    array_contains  array_contains(arr, 42)                     (~0.4%)
    search_json     search, limit 10, L2, with the json_path filter

Every count is checked against the count numpy computes from the same data and against every other
engine and phase; a mismatch is flagged in the table and recorded in the JSON.

Phases: "scan" (no scalar index) and "indexed": release, create STL_SORT on num, INVERTED on tag,
INVERTED on arr and a JSON path index on meta (INVERTED, json_path meta["a"], json_cast_type
double), one create_index call each (sync=False, then describe_index polled every 50 ms until
Finished, bounded; the build time includes that wait), load, the same queries. An index an engine
refuses is recorded with its message ("refused: ...") and the others go on; a query whose index
was refused is marked "*" in the table.

Every engine runs in its own bounded subprocess of this script (`--engine NAME --workdir DIR`):
elanus embedded (`elanus.MilvusClient(path)`), elanus served (`elanus serve` on a free loopback
port, pymilvus client) and, with `--with-lite`, milvus-lite 3.2.2 from its own venv (default
/tmp/mlite-venv). Results go to one table on stdout (median/p90 ms per engine and phase,
milvus-lite/elanus ratios of medians) and to JSON (default /tmp/elanus-bench/filter.json).
Smoke test: `--rows 20000 --reps 3`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py, also under lite's venv
from common import (
    chosen_engines,
    driver_parser,
    emit,
    lite_python,
    local_client,
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

DEFAULT_OUT = Path("/tmp/elanus-bench/filter.json")
ROWS = 1_000_000
BATCH = 50_000
DIM = 8
TAGS = 10_000  # k in [0, TAGS)
META_A = 10_000  # meta["a"] in [0, META_A)
ARR_CAP, ARR_MAX = 8, 1000  # arr: 0..ARR_CAP ints in [0, ARR_MAX)
IN_VALUES = 100
SEARCH_LIMIT = 10
METRIC = "L2"
SEED = 20261125
COLLECTION = "flt"
REPS, LITE_REPS = 20, 2
BUDGET_S, LITE_BUDGET_S = 60.0, 60.0  # per query: no new repetition once this much is spent
CALL_TIMEOUT_S = 600.0  # one insert, query, search, create_index or load call
INDEX_WAIT_S = 600.0  # one index, until describe_index says Finished
WORKER_TIMEOUT_S = 3600.0

ENGINES = ("embedded", "served", "lite")
NAMES = {"embedded": "emb", "served": "srv", "lite": "lite"}
PHASES = ("scan", "indexed")
# query name -> the index (name) serving it in the indexed phase
QUERIES = {"range": "num_idx", "in_list": "num_idx", "like_prefix": "tag_idx",
           "json_path": "meta_a_idx", "array_contains": "arr_idx", "search_json": "meta_a_idx"}
SCALAR_INDEXES = [  # (index name, field, index type, params)
    ("num_idx", "num", "STL_SORT", {}),
    ("tag_idx", "tag", "INVERTED", {}),
    ("arr_idx", "arr", "INVERTED", {}),
    ("meta_a_idx", "meta", "INVERTED", {"json_path": 'meta["a"]', "json_cast_type": "double"}),
]
LIKE_PATTERN = "tag_012%"
JSON_FILTER = 'meta["a"] < 100'
ARRAY_VALUE = 42


# --------------------------------------------------------------------------------------------
# data, filters and expected counts (the same in every worker and in the driver)


def filters(n: int) -> dict[str, str]:
    """query name -> filter expression for N rows."""
    lo = n // 3
    values = np.random.default_rng(SEED + 1).choice(n, size=min(IN_VALUES, n), replace=False)
    return {
        "range": f"num >= {lo} and num < {lo + n // 100}",
        "in_list": f"num in [{', '.join(str(v) for v in sorted(values.tolist()))}]",
        "like_prefix": f'tag like "{LIKE_PATTERN}"',
        "json_path": JSON_FILTER,
        "array_contains": f"array_contains(arr, {ARRAY_VALUE})",
        "search_json": JSON_FILTER,
    }


def make_data(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    return {
        "num": rng.integers(0, n, n),
        "k": rng.integers(0, TAGS, n),
        "a": rng.integers(0, META_A, n),
        "arr_len": rng.integers(0, ARR_CAP + 1, n),
        "arr": rng.integers(0, ARR_MAX, (n, ARR_CAP)),
        "vec": rng.random((n, DIM), dtype=np.float32),
    }


def query_vector() -> list[float]:
    return [float(x) for x in np.random.default_rng(SEED + 2).random(DIM, dtype=np.float32)]


def like_regex(pattern: str) -> re.Pattern[str]:
    """Milvus LIKE: % any run of characters, _ any one character."""
    return re.compile("".join(".*" if c == "%" else "." if c == "_" else re.escape(c)
                              for c in pattern))


def expected_counts(d: dict[str, np.ndarray], n: int) -> dict[str, int]:
    """What each query must count (search_json: hits), computed with numpy from the data."""
    lo = n // 3
    values = np.random.default_rng(SEED + 1).choice(n, size=min(IN_VALUES, n), replace=False)
    like = like_regex(LIKE_PATTERN)
    tag_ok = np.array([like.fullmatch(f"tag_{k:05d}") is not None for k in range(TAGS)])
    in_arr = (d["arr"] == ARRAY_VALUE) & (np.arange(ARR_CAP) < d["arr_len"][:, None])
    json_path = int((d["a"] < 100).sum())
    return {
        "range": int(((d["num"] >= lo) & (d["num"] < lo + n // 100)).sum()),
        "in_list": int(np.isin(d["num"], values).sum()),
        "like_prefix": int(tag_ok[d["k"]].sum()),
        "json_path": json_path,
        "array_contains": int(in_arr.any(axis=1).sum()),
        "search_json": min(SEARCH_LIMIT, json_path),
    }


def batch_rows(d: dict[str, np.ndarray], start: int, stop: int) -> list[dict[str, Any]]:
    """Rows start..stop-1 as MilvusClient row dicts."""
    cols = [d[c][start:stop].tolist() for c in ("num", "k", "a", "arr_len", "arr", "vec")]
    return [{"id": i, "num": num, "tag": f"tag_{k:05d}", "meta": {"a": a, "b": f"s{k % 100}"},
             "arr": arr[:ln], "vec": vec}
            for i, (num, k, a, ln, arr, vec) in enumerate(zip(*cols), start)]


# --------------------------------------------------------------------------------------------
# workload (worker)


def timed(call: Callable[[], Any], reps: int, budget: float) -> tuple[list[float], Any]:
    """Latencies (ms) of up to `reps` calls, none started after `budget` s; the last result."""
    lat: list[float] = []
    res: Any = None
    t_begin = time.perf_counter()
    for _ in range(reps):
        t0 = time.perf_counter()
        res = call()
        lat.append((time.perf_counter() - t0) * 1000)
        if time.perf_counter() - t_begin >= budget:
            break
    return lat, res


def run_queries(client: Any, n: int, reps: int, budget: float) -> dict[str, dict[str, Any]]:
    """Every query of `filters(n)`; a failing one records its error and the others go on."""
    out: dict[str, dict[str, Any]] = {}
    qvec = query_vector()
    for name, flt in filters(n).items():
        q: dict[str, Any] = {}
        try:
            if name == "search_json":
                lat, res = timed(lambda f=flt: client.search(  # type: ignore[misc]
                    COLLECTION, data=[qvec], anns_field="vec", limit=SEARCH_LIMIT, filter=f,
                    search_params={"metric_type": METRIC}, timeout=CALL_TIMEOUT_S), reps, budget)
                hits = list(res[0])
                q["count"] = len(hits)
                q["ids"] = [int(h["id"]) for h in hits]
            else:
                lat, res = timed(lambda f=flt: client.query(  # type: ignore[misc]
                    COLLECTION, filter=f, output_fields=["count(*)"], timeout=CALL_TIMEOUT_S),
                    reps, budget)
                q["count"] = int(res[0]["count(*)"])
            q.update(reps=len(lat), ms=[round(x, 3) for x in lat],
                     median_ms=float(np.median(lat)), p90_ms=float(np.percentile(lat, 90)))
        except Exception as exc:  # noqa: BLE001 - one query's failure is a result
            q["error"] = f"{type(exc).__name__}: {getattr(exc, 'message', '') or exc}"
        print(f"  {name}: {q.get('median_ms', q.get('error'))}", file=sys.stderr, flush=True)
        out[name] = q
    return out


def load(client: Any) -> float:
    t0 = time.perf_counter()
    client.load_collection(COLLECTION, timeout=CALL_TIMEOUT_S)
    state = str(client.get_load_state(COLLECTION).get("state"))
    if not state.endswith("Loaded"):
        raise RuntimeError(f"load state after load_collection: {state}")
    return time.perf_counter() - t0


def scalar_indexes(client: Any) -> dict[str, dict[str, Any]]:
    """Create each scalar index (released collection) and wait for it; refusals recorded."""
    out: dict[str, dict[str, Any]] = {}
    for name, field, itype, params in SCALAR_INDEXES:
        entry: dict[str, Any] = {"field": field, "index_type": itype, "params": params}
        ip = client.prepare_index_params()
        ip.add_index(field_name=field, index_type=itype, index_name=name, params=params)
        t0 = time.perf_counter()
        try:
            client.create_index(COLLECTION, ip, timeout=CALL_TIMEOUT_S, sync=False)
        except Exception as exc:  # noqa: BLE001 - a refused index is a result
            entry["refused"] = str(getattr(exc, "message", "") or exc)
            out[name] = entry
            print(f"  index {name}: refused: {entry['refused']}", file=sys.stderr, flush=True)
            continue
        try:
            desc = wait_index(client, COLLECTION, name, INDEX_WAIT_S, CALL_TIMEOUT_S)
            entry["describe"] = {k: str(v) for k, v in desc.items()}
            entry["build_s"] = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001
            entry["error"] = f"{type(exc).__name__}: {exc}"
        print(f"  index {name}: {entry.get('build_s', entry.get('error'))}", file=sys.stderr,
              flush=True)
        out[name] = entry
    return out


def workload(client: Any, cfg: dict[str, Any], reps: int, budget: float, r: dict[str, Any]) -> None:
    """Create, insert (timed), flush, FLAT + load, scan queries, scalar indexes, indexed queries.

    A failure outside the queries and index creations goes to r["error"] with its stage.
    """
    from pymilvus import DataType, MilvusClient

    n = cfg["rows"]
    d = make_data(n)
    r["expected"] = expected_counts(d, n)
    r["phases"] = {}
    stage = "create_collection"
    try:
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("num", DataType.INT64)
        schema.add_field("tag", DataType.VARCHAR, max_length=32)
        schema.add_field("meta", DataType.JSON)
        schema.add_field("arr", DataType.ARRAY, element_type=DataType.INT64,
                         max_capacity=ARR_CAP)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
        client.create_collection(COLLECTION, schema=schema)
        stage = "insert"
        inserted, insert_s = 0, 0.0
        for start in range(0, n, BATCH):
            rows = batch_rows(d, start, min(start + BATCH, n))
            t0 = time.perf_counter()
            inserted += int(client.insert(COLLECTION, rows, timeout=CALL_TIMEOUT_S)
                            ["insert_count"])
            insert_s += time.perf_counter() - t0
        r.update(inserted=inserted, insert_s=insert_s, insert_rows_per_s=inserted / insert_s)
        print(f"  inserted {inserted:,} in {insert_s:.1f} s", file=sys.stderr, flush=True)
        stage = "flush"
        t0 = time.perf_counter()
        client.flush(COLLECTION, timeout=CALL_TIMEOUT_S)
        r["flush_s"] = time.perf_counter() - t0
        stage = "vector index"
        t0 = time.perf_counter()
        ip = client.prepare_index_params()
        ip.add_index(field_name="vec", index_type="FLAT", metric_type=METRIC, index_name="vec")
        client.create_index(COLLECTION, ip, timeout=CALL_TIMEOUT_S, sync=False)
        wait_index(client, COLLECTION, "vec", INDEX_WAIT_S, CALL_TIMEOUT_S)
        r["vec_index_s"] = time.perf_counter() - t0
        stage = "load"
        r["load_s"] = load(client)
        stage = "scan queries"
        if "scan" in cfg["phases"]:
            print("  phase scan", file=sys.stderr, flush=True)
            r["phases"]["scan"] = {"queries": run_queries(client, n, reps, budget)}
        if "indexed" not in cfg["phases"]:
            return
        stage = "release"
        print("  phase indexed", file=sys.stderr, flush=True)
        client.release_collection(COLLECTION, timeout=CALL_TIMEOUT_S)
        phase: dict[str, Any] = {}
        r["phases"]["indexed"] = phase
        stage = "scalar indexes"
        phase["indexes"] = scalar_indexes(client)
        stage = "load (indexed)"
        phase["load_s"] = load(client)
        if not any("build_s" in e for e in phase["indexes"].values()):
            phase["skipped"] = "no scalar index was built"
            return
        stage = "indexed queries"
        phase["queries"] = run_queries(client, n, reps, budget)
    except Exception as exc:  # noqa: BLE001 - keep the figures so far, say where it broke
        r["error"] = f"{stage}: {type(exc).__name__}: {getattr(exc, 'message', '') or exc}"
        r["error_stage"] = stage
        r["traceback"] = traceback.format_exc()


# --------------------------------------------------------------------------------------------
# engines (one subprocess each)


def reps_budget(engine: str, cfg: dict[str, Any]) -> tuple[int, float]:
    if engine == "lite":
        return cfg["lite_reps"], cfg["lite_budget_s"]
    return cfg["reps"], cfg["budget_s"]


def run_local(engine: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """elanus embedded or milvus-lite: a client over a local path."""
    r: dict[str, Any] = {}
    MilvusClient, r["version"], release = local_client(engine)
    with tempfile.TemporaryDirectory(prefix=f"filter-{engine}-") as tmp:
        path = os.path.join(tmp, "bench.db")
        client = MilvusClient(path)
        try:
            workload(client, cfg, *reps_budget(engine, cfg), r)
        finally:
            client.close()
            release(path)
    return r


def run_served(cfg: dict[str, Any]) -> dict[str, Any]:
    return serve_and_run(cfg["server_python"], "filter-srv-",
                             lambda client, r: workload(client, cfg, *reps_budget("served", cfg),
                                                        r))


def worker_main(args: argparse.Namespace) -> int:
    cfg = json.loads((Path(args.workdir) / "cfg.json").read_text())
    emit(worker_result(lambda: run_served(cfg) if args.engine == "served"
                       else run_local(args.engine, cfg)))
    return 0


# --------------------------------------------------------------------------------------------
# driver: consistency and table


def counts_seen(results: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    """"engine/phase" -> count (or ids, for the search) of query `name`, where it ran."""
    seen: dict[str, Any] = {}
    for engine, r in results.items():
        for phase, p in r.get("phases", {}).items():
            q = p.get("queries", {}).get(name, {})
            if "count" in q:
                seen[f"{engine}/{phase}"] = q["count"]
    return seen


def consistency(results: dict[str, dict[str, Any]], expected: dict[str, int]
                ) -> dict[str, dict[str, Any]]:
    """Per query: the counts of every engine and phase, the expected one, and whether all agree.

    The search also compares its hit ids (as sets) across engines and phases.
    """
    out: dict[str, dict[str, Any]] = {}
    for name in QUERIES:
        seen = counts_seen(results, name)
        ok = all(c == expected.get(name) for c in seen.values())
        entry: dict[str, Any] = {"expected": expected.get(name), "counts": seen, "ok": ok}
        if name == "search_json":
            ids = {f"{e}/{ph}": sorted(p["queries"][name]["ids"])
                   for e, r in results.items() for ph, p in r.get("phases", {}).items()
                   if "ids" in p.get("queries", {}).get(name, {})}
            entry["ids_agree"] = len({tuple(v) for v in ids.values()}) <= 1
            entry["ok"] = ok and entry["ids_agree"]
            if not entry["ids_agree"]:
                entry["ids"] = ids
        out[name] = entry
    return out


def query_result(r: dict[str, Any] | None, phase: str, name: str) -> dict[str, Any] | None:
    if r is None:
        return None
    return r.get("phases", {}).get(phase, {}).get("queries", {}).get(name)


def index_refused(r: dict[str, Any] | None, name: str) -> bool:
    """Whether the index serving query `name` was not built in r's indexed phase."""
    idx = (r or {}).get("phases", {}).get("indexed", {}).get("indexes", {}).get(QUERIES[name])
    return idx is not None and "build_s" not in idx


def cell(r: dict[str, Any] | None, phase: str, name: str) -> str:
    """median/p90 ms; "*" when the index for it was refused (a scan), ERR on a query error."""
    q = query_result(r, phase, name)
    if q is None:
        if r is not None and "error" in r:
            return "ERR"
        if phase == "indexed" and (r or {}).get("phases", {}).get("indexed", {}).get("skipped"):
            return "no idx"
        return "-"
    if "error" in q:
        return "ERR"
    mark = "*" if phase == "indexed" and index_refused(r, name) else ""
    return f"{q['median_ms']:.1f}/{q['p90_ms']:.1f}{mark}"


def lite_ratio(lite: dict[str, Any] | None, r: dict[str, Any] | None, phase: str,
               name: str) -> str:
    """milvus-lite median / elanus median, same phase (lite's scan where it has no indexed)."""
    lq = query_result(lite, phase, name) or query_result(lite, "scan", name)
    eq = query_result(r, phase, name)
    if not lq or not eq or "median_ms" not in lq or "median_ms" not in eq or not eq["median_ms"]:
        return "-"
    return f"{lq['median_ms'] / eq['median_ms']:.1f}x"


def render_table(results: dict[str, dict[str, Any]], expected: dict[str, int],
                 checks: dict[str, dict[str, Any]], cfg: dict[str, Any]) -> str:
    engines = [e for e in ENGINES if e in results]
    elanus = [e for e in engines if e != "lite"]
    lite = results.get("lite")
    lite_indexed = bool(lite and lite.get("phases", {}).get("indexed", {}).get("queries"))
    cols = [(e, ph) for e in elanus for ph in cfg["phases"]]
    if lite is not None:
        cols += [("lite", ph) for ph in cfg["phases"] if ph == "scan" or lite_indexed]
    ratio_cols = [(e, ph) for e in elanus for ph in cfg["phases"]] if lite is not None else []
    short = {"scan": "scan", "indexed": "idx"}
    header = ["query", "rows", *[f"{NAMES[e]} {short[ph]}" for e, ph in cols],
              *[f"lite/{NAMES[e]} {short[ph]}" for e, ph in ratio_cols], "counts"]
    lines = []
    for name in QUERIES:
        check = checks[name]
        status = "ok" if check["ok"] else "MISMATCH"  # against numpy and between runs
        if not check["counts"]:
            status = "-"
        lines.append([name, f"{expected.get(name, 0):,}",
                      *[cell(results.get(e), ph, name) for e, ph in cols],
                      *[lite_ratio(lite, results.get(e), ph, name) for e, ph in ratio_cols],
                      status])
    out = [render(header, lines)]
    notes = [
        (f"{cfg['rows']:,} rows; cells are median/p90 ms of count(*) queries (search_json: search "
         f"limit {SEARCH_LIMIT}); reps {cfg['reps']} (milvus-lite {cfg['lite_reps']}), fewer once "
         "a query's time budget is spent"),
        ("rows: the count numpy expects (search_json: hits); counts: every engine and phase "
         "returned it (search: and the same ids)"),
        "* the index serving this query was not built (refused or failed): a scan",
    ]
    if lite is not None:
        notes.append("lite/x: milvus-lite median / elanus median, > 1 means elanus is faster"
                     + ("" if lite_indexed else "; idx ratios use milvus-lite's scan (it has no "
                        "indexed phase)"))
    # setup figures and scalar indexes per engine
    step_lines: list[list[str]] = [
        [label, *[(f"{results[e][key]:.2f}" if isinstance(results[e].get(key), (int, float))
                   else "-") for e in engines]]
        for key, label in (("insert_s", "insert s"), ("flush_s", "flush s"),
                           ("vec_index_s", "FLAT index s"), ("load_s", "load s"))]
    step_lines.insert(1, ["insert rows/s", *[
        f"{results[e]['insert_rows_per_s']:,.0f}" if "insert_rows_per_s" in results[e] else "-"
        for e in engines]])
    if "indexed" in cfg["phases"]:
        for name, field, itype, _ in SCALAR_INDEXES:
            row = [f"{itype} {field} ({name}) s"]
            for e in engines:
                idx = results[e].get("phases", {}).get("indexed", {}).get("indexes", {}).get(name)
                if idx is None:
                    row.append("-")
                elif "build_s" in idx:
                    row.append(f"{idx['build_s']:.2f}")
                else:
                    row.append("refused" if "refused" in idx else "ERR")
            step_lines.append(row)
        step_lines.append(["load after indexes s", *[
            (f"{v:.2f}" if isinstance(v := results[e].get("phases", {}).get("indexed", {})
                                      .get("load_s"), (int, float)) else "-")
            for e in engines]])
    out += ["\n".join(notes), "", render(["step", *[NAMES[e] for e in engines]], step_lines)]
    return "\n".join(out)


def problems(results: dict[str, dict[str, Any]], checks: dict[str, dict[str, Any]]
             ) -> Iterator[str]:
    """Lines for what went wrong or was refused, below the table."""
    for engine, r in results.items():
        yield from worker_problems(engine, r)
        for phase, p in r.get("phases", {}).items():
            for name, idx in p.get("indexes", {}).items():
                if "refused" in idx:
                    yield f"[{engine}] index {name} refused: {idx['refused']}"
                if "error" in idx:
                    yield f"[{engine}] index {name} ERROR {idx['error']}"
            if p.get("skipped"):
                yield f"[{engine}/{phase}] skipped: {p['skipped']}"
            for name, q in p.get("queries", {}).items():
                if "error" in q:
                    yield f"[{engine}/{phase}] {name} ERROR {q['error']}"
    for name, c in checks.items():
        if not c["ok"] and c["counts"]:
            yield f"MISMATCH {name}: expected {c['expected']}, got {c['counts']}"
            if "ids" in c:
                yield f"  search ids: {c['ids']}"


def driver_main(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    with work_dir("elanus-filter-bench-") as work_root:
        phases = [p for p in PHASES if not args.phases or p in args.phases.split(",")]
        cfg = {"rows": args.rows, "reps": args.reps, "lite_reps": args.lite_reps,
               "budget_s": args.budget, "lite_budget_s": args.lite_budget, "phases": phases,
               "server_python": args.server_python}
        (work_root / "cfg.json").write_text(json.dumps(cfg))
        engines = chosen_engines(ENGINES, args.with_lite, args.engines)
        if not engines:
            print("no engine to run (milvus-lite needs --with-lite)", file=sys.stderr)
            return 2
        lite_py = lite_python(engines, Path(args.lite_venv))
        results = {engine: run_engine(Path(__file__).resolve(), engine, lite_py, work_root, [],
                                      args.worker_timeout) for engine in engines}
        flt = filters(args.rows)
        expected = expected_counts(make_data(args.rows), args.rows)
        checks = consistency(results, expected)
        table = render_table(results, expected, checks, cfg)
        print()
        print(f"data: seed {SEED}, batches of {BATCH:,} row dicts, vec {DIM}-d FLAT {METRIC}; "
              f"filters: range `{flt['range']}`, in_list `num in [{IN_VALUES} values]`, "
              f"like_prefix `{flt['like_prefix']}`, json_path `{flt['json_path']}`, "
              f"array_contains `{flt['array_contains']}`")
        print(table)
        for line in problems(results, checks):
            print("\n" + line)
        params = {"batch": BATCH, "dim": DIM, "metric": METRIC, "seed": SEED, "tags": TAGS,
                  "search_limit": SEARCH_LIMIT, "call_timeout_s": CALL_TIMEOUT_S,
                  "index_wait_s": INDEX_WAIT_S,
                  "scalar_indexes": [{"name": n, "field": f, "index_type": t, "params": p}
                                     for n, f, t, p in SCALAR_INDEXES]}
        runs = [r for r in results.values()]
        runs += [q for r in results.values() for p in r.get("phases", {}).values()
                 for q in p.get("queries", {}).values()]
        return write_report(args.out, {"config": cfg, "params": params, "filters": flt,
                                       "expected": expected, "consistency": checks},
                            results, table, t_start, runs)


def main() -> int:
    p = driver_parser(__doc__, DEFAULT_OUT, WORKER_TIMEOUT_S)
    p.add_argument("--rows", type=int, default=ROWS, help=f"rows (default {ROWS:,})")
    p.add_argument("--reps", type=int, default=REPS,
                   help=f"repetitions of each query, elanus (default {REPS})")
    p.add_argument("--lite-reps", type=int, default=LITE_REPS,
                   help=f"repetitions of each query, milvus-lite (default {LITE_REPS})")
    p.add_argument("--budget", type=float, default=BUDGET_S,
                   help=f"s per query, then elanus stops repeating it (default {BUDGET_S:.0f})")
    p.add_argument("--lite-budget", type=float, default=LITE_BUDGET_S,
                   help=f"the same for milvus-lite (default {LITE_BUDGET_S:.0f})")
    p.add_argument("--engines", default="", help="comma list subset of embedded,served,lite")
    p.add_argument("--phases", default="", help="comma list subset of scan,indexed")
    args = p.parse_args()
    return worker_main(args) if args.engine else driver_main(args)


if __name__ == "__main__":
    sys.exit(main())
