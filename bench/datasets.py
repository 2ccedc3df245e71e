"""Vector data sets of the benchmarks: the real pydocs set, cached synthetic sets, exact top-k.

`read_set` reads a folder in shared/data's layout (base.npy, queries.npy, gt.npy, and `num` from
num.npy or meta.parquet); `synthetic` gives the folder of an N x dim set under
/tmp/elanus-bench-data, generated on first use by shared/data/tools/gen_synth.py (or, without it,
by `generate`, a seeded generator of the same kind). `exact_topk` is the ground truth of a query
set, over all rows or a subset; `read_rows` reads rows of a .npy file without mapping it, so a
reader's resident memory holds only what it keeps. Imported as `datasets` by the drivers here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from common import SHARED

DEFAULT_DATA = SHARED / "data" / "pydocs-minilm-384"
GEN_SYNTH = SHARED / "data" / "tools" / "gen_synth.py"
SYNTH_ROOT = Path("/tmp/elanus-bench-data")
SEED = 20261126
K = 10  # top-k of every benchmark's searches and ground truth


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
    # written in slices to a memory-mapped file: 10,000,000 x 128 is 5.1 GB, held once on disk
    base = np.lib.format.open_memmap(out / "base.npy", mode="w+", dtype=np.float32,
                                     shape=(n, dim))
    for s in range(0, n, 100_000):
        base[s: s + 100_000] = draw(min(100_000, n - s))
    base.flush()
    queries = draw(nq)
    np.save(out / "queries.npy", queries)
    np.save(out / "gt.npy", exact_topk(queries, base, metric, k=100))
    np.save(out / "num.npy", rng.integers(0, 1000, n))
    (out / "dataset.json").write_text(json.dumps({"n_base": n, "dim": dim, "metric": metric,
                                                  "generator": "datasets.generate"}))


def synthetic(n: int, dim: int, metric: str) -> Path:
    """The folder of an n x dim synthetic set, generated on first use (gen_synth.py if present)."""
    out = SYNTH_ROOT / f"synth-{n}-{dim}-{metric}"
    info = out / "dataset.json"
    if info.exists():
        return out
    print(f"[data] generating {out}", file=sys.stderr, flush=True)
    if GEN_SYNTH.exists():
        try:
            subprocess.run([sys.executable, str(GEN_SYNTH), "--out", str(out), "--n", str(n),
                            "--dim", str(dim), "--metric", metric], check=True, timeout=1800,
                           stdout=sys.stderr)
        except subprocess.CalledProcessError:
            if not all((out / f).exists() for f in ("base.npy", "queries.npy", "gt.npy")):
                raise
            complete_num(out, n, dim, metric)
    else:
        generate(out, n, dim, metric)
    return out


def complete_num(out: Path, n: int, dim: int, metric: str) -> None:
    """Finish a folder gen_synth.py wrote the vectors and ground truth of, then failed in its
    metadata step (at 10,000,000 rows its tags column comes out of pyarrow chunked): `num` (0..999,
    seeded) as num.npy, which read_set prefers to meta.parquet, and dataset.json saying so."""
    print(f"[data] {GEN_SYNTH.name} failed after the ground truth: num.npy instead of "
          f"meta.parquet", file=sys.stderr, flush=True)
    np.save(out / "num.npy", np.random.default_rng(SEED).integers(0, 1000, n))
    (out / "dataset.json").write_text(json.dumps({
        "n_base": n, "dim": dim, "metric": metric,
        "generator": "gen_synth.py (vectors, gt), datasets.complete_num (num)"}))


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



def read_rows(path: str | Path, start: int, stop: int) -> np.ndarray:
    """Rows [start, stop) of a 2-d .npy file, read (not memory-mapped) into a new array."""
    with open(path, "rb") as f:
        fmt = np.lib.format
        read_header = (fmt.read_array_header_1_0 if fmt.read_magic(f) == (1, 0)
                       else fmt.read_array_header_2_0)
        shape, fortran, dtype = read_header(f)
        if fortran or len(shape) != 2:
            raise ValueError(f"{path}: expected a C-ordered 2-d array, got {shape}")
        stop = min(stop, shape[0])
        f.seek(f.tell() + start * shape[1] * dtype.itemsize)
        count = max(0, stop - start) * shape[1]
        return np.fromfile(f, dtype=dtype, count=count).reshape(-1, shape[1])
