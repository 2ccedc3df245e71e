"""Helpers shared by the benchmarks in this folder (imported as `common`; see each script).

Every engine of a benchmark runs in its own subprocess of the benchmark script (`--engine ...`)
and prints one line `BENCH_JSON {...}`; `run_worker` runs one, bounded, and parses that line.
milvus-lite lives in its own venv, made by `ensure_lite_venv` only when asked for; inside a
worker, `local_client` gives the client class of elanus embedded or milvus-lite. The elanus
server helpers start `python -m elanus serve`, connect pymilvus to it, and stop it with SIGTERM,
each with a deadline. A driver takes its shared options from `driver_parser`, runs in a
`work_dir` and ends with `write_report`, which writes the JSON document and gives the exit code.
Inside a worker, `measure` and `measure_threads` time one-query-per-call searches (recall@10,
QPS, latency), `first_results` waits for a reopened engine's first answer, and `rss_bytes`
reads a process's resident memory from /proc.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# ../shared beside the checkout (or the machine's copy); drivers generate data without it.
SHARED = REPO.parent / "shared" if (REPO.parent / "shared").is_dir() else Path("/work/shared")
INDEX_POLL_S = 0.05  # describe_index while an index builds (pymilvus's own wait polls at 0.5 s)
WARMUP = 5  # untimed searches before a measured series
LITE_VENV = Path("/tmp/mlite-venv")
LITE_PKGS = ["milvus-lite==3.2.2", "pymilvus", "numpy", "pyarrow"]
MARK = "BENCH_JSON "

SERVER_START_S = 60.0  # elanus serve -> pymilvus connects
SERVER_STOP_S = 30.0  # SIGTERM -> exit
PIP_TIMEOUT_S = 600.0


def default_server_python() -> str:
    venv_py = REPO / ".venv" / "bin" / "python"
    return str(venv_py) if venv_py.exists() else sys.executable


# --------------------------------------------------------------------------------------------
# driver


def point_options(p: argparse.ArgumentParser, queries: int, lite_queries: int, budget_s: float,
                  lite_budget_s: float) -> None:
    """--queries, --lite-queries, --budget and --lite-budget of a driver that measures points
    (one search setting each): queries per point, and seconds after which no new query starts,
    for elanus and faiss and for milvus-lite."""
    p.add_argument("--queries", type=int, default=queries,
                   help=f"queries per point (default {queries})")
    p.add_argument("--lite-queries", type=int, default=lite_queries,
                   help=f"queries per point, milvus-lite (default {lite_queries})")
    p.add_argument("--budget", type=float, default=budget_s,
                   help=f"s per point, then no new query (default {budget_s:.0f})")
    p.add_argument("--lite-budget", type=float, default=lite_budget_s,
                   help=f"the same for milvus-lite (default {lite_budget_s:.0f})")


def driver_parser(description: str | None, default_out: Path,
                  worker_timeout: float) -> argparse.ArgumentParser:
    """A parser with the options every driver takes: --with-lite, --lite-venv, --out,
    --worker-timeout and --server-python, and the hidden --engine and --workdir by which
    `run_worker` starts the driver as one engine's worker.

    `description` (the script's docstring) is shown as written; the script adds its own options
    after these.
    """
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--with-lite", action="store_true",
                   help="also run milvus-lite 3.2.2 (installs it into --lite-venv)")
    p.add_argument("--lite-venv", default=str(LITE_VENV))
    p.add_argument("--out", default=str(default_out),
                   help=f"JSON result file (default {default_out})")
    p.add_argument("--worker-timeout", type=float, default=worker_timeout,
                   help=f"s per engine subprocess (default {worker_timeout:.0f})")
    p.add_argument("--server-python", default=default_server_python())
    p.add_argument("--engine", help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    return p


@contextmanager
def work_dir(prefix: str) -> Iterator[Path]:
    """A new temporary directory for one run of a driver, removed with its contents on exit."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def write_report(out: str | Path, setup: Mapping[str, Any], results: Mapping[str, Any],
                 table: str, t_start: float, runs: Iterable[Mapping[str, Any]]) -> int:
    """Write a run's JSON document to `out` and say so; the exit code, 1 if a run has an "error".

    The document holds `setup`'s keys first (what was run: config or data, params), then machine
    (cpus, python), results, table and total_s (seconds since `t_start`, a perf_counter value).
    `runs` are the result dicts found in `results`, however these are nested.
    """
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {**setup, "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
           "results": results, "table": table, "total_s": time.perf_counter() - t_start}
    path.write_text(json.dumps(doc, indent=2))
    print(f"\nwrote {path} (total {doc['total_s']:.0f} s)")
    return 1 if any("error" in r for r in runs) else 0


