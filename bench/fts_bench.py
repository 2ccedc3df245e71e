"""Full-text search benchmark: BM25 insert, search, text_match and relevance, elanus vs milvus-lite.

Run from the repository root with the project's venv:

    .venv/bin/python bench/fts_bench.py [--with-lite] [--smoke | --docs N | --scale] [--out FILE]

Corpus: the `text` column of shared/data/pydocs-minilm-384/meta.parquet (20,000 paragraphs of
Python docs). `--docs N` takes the first N paragraphs; past 20,000 (`--scale`: 500,000) each
document is the sentences of two paragraphs drawn at random, shuffled and joined by spaces
(seeded). Without that folder (or with `--synthetic`), documents are generated: words drawn from
a Zipf distribution (s = 1.07) over a generated vocabulary of 30,000 lowercase words, ~28 words
per document in sentences, the first word of each capitalised.

Queries, none of them a document: 3-6 consecutive words of held-out paragraphs (queries.parquet,
texts not in the corpus; generated documents of another seed without pydocs) and, with pydocs,
up to 40 natural-language questions about Python written here. text_match filters: pairs of
words whose document frequency lies between 0.1% and 5% of the corpus.

Workload per engine (the same schema: id INT64 primary, text VARCHAR enable_analyzer and
enable_match (`--no-match` drops it), sparse SPARSE_FLOAT_VECTOR filled by a BM25 function):
  insert    batches of 2,000 row dicts {id, text}, flush, SPARSE_INVERTED_INDEX metric BM25
            (bm25_k1 1.2, bm25_b 0.75) with create_index(sync=False) and describe_index polled
            until Finished, load: documents/s of the insert calls and of the whole (to loaded).
  search    one text query per call, top 10, one client, 5 warm-up calls: p50/p99 ms and QPS.
  match     per word pair, `query(filter="text_match(text, 'w1 w2')", output_fields=["count(*)"])`,
            the same with `limit=10` (ids), and a BM25 search (the i-th search query, the i-th
            pair's text_match as filter). An engine without text_match is "not available".
  relevance every search's top 10 (ids and scores) against BM25 computed here with numpy over
            the same tokens (the standard analyzer's, elanus.schema.analyzers; the driver checks
            that `[^\\W_]+` lowercased gives the same tokens on the corpus): score lists equal
            (rel 1e-4), id sets equal, every hit scored as the reference scores that document
            (ties at the 10th score make the id set ambiguous), tie-aware recall@10, largest
            relative score error; the filtered searches and text_match counts likewise.

Engines, each in its own bounded subprocess of this script (`--engine NAME --workdir DIR`):
elanus embedded (`elanus.MilvusClient(path)`), elanus served (`elanus serve` on a free loopback
port, pymilvus client) and, with `--with-lite`, milvus-lite 3.2.2 from its own venv (default
/tmp/mlite-venv). Results go to stdout (values, elanus/milvus-lite ratios, relevance) and to
JSON (default /tmp/elanus-bench/fts.json). `--smoke`: 3,000 documents, 40 queries, 10 pairs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
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
    timed_calls,
    wait_index,
    work_dir,
    worker_problems,
    worker_result,
    write_report,
)
from common import (
    run_served as serve_and_run,
)

DEFAULT_DATA = SHARED / "data" / "pydocs-minilm-384"
DEFAULT_OUT = Path("/tmp/elanus-bench/fts.json")

COLLECTION = "fts"
K = 10
K1, B = 1.2, 0.75
BATCH = 2000
MAX_TEXT = 8192  # VARCHAR max_length: two 1,000-character paragraphs fit with room
SEED = 20261127
PARAGRAPHS = 20_000
SCALE_DOCS = 500_000
QUERIES, MATCH_PAIRS = 500, 100
MATCH_DF = (0.001, 0.05)  # text_match words: document frequency between these shares
BUDGET_S, LITE_BUDGET_S = 120.0, 120.0  # per workload: no call started after this much
REL_TOL = 1e-4  # float32 scores against float64 ones
CALL_TIMEOUT_S = 600.0
INDEX_WAIT_S = 1800.0
WORKER_TIMEOUT_S = 3600.0
VOCAB, ZIPF_S, DOC_WORDS = 30_000, 1.07, 28  # generated text

ENGINES = ("embedded", "served", "lite")
SHORT = {"embedded": "emb", "served": "srv", "lite": "lite"}
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
REGEX_TOKEN = re.compile(r"[^\W_]+")
QUESTIONS = [
    "how do I sort a list of dictionaries by a key", "what does the yield statement do",
    "how to read a file line by line", "convert a string to an integer",
    "difference between a tuple and a list", "how to compute the mean of an array along an axis",
    "what is the default value of the learning rate", "how do I reshape a tensor",
    "raise an exception when the input is invalid", "how does garbage collection work in Python",
    "open a socket connection to a server", "parse command line arguments",
    "how to create a virtual environment", "format a date as a string", "what is a decorator",
    "how do I copy a dictionary", "matrix multiplication of two arrays",
    "random number generator with a seed", "how to save a model checkpoint",
    "tokenize text for a transformer model", "what is the shape of the output tensor",
    "how to fit a linear regression model", "split a dataset into train and test sets",
    "compute the eigenvalues of a matrix", "solve a system of linear equations",
    "how do I iterate over the keys of a dict", "what happens when a thread is blocked",
    "encode a string as UTF-8 bytes", "regular expression to match an email address",
    "how to handle missing values", "what is the return type of this function",
    "how are keyword arguments passed", "sort an array in descending order",
    "how does the cache decorator store results", "join paths in a platform independent way",
    "what is the difference between is and ==", "convolution layer with padding and stride",
    "how to normalize the rows of a matrix", "find the index of the maximum value",
    "how to serialize an object with pickle",
]


# --------------------------------------------------------------------------------------------
# corpus and queries (driver)


def generated_texts(n: int, seed: int) -> list[str]:
    """`n` documents of Zipf-distributed words over a fixed generated vocabulary."""
    vrng = np.random.default_rng(SEED)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < VOCAB:
        w = "".join(letters[vrng.integers(0, 26, int(vrng.integers(2, 10)))])
        if w not in seen:
            seen.add(w)
            words.append(w)
    vocab = np.array(words)
    p = 1.0 / np.arange(1, VOCAB + 1) ** ZIPF_S
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(math.log(DOC_WORDS), 0.5, n).astype(np.int64), 3, 300)
    drawn = vocab[rng.choice(VOCAB, size=int(lengths.sum()), p=p / p.sum())]
    out, at = [], 0
    for ln in lengths.tolist():
        doc = drawn[at: at + ln].tolist()
        at += ln
        sentences = [doc[i: i + 9] for i in range(0, ln, 9)]
        out.append(" ".join(" ".join([s[0].capitalize(), *s[1:]]) + "." for s in sentences))
    return out


def composed_texts(paragraphs: list[str], n: int, seed: int) -> list[str]:
    """`n` documents, each the shuffled sentences of two random paragraphs."""
    rng = np.random.default_rng(seed)
    sentences = [SENTENCE_END.split(p) for p in paragraphs]
    pairs = rng.integers(0, len(paragraphs), (n, 2)).tolist()
    out = []
    for a, b in pairs:
        s = sentences[a] + sentences[b]
        out.append(" ".join(s[i] for i in rng.permutation(len(s)).tolist()))
    return out


def corpus(args: argparse.Namespace) -> tuple[list[str], list[str], str]:
    """(documents, held-out texts for queries, description)."""
    data = Path(args.data)
    if not args.synthetic and (data / "meta.parquet").exists():
        import pyarrow.parquet as pq

        paragraphs = pq.read_table(data / "meta.parquet", columns=["text"]).column(
            "text").to_pylist()
        held = pq.read_table(data / "queries.parquet", columns=["text"]).column(
            "text").to_pylist()
        if args.docs <= len(paragraphs):
            return paragraphs[: args.docs], held, f"pydocs paragraphs ({data})"
        return (composed_texts(paragraphs, args.docs, SEED), held,
                f"pydocs: each document the shuffled sentences of 2 random paragraphs ({data})")
    return (generated_texts(args.docs, SEED + 1), generated_texts(1000, SEED + 2),
            f"generated: Zipf(s={ZIPF_S}) words over a {VOCAB:,}-word vocabulary")


def make_queries(held: list[str], n: int, questions: bool, tokens: Callable[[str], list[str]]
                 ) -> list[str]:
    """`n` query texts: 3-6 consecutive words of held-out texts, and questions when `questions`."""
    rng = np.random.default_rng(SEED + 3)
    asked = QUESTIONS[: min(len(QUESTIONS), n // 12)] if questions else []
    out: list[str] = []
    while len(out) < n - len(asked):
        words = held[int(rng.integers(0, len(held)))].split()
        length = int(rng.integers(3, 7))
        if len(words) < length:
            continue
        start = int(rng.integers(0, len(words) - length + 1))
        phrase = " ".join(words[start: start + length])
        if len(tokens(phrase)) >= 2:
            out.append(phrase)
    return out + asked


# --------------------------------------------------------------------------------------------
# reference BM25 (driver)


class Reference:
    """BM25 with Milvus's definition over tokenised documents, in numpy (float64).

    Documents are rows 0..n-1 (their ids); postings are sorted by (term, row).
    """

    def __init__(self, docs: Iterator[list[str]], n: int, k1: float = K1, b: float = B) -> None:
        self.vocab: dict[str, int] = {}
        ids = self.vocab.setdefault
        lengths = np.zeros(n, dtype=np.int64)
        parts = []
        for row, terms in enumerate(docs):
            lengths[row] = len(terms)
            parts.append(np.fromiter((ids(t, len(self.vocab)) for t in terms), np.int64,
                                     count=len(terms)))
        flat = np.concatenate(parts) if parts else np.empty(0, np.int64)
        rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
        key, tf = np.unique(flat * n + rows, return_counts=True)  # sorted by (term, row)
        self.post_row, self.post_tf = key % n, tf.astype(np.float64)
        post_term = key // n
        self.start = np.searchsorted(post_term, np.arange(len(self.vocab) + 1))
        self.n, self.tokens = n, int(lengths.sum())
        self.avgdl = max(self.tokens / n, 1.0) if n else 1.0
        self.norm = k1 * (1 - b + b * lengths / self.avgdl)
        self.k1 = k1

    def df(self, term: str) -> int:
        t = self.vocab.get(term)
        return 0 if t is None else int(self.start[t + 1] - self.start[t])

    def rows_with(self, terms: Sequence[str]) -> np.ndarray:
        """Rows holding any of `terms` (text_match), sorted."""
        found = [self.post_row[self.start[t]: self.start[t + 1]]
                 for t in (self.vocab.get(w) for w in terms) if t is not None]
        return np.unique(np.concatenate(found)) if found else np.empty(0, np.int64)

    def scores(self, terms: list[str]) -> np.ndarray:
        """Every row's score (0 where the row shares no term with the query)."""
        acc = np.zeros(self.n)
        for term, count in Counter(terms).items():
            t = self.vocab.get(term)
            if t is None:
                continue
            s, e = self.start[t], self.start[t + 1]
            df = e - s
            idf = math.log1p((self.n - df + 0.5) / (df + 0.5))
            rows, tf = self.post_row[s:e], self.post_tf[s:e]
            acc[rows] += count * idf * tf * (self.k1 + 1) / (tf + self.norm[rows])
        return acc


