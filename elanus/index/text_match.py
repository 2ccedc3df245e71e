"""Text index: a positional inverted index of one segment's VARCHAR column, for Milvus's
text_match and phrase_match filters.

Every non-null row is cut into tokens by the field's analyzer once, at build time; a null row
holds no token and matches nothing. The index keeps, in numpy arrays:

- the term dictionary (`terms`, with a dict from term to id);
- the postings, one per token, as (row, position) sorted by (term, row, position), the term's
  slice given by `term_start`;
- per term the distinct rows holding it (`doc_row`, sliced by `doc_start`): its doc frequency.

Queries return a boolean mask over the segment's rows, computed with whole-array numpy calls:
Python loops run over the query's terms and, for sloppy phrases of three or more terms, over
the steps of a merge that every candidate row takes in lockstep, never over rows or postings.

`match_any` is Milvus's text_match: a boolean query with one SHOULD clause per query token
(repeats included) and a minimum number of clauses that must match. `match_phrase` is
phrase_match, with the semantics of tantivy's PhraseQuery (Milvus runs phrase_match through
tantivy with scoring disabled), reproduced step by step:

- terms are ordered by their offset in the query (stable), and each term's positions are
  shifted by (largest offset - its offset), so an exact phrase puts every term on one value;
- the terms' position lists are then taken rarest first (tantivy's intersection orders its
  posting lists by doc frequency, stably), and merged pairwise left to right;
- slop 0: the shifted positions must coincide;
- slop > 0, two terms: some pair of shifted positions lies within `slop` of each other, so a
  transposition costs 2 ("a b" matches "b a" from slop 2);
- slop > 0, three terms or more: the middle lists are merged by tantivy's
  `intersection_count_with_carrying_slop`, which carries the slop spent so far per position
  (as a u8, as tantivy stores it) and greedily keeps both ends of each match, and the last list
  by `intersection_exists_with_slop`, which checks only the distance to it. The merged lists
  can come out unsorted; the two-pointer walks are replayed as tantivy runs them.

An index is immutable and may be read from several threads at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from elanus.schema.analyzers import Analyzer

Mask = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]
_ROW_SHIFT = 32  # a (row, value) pair packed into one int64 key: row << 32 | value
_VALUE_MAX = (1 << 32) - 1
_SLOP_BITS = 0xFF  # tantivy keeps the slop spent so far in a u8


class TextIndex:
    """The postings of one segment's text column; rows are segment offsets 0..num_rows-1."""

    def __init__(self, num_rows: int, terms: list[str], term_start: Ints,
                 post_row: npt.NDArray[np.int32], post_pos: npt.NDArray[np.int32]) -> None:
        self.num_rows = num_rows
        self.terms = terms
        self.term_ids = {t: i for i, t in enumerate(terms)}
        self.term_start, self.post_row, self.post_pos = term_start, post_row, post_pos
        term = np.repeat(np.arange(len(terms), dtype=np.int64), np.diff(term_start))
        first = np.ones(len(post_row), np.bool_)
        first[1:] = (term[1:] != term[:-1]) | (post_row[1:] != post_row[:-1])
        self.doc_row = post_row[first]
        self.doc_start = np.zeros(len(terms) + 1, np.int64)
        np.cumsum(np.bincount(term[first], minlength=len(terms)), out=self.doc_start[1:])

    # -- building --------------------------------------------------------------------------

    @classmethod
    def build(cls, column: pa.Array | pa.ChunkedArray, analyzer: Analyzer) -> TextIndex:
        """Index the strings of `column` (nulls hold no token) as `analyzer` cuts them."""
        texts = column.to_pylist()
        terms: list[str] = []
        positions: list[int] = []
        lengths = np.zeros(len(texts), np.int64)
        sequential = analyzer.sequential_positions
        for row, text in enumerate(texts):
            if text is None:
                continue
            if sequential:
                found = analyzer.terms(text)
            else:
                found, at = analyzer.term_positions(text)
                positions.extend(at)
            terms.extend(found)
            lengths[row] = len(found)
        if sequential:
            starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
            pos = np.arange(len(terms), dtype=np.int64) - starts
        else:
            pos = np.asarray(positions, np.int64)
        return cls.from_postings(len(texts), terms, np.repeat(np.arange(len(texts)), lengths),
                                 pos)

    @classmethod
    def from_tokens(cls, rows: Sequence[Sequence[tuple[str, int]] | None]) -> TextIndex:
        """Index rows given as (term, position) tokens; None is a null row."""
        flat = [(i, t, p) for i, row in enumerate(rows) for t, p in (row or ())]
        return cls.from_postings(len(rows), [t for _, t, _ in flat],
                                 np.array([i for i, _, _ in flat], np.int64),
                                 np.array([p for _, _, p in flat], np.int64))

    @classmethod
    def from_postings(cls, num_rows: int, terms: Sequence[str] | pa.Array, rows: np.ndarray,
                      positions: np.ndarray) -> TextIndex:
        """Index one posting per token: its term, row and position."""
        encoded = pc.dictionary_encode(pa.array(terms, pa.large_string())
                                       if not isinstance(terms, pa.Array) else terms)
        term = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), np.int64)
        vocabulary: list[str] = encoded.dictionary.to_pylist()
        later = rows[1:] > rows[:-1]
        if np.all(later | ((rows[1:] == rows[:-1]) & (positions[1:] >= positions[:-1]))):
            order = _stable_order(term)  # already by (row, position): order by term only
        else:
            order = np.lexsort((positions, rows, term))
        term_start = np.zeros(len(vocabulary) + 1, np.int64)
        np.cumsum(np.bincount(term, minlength=len(vocabulary)), out=term_start[1:])
        return cls(num_rows, vocabulary, term_start, rows[order].astype(np.int32),
                   positions[order].astype(np.int32))

    def extend(self, tail: TextIndex) -> TextIndex:
        """This index followed by the rows of `tail` (a growing segment's new rows)."""
        vocabulary = pc.dictionary_encode(pa.array(self.terms + tail.terms, pa.large_string()))
        ids = np.asarray(vocabulary.indices.to_numpy(zero_copy_only=False), np.int64)
        counts = np.concatenate([np.diff(self.term_start), np.diff(tail.term_start)])
        term = np.repeat(ids, counts)
        # Within a term, this index's postings come before the tail's: sorting by term alone
        # keeps them ordered by (row, position).
        order = _stable_order(term)
        rows = np.concatenate([self.post_row, tail.post_row + np.int32(self.num_rows)])
        positions = np.concatenate([self.post_pos, tail.post_pos])
        merged: list[str] = vocabulary.dictionary.to_pylist()
        term_start = np.zeros(len(merged) + 1, np.int64)
        np.cumsum(np.bincount(term, minlength=len(merged)), out=term_start[1:])
        return TextIndex(self.num_rows + tail.num_rows, merged, term_start, rows[order],
                         positions[order])

    def head(self, num_rows: int) -> TextIndex:
        """The index of the first `num_rows` rows only (an older snapshot of a growing
        segment)."""
        keep = self.post_row < num_rows
        term = np.repeat(np.arange(len(self.terms), dtype=np.int64), np.diff(self.term_start))
        term_start = np.zeros(len(self.terms) + 1, np.int64)
        np.cumsum(np.bincount(term[keep], minlength=len(self.terms)), out=term_start[1:])
        return TextIndex(num_rows, self.terms, term_start, self.post_row[keep],
                         self.post_pos[keep])

    @property
    def nbytes(self) -> int:
        arrays = (self.term_start, self.post_row, self.post_pos, self.doc_row, self.doc_start)
        return int(sum(a.nbytes for a in arrays)) + sum(len(t) for t in self.terms)

    # -- queries ---------------------------------------------------------------------------

    def rows_with(self, term: str) -> Ints:
        """The rows holding `term`, ascending."""
        i = self.term_ids.get(term)
        if i is None:
            return np.empty(0, np.int64)
        return self.doc_row[self.doc_start[i]:self.doc_start[i + 1]].astype(np.int64)

    def match_any(self, terms: Sequence[str], minimum_should_match: int = 1) -> Mask:
        """Rows where at least `minimum_should_match` of the query's tokens occur, a token the
        query repeats counting once per repeat (tantivy's BooleanQuery of SHOULD clauses)."""
        out = np.zeros(self.num_rows, np.bool_)
        wanted = Counter(terms)
        if minimum_should_match <= 1:
            for term in wanted:
                out[self.rows_with(term)] = True
            return out
        if sum(wanted.values()) < minimum_should_match:
            return out
        counts = np.zeros(self.num_rows, np.int64)
        for term, repeats in wanted.items():
            counts[self.rows_with(term)] += repeats
        return counts >= minimum_should_match

    def match_phrase(self, tokens: Sequence[tuple[str, int]], slop: int = 0) -> Mask:
        """Rows holding the phrase: (term, position) tokens as the analyzer cut the query.

        One token or none is a match_any over them, as Milvus forwards it; see the module
        docstring for the rest.
        """
        if len(tokens) <= 1:
            return self.match_any([t for t, _ in tokens])
        out = np.zeros(self.num_rows, np.bool_)
        phrase = sorted(((p, t) for t, p in tokens), key=lambda pt: pt[0])
        ids = [self.term_ids.get(t) for _, t in phrase]
        if any(i is None for i in ids):
            return out
        found = [i for i in ids if i is not None]
        top = max(p for p, _ in phrase)
        doc_freq = {i: int(self.doc_start[i + 1] - self.doc_start[i]) for i in found}
        order = sorted(range(len(found)), key=lambda k: doc_freq[found[k]])  # stable
        rows = self._rows_with_all(sorted(doc_freq, key=doc_freq.__getitem__))
        if not len(rows):
            return out
        lists = [self._positions(rows, found[k], top - phrase[k][0]) for k in order]
        if slop == 0:
            hit = _exact(lists)
        elif len(lists) == 2:
            hit = _within(lists[0], lists[1], slop)
        else:
            hit = _carrying(lists, slop)
        out[rows[hit]] = True
        return out

    def _rows_with_all(self, ids: list[int]) -> Ints:
        rows = self.doc_row[self.doc_start[ids[0]]:self.doc_start[ids[0] + 1]]
        for i in ids[1:]:
            if not len(rows):
                break
            rows = np.intersect1d(rows, self.doc_row[self.doc_start[i]:self.doc_start[i + 1]],
                                  assume_unique=True)
        return rows.astype(np.int64)

    def _positions(self, rows: Ints, term: int, shift: int) -> _Ragged:
        """The shifted positions of `term` in each of `rows` (all of which hold it)."""
        lo, hi = self.term_start[term], self.term_start[term + 1]
        post_row = self.post_row[lo:hi]
        keep = np.isin(post_row, rows, assume_unique=False)
        slot = np.searchsorted(rows, post_row[keep])
        values = self.post_pos[lo:hi][keep].astype(np.int64) + shift
        return _Ragged.of(slot, values, len(rows))


