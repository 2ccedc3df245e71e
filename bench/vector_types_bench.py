"""Vector-type insert benchmark: rows/s per vector type, elanus vs milvus-lite.

Run from the repository root with the project's venv:

    .venv/bin/python bench/vector_types_bench.py [--with-lite] [--rows N] [--out FILE]

Workload, once per vector type and engine: a collection (id INT64 primary with explicit ids, one
vector field "v"), its index created before any insert as a user would (AUTOINDEX metric COSINE
for the dense types, SPARSE_INVERTED_INDEX metric IP for sparse; the collection is not loaded),
then N rows (default 20,000) inserted through MilvusClient's row API, `client.insert(name, rows)`
with batches of 1,000 row dicts, then `flush`. The insert calls (wall time) and the flush are
timed separately.

Types and row values (seeded numpy RNG, generated inside the worker before any timing):
FLOAT_VECTOR 768-d, the reference (numpy float32 rows); FLOAT16_VECTOR 768-d (numpy float16);
BFLOAT16_VECTOR 768-d (bytes, the top half of each float32: numpy bfloat16 arrays need
ml_dtypes, which milvus-lite's venv may lack); INT8_VECTOR 768-d (numpy int8);
SPARSE_FLOAT_VECTOR (dicts of ~64 non-zeros, indices below 30,000, float values).

Every engine and type runs in its own bounded subprocess of this script (`--engine NAME --vtype
TYPE --workdir DIR`): elanus embedded (`elanus.MilvusClient(path)`), elanus served (`elanus
serve` on a free loopback port, pymilvus client) and, with `--with-lite`, milvus-lite 3.2.2 from
its own venv (default /tmp/mlite-venv). milvus-lite refuses some vector types: its message is
recorded ("refused: ...") and the run goes on. Results go to one table on stdout (values and
elanus/milvus-lite ratios) and to JSON (default /tmp/elanus-bench/vector_types.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
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
    ratio,
    render,
    run_engine,
    work_dir,
    worker_result,
    write_report,
)
from common import (
    run_served as serve_and_run,
)

DEFAULT_OUT = Path("/tmp/elanus-bench/vector_types.json")
ROWS = 20_000
BATCH = 1000
DIM = 768
SPARSE_NNZ, SPARSE_DIM = 64, 30_000
SEED = 20261124
COLLECTION = "vt"
DENSE_METRIC, SPARSE_METRIC = "COSINE", "IP"
WORKER_TIMEOUT_S = 600.0

TYPES = {  # --vtype key -> (pymilvus DataType name, dim or None)
    "float": ("FLOAT_VECTOR", DIM),
    "float16": ("FLOAT16_VECTOR", DIM),
    "bfloat16": ("BFLOAT16_VECTOR", DIM),
    "int8": ("INT8_VECTOR", DIM),
    "sparse": ("SPARSE_FLOAT_VECTOR", None),
}
ENGINES = ("embedded", "served", "lite")
NAMES = {"lite": "milvus-lite", "embedded": "elanus-emb", "served": "elanus-srv"}


# --------------------------------------------------------------------------------------------
# data and workload (worker)


def make_vectors(vtype: str, n: int) -> list[Any]:
    """n row values of `vtype`, in the form the rows carry them."""
    rng = np.random.default_rng(SEED)
    if vtype == "sparse":
        idx = rng.integers(0, SPARSE_DIM, (n, SPARSE_NNZ))  # repeats merge: ~64 non-zeros a row
        val = rng.random((n, SPARSE_NNZ), dtype=np.float32) + np.float32(0.01)
        return [dict(zip(i.tolist(), v.tolist())) for i, v in zip(idx, val)]
    if vtype == "int8":
        return list(rng.integers(-128, 128, (n, DIM), dtype=np.int8))
    base = rng.standard_normal((n, DIM), dtype=np.float32)
    if vtype == "float16":
        return list(base.astype(np.float16))
    if vtype == "bfloat16":  # bfloat16 is the high 16 bits of a float32 (truncated)
        return [row.tobytes() for row in (base.view(np.uint32) >> 16).astype(np.uint16)]
    return list(base)


def workload(client: Any, vtype: str, n: int, r: dict[str, Any]) -> None:
    """Create, index, insert (timed), flush (timed); a failure goes to r["error"] with its stage."""
    from pymilvus import DataType, MilvusClient

    vectors = make_vectors(vtype, n)
    batches = [[{"id": i, "v": vectors[i]} for i in range(s, min(s + BATCH, n))]
               for s in range(0, n, BATCH)]
    type_name, dim = TYPES[vtype]
    stage = "create_collection"
    try:
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        if dim is None:
            schema.add_field("v", DataType[type_name])
        else:
            schema.add_field("v", DataType[type_name], dim=dim)
        client.create_collection(COLLECTION, schema=schema)
        stage = "create_index"
        ip = client.prepare_index_params()
        if dim is None:
            ip.add_index(field_name="v", index_type="SPARSE_INVERTED_INDEX",
                         metric_type=SPARSE_METRIC)
        else:
            ip.add_index(field_name="v", index_type="AUTOINDEX", metric_type=DENSE_METRIC)
        client.create_index(COLLECTION, ip)
        stage = "insert"
        inserted = 0
        t0 = time.perf_counter()
        for rows in batches:
            inserted += int(client.insert(COLLECTION, rows)["insert_count"])
        r["insert_s"] = time.perf_counter() - t0
        r["inserted"] = inserted
        r["insert_rows_per_s"] = inserted / r["insert_s"]
        stage = "flush"
        t0 = time.perf_counter()
        client.flush(COLLECTION)
        r["flush_s"] = time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - keep the figures so far, say where it broke
        r["error"] = f"{stage}: {type(exc).__name__}: {exc}"
        r["error_stage"] = stage
        r["error_message"] = str(getattr(exc, "message", "") or exc)
        r["traceback"] = traceback.format_exc()


# --------------------------------------------------------------------------------------------
# engines (one subprocess each per type)


def run_local(engine: str, vtype: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """elanus embedded or milvus-lite: a client over a local path."""
    r: dict[str, Any] = {}
    MilvusClient, r["version"], release = local_client(engine)
    with tempfile.TemporaryDirectory(prefix=f"vtypes-{engine}-") as tmp:
        path = os.path.join(tmp, "bench.db")
        client = MilvusClient(path)
        try:
            workload(client, vtype, cfg["rows"], r)
        finally:
            client.close()
            release(path)
    if engine == "lite" and r.get("error_stage") in ("create_collection", "create_index",
                                                     "insert"):
        r["refused"] = r.pop("error_message")  # the type is not supported: a result, no error
        del r["error"]
    return r


def run_served(vtype: str, cfg: dict[str, Any]) -> dict[str, Any]:
    return serve_and_run(cfg["server_python"], "vtypes-srv-",
                             lambda client, r: workload(client, vtype, cfg["rows"], r))


def worker_main(args: argparse.Namespace) -> int:
    cfg = json.loads((Path(args.workdir) / "cfg.json").read_text())
    emit(worker_result(lambda: run_served(args.vtype, cfg) if args.engine == "served"
                       else run_local(args.engine, args.vtype, cfg)))
    return 0


# --------------------------------------------------------------------------------------------
# driver


def type_label(vtype: str) -> str:
    type_name, dim = TYPES[vtype]
    return f"{type_name} {dim}-d" if dim else f"{type_name} ~{SPARSE_NNZ} nnz"


def cell(r: dict[str, Any] | None, key: str, spec: str) -> str:
    """One engine's value; the insert row also says "refused: ..." (lite) or "ERROR"."""
    if r is None:
        return "-"
    if key == "insert_rows_per_s" and "refused" in r:
        return "refused: " + r["refused"].split(". ")[0].rstrip(".")  # its first sentence
    if key == "insert_rows_per_s" and key not in r and "error" in r:
        return "ERROR"
    return fmt(r.get(key), spec)


