"""Scale run: one large synthetic collection ingested, indexed, searched and reopened through
`elanus serve` (default 10,000,000 x 128 L2, the 24 GB / 2-core target).

Run from the repository root with the project's venv:

    .venv/bin/python bench/scale.py [--rows 10000000] [--hnsw] [--out FILE] [--log FILE]

Data: the synthetic set of `--rows` rows from shared/data/tools/gen_synth.py (datasets.py's own
generator without it), cached under /tmp/elanus-bench-data like the suite's, with its exact
top-10 for `--queries` queries and the exact top-10 over the rows passing `num < 100`
(numpy, in chunks over the memory-mapped rows), cached beside it (`scale-ROWS-DIM-METRIC-NQ`).

Phases, each a bounded subprocess of this script (`--worker-timeout`, `--hnsw-timeout`) driving
a server on one fresh data directory under /tmp through pymilvus's MilvusClient:

  ivf    create (id INT64 primary, explicit; vector FLOAT_VECTOR; num INT64), insert in batches
         of `--batch` (2,000) row dicts read in slices from base.npy (rows/s of the insert calls
         and of the whole loop), flush, IVF_FLAT (nlist: the power of two nearest sqrt(rows),
         4096 at 10M) from create_index until describe_index says Finished, load, top 10 at
         nprobe 16 and 64 and with `num < 100` (recall@10, QPS, p50/p99, one client),
         count(*) (all rows and `num < 100`), get of 100 ids; then SIGTERM, restart on the same
         data directory, time to the first search result
  hnsw   (`--hnsw`, after a successful ivf phase) restart, release, drop the IVF index, HNSW
         M=16 efConstruction=200 built and loaded the same way, ef 64 and 128 and `num < 100`
         at ef 64, then the same reopen

Server memory (VmRSS with descendants, RssAnon, RssFile, VmHWM from /proc) is read at every
stage and sampled each second for the peak; the data directory's size at every stage.
Progress lines (also the sampled memory and the index build progress each minute) go to
`--log` (default bench/results/scale.log), the server's own log to scale-server.log beside it,
the table to stdout and JSON to bench/results/scale.json (`--out`). A phase that fails or runs
out of time keeps what it measured, its step, the server's state and log tail and, when py-spy
is available (`--py-spy`), a dump of the server's threads; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py
from common import (
    REPO,
    SERVER_START_S,
    connect,
    create_plain_collection,
    driver_parser,
    emit,
    first_results,
    fmt,
    free_port,
    measure,
    render,
    rss_bytes,
    run_worker,
    searcher,
    start_server,
    stop_server,
    timed_calls,
    wait_index,
    work_dir,
    worker_problems,
    worker_result,
    write_report,
)
from datasets import SYNTH_ROOT, K, exact_topk, read_rows, read_set, synthetic

DEFAULT_OUT = REPO / "bench" / "results" / "scale.json"
DEFAULT_LOG = REPO / "bench" / "results" / "scale.log"
ROWS, DIM, METRIC = 10_000_000, 128, "L2"
COLLECTION = "scale"
BATCH = 2000
HNSW_M, EF_CONSTRUCTION = 16, 200  # as indexes.py (not imported: it does not type-check)
NPROBES = (16, 64)
EFS = (64, 128)
FILTER_BOUND = 100
FILTER = f"num < {FILTER_BOUND}"
GET_IDS = 100
REPS = 20  # calls per count / get workload
QUERIES = 1000
BUDGET_S = 60.0  # per search point: no query started after this much
CALL_TIMEOUT_S = 600.0
INDEX_WAIT_S = 5400.0
REOPEN_S = 1800.0
STOP_S = 300.0  # SIGTERM -> exit
WORKER_TIMEOUT_S = 3 * 3600.0
HNSW_TIMEOUT_S = 3 * 3600.0
SAMPLE_S = 1.0  # server memory sampling (VmRSS)
PSS_EVERY = 30  # samples (reading Pss walks every mapping: 0.3 s at 27 GB mapped)
REPORT_S = 60.0  # a progress line with memory (and index build progress) this often
INSERT_REPORT_ROWS = 500_000
MB = 2**20


def nlist_for(rows: int) -> int:
    """indexes.nlist_for: the power of two nearest sqrt(rows), 4096 at 10,000,000."""
    indexes: Any = importlib.import_module("indexes")  # not followed by mypy (see HNSW_M)
    return int(indexes.nlist_for(rows))


# --------------------------------------------------------------------------------------------
# data (driver)


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """The data set and its ground truths (computed once, cached); its description."""
    folder = synthetic(args.rows, args.dim, args.metric)
    s = read_set(folder, args.metric)
    rows, nq = len(s["base"]), min(args.queries, len(s["queries"]))
    cache = SYNTH_ROOT / f"scale-{rows}-{args.dim}-{s['metric']}-{nq}"
    desc = {"source": str(folder), "base": s["base_path"], "rows": rows, "dim": args.dim,
            "metric": s["metric"], "queries": nq, "cache": str(cache),
            "generator": json.loads((folder / "dataset.json").read_text()).get("generator")}
    info = cache / "scale.json"
    if info.exists():
        return {**json.loads(info.read_text()), **desc}
    print(f"[data] ground truths into {cache}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    cache.mkdir(parents=True, exist_ok=True)
    queries = s["queries"][:nq].astype(np.float32)
    num = s["num"]
    mask = num < FILTER_BOUND
    np.save(cache / "queries.npy", queries)
    np.save(cache / "num.npy", num)
    np.save(cache / "gt.npy", s["gt"][:nq, :K].astype(np.int64))
    np.save(cache / "gt_filter.npy", exact_topk(queries, s["base"], s["metric"],
                                                np.flatnonzero(mask)))
    extra = {"filter_count": int(mask.sum()), "truth_s": time.perf_counter() - t0}
    info.write_text(json.dumps({**desc, **extra}))
    return {**desc, **extra}


# --------------------------------------------------------------------------------------------
# the server and its memory (worker)


def log(cfg: dict[str, Any], text: str) -> None:
    """A progress line on stderr and in the run's log."""
    line = f"{time.strftime('%H:%M:%S')} {text}"
    print(line, file=sys.stderr, flush=True)
    with open(cfg["log"], "a") as f:
        f.write(line + "\n")


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS, RssAnon, RssFile and VmHWM (MB) of one process from /proc/PID/status, and its
    Pss (MB, from smaps_rollup): resident memory with each shared page divided among the
    mappings sharing it. VmRSS counts a file's page once per mapping of it, so a file mapped
    several times can make VmRSS exceed the machine's memory; Pss counts it once."""
    out: dict[str, float] = {}
    for name, keys in (("status", ("VmRSS", "RssAnon", "RssFile", "VmHWM")),
                       ("smaps_rollup", ("Pss",))):
        try:
            with open(f"/proc/{pid}/{name}") as f:
                for line in f:
                    key = line.split(":", 1)[0]
                    if key in keys:
                        out[key] = int(line.split()[1]) / 1024
        except OSError:
            continue
    return out