def top(scores: np.ndarray, k: int = K) -> list[tuple[int, float]]:
    """The k best rows with a positive score, best first, ties by row."""
    hit = np.flatnonzero(scores > 0)
    if len(hit) > k:  # keep every row tied with the k-th best, then order exactly
        kth = np.partition(scores[hit], len(hit) - k)[len(hit) - k]
        hit = hit[scores[hit] >= kth]
    order = np.lexsort((hit, -scores[hit]))[:k]
    return [(int(r), float(scores[r])) for r in hit[order]]


def close(a: float, b: float) -> bool:
    return abs(a - b) <= REL_TOL * max(abs(b), 1e-9)


def compare(hits: list[list[Any]], scores: np.ndarray) -> dict[str, Any]:
    """One engine's top 10 [(id, score)] against the reference's scores of every document."""
    want = top(scores)
    got_s = [float(s) for _, s in hits]
    ref_of = [float(scores[int(i)]) if 0 <= int(i) < len(scores) else 0.0 for i, _ in hits]
    errs = [abs(s - r) / r if r else math.inf for s, r in zip(got_s, ref_of)]
    lists = len(hits) == len(want) and all(close(s, w) for s, (_, w) in zip(got_s, want))
    cutoff = want[-1][1] * (1 - REL_TOL) if want else math.inf
    return {
        "score_lists_equal": lists,
        "id_sets_equal": {int(i) for i, _ in hits} == {i for i, _ in want},
        "hits_as_reference": lists and all(close(s, r) for s, r in zip(got_s, ref_of)),
        "recall": (sum(r >= cutoff for r in ref_of) / len(want)) if want else
                  float(not hits),
        "max_rel_err": max(errs, default=0.0),
        "outside": sum(r == 0 for r in ref_of),
        "negative": sum(s < 0 for s in got_s),
        "ratios": [s / r for s, r in zip(got_s, ref_of) if r],
        "abs_errs": [abs(abs(s) - r) / r for s, r in zip(got_s, ref_of) if r],
    }


