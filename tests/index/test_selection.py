"""Selection: a search's allowed rows and their derived forms, and index searches given one
answer as they do given the plain mask."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from elanus.index.selection import Selection, as_selection, narrowed
from elanus.index.vector import build_dense, exact_search


def test_derived_forms_match_the_mask() -> None:
    mask = np.random.default_rng(0).random(1000) < 0.3
    s = Selection(mask)
    assert s.passing == int(mask.sum())
    assert np.array_equal(s.rows, np.flatnonzero(mask))
    member = np.array([s.selector.is_member(i) for i in range(len(mask))])
    assert np.array_equal(member, mask)
    assert s.selector is s.selector  # made once


def test_a_selection_is_read_only_and_leaves_the_callers_mask_writable() -> None:
    mask = np.ones(10, dtype=bool)
    s = Selection(mask)
    with pytest.raises(ValueError):
        s.mask[0] = False
    with pytest.raises(ValueError):
        s.rows[0] = 3
    mask[0] = False  # the caller's array is its own
    with pytest.raises(TypeError):
        Selection(np.ones(3, dtype=np.int8))  # type: ignore[arg-type]


def test_narrowed() -> None:
    a = np.array([True, True, False])
    b = np.array([True, False, True])
    assert narrowed(None, None) is None
    s = Selection(a)
    assert narrowed(s, None) is s
    assert np.array_equal(narrowed(None, b).mask, b)  # type: ignore[union-attr]
    assert np.array_equal(narrowed(s, b).mask, [True, False, False])  # type: ignore[union-attr]
    assert as_selection(s) is s and as_selection(None) is None


@pytest.mark.parametrize("kind", ["HNSW", "IVF_FLAT", "FLAT"])
@pytest.mark.parametrize("share", [0.01, 0.3])
def test_indexes_answer_a_selection_as_its_mask(kind: str, share: float) -> None:
    rng = np.random.default_rng(3)
    base = rng.random((3000, 16), dtype=np.float32)
    queries = rng.random((5, 16), dtype=np.float32)
    mask = rng.random(3000) < share
    index = build_dense(kind, base, "L2", {"nlist": "16"})
    params = {"ef": 64, "nprobe": 16}
    by_mask = index.search(queries, 10, mask, params)
    selection = Selection(mask)
    for _ in range(2):  # the second search reuses the selection's bitmap and selector
        by_selection = index.search(queries, 10, selection, params)
        assert np.array_equal(by_mask[0], by_selection[0])
        assert np.allclose(by_mask[1], by_selection[1])
    assert mask[by_selection[0][by_selection[0] >= 0]].all()
    offsets, _ = exact_search(base, queries, 10, "L2", selection)
    _, sub = faiss.knn(queries, base[mask], 10)
    assert np.array_equal(offsets, np.flatnonzero(mask)[sub])



def test_offsets_are_kept_only_for_narrow_selections() -> None:
    narrow = Selection(np.arange(1000) % 100 == 0)
    assert narrow.rows is narrow.rows  # listed once, read by every exact search
    broad = Selection(np.arange(1000) % 2 == 0)
    assert broad.rows is not broad.rows  # 8 bytes per passing row: listed per use
    assert np.array_equal(broad.rows, np.arange(0, 1000, 2))