def disk_mb(path: Path) -> float:
    """Bytes allocated under `path` (MB)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue
    return total / MB


def code_version() -> dict[str, Any]:
    """The checkout's commit and its changed files under elanus/ (what a server starting now
    imports: others may be editing elanus while a long run goes on)."""
    def git(*argv: str) -> str:
        try:
            return subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True,
                                  timeout=30, check=False).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "changed": git("status", "--porcelain", "--", "elanus").splitlines()}


def py_spy_dump(pid: int, tool: str) -> str:
    """py-spy's dump of a live process's Python threads ('' without the tool)."""
    if not tool or not shutil.which(tool):
        return ""
    try:
        proc = subprocess.run([tool, "dump", "--pid", str(pid)], capture_output=True, text=True,
                              timeout=120, check=False)
        return (proc.stdout + proc.stderr)[-12000:]
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"py-spy failed: {exc}"


class Server:
    """`elanus serve` over the run's data directory, restartable, with its memory sampled each
    second (the peak) and reported each minute, with `progress()` when one is set."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.data = Path(cfg["data"])
        self.proc: subprocess.Popen[bytes] | None = None
        self.client: Any = None
        self.peak = 0  # VmRSS bytes with descendants, sampled, over every start
        self.peak_pss = 0.0  # MB, sampled every PSS_EVERY samples
        self.progress: Callable[[], str] | None = None
        self.starts: list[dict[str, Any]] = []  # when each start happened, on which code
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    def start(self, timeout: float) -> Any:
        self.starts.append({"at": time.strftime("%H:%M:%S"), **code_version()})
        log(self.cfg, f"[server] starting on {json.dumps(self.starts[-1])}")
        port = free_port()
        self.proc = start_server(self.cfg["server_python"], self.data, port,
                                 Path(self.cfg["server_log"]))
        Path(self.cfg["pid_file"]).write_text(str(self.proc.pid))
        self._stop.clear()
        self._sampler = threading.Thread(target=self._sample, args=(self.proc,), daemon=True)
        self._sampler.start()
        self.client = connect(self.proc, port, timeout=timeout)
        return self.client

    def stop(self) -> str:
        """Close the client, SIGTERM the server (killed after STOP_S); a problem or ''."""
        if self.client is not None:
            self.client.close()
            self.client = None
        problem = stop_server(self.proc, STOP_S) if self.proc is not None else ""
        self._stop.set()
        if self._sampler is not None:
            self._sampler.join(timeout=10)
        Path(self.cfg["pid_file"]).unlink(missing_ok=True)
        return problem

    def _sample(self, proc: subprocess.Popen[bytes]) -> None:
        last, n = time.perf_counter(), 0
        while not self._stop.wait(SAMPLE_S):
            if proc.poll() is not None:
                log(self.cfg, f"[server] exited with code {proc.returncode}")
                return
            self.peak = max(self.peak, rss_bytes(proc.pid))
            n += 1
            if n % PSS_EVERY == 0:
                self.peak_pss = max(self.peak_pss, proc_status(proc.pid).get("Pss", 0.0))
            if time.perf_counter() - last >= REPORT_S:
                last = time.perf_counter()
                st = proc_status(proc.pid)
                text = (f"[server] rss {st.get('VmRSS', 0):,.0f} MB (anon "
                        f"{st.get('RssAnon', 0):,.0f}, file {st.get('RssFile', 0):,.0f}), "
                        f"pss {st.get('Pss', 0):,.0f} MB, peak {st.get('VmHWM', 0):,.0f} MB")
                progress = self.progress
                if progress is not None:
                    try:
                        text += f"; {progress()}"
                    except Exception as exc:  # noqa: BLE001 - a progress line only
                        text += f"; progress unavailable: {exc}"
                log(self.cfg, text)

    def state(self) -> dict[str, Any]:
        """Whether the server lives, its exit code or memory now."""
        if self.proc is None:
            return {"started": False}
        code = self.proc.poll()
        if code is not None:
            return {"alive": False, "exit_code": code}
        return {"alive": True, "rss_total_mb": rss_bytes(self.proc.pid) / MB,
                **proc_status(self.proc.pid)}

    def stage(self, r: dict[str, Any], name: str) -> None:
        """Memory and data directory size at a named stage, into r["stages"] and the log."""
        pid = self.proc.pid if self.proc is not None else 0
        st = proc_status(pid)
        rec = {"rss_mb": rss_bytes(pid) / MB, "anon_mb": st.get("RssAnon"),
               "file_mb": st.get("RssFile"), "pss_mb": st.get("Pss"), "hwm_mb": st.get("VmHWM"),
               "disk_mb": disk_mb(self.data), "loadavg": os.getloadavg()[0]}
        r["stages"][name] = rec
        log(self.cfg, f"[{name}] server rss {rec['rss_mb']:,.0f} MB (anon "
                      f"{fmt(rec['anon_mb'], '{:,.0f}')}, file {fmt(rec['file_mb'], '{:,.0f}')}),"
                      f" pss {fmt(rec['pss_mb'], '{:,.0f}')} MB, peak "
                      f"{fmt(rec['hwm_mb'], '{:,.0f}')} MB, data {rec['disk_mb']:,.0f} MB")