def _stable_order(keys: Ints) -> Ints:
    """A stable argsort of non-negative integers below 2^32: a radix sort by 16-bit digits,
    which numpy sorts stably in linear time."""
    order = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
    if len(keys) and int(keys.max()) > 0xFFFF:
        high = (keys[order] >> 16).astype(np.uint16)
        order = order[np.argsort(high, kind="stable")]
    return order


class _Ragged:
    """One list of values per candidate row, flat: row j's values are
    values[start[j]:start[j] + length[j]]."""

    def __init__(self, values: Ints, start: Ints, length: Ints) -> None:
        self.values, self.start, self.length = values, start, length

    @classmethod
    def of(cls, slot: Ints, values: Ints, num_rows: int) -> _Ragged:
        """From values grouped by ascending row slot."""
        length = np.bincount(slot, minlength=num_rows).astype(np.int64)
        return cls(values, np.cumsum(length) - length, length)

    def slots(self) -> Ints:
        """The row slot of each value."""
        return np.repeat(np.arange(len(self.length), dtype=np.int64), self.length)

    def keys(self) -> Ints:
        return (self.slots() << _ROW_SHIFT) | self.values

    def take(self, slots: Ints) -> tuple[_Ragged, Ints]:
        """The lists of `slots` only, renumbered 0..len(slots)-1, and where their values were."""
        at = _spans(self.start[slots], self.length[slots])
        length = self.length[slots]
        return _Ragged(self.values[at], np.cumsum(length) - length, length), at


