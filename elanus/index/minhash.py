"""MINHASH_LSH and the MHJACCARD metric over MinHash signatures held in binary vectors.

A signature is a BINARY_VECTOR row of `dim` bits: dim / mh_element_bit_width unsigned
little-endian elements (8 bits each unless the index says otherwise, knowhere's default).
MHJACCARD between two signatures is the share of positions holding equal elements, the MinHash
estimate of the Jaccard similarity of the sets behind them: a similarity in [0, 1], larger is
closer (Milvus counts MHJACCARD among its positively related metrics). A row sharing no element
with the query is never a hit, as in Milvus, so a search may return fewer than k hits.

MINHASH_LSH cuts each signature into mh_lsh_band bands of equal length and keeps, per band, the
64-bit hash of every row's band bytes, sorted, with the row offsets beside it. A query's
candidates are the rows (among `allowed`) whose hash equals the query's in at least one band;
they are ranked by MHJACCARD on the segment's own rows. Too few candidates means fewer than k
hits: an LSH search never falls back to a scan, as in Milvus.

Milvus keeps the first k (or refine_k) candidates it meets in band order and, unless
mh_search_with_jaccard is set, scores each with a hit flag of 1.0. elanus scores and ranks every
candidate instead: the segment always holds the raw signatures, so the k best candidates and
their real scores cost one comparison each, and segments then merge by a meaningful score.
mh_search_with_jaccard still requires with_raw_data=true at build time, as Milvus requires.

On disk: an npz archive (no pickles) of the build parameters and the per-band sorted hashes and
rows; the signatures stay in the segment. A built index is read-only; any thread may search it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from elanus.errors import InvalidArgument
from elanus.index.selection import Allowed, Selection, as_selection
from elanus.index.vector import BuildCancelled, Offsets, Scores, _empty, _pad, over_survivors

Bits = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]
MHJACCARD = "MHJACCARD"
MINHASH_METRICS = (MHJACCARD,)
MINHASH_KIND = "MINHASH_LSH"
DEFAULT_ELEMENT_BITS = 8  # knowhere's default mh_element_bit_width
DEFAULT_BANDS = 1  # knowhere's default mh_lsh_band: a candidate must match the whole signature
_INT_MAX = 2**31 - 1
_PAIR_BUDGET = 4 << 20  # (query, row) entries or scores held at once
_BYTE_BUDGET = 32 << 20  # bytes of gathered signatures held at once
_UINT: dict[int, np.dtype[Any]] = {1: np.dtype(np.uint8), 2: np.dtype("<u2"),
                                   4: np.dtype("<u4"), 8: np.dtype("<u8")}
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


@dataclass(frozen=True)
class MinHashParams:
    """Validated MINHASH_LSH build parameters for one field."""

    element_bits: int
    bands: int
    with_raw_data: bool


def _type_conflict(name: str, raw: Any, kind: str) -> InvalidArgument:
    return InvalidArgument(f"Type conflict in json: param '{name}' (\"{raw}\") should be {kind}")


def _int(params: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise _type_conflict(name, raw, "integer")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise _type_conflict(name, raw, "integer") from None
    if not low <= value <= high:
        raise InvalidArgument(f"Out of range in json: param '{name}' ({value}) should be in "
                              f"range [{low}, {high}]")
    return value


def _bool(params: dict[str, Any], name: str, default: bool) -> bool:
    raw = params.get(name)
    if raw is None:
        return default
    text = str(raw).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise _type_conflict(name, raw, "a boolean")


def _float(params: dict[str, Any], name: str, low: float, high: float) -> None:
    raw = params.get(name)
    if raw is None:
        return
    if isinstance(raw, bool):
        raise _type_conflict(name, raw, "a number")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise _type_conflict(name, raw, "a number") from None
    if not low <= value <= high:
        raise InvalidArgument(f"Out of range in json: param '{name}' ({value}) should be in "
                              f"range [{low:f}, {high:f}]")


def minhash_params(dim: int, params: dict[str, Any]) -> MinHashParams:
    """The build parameters of a MINHASH_LSH index on a `dim`-bit field, checked.

    Raises:
        InvalidArgument: a parameter of the wrong type or range, or a signature layout that
            does not fit `dim` (Milvus finds the last two only when the build fails).
    """
    bits = _int(params, "mh_element_bit_width", DEFAULT_ELEMENT_BITS, 8, 256)
    if dim % 8 or bits % 8:
        raise InvalidArgument("Expecting (dim % 8 == 0) and (mh_element_bit_width % 8 == 0)")
    if dim % bits:
        raise InvalidArgument(f"dim ({dim}) should be a multiple of mh_element_bit_width "
                              f"({bits})")
    elements = dim // bits
    bands = _int(params, "mh_lsh_band", DEFAULT_BANDS, 1, elements)
    if elements % bands:
        raise InvalidArgument(f"mh_lsh_band ({bands}) should divide the number of MinHash "
                              f"elements ({elements} = dim {dim} / mh_element_bit_width {bits})")
    with_raw = _bool(params, "with_raw_data", False)
    _bool(params, "mh_lsh_code_in_mem", True)  # memory placement: checked, nothing to decide
    _bool(params, "mh_lsh_shared_bloom_filter", False)
    _float(params, "mh_lsh_bloom_false_positive_prob", 0.0, 1.0)
    _int(params, "mh_lsh_aligned_block_size", 4096, 4096, _INT_MAX)
    return MinHashParams(bits, bands, with_raw)


def element_bits(params: dict[str, Any]) -> int:
    """mh_element_bit_width as a search (or, for growing segments, the index) gives it."""
    return _int(params, "mh_element_bit_width", DEFAULT_ELEMENT_BITS, 8, 256)


def check_minhash_params(dim: int, params: dict[str, str]) -> None:
    """Raise InvalidArgument unless `params` can build MINHASH_LSH on a `dim`-bit field."""
    minhash_params(dim, params)


def check_minhash_search_params(params: dict[str, Any]) -> None:
    """Raise InvalidArgument unless `params` are valid MINHASH_LSH search parameters."""
    _search_options(params)


def _search_options(params: dict[str, Any]) -> bool:
    """Whether the search asks for Jaccard refinement; refine_k and batching only checked."""
    _int(params, "refine_k", 1, 1, _INT_MAX)
    _bool(params, "mh_lsh_batch_search", False)
    return _bool(params, "mh_search_with_jaccard", False)


def _elements(rows: Bits, element_bytes: int) -> npt.NDArray[Any]:
    """Rows as (n, m) unsigned elements, or (n, m, bytes) for widths no integer type has."""
    packed = np.ascontiguousarray(rows, dtype=np.uint8)
    dtype = _UINT.get(element_bytes)
    if dtype is not None:
        return packed.view(dtype)
    return packed.reshape(len(packed), -1, element_bytes)


def _equal(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Element equality of (..., [bytes]) arrays; the byte axis, if any, is folded."""
    eq: npt.NDArray[np.bool_] = np.asarray(a == b)
    return np.asarray(eq.all(axis=-1)) if a.ndim == 3 or b.ndim == 3 else eq