# --------------------------------------------------------------------------------------------
# workers


def emit(result: dict[str, Any]) -> None:
    """A worker's one result line."""
    sys.stdout.write(MARK + json.dumps(result) + "\n")
    sys.stdout.flush()


def worker_result(run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A worker's result: what `run()` returns, or the failure with its traceback; with the
    wall time (s) either way."""
    t0 = time.perf_counter()
    try:
        r = run()
    except Exception as exc:  # noqa: BLE001 - the driver reports it
        r = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    r["wall_s"] = time.perf_counter() - t0
    return r


def worker_problems(engine: str, r: Mapping[str, Any]) -> Iterator[str]:
    """Lines below a driver's table for one engine's worker: its failure with the traceback,
    and a server that did not stop cleanly."""
    if "error" in r:
        yield f"[{engine}] ERROR {r['error']}"
        if r.get("traceback"):
            yield r["traceback"]
    if r.get("stop_problem"):
        yield f"[{engine}] stop_problem: {r['stop_problem']}"


def run_worker(script: Path, engine: str, python: str, workdir: Path, extra: Sequence[str],
               timeout: float, label: str = "") -> dict[str, Any]:
    """Run `script --engine ENGINE --workdir DIR ...` under `python`; its BENCH_JSON result."""
    label = label or engine
    cmd = [python, str(script), "--engine", engine, "--workdir", str(workdir), *extra]
    print(f"[{label}] running ({python})", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              cwd=str(workdir), check=False)
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr or ""
        tail = err.decode(errors="replace") if isinstance(err, bytes) else err
        out = exc.stdout or ""
        out = out.decode(errors="replace") if isinstance(out, bytes) else out
        print(f"[{label}] ERROR timed out after {timeout:.0f} s", file=sys.stderr, flush=True)
        return {"error": f"worker timed out after {timeout:.0f} s", "stderr_tail": tail[-2000:],
                "stdout_tail": out[-2000:]}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARK):
            r: dict[str, Any] = json.loads(line[len(MARK):])
            break
    else:
        r = {"error": f"worker exited {proc.returncode} without a result",
             "stdout_tail": proc.stdout[-2000:]}
    r["stderr_tail"] = proc.stderr[-2000:]
    status = "ERROR " + r["error"] if "error" in r else "ok"
    print(f"[{label}] {status} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)
    return r


def run_engine(script: Path, engine: str, lite_py: str, workdir: Path, extra: Sequence[str],
               timeout: float, label: str = "") -> dict[str, Any]:
    """One engine's worker (`run_worker`): milvus-lite under `lite_py`, the others under this
    python; milvus-lite without a venv is recorded as an error."""
    if engine == "lite" and not lite_py:
        return {"error": "no milvus-lite venv"}
    python = lite_py if engine == "lite" else sys.executable
    return run_worker(script, engine, python, workdir, extra, timeout, label)


def chosen_engines(known: Sequence[str], with_lite: bool, subset: str) -> list[str]:
    """The engines a driver runs: `known`, without milvus-lite unless `with_lite`, narrowed to
    the comma list `subset` when one is given."""
    engines = [e for e in known if e != "lite" or with_lite]
    return [e for e in engines if e in subset.split(",")] if subset else engines


def lite_python(engines: Sequence[str], venv: Path) -> str:
    """The python of milvus-lite's venv when `engines` include it ("" when they do not, or the
    venv cannot be made; the run then records milvus-lite as an error)."""
    if "lite" not in engines:
        return ""
    try:
        return ensure_lite_venv(venv)
    except Exception as exc:  # noqa: BLE001
        print(f"[lite] venv failed: {exc}", file=sys.stderr)
        return ""


def ensure_lite_venv(venv: Path) -> str:
    """The python of a venv holding milvus-lite 3.2.2 (created and filled on first use)."""
    py = venv / "bin" / "python"
    probe = [str(py), "-c", "import milvus_lite, pymilvus, numpy, pyarrow"]
    if py.exists() and subprocess.run(probe, capture_output=True, timeout=120,
                                      check=False).returncode == 0:
        return str(py)
    if not py.exists():
        base_py = shutil.which("python3") or sys.executable
        print(f"[lite] creating venv {venv}", file=sys.stderr)
        subprocess.run([base_py, "-m", "venv", str(venv)], check=True, timeout=300)
    print(f"[lite] pip install {' '.join(LITE_PKGS)}", file=sys.stderr)
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", *LITE_PKGS], check=True,
                   timeout=PIP_TIMEOUT_S)
    subprocess.run(probe, check=True, timeout=120)
    return str(py)


def local_client(engine: str) -> tuple[Any, str, Callable[[str], None]]:
    """(MilvusClient class, version text, release(path)) of "embedded" (elanus) or "lite".

    Closing milvus-lite's client keeps its server process for that path running: `release`
    stops it. Closing the last elanus client closes the engine, so there `release` does nothing.
    """
    if engine == "embedded":
        import elanus
        from elanus import MilvusClient

        def release_nothing(path: str) -> None:
            return None

        return MilvusClient, f"elanus {elanus.__version__}", release_nothing
    from importlib.metadata import version

    from milvus_lite.server_manager import server_manager_instance
    from pymilvus import MilvusClient as LiteClient

    return (LiteClient, f"milvus-lite {version('milvus-lite')}, pymilvus {version('pymilvus')}",
            server_manager_instance.release_server)


# --------------------------------------------------------------------------------------------
# measuring (worker)


def timed_calls(call: Callable[[Any], Any], items: Sequence[Any], budget: float,
                warmup: int = WARMUP) -> tuple[list[Any], dict[str, Any]]:
    """`call(item)` one item at a time after `warmup` untimed calls on the first items; no call
    starts once `budget` s are spent (the warm-up has a budget of its own; at least one call
    is timed). The results, and n, QPS and p50/p99 ms of the timed calls."""
    import numpy as np

    t_warm = time.perf_counter()
    for item in items[:warmup]:
        call(item)
        if time.perf_counter() - t_warm >= budget:
            break
    out: list[Any] = []
    lat: list[float] = []
    t_begin = time.perf_counter()
    for item in items:
        t0 = time.perf_counter()
        out.append(call(item))
        lat.append(time.perf_counter() - t0)
        if time.perf_counter() - t_begin >= budget:
            break
    elapsed = time.perf_counter() - t_begin
    return out, {"n": len(out), "qps": len(out) / elapsed,
                 "p50_ms": statistics.median(lat) * 1e3,
                 "p99_ms": float(np.percentile(lat, 99)) * 1e3}


def create_plain_collection(client: Any, name: str, dim: int) -> None:
    """(Re)create `name`: id INT64 primary (explicit ids), `vector` FLOAT_VECTOR(dim), `num`
    INT64."""
    from pymilvus import DataType, MilvusClient

    if client.has_collection(name):
        client.drop_collection(name)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("num", DataType.INT64)
    client.create_collection(name, schema=schema)


def searcher(client: Any, collection: str, metric: str, params: dict[str, Any], flt: str = "",
             limit: int = 10, timeout: float = 600.0) -> Callable[[list[float]], list[int]]:
    """One top-`limit` pymilvus search of `collection`'s `vector` field per call: the ids."""
    sp = {"metric_type": metric, "params": params}

    def one(q: list[float]) -> list[int]:
        res = client.search(collection, data=[q], limit=limit, anns_field="vector",
                            search_params=sp, filter=flt, timeout=timeout)
        return [int(h["id"]) for h in res[0]]

    return one