# --------------------------------------------------------------------------------------------
# workloads (worker)


def begin(cfg: dict[str, Any], r: dict[str, Any], step: str) -> None:
    """Start a step: logged, and what was measured so far saved for the driver (a worker killed
    at its timeout prints no result)."""
    r["step"] = step
    log(cfg, f"{step} ...")
    Path(cfg["partial"]).write_text(json.dumps(r))


def ingest(srv: Server, cfg: dict[str, Any], m: dict[str, Any]) -> None:
    """Every row in batches of row dicts read from base.npy slice by slice; only the insert
    calls timed (insert_s), the loop as well (ingest_s)."""
    num = np.load(Path(cfg["cache"]) / "num.npy", mmap_mode="r")
    rows, batch = cfg["rows"], cfg["batch"]
    spent, t_begin, report = 0.0, time.perf_counter(), INSERT_REPORT_ROWS
    for s in range(0, rows, batch):
        e = min(s + batch, rows)
        vecs = read_rows(cfg["base"], s, e).tolist()
        dicts = [{"id": i, "vector": v, "num": n}
                 for i, v, n in zip(range(s, e), vecs, num[s:e].tolist())]
        t0 = time.perf_counter()
        srv.client.insert(COLLECTION, dicts, timeout=CALL_TIMEOUT_S)
        spent += time.perf_counter() - t0
        m["inserted"] = e
        if e >= report or e == rows:
            report += INSERT_REPORT_ROWS
            wall = time.perf_counter() - t_begin
            log(cfg, f"inserted {e:,} rows in {wall:,.0f} s: {e / spent:,.0f} rows/s in insert "
                     f"calls, {e / wall:,.0f} rows/s overall; server rss "
                     f"{rss_bytes(srv.proc.pid if srv.proc else 0) / MB:,.0f} MB")
    m["insert_s"], m["ingest_s"] = spent, time.perf_counter() - t_begin
    m["insert_rows_s"], m["ingest_rows_s"] = rows / spent, rows / m["ingest_s"]