def _spans(start: Ints, length: Ints) -> Ints:
    """The indexes start[k] .. start[k] + length[k] - 1 of every k, in order."""
    total = int(length.sum())
    begin = np.cumsum(length) - length
    return np.arange(total, dtype=np.int64) - np.repeat(begin - start, length)


def _exact(lists: list[_Ragged]) -> Mask:
    """Rows where one shifted value is in every list (slop 0)."""
    common = np.unique(lists[0].keys())
    for other in lists[1:]:
        common = np.intersect1d(common, other.keys())
    hit = np.zeros(len(lists[0].length), np.bool_)
    hit[common >> _ROW_SHIFT] = True
    return hit


def _within(left: _Ragged, right: _Ragged, slop: int) -> Mask:
    """Rows with a value of `left` within `slop` of a value of `right`, both sorted per row:
    what tantivy's two-pointer `intersection_exists_with_slop` finds on sorted lists."""
    keys = left.keys()
    slot = right.slots()
    low = (slot << _ROW_SHIFT) | np.maximum(right.values - slop, 0)
    high = (slot << _ROW_SHIFT) | np.minimum(right.values + slop, _VALUE_MAX)
    at = np.searchsorted(keys, low)
    ok = at < len(keys)
    ok[ok] = keys[at[ok]] <= high[ok]
    hit = np.zeros(len(right.length), np.bool_)
    hit[slot[ok]] = True
    return hit