def render_table(results: dict[str, dict[str, dict[str, Any]]], rows: int) -> str:
    """results[vtype][engine] -> one table: elanus columns, elanus/lite ratios, lite last."""
    engines = [e for e in ENGINES if any(e in per for per in results.values())]
    elanus = [e for e in engines if e != "lite"]
    lite = ["lite"] if "lite" in engines else []
    ratio_cols = elanus if lite else []
    header = ["metric", *[NAMES[e] for e in elanus], *[f"{NAMES[e][7:]}/lite" for e in ratio_cols],
              *[NAMES[e] for e in lite]]
    lines = []
    for key, what, spec in (("insert_rows_per_s", "insert rows/s", "{:,.0f}"),
                            ("flush_s", "flush s", "{:.2f}")):
        for vtype, per in results.items():
            ratios = [ratio(per.get(e, {}).get(key), per.get("lite", {}).get(key))
                      for e in ratio_cols]
            lines.append([f"{what} {type_label(vtype)}", *[cell(per.get(e), key, spec)
                                                          for e in elanus],
                          *ratios, *[cell(per.get(e), key, spec) for e in lite]])
    note = (f"{rows:,} rows per type, batches of {BATCH:,} row dicts; ratios are elanus value / "
            "milvus-lite value (rows/s: > 1 means faster; flush s: > 1 means slower)")
    return "\n".join([render(header, lines), note])