def measure(search_one: Callable[[Any], list[int]], queries: list[Any], truth: Any,
            budget: float, warmup: int = WARMUP) -> dict[str, Any]:
    """recall@10, QPS and p50/p99 ms of one query per call (`timed_calls`). `truth` holds each
    query's exact top-k row ids."""
    found, stats = timed_calls(search_one, queries, budget, warmup)
    n = len(found)
    hits = sum(len(set(f) & set(t.tolist())) for f, t in zip(found, truth[:n]))
    return {"n": n, "recall": hits / float(truth[:n].size), "qps": stats["qps"],
            "p50_ms": stats["p50_ms"], "p99_ms": stats["p99_ms"]}


def measure_threads(searchers: Sequence[Callable[[Any], list[int]]], queries: list[Any],
                    truth: Any, budget: float) -> dict[str, Any]:
    """QPS and recall@10 with one thread per searcher (each typically its own client), the
    queries dealt round-robin, all released together after one untimed call each; no thread
    starts a query once `budget` s are spent. The first failure is raised."""
    threads = len(searchers)
    found: list[list[int] | None] = [None] * len(queries)
    errors: list[BaseException] = []
    ready = threading.Barrier(threads + 1)
    start = [time.perf_counter() + 3600.0]  # set when the barrier opens
    done = [0.0] * threads

    def work(t: int) -> None:
        try:
            searchers[t](queries[t % len(queries)])
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's thread
            errors.append(exc)
        ready.wait(timeout=600)
        for i in range(t, len(queries), threads):
            if errors or time.perf_counter() - start[0] >= budget:
                break
            try:
                found[i] = searchers[t](queries[i])
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                break
        done[t] = time.perf_counter()

    pool = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(threads)]
    for th in pool:
        th.start()
    ready.wait(timeout=600)
    start[0] = time.perf_counter()
    for th in pool:
        th.join(timeout=budget + 600)
    if errors:
        raise errors[0]
    if any(th.is_alive() for th in pool):
        raise TimeoutError(f"search threads still running {budget + 600:.0f} s after start")
    rows = [(f, truth[i]) for i, f in enumerate(found) if f is not None]
    hits = sum(len(set(f) & set(t.tolist())) for f, t in rows)
    elapsed = max(done) - start[0]
    return {"n": len(rows), "threads": threads, "qps": len(rows) / elapsed,
            "recall": hits / float(sum(t.size for _, t in rows) or 1)}