def build_progress(client: Any) -> Callable[[], str]:
    def progress() -> str:
        d = client.describe_index(COLLECTION, "vector", timeout=30) or {}
        return (f"index {d.get('state')}: {d.get('indexed_rows', 0):,} of "
                f"{d.get('total_rows', 0):,} rows, {d.get('pending_index_rows', 0):,} pending")
    return progress


def build_and_load(srv: Server, cfg: dict[str, Any], r: dict[str, Any], key: str,
                   index_type: str, params: dict[str, Any]) -> None:
    """create_index until describe_index says Finished, then load; each timed, with memory."""
    m, client = r["m"], srv.client
    begin(cfg, r, f"{key} build")
    ip = client.prepare_index_params()
    ip.add_index(field_name="vector", index_name="vector", index_type=index_type,
                 metric_type=cfg["metric"], params=params)
    srv.progress = build_progress(client)
    try:
        t0 = time.perf_counter()
        client.create_index(COLLECTION, ip, timeout=CALL_TIMEOUT_S, sync=False)
        wait_index(client, COLLECTION, "vector", cfg["index_wait_s"], CALL_TIMEOUT_S)
        m[f"{key}_build_s"] = time.perf_counter() - t0
    finally:
        srv.progress = None
    log(cfg, f"{key} built in {m[f'{key}_build_s']:,.1f} s")
    srv.stage(r, f"{key} built")
    begin(cfg, r, f"{key} load")
    t0 = time.perf_counter()
    client.load_collection(COLLECTION, timeout=cfg["index_wait_s"])
    m[f"{key}_load_s"] = time.perf_counter() - t0
    log(cfg, f"{key} loaded in {m[f'{key}_load_s']:,.1f} s")
    srv.stage(r, f"{key} loaded")


def search_point(srv: Server, cfg: dict[str, Any], r: dict[str, Any], key: str,
                 params: dict[str, Any], truth: np.ndarray, qs: list[list[float]],
                 flt: str = "", budget: float = 0.0) -> None:
    begin(cfg, r, key)
    res = measure(searcher(srv.client, COLLECTION, cfg["metric"], params, flt), qs, truth,
                  budget or cfg["budget_s"])
    r["m"][key] = res
    log(cfg, f"{key}: recall@10 {res['recall']:.4f}, {res['qps']:,.1f} QPS, p50 "
             f"{res['p50_ms']:.1f} ms, p99 {res['p99_ms']:.1f} ms ({res['n']} queries)")


def scalar_calls(srv: Server, cfg: dict[str, Any], r: dict[str, Any]) -> None:
    """count(*) of every row and of `num < 100`, get of GET_IDS ids: p50 ms, results checked."""
    client, m, checks = srv.client, r["m"], r["checks"]
    num = np.load(Path(cfg["cache"]) / "num.npy", mmap_mode="r")
    ids = cfg["get_ids"]
    want = {i: int(num[i]) for i in ids}
    for key, call, check in (
        ("count", lambda _: client.query(COLLECTION, filter="", output_fields=["count(*)"],
                                         timeout=CALL_TIMEOUT_S),
         lambda res: int(res[0]["count(*)"]) == cfg["rows"]),
        ("count_filter", lambda _: client.query(COLLECTION, filter=FILTER,
                                                output_fields=["count(*)"],
                                                timeout=CALL_TIMEOUT_S),
         lambda res: int(res[0]["count(*)"]) == cfg["filter_count"]),
        ("get", lambda _: client.get(COLLECTION, ids=ids, output_fields=["num"],
                                     timeout=CALL_TIMEOUT_S),
         lambda res: {int(x["id"]): int(x["num"]) for x in res} == want),
    ):
        begin(cfg, r, key)
        out, stats = timed_calls(call, range(REPS), cfg["budget_s"], warmup=1)
        m[f"{key}_ms"], checks[key] = stats["p50_ms"], bool(check(out[-1]))
        log(cfg, f"{key}: p50 {stats['p50_ms']:,.1f} ms ({stats['n']} calls), result "
                 f"{'ok' if checks[key] else 'WRONG'}")