def summarize(checks: list[dict[str, Any]]) -> dict[str, Any]:
    """Fractions and extremes over queries, for the table."""
    if not checks:
        return {"n": 0}
    n = len(checks)
    errs = [c["max_rel_err"] for c in checks]
    ratios = [x for c in checks for x in c["ratios"]]
    abs_errs = [x for c in checks for x in c["abs_errs"]]
    return {
        "n": n,
        "score_lists_equal": sum(c["score_lists_equal"] for c in checks) / n,
        "id_sets_equal": sum(c["id_sets_equal"] for c in checks) / n,
        "hits_as_reference": sum(c["hits_as_reference"] for c in checks) / n,
        "recall": statistics.fmean(c["recall"] for c in checks),
        "max_rel_err": max(errs),
        "median_rel_err": statistics.median(errs),
        "hits_outside_reference": sum(c["outside"] for c in checks),
        "negative_scores": sum(c["negative"] for c in checks),
        "score_ratio_median": statistics.median(ratios) if ratios else None,
        "score_ratio_min": min(ratios, default=None),
        "score_ratio_max": max(ratios, default=None),
        "abs_score_max_rel_err": max(abs_errs, default=None),
        "abs_score_median_rel_err": statistics.median(abs_errs) if abs_errs else None,
    }