def driver_main(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    with work_dir("elanus-vtypes-bench-") as work_root:
        cfg = {"rows": args.rows, "server_python": args.server_python}
        (work_root / "cfg.json").write_text(json.dumps(cfg))
        engines = chosen_engines(ENGINES, args.with_lite, args.engines)
        vtypes = [t for t in TYPES if not args.types or t in args.types.split(",")]
        lite_py = lite_python(engines, Path(args.lite_venv))
        results: dict[str, dict[str, dict[str, Any]]] = {}
        for vtype in vtypes:
            for engine in engines:
                results.setdefault(vtype, {})[engine] = run_engine(
                    Path(__file__).resolve(), engine, lite_py, work_root, ["--vtype", vtype],
                    args.worker_timeout, label=f"{engine}/{vtype}")
        table = render_table(results, args.rows)
        print()
        print(f"index before insert: AUTOINDEX {DENSE_METRIC} (dense), SPARSE_INVERTED_INDEX "
              f"{SPARSE_METRIC} (sparse); seed {SEED}")
        print(table)
        for vtype, per in results.items():
            for engine, r in per.items():
                if "refused" in r:
                    print(f"\n[{engine}/{vtype}] refused at {r['error_stage']}: {r['refused']}")
                if "error" in r:
                    print(f"\n[{engine}/{vtype}] ERROR {r['error']}")
                    if r.get("traceback"):
                        print(r["traceback"])
                if r.get("stop_problem"):
                    print(f"\n[{engine}/{vtype}] stop_problem: {r['stop_problem']}")
        params = {"dim": DIM, "batch": BATCH, "sparse_nnz": SPARSE_NNZ, "sparse_dim": SPARSE_DIM,
                  "seed": SEED, "dense_metric": DENSE_METRIC, "sparse_metric": SPARSE_METRIC}
        return write_report(args.out, {"config": cfg, "params": params}, results, table, t_start,
                            (r for per in results.values() for r in per.values()))


def main() -> int:
    p = driver_parser(__doc__, DEFAULT_OUT, WORKER_TIMEOUT_S)
    p.add_argument("--rows", type=int, default=ROWS, help=f"rows per type (default {ROWS:,})")
    p.add_argument("--engines", default="", help="comma list subset of embedded,served,lite")
    p.add_argument("--types", default="", help=f"comma list subset of {','.join(TYPES)}")
    p.add_argument("--vtype", help=argparse.SUPPRESS)
    args = p.parse_args()
    return worker_main(args) if args.engine else driver_main(args)


if __name__ == "__main__":
    sys.exit(main())