def _exact_counts(base: Bits, queries: Bits, k: int, element_bytes: int,
                  ) -> tuple[Offsets, npt.NDArray[np.int64]]:
    """Per query the k rows with most equal elements (ties: lower row), and their counts."""
    n, nq = len(base), len(queries)
    b_el = _elements(base, element_bytes)
    m = b_el.shape[1]
    # Element-major copies, so each position compares two contiguous runs.
    q_t = np.ascontiguousarray(np.moveaxis(_elements(queries, element_bytes), 1, 0))
    missing = np.iinfo(np.int64).max
    # One integer key orders hits by count (desc), then row (asc); `missing` sorts last.
    best = np.full((nq, k), missing, dtype=np.int64)
    step = max(1, _PAIR_BUDGET // max(1, nq))
    for lo in range(0, n, step):
        chunk = np.ascontiguousarray(np.moveaxis(b_el[lo: lo + step], 1, 0))
        counts = np.zeros((nq, chunk.shape[1]), dtype=np.uint16 if m < 2**16 else np.int64)
        for j in range(m):  # one vectorized pass per element position, not per row
            counts += _equal(q_t[j][:, None], chunk[j][None, :]).view(np.uint8)
        rows = np.arange(lo, lo + chunk.shape[1], dtype=np.int64)
        keys = np.where(counts > 0, (m - counts.astype(np.int64)) * n + rows[None, :], missing)
        merged = np.concatenate([best, keys], axis=1)
        best = np.take_along_axis(merged, np.argpartition(merged, k - 1, axis=1)[:, :k], axis=1)
    best = np.sort(best, axis=1)
    found = best != missing
    offsets = np.where(found, best % n, -1)
    return offsets, np.where(found, m - best // n, 0)


def exact_minhash(base: Bits, queries: Bits, k: int, metric: str = "MHJACCARD",
                  allowed: Allowed = None,
                  element_bits: int = DEFAULT_ELEMENT_BITS) -> tuple[Offsets, Scores]:
    """Brute-force top k by MHJACCARD over packed signature rows, optionally restricted.

    Rows sharing no element with a query are not hits; missing hits are -1 with score -inf.
    """
    if allowed is not None:
        def search(b: Bits, q: Bits, kk: int, met: str) -> tuple[Offsets, Scores]:
            return exact_minhash(b, q, kk, met, None, element_bits)
        return over_survivors(search, base, queries, k, metric, allowed)
    if len(base) == 0 or k == 0:
        return _empty(len(queries), k, metric)
    kk = min(k, len(base))
    element_bytes = element_bits // 8
    offsets, counts = _exact_counts(base, queries, kk, element_bytes)
    m = base.shape[1] // element_bytes
    scores = np.where(offsets >= 0, counts.astype(np.float32) / np.float32(m), -np.inf)
    return _pad(offsets, scores.astype(np.float32), k, metric)


def band_hashes(rows: Bits, bands: int) -> npt.NDArray[np.uint64]:
    """The 64-bit hash of each row's bytes in each of `bands` equal bands, shaped (n, bands)."""
    n, width = rows.shape
    band_bytes = width // bands
    words = -(-band_bytes // 8)
    cut = np.zeros((n, bands, words * 8), dtype=np.uint8)
    cut[:, :, :band_bytes] = np.ascontiguousarray(rows).reshape(n, bands, band_bytes)
    lanes = cut.view("<u8")
    h = np.full((n, bands), band_bytes, dtype=np.uint64)
    h *= _MIX[0]  # in place on arrays: uint64 products wrap silently
    for w in range(words):  # a multiply-xorshift mix, one 8-byte word of the band at a time
        h ^= lanes[:, :, w]
        h *= _MIX[1]
        h ^= h >> np.uint64(31)
    h *= _MIX[2]
    h ^= h >> np.uint64(29)
    return h


class MinHashIndex:
    """MINHASH_LSH over one segment's signatures: per band, sorted band hashes and their rows."""

    kind = MINHASH_KIND

    def __init__(self, base: Bits, metric: str, params: MinHashParams,
                 keys: npt.NDArray[np.uint64], rows: npt.NDArray[np.int64]) -> None:
        self._base, self.metric, self.params = base, metric, params
        self._keys, self._rows = keys, rows  # both (bands, n), each band sorted by key

    @property
    def num_rows(self) -> int:
        return len(self._base)

    def serialize(self) -> bytes:
        out = io.BytesIO()
        p = self.params
        np.savez(out, layout=np.array([self.num_rows, p.element_bits, p.bands,
                                       int(p.with_raw_data)], dtype=np.int64),
                 keys=self._keys, rows=self._rows)
        return out.getvalue()

    def search(self, queries: Bits, k: int, allowed: Allowed = None,
               params: dict[str, Any] | None = None) -> tuple[Offsets, Scores]:
        if _search_options(params or {}) and not self.params.with_raw_data:
            raise InvalidArgument("fail to search with jaccard distance without raw data")
        nq, n = len(queries), self.num_rows
        off, score = _empty(nq, k, self.metric)
        if n == 0 or k == 0 or nq == 0:
            return off, score
        selection = as_selection(allowed)
        q_keys = band_hashes(queries, self.params.bands)
        lo = np.empty((nq, self.params.bands), dtype=np.int64)
        hi = np.empty_like(lo)
        for b in range(self.params.bands):  # one binary search per band, over all queries
            lo[:, b] = np.searchsorted(self._keys[b], q_keys[:, b], side="left")
            hi[:, b] = np.searchsorted(self._keys[b], q_keys[:, b], side="right")
        entries = np.cumsum((hi - lo).sum(axis=1))
        start = 0
        while start < nq:  # query groups whose candidate entries fit the budget
            done = int(entries[start - 1]) if start else 0
            stop = int(np.searchsorted(entries, done + _PAIR_BUDGET, side="right"))
            stop = max(start + 1, stop)
            self._rank(queries, start, stop, lo, hi, k, selection, off, score)
            start = stop
        return off, score

    def _rank(self, queries: Bits, start: int, stop: int, lo: Offsets, hi: Offsets, k: int,
              selection: Selection | None, off: Offsets, score: Scores) -> None:
        """Fill off/score rows start..stop-1 with their best-scoring band candidates."""
        n, bands = self.num_rows, self.params.bands
        lengths = (hi[start:stop] - lo[start:stop]).ravel()
        total = int(lengths.sum())
        if total == 0:
            return
        first = (lo[start:stop] + (np.arange(bands, dtype=np.int64) * n)[None, :]).ravel()
        entry = np.repeat(first - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
        query = np.repeat(np.arange(stop - start, dtype=np.int64), bands)
        pair = np.unique(np.repeat(query, lengths) * n + self._rows.ravel()[entry])
        q_of, row = pair // n, pair % n
        if selection is not None:
            keep = selection.mask[row]
            q_of, row = q_of[keep], row[keep]
        counts = self._pair_counts(queries[start:stop], q_of, row)
        hit = counts > 0
        q_of, row, counts = q_of[hit], row[hit], counts[hit]
        order = np.lexsort((row, -counts, q_of))
        q_of, row, counts = q_of[order], row[order], counts[order]
        rank = np.arange(len(q_of)) - np.searchsorted(q_of, q_of, side="left")
        top = rank < k
        m = self._base.shape[1] * 8 // self.params.element_bits
        off[start + q_of[top], rank[top]] = row[top]
        score[start + q_of[top], rank[top]] = counts[top].astype(np.float32) / np.float32(m)

    def _pair_counts(self, queries: Bits, q_of: Offsets, row: Offsets) -> npt.NDArray[np.int64]:
        """Equal elements between query q_of[i] and base row row[i], for every pair i."""
        element_bytes = self.params.element_bits // 8
        q_el = _elements(queries, element_bytes)
        counts = np.empty(len(row), dtype=np.int64)
        step = max(1, _BYTE_BUDGET // max(1, self._base.shape[1]))
        for lo in range(0, len(row), step):
            gathered = _elements(self._base[row[lo: lo + step]], element_bytes)
            eq = _equal(q_el[q_of[lo: lo + step]], gathered)
            counts[lo: lo + step] = eq.sum(axis=1)
        return counts


def build_minhash(base: Bits, metric: str, params: dict[str, str],
                  cancelled: Callable[[], bool] | None = None) -> MinHashIndex:
    """Build MINHASH_LSH over packed signature rows; checks `cancelled()` between row batches."""
    p = minhash_params(base.shape[1] * 8, params)
    n = len(base)
    keys = np.empty((p.bands, n), dtype=np.uint64)
    step = max(1, _BYTE_BUDGET // max(1, base.shape[1] * 2))
    for lo in range(0, n, step):
        if cancelled is not None and cancelled():
            raise BuildCancelled()
        keys[:, lo: lo + step] = band_hashes(base[lo: lo + step], p.bands).T
    order = np.argsort(keys, axis=1, kind="stable")
    return MinHashIndex(base, metric, p, np.take_along_axis(keys, order, axis=1),
                        order.astype(np.int64))


def load_minhash(data: bytes, metric: str, base: Bits) -> MinHashIndex:
    """A MINHASH_LSH index from its serialized form over the segment's signature rows."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        n, bits, bands, with_raw = (int(v) for v in z["layout"])
        keys, rows = z["keys"], z["rows"]
    dim = base.shape[1] * 8
    fits = bits > 0 and bits % 8 == 0 and dim % bits == 0 and bands > 0 and \
        (dim // bits) % bands == 0
    if not fits or n != len(base) or keys.shape != (bands, n) or rows.shape != keys.shape:
        raise ValueError("MINHASH_LSH index file does not match its segment")
    return MinHashIndex(base, metric, MinHashParams(bits, bands, bool(with_raw)),
                        keys.astype(np.uint64, copy=False), rows.astype(np.int64, copy=False))