def _carrying(lists: list[_Ragged], slop: int) -> Mask:
    """Three terms or more with slop: the middle lists merged with the slop carried, then the
    last one checked by distance alone (tantivy's phrase_exists)."""
    hit = np.zeros(len(lists[0].length), np.bool_)
    alive = np.arange(len(lists[0].length), dtype=np.int64)
    left, spent = lists[0], np.zeros(len(lists[0].values), np.int64)
    for right in lists[1:-1]:
        left, spent = _CarryMerge(left, spent, right.take(alive)[0], slop).run()
        keep = np.flatnonzero(left.length > 0)
        if not len(keep):
            return hit
        left, at = left.take(keep)
        spent, alive = spent[at], alive[keep]
    hit[alive[_exists_within(left, lists[-1].take(alive)[0], slop)]] = True
    return hit


def _exists_within(left: _Ragged, right: _Ragged, slop: int) -> Mask:
    """tantivy's `intersection_exists_with_slop`, run on every row at once: one step of the
    two-pointer walk per iteration, `left` possibly unsorted."""
    i = np.zeros(len(left.length), np.int64)
    j = np.zeros(len(left.length), np.int64)
    hit = np.zeros(len(left.length), np.bool_)
    active = np.flatnonzero((left.length > 0) & (right.length > 0))
    while len(active):
        lv = left.values[left.start[active] + i[active]]
        rv = right.values[right.start[active] + j[active]]
        close = np.abs(lv - rv) <= slop
        hit[active[close]] = True
        rest = active[~close]
        step_left = lv[~close] < rv[~close]
        i[rest] += step_left
        j[rest] += ~step_left
        active = rest[(i[rest] < left.length[rest]) & (j[rest] < right.length[rest])]
    return hit