def reopen(srv: Server, cfg: dict[str, Any], r: dict[str, Any], key: str,
           params: dict[str, Any], qs: list[list[float]], truth: np.ndarray) -> None:
    """SIGTERM, restart on the same data directory, time to the first search result; then a
    short check that recall is what it was."""
    m = r["m"]
    begin(cfg, r, f"{key} stop")
    t0 = time.perf_counter()
    problem = srv.stop()
    m[f"{key}_stop_s"] = time.perf_counter() - t0
    if problem:
        r["stop_problem"] = problem
    begin(cfg, r, f"{key} reopen")
    t0 = time.perf_counter()
    client = srv.start(REOPEN_S)
    m[f"{key}_connect_s"] = time.perf_counter() - t0
    probe = searcher(client, COLLECTION, cfg["metric"], params)
    _, m[f"{key}_reopen_s"], m[f"{key}_reopen_needed_load"] = first_results(
        lambda: [probe(qs[0])], lambda: client.load_collection(COLLECTION, timeout=REOPEN_S),
        t0, REOPEN_S)
    log(cfg, f"{key}: stop {m[f'{key}_stop_s']:.1f} s, reopen to first result "
             f"{m[f'{key}_reopen_s']:.2f} s (serving after {m[f'{key}_connect_s']:.2f} s)")
    srv.stage(r, f"{key} reopened")
    search_point(srv, cfg, r, f"{key} after reopen", params, truth, qs,
                 budget=min(10.0, cfg["budget_s"]))


def phase_ivf(srv: Server, cfg: dict[str, Any], r: dict[str, Any], a: dict[str, Any]) -> None:
    m = r["m"]
    begin(cfg, r, "start")
    srv.start(SERVER_START_S)
    srv.stage(r, "empty")
    begin(cfg, r, "insert")
    create_plain_collection(srv.client, COLLECTION, cfg["dim"])
    ingest(srv, cfg, m)
    srv.stage(r, "inserted")
    begin(cfg, r, "flush")
    t0 = time.perf_counter()
    srv.client.flush(COLLECTION, timeout=CALL_TIMEOUT_S)
    m["flush_s"] = time.perf_counter() - t0
    log(cfg, f"flushed in {m['flush_s']:.1f} s")
    srv.stage(r, "flushed")
    build_and_load(srv, cfg, r, "ivf", "IVF_FLAT", {"nlist": cfg["nlist"]})
    for p in NPROBES:
        search_point(srv, cfg, r, f"ivf nprobe={p}", {"nprobe": p}, a["gt"], a["qs"])
    for p in NPROBES:
        search_point(srv, cfg, r, f"ivf nprobe={p} {FILTER}", {"nprobe": p}, a["gt_filter"],
                     a["qs"], FILTER)
    scalar_calls(srv, cfg, r)
    srv.stage(r, "ivf searched")
    reopen(srv, cfg, r, "ivf", {"nprobe": NPROBES[0]}, a["qs"], a["gt"])


def phase_hnsw(srv: Server, cfg: dict[str, Any], r: dict[str, Any], a: dict[str, Any]) -> None:
    m = r["m"]
    begin(cfg, r, "start")
    t0 = time.perf_counter()
    srv.start(REOPEN_S)
    m["start_s"] = time.perf_counter() - t0
    srv.stage(r, "restarted")
    begin(cfg, r, "release and drop IVF_FLAT")
    srv.client.release_collection(COLLECTION, timeout=CALL_TIMEOUT_S)
    srv.client.drop_index(COLLECTION, "vector", timeout=CALL_TIMEOUT_S)
    srv.stage(r, "released")
    build_and_load(srv, cfg, r, "hnsw", "HNSW", {"M": HNSW_M, "efConstruction": EF_CONSTRUCTION})
    for ef in EFS:
        search_point(srv, cfg, r, f"hnsw ef={ef}", {"ef": ef}, a["gt"], a["qs"])
    search_point(srv, cfg, r, f"hnsw ef={EFS[0]} {FILTER}", {"ef": EFS[0]}, a["gt_filter"],
                 a["qs"], FILTER)
    srv.stage(r, "hnsw searched")
    reopen(srv, cfg, r, "hnsw", {"ef": EFS[0]}, a["qs"], a["gt"])