def first_results(search: Callable[[], Any], load: Callable[[], None], t0: float,
                  timeout: float) -> tuple[Any, float, bool]:
    """Call `search` until it returns a non-empty first hit list (bounded by `timeout` after
    `t0`, a perf_counter value): (results, seconds since t0, whether `load` had to be called,
    once, because the search said the collection is not loaded)."""
    last: Exception | None = None
    loaded = False
    while time.perf_counter() - t0 < timeout:
        try:
            res = search()
            if res and len(res[0]):
                return res, time.perf_counter() - t0, loaded
        except Exception as exc:  # noqa: BLE001 - not ready yet (or not loaded)
            last = exc
            if "load" in str(exc).lower() and not loaded:
                load()
                loaded = True
                continue
        time.sleep(0.02)
    raise TimeoutError(f"no search result {timeout:.0f} s after restart: {last}")


def rss_bytes(pid: int, descendants: bool = True) -> int:
    """Resident memory (VmRSS in /proc/PID/status) of a process, with its descendants' unless
    told otherwise; 0 for a process that is gone."""
    pids = [pid]
    if descendants:
        parent: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        parent[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
        frontier = [pid]
        for _ in range(8):  # a few levels of descendants are plenty
            frontier = [c for c, p in parent.items() if p in frontier]
            pids += frontier
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


# --------------------------------------------------------------------------------------------
# elanus server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(server_python: str, data: Path, port: int, log_path: Path,
                 extra: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    """`python -m elanus serve` on 127.0.0.1:port over `data`, logging to `log_path`."""
    cmd = [server_python, "-m", "elanus", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--data", str(data), *extra]
    with open(log_path, "ab") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=str(log_path.parent))


def connect(proc: subprocess.Popen[bytes], port: int, timeout: float = SERVER_START_S) -> Any:
    """A pymilvus MilvusClient of the server, once it answers (bounded by `timeout`)."""
    from pymilvus import MilvusClient

    t0 = time.perf_counter()
    last: Exception | None = None
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:  # a cheap probe first: a refused MilvusClient() can block for its whole timeout
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError as exc:
            last = exc
            time.sleep(0.02)
            continue
        try:
            client = MilvusClient(uri=f"http://127.0.0.1:{port}", timeout=2)
            client.list_collections()
            return client
        except Exception as exc:  # noqa: BLE001 - not up yet
            last = exc
            time.sleep(0.05)
    raise TimeoutError(f"server not reachable after {timeout:.0f} s: {last}")


def stop_server(proc: subprocess.Popen[bytes], timeout: float = SERVER_STOP_S) -> str:
    """SIGTERM and wait; kill after `timeout`. Returns a problem description or ''."""
    if proc.poll() is not None:
        return ""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
        return ""
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        return f"no exit {timeout:.0f} s after SIGTERM: killed"


# --------------------------------------------------------------------------------------------
# table


def run_served(server_python: str, prefix: str,
               workload: Callable[[Any, dict[str, Any]], None]) -> dict[str, Any]:
    """Run `workload(client, result)` against a fresh `elanus serve` in a temporary directory;
    the result dict also records a failure, the server's exit code and its log tail."""
    import pymilvus

    r: dict[str, Any] = {"version": f"elanus server, pymilvus {pymilvus.__version__} client"}
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        port, log_path = free_port(), Path(tmp) / "server.log"
        proc = start_server(server_python, Path(tmp) / "data", port, log_path)
        try:
            client = connect(proc, port)
            try:
                workload(client, r)
            finally:
                client.close()
        except Exception as exc:  # noqa: BLE001
            r["error"] = f"server: {type(exc).__name__}: {exc}"
            r["traceback"] = traceback.format_exc()
        finally:
            problem = stop_server(proc)
            if problem:
                r["stop_problem"] = problem
            r["server_exit_code"] = proc.returncode
            r["server_log_tail"] = log_path.read_text(errors="replace")[-3000:]
    return r


def wait_index(client: Any, collection: str, index_name: str, wait_s: float,
               call_timeout_s: float) -> dict[str, Any]:
    """describe_index polled until the build is Finished with no rows pending (at most
    `wait_s`); its last answer."""
    deadline = time.perf_counter() + wait_s
    while True:
        desc = client.describe_index(collection, index_name, timeout=call_timeout_s) or {}
        state = str(desc.get("state", "Finished"))
        if state.endswith("Failed"):
            raise RuntimeError(f"index {index_name} build failed: "
                               f"{desc.get('fail_reason') or desc}")
        if state.endswith("Finished") and not desc.get("pending_index_rows"):
            return dict(desc)
        if time.perf_counter() > deadline:
            raise TimeoutError(f"index {index_name} not Finished after {wait_s:.0f} s: {desc}")
        time.sleep(INDEX_POLL_S)


def fmt(value: Any, spec: str) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return spec.format(value) if isinstance(value, (int, float)) else "-"


def ratio(a: Any, b: Any) -> str:
    if isinstance(a, bool) or isinstance(b, bool):
        return "-"
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b:
        return f"{a / b:.2f}x"
    return "-"


def render(header: list[str], lines: list[list[str]]) -> str:
    """Left-aligned first column, right-aligned others."""
    widths = [max(len(str(r[i])) for r in [header, *lines]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(str(c).ljust(widths[0]) if i == 0 else str(c).rjust(widths[i])
                         for i, c in enumerate(r))

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, lines)])