# --------------------------------------------------------------------------------------------
# workload (worker)


def timed(call: Callable[[Any], Any], items: Sequence[Any], budget: float) -> dict[str, Any]:
    """`timed_calls`'s figures; "out" holds the results."""
    out, stats = timed_calls(call, items, budget)
    return {**stats, "out": out}


def create(client: Any, match: bool) -> bool:
    """The collection; whether text_match is enabled (False when the engine refuses it)."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    def schema(enable_match: bool) -> Any:
        s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("id", DataType.INT64, is_primary=True)
        s.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT, enable_analyzer=True,
                    **({"enable_match": True} if enable_match else {}))
        s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        s.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                input_field_names=["text"], output_field_names=["sparse"]))
        return s

    if match:
        try:
            client.create_collection(COLLECTION, schema=schema(True))
            return True
        except Exception as exc:  # noqa: BLE001 - recorded by the caller as "not available"
            print(f"  enable_match refused: {exc}", file=sys.stderr, flush=True)
    client.create_collection(COLLECTION, schema=schema(False))
    return False


def search_hits(client: Any, text: str, flt: str = "") -> list[list[Any]]:
    res = client.search(COLLECTION, data=[text], anns_field="sparse", limit=K, filter=flt,
                        output_fields=["id"], search_params={"metric_type": "BM25"},
                        timeout=CALL_TIMEOUT_S)
    return [[int(h["id"]), float(h["distance"])] for h in res[0]]


def match_filter(pair: Sequence[str]) -> str:
    return f"text_match(text, '{' '.join(pair)}')"


def match_workloads(client: Any, cfg: dict[str, Any], budget: float, r: dict[str, Any]) -> None:
    """count(*), limit-10 query and filtered search with text_match filters."""
    pairs, queries = cfg["match_pairs"], cfg["queries"]
    try:
        client.query(COLLECTION, filter=match_filter(pairs[0]), output_fields=["count(*)"],
                     timeout=CALL_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - not there yet is a result
        r["match_unavailable"] = f"{type(exc).__name__}: {getattr(exc, 'message', '') or exc}"
        return
    r["match_count"] = timed(lambda p: int(client.query(
        COLLECTION, filter=match_filter(p), output_fields=["count(*)"],
        timeout=CALL_TIMEOUT_S)[0]["count(*)"]), pairs, budget)
    r["match_query"] = timed(lambda p: len(client.query(
        COLLECTION, filter=match_filter(p), output_fields=["id"], limit=K,
        timeout=CALL_TIMEOUT_S)), pairs, budget)
    r["match_search"] = timed(lambda i: search_hits(client, queries[i], match_filter(pairs[i])),
                              list(range(len(pairs))), budget)


def workload(client: Any, cfg: dict[str, Any], workdir: Path, budget: float,
             r: dict[str, Any]) -> None:
    """Create, insert, flush, BM25 index, load, search, text_match; a failure goes to
    r["error"] with its stage, keeping the figures so far."""
    import pyarrow.parquet as pq

    stage = "read corpus"
    try:
        texts = pq.read_table(workdir / "corpus.parquet").column("text")
        n = len(texts)
        stage = "create_collection"
        match = create(client, cfg["match"])
        if cfg["match"] and not match:
            r["match_unavailable"] = "enable_match refused at create_collection"
        stage = "insert"
        r["insert_s"] = 0.0
        for s in range(0, n, BATCH):
            rows = [{"id": i, "text": t}
                    for i, t in enumerate(texts.slice(s, BATCH).to_pylist(), s)]
            t0 = time.perf_counter()
            client.insert(COLLECTION, rows, timeout=CALL_TIMEOUT_S)
            r["insert_s"] += time.perf_counter() - t0
        print(f"  inserted {n:,} in {r['insert_s']:.1f} s", file=sys.stderr, flush=True)
        stage = "flush"
        t0 = time.perf_counter()
        client.flush(COLLECTION, timeout=CALL_TIMEOUT_S)
        r["flush_s"] = time.perf_counter() - t0
        stage = "create_index"
        ip = client.prepare_index_params()
        ip.add_index(field_name="sparse", index_name="sparse", index_type="SPARSE_INVERTED_INDEX",
                     metric_type="BM25", params={"bm25_k1": K1, "bm25_b": B})
        t0 = time.perf_counter()
        client.create_index(COLLECTION, ip, timeout=CALL_TIMEOUT_S, sync=False)
        wait_index(client, COLLECTION, "sparse", INDEX_WAIT_S, CALL_TIMEOUT_S)
        r["index_s"] = time.perf_counter() - t0
        stage = "load"
        t0 = time.perf_counter()
        client.load_collection(COLLECTION, timeout=CALL_TIMEOUT_S)
        r["load_s"] = time.perf_counter() - t0
        r["total_s"] = r["insert_s"] + r["flush_s"] + r["index_s"] + r["load_s"]
        r["insert_docs_per_s"] = n / r["insert_s"]
        r["overall_docs_per_s"] = n / r["total_s"]
        print(f"  loaded after {r['total_s']:.1f} s", file=sys.stderr, flush=True)
        stage = "search"
        r["search"] = timed(lambda q: search_hits(client, q), cfg["queries"], budget)
        print(f"  search p50 {r['search']['p50_ms']:.2f} ms", file=sys.stderr, flush=True)
        if match:
            stage = "text_match"
            match_workloads(client, cfg, budget, r)
    except Exception as exc:  # noqa: BLE001 - keep the figures so far, say where it broke
        r["error"] = f"{stage}: {type(exc).__name__}: {getattr(exc, 'message', '') or exc}"
        r["traceback"] = traceback.format_exc()


def run_local(engine: str, cfg: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """elanus embedded or milvus-lite: a client over a local path."""
    r: dict[str, Any] = {}
    client_cls, r["version"], release = local_client(engine)
    budget = cfg["lite_budget_s"] if engine == "lite" else cfg["budget_s"]
    with tempfile.TemporaryDirectory(prefix=f"fts-{engine}-") as tmp:
        path = os.path.join(tmp, "bench.db")
        client = client_cls(path)
        try:
            workload(client, cfg, workdir, budget, r)
        finally:
            client.close()
            release(path)
    return r


def worker_main(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir)
    cfg = json.loads((workdir / "cfg.json").read_text())

    def run() -> dict[str, Any]:
        if args.engine == "served":
            return serve_and_run(cfg["server_python"], "fts-srv-", lambda client, res: workload(
                client, cfg, workdir, cfg["budget_s"], res))
        return run_local(args.engine, cfg, workdir)

    emit(worker_result(run))
    return 0


# --------------------------------------------------------------------------------------------
# checks and tables (driver)


def relevance(results: dict[str, dict[str, Any]], ref: Reference, cfg: dict[str, Any],
              query_terms: list[list[str]]) -> dict[str, dict[str, Any]]:
    """Per engine: searches and filtered searches against the reference, text_match counts."""
    out: dict[str, dict[str, Any]] = {}
    pairs = cfg["match_pairs"]
    want_counts = [len(ref.rows_with(p)) for p in pairs]
    for engine, r in results.items():
        e: dict[str, Any] = {}
        if "search" in r:
            e["search"] = summarize([compare(h, ref.scores(t)) for h, t in
                                     zip(r["search"]["out"], query_terms)])
        if "match_search" in r:
            checks = []
            for i, hits in enumerate(r["match_search"]["out"]):
                scores = np.zeros(ref.n)
                allowed = ref.rows_with(pairs[i])
                scores[allowed] = ref.scores(query_terms[i])[allowed]
                checks.append(compare(hits, scores))
            e["match_search"] = summarize(checks)
        if "match_count" in r:
            got = r["match_count"]["out"]
            bad = [i for i, c in enumerate(got) if c != want_counts[i]]
            e["match_count"] = {"n": len(got), "equal": (len(got) - len(bad)) / max(len(got), 1),
                                "mismatches": [[pairs[i], got[i], want_counts[i]]
                                               for i in bad[:10]]}
        out[engine] = e
    return out


SETUP_ROWS = [  # (label, result key, format)
    ("insert docs/s", "insert_docs_per_s", "{:,.0f}"), ("insert s", "insert_s", "{:.2f}"),
    ("flush s", "flush_s", "{:.2f}"), ("BM25 index build s", "index_s", "{:.2f}"),
    ("load s", "load_s", "{:.2f}"), ("insert..loaded docs/s", "overall_docs_per_s", "{:,.0f}"),
]
TIMED_ROWS = [("search", "BM25 search"), ("match_count", "text_match count(*)"),
              ("match_query", "text_match query limit 10"),
              ("match_search", "BM25 search + text_match")]


def step_rows(results: dict[str, dict[str, Any]], engines: list[str], lite: bool
              ) -> list[list[str]]:
    """Figure rows: values per engine, then elanus/milvus-lite ratios."""
    spec: list[tuple[str, str, str, str]] = [(label, key, "", f) for label, key, f in SETUP_ROWS]
    for key, name in TIMED_ROWS:
        spec += [(f"{name} p50 ms", key, "p50_ms", "{:.2f}"),
                 (f"{name} p99 ms", key, "p99_ms", "{:.2f}"),
                 (f"{name} QPS", key, "qps", "{:,.0f}")]
    elanus = [e for e in engines if e != "lite"]
    lines = []
    for label, key, field, f in spec:
        vals = {e: results[e].get(key, {}).get(field) if field else results[e].get(key)
                for e in engines}
        cells = ["not available" if vals[e] is None and key.startswith("match")
                 and "match_unavailable" in results[e] else fmt(vals[e], f) for e in engines]
        ratios = [ratio(vals[e], vals["lite"]) for e in elanus] if lite else []
        lines.append([label, *cells, *ratios])
    return lines


def relevance_rows(checks: dict[str, dict[str, Any]], engines: list[str]) -> list[list[str]]:
    lines = []
    for key, name in (("search", "search"), ("match_search", "search + text_match")):
        spec = [
            ("queries compared", "n", "{:d}"),
            ("score lists = reference", "score_lists_equal", "{:.3f}"),
            ("top-10 id sets = reference", "id_sets_equal", "{:.3f}"),
            ("every hit scored as reference", "hits_as_reference", "{:.3f}"),
            ("recall@10 (ties-aware)", "recall", "{:.3f}"),
            ("max rel score error", "max_rel_err", "{:.2e}"),
            ("median rel score error", "median_rel_err", "{:.2e}"),
            ("hits the reference scores 0", "hits_outside_reference", "{:d}"),
            ("negative scores", "negative_scores", "{:d}"),
            ("score / reference: median", "score_ratio_median", "{:.4f}"),
            ("score / reference: min", "score_ratio_min", "{:.4f}"),
            ("score / reference: max", "score_ratio_max", "{:.4f}"),
            ("|score| max rel error", "abs_score_max_rel_err", "{:.2e}"),
        ]
        for label, field, fspec in spec:
            lines.append([f"{name}: {label}",
                          *[fmt(checks.get(e, {}).get(key, {}).get(field), fspec)
                            for e in engines]])
    lines.append(["text_match counts = reference", *[
        fmt(checks.get(e, {}).get("match_count", {}).get("equal"), "{:.3f}") for e in engines]])
    return lines


def problems(results: dict[str, dict[str, Any]], checks: dict[str, dict[str, Any]]
             ) -> Iterator[str]:
    for engine, r in results.items():
        yield from worker_problems(engine, r)
        if r.get("match_unavailable"):
            yield f"[{engine}] text_match not available: {r['match_unavailable']}"
        mism = checks.get(engine, {}).get("match_count", {}).get("mismatches")
        if mism:
            yield f"[{engine}] text_match count mismatches (pair, got, want): {mism}"


def tokenizers(docs: list[str]) -> tuple[Callable[[str], list[str]], dict[str, Any]]:
    """The standard analyzer's terms, and how the regex `[^\\W_]+` lowercased compares on `docs`
    (and how long the analyzer takes over them: a floor of what an insert spends analysing)."""
    from elanus.schema.analyzers import analyzer

    terms = analyzer({"type": "standard"}).terms
    t0 = time.perf_counter()
    for d in docs:
        terms(d)
    analyze_s = time.perf_counter() - t0
    differ = sum(terms(d) != [w.lower() for w in REGEX_TOKEN.findall(d)] for d in docs)
    return terms, {"analyzer_s": analyze_s, "docs": len(docs), "regex_differs": differ}


def driver_main(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    if args.smoke:
        args.docs, args.queries, args.match_pairs = min(args.docs, 3000), 40, 10
        args.budget = args.lite_budget = 30.0
    if args.scale:
        args.docs = SCALE_DOCS
    engines = chosen_engines(ENGINES, args.with_lite, args.engines)
    if not engines:
        print("no engine to run (milvus-lite needs --with-lite)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    docs, held, source = corpus(args)
    terms, token_check = tokenizers(docs)
    ref = Reference((terms(d) for d in docs), len(docs))
    print(f"[data] {len(docs):,} documents, {ref.tokens:,} tokens, {len(ref.vocab):,} terms "
          f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)
    queries = make_queries(held, args.queries, source.startswith("pydocs"), terms)
    query_terms = [terms(q) for q in queries]
    lo, hi = (max(1, int(f * len(docs))) for f in MATCH_DF)
    mid = sorted(t for t in ref.vocab if lo <= ref.df(t) <= hi)
    rng = np.random.default_rng(SEED + 4)
    pairs = [sorted(rng.choice(mid, 2, replace=False).tolist()) for _ in range(args.match_pairs)
             ] if len(mid) >= 2 else []
    with work_dir("elanus-fts-bench-") as root:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"text": pa.array(docs, pa.large_string())}),
                       root / "corpus.parquet")
        cfg = {"docs": len(docs), "queries": queries, "match_pairs": pairs,
               "match": bool(pairs) and not args.no_match, "budget_s": args.budget,
               "lite_budget_s": args.lite_budget, "server_python": args.server_python}
        (root / "cfg.json").write_text(json.dumps(cfg))
        lite_py = lite_python(engines, Path(args.lite_venv))
        results = {e: run_engine(Path(__file__).resolve(), e, lite_py, root, [],
                                 args.worker_timeout) for e in engines}
    checks = relevance(results, ref, cfg, query_terms)
    lite = "lite" in results
    elanus = [e for e in engines if e != "lite"]
    header = ["workload", *[SHORT[e] for e in engines],
              *([f"{SHORT[e]}/lite" for e in elanus] if lite else [])]
    dl = ref.tokens / max(len(docs), 1)
    notes = (
        f"corpus: {source}; {len(docs):,} documents, {dl:.1f} tokens each on average, "
        f"{len(ref.vocab):,} distinct terms\n"
        f"queries: {len(queries)} ({sum(q in QUESTIONS for q in queries)} questions), top {K}, "
        f"one per call, one client; text_match: {len(pairs)} word pairs with df in "
        f"[{lo:,}, {hi:,}]; BM25 k1={K1} b={B}\n"
        f"reference tokens: elanus standard analyzer ({token_check['analyzer_s']:.2f} s over the "
        f"corpus in this process); `[^\\W_]+` lowercased differs on "
        f"{token_check['regex_differs']} of {token_check['docs']:,} documents\n")
    lines = [notes, render(header, step_rows(results, engines, lite))]
    if lite:
        lines.append("ratios: elanus value / milvus-lite value (docs/s and QPS: > 1 means elanus "
                     "is faster; s and ms: < 1 means elanus is faster)")
    lines += ["", f"relevance against numpy BM25 (float64; equal means rel {REL_TOL:g})",
              render(["check", *[SHORT[e] for e in engines]], relevance_rows(checks, engines))]
    table = "\n".join(lines)
    print()
    print(table)
    for line in problems(results, checks):
        print("\n" + line)
    setup = {"config": {k: v for k, v in cfg.items() if k != "server_python"},
             "source": source, "tokens": token_check, "relevance": checks, "engines": engines,
             "params": {"k": K, "bm25_k1": K1, "bm25_b": B, "batch": BATCH, "seed": SEED,
                        "rel_tol": REL_TOL, "match_df": MATCH_DF}}
    return write_report(args.out, setup, results, table, t_start, results.values())


def main() -> int:
    p = driver_parser(__doc__, DEFAULT_OUT, WORKER_TIMEOUT_S)
    p.add_argument("--data", default=str(DEFAULT_DATA),
                   help="pydocs-minilm-384 folder (generated text when missing)")
    p.add_argument("--synthetic", action="store_true", help="generated text even with pydocs")
    p.add_argument("--docs", type=int, default=PARAGRAPHS,
                   help=f"documents (default {PARAGRAPHS:,}; past 20,000 pydocs documents are "
                        "composed of two paragraphs' sentences)")
    p.add_argument("--scale", action="store_true", help=f"{SCALE_DOCS:,} documents")
    p.add_argument("--queries", type=int, default=QUERIES,
                   help=f"search queries (default {QUERIES})")
    p.add_argument("--match-pairs", type=int, default=MATCH_PAIRS,
                   help=f"text_match word pairs (default {MATCH_PAIRS})")
    p.add_argument("--no-match", action="store_true",
                   help="no enable_match on the text field and no text_match workload")
    p.add_argument("--budget", type=float, default=BUDGET_S,
                   help=f"s per workload, then no new call (default {BUDGET_S:.0f})")
    p.add_argument("--lite-budget", type=float, default=LITE_BUDGET_S,
                   help=f"the same for milvus-lite (default {LITE_BUDGET_S:.0f})")
    p.add_argument("--engines", default="", help="comma list subset of embedded,served,lite")
    p.add_argument("--smoke", action="store_true",
                   help="3,000 documents, 40 queries, 10 text_match pairs, 30 s budgets")
    args = p.parse_args()
    return worker_main(args) if args.engine else driver_main(args)


if __name__ == "__main__":
    sys.exit(main())