def run_phase(phase: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """One phase against the server; what it measured, and where and how it failed if it did."""
    r: dict[str, Any] = {"m": {}, "stages": {}, "checks": {}, "step": "",
                         "loadavg_start": os.getloadavg()[0]}
    cache = Path(cfg["cache"])
    a = {"qs": np.load(cache / "queries.npy").tolist(), "gt": np.load(cache / "gt.npy"),
         "gt_filter": np.load(cache / "gt_filter.npy")}
    srv = Server(cfg)
    log(cfg, f"=== phase {phase}")
    try:
        (phase_ivf if phase == "ivf" else phase_hnsw)(srv, cfg, r, a)
        r["step"] = "done"
    except Exception as exc:  # noqa: BLE001 - the failure is a result
        r["error"] = f"{r['step']}: {type(exc).__name__}: {getattr(exc, 'message', '') or exc}"
        r["traceback"] = traceback.format_exc()
        r["server_at_failure"] = srv.state()
        log(cfg, f"FAILED at {r['error']}; server {json.dumps(r['server_at_failure'])}")
        if r["server_at_failure"].get("alive") and srv.proc is not None:
            r["py_spy"] = py_spy_dump(srv.proc.pid, cfg["py_spy"])
    finally:
        try:
            problem = srv.stop()
            if problem:
                r["stop_problem"] = problem
        except Exception as exc:  # noqa: BLE001
            r["stop_problem"] = f"{type(exc).__name__}: {exc}"
        if srv.proc is not None:
            r["server_exit_code"] = srv.proc.returncode
        r["peak_sampled_mb"], r["peak_pss_mb"] = srv.peak / MB, srv.peak_pss or None
        r["server_starts"] = srv.starts
        r["loadavg_end"] = os.getloadavg()[0]
        log_path = Path(cfg["server_log"])
        if log_path.exists():
            r["server_log_tail"] = log_path.read_text(errors="replace")[-4000:]
    bad = [k for k, ok in r["checks"].items() if not ok]
    if bad and "error" not in r:
        r["error"] = f"wrong results: {', '.join(bad)}"
    log(cfg, f"=== phase {phase} {'ERROR ' + r['error'] if 'error' in r else 'done'}")
    return r


def worker_main(args: argparse.Namespace) -> int:
    cfg = json.loads((Path(args.workdir) / "cfg.json").read_text())
    emit(worker_result(lambda: run_phase(args.engine, cfg)))
    return 0


# --------------------------------------------------------------------------------------------
# driver


def reap_server(cfg: dict[str, Any]) -> dict[str, Any]:
    """A server a phase's worker left running (killed at its timeout): its memory, py-spy dump
    and log tail, then SIGTERM (SIGKILL after STOP_S); {} when there is none."""
    pid_file = Path(cfg["pid_file"])
    if not pid_file.exists():
        return {}
    pid = int(pid_file.read_text())
    pid_file.unlink()
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return {}
    if "elanus" not in cmdline or cfg["data"] not in cmdline:
        return {}
    found: dict[str, Any] = {"pid": pid, "rss_total_mb": rss_bytes(pid) / MB,
                             **proc_status(pid), "py_spy": py_spy_dump(pid, cfg["py_spy"])}
    os.kill(pid, signal.SIGTERM)
    deadline = time.perf_counter() + STOP_S
    while Path(f"/proc/{pid}").exists() and time.perf_counter() < deadline:
        time.sleep(0.5)
    if Path(f"/proc/{pid}").exists():
        os.kill(pid, signal.SIGKILL)
        found["killed"] = True
    shown = {k: v for k, v in found.items() if k != "py_spy"}
    log(cfg, f"[driver] a server was left running: {json.dumps(shown)}")
    return found


def mb(value: Any) -> str:
    return fmt(value, "{:,.0f}")


def table(cfg: dict[str, Any], results: dict[str, dict[str, Any]]) -> str:
    """One column of figures, a row per measure."""
    lines: list[list[str]] = []

    def add(label: str, value: str) -> None:
        lines.append([label, value])

    ivf, hnsw = results.get("ivf", {}), results.get("hnsw", {})
    m = ivf.get("m", {})
    add(f"insert rows/s ({cfg['batch']:,} row dicts a call; insert calls only)",
        fmt(m.get("insert_rows_s"), "{:,.0f}"))
    add("insert: time in insert calls s / whole loop s",
        f"{fmt(m.get('insert_s'), '{:,.0f}')} / {fmt(m.get('ingest_s'), '{:,.0f}')}")
    add("insert rows/s, whole loop (reading rows, building dicts)",
        fmt(m.get("ingest_rows_s"), "{:,.0f}"))
    add("flush s", fmt(m.get("flush_s"), "{:.1f}"))
    for phase, r, key, title, points in (
            ("ivf", ivf, "ivf", f"IVF_FLAT nlist={cfg['nlist']}",
             [f"ivf nprobe={p}" for p in NPROBES] + [f"ivf nprobe={p} {FILTER}" for p in NPROBES]
             + ["ivf after reopen"]),
            ("hnsw", hnsw, "hnsw", f"HNSW M={HNSW_M} efConstruction={EF_CONSTRUCTION}",
             [f"hnsw ef={e}" for e in EFS] + [f"hnsw ef={EFS[0]} {FILTER}", "hnsw after reopen"])):
        pm = r.get("m", {})
        if not r:
            add(f"{title}", "not run")
            continue
        add(f"{title} build s (create_index until Finished)", fmt(pm.get(f"{key}_build_s"),
                                                                  "{:,.1f}"))
        add(f"{title} load s", fmt(pm.get(f"{key}_load_s"), "{:,.1f}"))
        for pt in points:
            res = pm.get(pt)
            if isinstance(res, dict):
                add(f"{pt}: recall@10 / QPS / p50 ms / p99 ms (queries)",
                    f"{res['recall']:.4f} / {res['qps']:,.1f} / {res['p50_ms']:,.1f} / "
                    f"{res['p99_ms']:,.1f} ({res['n']})")
        if phase == "ivf":
            checks = r.get("checks", {})
            for k, lbl in (("count", "count(*) p50 ms"),
                           ("count_filter", f"count(*) {FILTER} p50 ms"),
                           ("get", f"get {GET_IDS} ids p50 ms")):
                ok = "-" if k not in checks else "ok" if checks[k] else "WRONG"
                add(f"{lbl} (result)", f"{fmt(pm.get(k + '_ms'), '{:,.1f}')} ({ok})")
        add(f"{phase}: SIGTERM to exit s / restart to first search result s",
            f"{fmt(pm.get(f'{key}_stop_s'), '{:.1f}')} / {fmt(pm.get(f'{key}_reopen_s'), '{:.2f}')}"
            + (" (load needed)" if pm.get(f"{key}_reopen_needed_load") else ""))
    for phase, r in (("ivf", ivf), ("hnsw", hnsw)):
        for stage, s in r.get("stages", {}).items():
            add(f"server MB: VmRSS (anon / file), Pss, VmHWM; data dir MB: {stage}",
                f"{mb(s['rss_mb'])} ({mb(s['anon_mb'])} / {mb(s['file_mb'])}), "
                f"{mb(s.get('pss_mb'))}, {mb(s['hwm_mb'])}; {mb(s['disk_mb'])}")
        if r:
            add(f"{phase}: server peak MB: VmRSS sampled each second / Pss each "
                f"{PSS_EVERY * SAMPLE_S:.0f} s",
                f"{mb(r.get('peak_sampled_mb'))} / {mb(r.get('peak_pss_mb'))}")
            add(f"{phase}: phase wall s", fmt(r.get("wall_s"), "{:,.0f}"))
            for st in r.get("server_starts", []):
                changed = f" + {len(st['changed'])} changed files" if st["changed"] else ""
                add(f"{phase}: server started at {st['at']} on commit", st["commit"] + changed)
    return render(["measure", "served"], lines)


def driver_main(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    log_path = Path(args.log)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text("")
    server_log = log_path.with_name(log_path.stem + "-server.log")
    server_log.write_text("")
    base_cfg = {"log": str(log_path)}
    log(base_cfg, f"[driver] scale run: {args.rows:,} x {args.dim} {args.metric}")
    t0 = time.perf_counter()
    desc = prepare(args)
    log(base_cfg, f"[driver] data ready in {time.perf_counter() - t0:,.0f} s: "
                  f"{json.dumps(desc)}")
    rng = np.random.default_rng(7)
    results: dict[str, dict[str, Any]] = {}
    code = 0
    with work_dir("elanus-scale-") as root:
        cfg = {**desc, "log": str(log_path), "server_log": str(server_log),
               "server_python": args.server_python, "data": str(root / "data"),
               "pid_file": str(root / "server.pid"), "partial": str(root / "partial.json"),
               "batch": args.batch,
               "nlist": args.nlist or nlist_for(desc["rows"]), "budget_s": args.budget,
               "index_wait_s": args.index_wait, "py_spy": args.py_spy,
               "get_ids": sorted(rng.choice(desc["rows"], GET_IDS, replace=False).tolist())}
        (root / "cfg.json").write_text(json.dumps(cfg))
        for phase, timeout in (("ivf", args.worker_timeout), ("hnsw", args.hnsw_timeout)):
            if phase == "hnsw" and not args.hnsw:
                break
            if phase == "hnsw" and "error" in results["ivf"]:
                log(cfg, "[driver] hnsw skipped: the ivf phase failed")
                break
            r = run_worker(Path(__file__).resolve(), phase, sys.executable, root, [], timeout,
                           f"scale {phase}")
            partial = Path(cfg["partial"])
            if "m" not in r and partial.exists():  # killed at its timeout: what it measured
                r = {**json.loads(partial.read_text()), **r}
            partial.unlink(missing_ok=True)
            left = reap_server(cfg)
            if left:
                r["left_running"] = left
            results[phase] = r
            for line in worker_problems(phase, r):
                log(cfg, line)
            code = report(args, cfg, results, t_start)  # rewritten after each phase
        print("\n" + table(cfg, results), flush=True)
    log(base_cfg, f"[driver] done in {time.perf_counter() - t_start:,.0f} s (exit {code})")
    return code


def report(args: argparse.Namespace, cfg: dict[str, Any], results: dict[str, Any],
           t_start: float) -> int:
    """The JSON document so far; the exit code."""
    with open("/proc/meminfo") as f:
        mem_total = int(f.readline().split()[1]) * 1024
    setup = {"config": {k: v for k, v in cfg.items() if k != "get_ids"},
             "memory_total_mb": mem_total / MB, "hnsw": args.hnsw}
    return write_report(args.out, setup, results, table(cfg, results), t_start,
                        list(results.values()))


def main() -> int:
    p = driver_parser(__doc__, DEFAULT_OUT, WORKER_TIMEOUT_S)
    p.add_argument("--rows", type=int, default=ROWS, help=f"rows (default {ROWS:,})")
    p.add_argument("--dim", type=int, default=DIM, help=f"dimension (default {DIM})")
    p.add_argument("--metric", default=METRIC, choices=["L2", "COSINE"],
                   help=f"metric (default {METRIC})")
    p.add_argument("--batch", type=int, default=BATCH,
                   help=f"row dicts per insert call (default {BATCH:,})")
    p.add_argument("--nlist", type=int, default=0,
                   help="IVF_FLAT nlist (default: the power of two nearest sqrt(rows))")
    p.add_argument("--queries", type=int, default=QUERIES,
                   help=f"queries per search point, at most the set's (default {QUERIES})")
    p.add_argument("--budget", type=float, default=BUDGET_S,
                   help=f"s per point, then no new query (default {BUDGET_S:.0f})")
    p.add_argument("--hnsw", action="store_true",
                   help="also the hnsw phase (about 30-60 minutes at 10M on 2 cores)")
    p.add_argument("--hnsw-timeout", type=float, default=HNSW_TIMEOUT_S,
                   help=f"s for the hnsw phase's subprocess (default {HNSW_TIMEOUT_S:.0f})")
    p.add_argument("--index-wait", type=float, default=INDEX_WAIT_S,
                   help=f"s an index build or load may take (default {INDEX_WAIT_S:.0f})")
    p.add_argument("--log", default=str(DEFAULT_LOG),
                   help=f"progress log (default {DEFAULT_LOG}; the server's beside it)")
    p.add_argument("--py-spy", default=shutil.which("py-spy") or "",
                   help="py-spy executable to dump a stuck server's threads")
    args = p.parse_args()
    return worker_main(args) if args.engine else driver_main(args)


if __name__ == "__main__":
    sys.exit(main())