class _CarryMerge:
    """tantivy's `intersection_count_with_carrying_slop` (with update_left) on every row at
    once. Each row walks its own two pointers; an iteration moves every unfinished row by one
    step of the walk (a comparison, or one candidate of the "better match" scan), and the
    tail a row adds once one list runs out is added in one go. A row adds at most one value
    per step, merged into its previous value when equal (keeping the smaller slop), exactly
    as tantivy's `add_val`."""

    def __init__(self, left: _Ragged, spent: Ints, right: _Ragged, slop: int) -> None:
        self.left, self.spent, self.right, self.slop = left, spent, right, slop
        m = len(left.length)
        self.li = np.zeros(m, np.int64)
        self.ri = np.zeros(m, np.int64)
        self.scanning = np.zeros(m, np.bool_)  # inside the "better match" scan
        self.on_right = np.zeros(m, np.bool_)  # the scan walks right's values, else left's
        self.scan_at = np.zeros(m, np.int64)
        self.larger = np.zeros(m, np.int64)
        self.carried = np.zeros(m, np.int64)
        self.new_slop = np.zeros(m, np.int64)
        capacity = max(16, 2 * (len(left.values) + len(right.values)))
        self.out_slot = np.empty(capacity, np.int64)
        self.out_value = np.empty(capacity, np.int64)
        self.out_spent = np.empty(capacity, np.int64)
        self.size = 0
        self.last_value = np.full(m, -1, np.int64)
        self.last_at = np.full(m, -1, np.int64)

    def run(self) -> tuple[_Ragged, Ints]:
        """The merged lists and the slop spent at each of their values."""
        left, right = self.left, self.right
        active = np.flatnonzero((left.length > 0) & (right.length > 0))
        while len(active):
            scanning = self.scanning[active]
            pushes: list[tuple[Ints, Ints, Ints]] = []
            moved = [self._compare(active[~scanning], pushes),
                     self._scan(active[scanning], pushes)]
            for slot, value, spent in pushes:
                self._add(slot, value, spent)
            stepped = np.concatenate(moved)
            ended = stepped[(self.li[stepped] >= left.length[stepped])
                            | (self.ri[stepped] >= right.length[stepped])]
            if len(ended):
                self._finish(ended)
                done = np.zeros(len(left.length), np.bool_)
                done[ended] = True
                active = active[~done[active]]
        order = np.argsort(self.out_slot[:self.size], kind="stable")
        merged = _Ragged.of(self.out_slot[:self.size][order], self.out_value[:self.size][order],
                            len(left.length))
        return merged, self.out_spent[:self.size][order]

    def _compare(self, rows: Ints, pushes: list[tuple[Ints, Ints, Ints]]) -> Ints:
        """The main loop's step; returns the rows whose pointers moved."""
        left, right = self.left, self.right
        at = left.start[rows] + self.li[rows]
        lv, carried = left.values[at], self.spent[at]
        rv = right.values[right.start[rows] + self.ri[rows]]
        distance = carried + np.abs(lv - rv)
        close = distance <= self.slop
        hit = rows[close]
        if len(hit):
            lh, rh = lv[close], rv[close]
            on_right = lh >= rh
            pushes.append((hit, np.minimum(lh, rh), distance[close]))
            self.larger[hit] = np.maximum(lh, rh)
            self.on_right[hit] = on_right
            self.scan_at[hit] = np.where(on_right, self.ri[hit], self.li[hit])
            self.carried[hit] = carried[close]
            self.new_slop[hit] = distance[close]
            self.scanning[hit] = True
        miss: Ints = rows[~close]
        step_left = lv[~close] < rv[~close]
        self.li[miss] += step_left
        self.ri[miss] += ~step_left
        return miss

    def _scan(self, rows: Ints, pushes: list[tuple[Ints, Ints, Ints]]) -> Ints:
        """One candidate of the scan for a better match; returns the rows that left it."""
        left, right = self.left, self.right
        on_right = self.on_right[rows]
        length = np.where(on_right, right.length[rows], left.length[rows])
        start = np.where(on_right, right.start[rows], left.start[rows])
        has_next = self.scan_at[rows] + 1 < length
        at = start + np.where(has_next, self.scan_at[rows] + 1, 0)
        nxt = np.where(on_right, right.values[np.where(on_right, at, 0)],
                       left.values[np.where(on_right, 0, at)])
        better = has_next & (nxt <= self.larger[rows])
        go = rows[better]
        self.scan_at[go] += 1
        self.new_slop[go] = self.carried[go] + np.abs(nxt[better] - self.larger[go])
        pushes.append((go, nxt[better], self.new_slop[go]))
        stop = rows[~better]
        pushes.append((stop, self.larger[stop], self.new_slop[stop]))
        self.li[stop] += 1
        self.ri[stop] += 1
        self.scanning[stop] = False
        return stop

    def _finish(self, rows: Ints) -> None:
        """A list ran out: the rest of the other is kept where within the slop of the
        exhausted list's last value."""
        left, right = self.left, self.right
        left_done = self.li[rows] >= left.length[rows]
        a = rows[left_done]  # left ran out: right's rest against left's last value
        last = left.start[a] + left.length[a] - 1
        count = right.length[a] - self.ri[a]
        at = _spans(right.start[a] + self.ri[a], count)
        value = right.values[at]
        spent = np.abs(np.repeat(left.values[last], count) - value) \
            + np.repeat(self.spent[last], count)
        slot_a = np.repeat(a, count)
        b = rows[~left_done]  # right ran out: left's rest against right's last value
        count = left.length[b] - self.li[b]
        at = _spans(left.start[b] + self.li[b], count)
        last_right = np.repeat(right.values[right.start[b] + right.length[b] - 1], count)
        spent_b = np.abs(left.values[at] - last_right) + self.spent[at]
        slot = np.concatenate([slot_a, np.repeat(b, count)])
        value = np.concatenate([value, left.values[at]])
        spent = np.concatenate([spent, spent_b])
        keep = spent <= self.slop
        self._add(slot[keep], value[keep], spent[keep])

    def _add(self, slot: Ints, value: Ints, spent: Ints) -> None:
        """Append values, grouped by row and in order within a row; a value equal to its row's
        previous one is merged into it, keeping the smaller slop."""
        if not len(slot):
            return
        spent = spent & _SLOP_BITS
        first = np.ones(len(slot), np.bool_)
        first[1:] = slot[1:] != slot[:-1]
        previous = np.empty_like(value)
        previous[1:] = value[:-1]
        previous[first] = self.last_value[slot[first]]
        fresh = value != previous
        added = int(np.count_nonzero(fresh))
        self._reserve(added)
        target = np.full(len(slot), -1, np.int64)
        target[fresh] = self.size + np.arange(added, dtype=np.int64)
        lead = first & ~fresh
        target[lead] = self.last_at[slot[lead]]
        filled = np.where(target >= 0, np.arange(len(slot), dtype=np.int64), 0)
        np.maximum.accumulate(filled, out=filled)
        target = target[filled]
        self.out_slot[target[fresh]] = slot[fresh]
        self.out_value[target[fresh]] = value[fresh]
        self.out_spent[target[fresh]] = spent[fresh]
        np.minimum.at(self.out_spent, target[~fresh], spent[~fresh])
        self.size += added
        last = np.ones(len(slot), np.bool_)
        last[:-1] = slot[:-1] != slot[1:]
        self.last_value[slot[last]] = value[last]
        self.last_at[slot[last]] = target[last]

    def _reserve(self, extra: int) -> None:
        need = self.size + extra
        if need <= len(self.out_slot):
            return
        grown = max(need, 2 * len(self.out_slot))
        for name in ("out_slot", "out_value", "out_spent"):
            old = getattr(self, name)
            new = np.empty(grown, np.int64)
            new[:self.size] = old[:self.size]
            setattr(self, name, new)
