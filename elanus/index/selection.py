"""`Selection`: the rows of one segment a search may return (visible, passing the filter, with
a vector), and what index searches derive from them, each computed once on first use: how
many pass, their offsets, the packed bitmap and the faiss selector reading it.

A filter's result on a sealed segment is kept between requests (`FilterResults` in
elanus.engine.segment), so a filter repeated over many searches pays for none of these again.
"""

from __future__ import annotations

import threading
from typing import Any, TypeAlias

import faiss
import numpy as np
import numpy.typing as npt

_faiss: Any = faiss  # faiss's bundled type stubs lag its Python API
_making = threading.Lock()
Mask = npt.NDArray[np.bool_]
KEEP_ROWS_OF = 16


class Selection:
    """A read-only boolean mask over a segment's offsets and its derived forms. Safe to share
    between threads: a form computed twice at once is computed the same."""

    __slots__ = ("_bits", "_passing", "_rows", "_selector", "mask")

    def __init__(self, mask: Mask) -> None:
        if mask.dtype != np.bool_ or mask.ndim != 1:
            raise TypeError("a selection is a one-dimensional boolean mask")
        self.mask = mask.view()
        self.mask.flags.writeable = False  # shared by every search that reads the selection
        self._passing: int | None = None
        self._rows: npt.NDArray[np.int64] | None = None
        self._bits: npt.NDArray[np.uint8] | None = None
        self._selector: Any = None

    @property
    def passing(self) -> int:
        """How many rows are selected."""
        if self._passing is None:
            self._passing = int(np.count_nonzero(self.mask))
        return self._passing

    @property
    def rows(self) -> npt.NDArray[np.int64]:
        """The selected offsets, ascending (read-only). Kept only when at most 1/KEEP_ROWS_OF
        the rows are selected: exact search over few rows reads them at every query, while a
        broad selection's offsets would hold 8 bytes per row for as long as it is kept."""
        if self._rows is not None:
            return self._rows
        rows = np.flatnonzero(self.mask).astype(np.int64, copy=False)
        rows.flags.writeable = False
        if self.passing * KEEP_ROWS_OF <= len(self.mask):
            self._rows = rows
        return rows

    @property
    def selector(self) -> Any:
        """A faiss IDSelectorBitmap of the selected offsets. It reads the selection's packed
        bitmap, which lives as long as the selection: keep the selection while faiss uses it."""
        if self._selector is None:
            with _making:  # one bitmap per selection: a selector made over a second one
                if self._selector is None:  # could outlive it
                    self._bits = np.packbits(self.mask, bitorder="little")
                    self._selector = _faiss.IDSelectorBitmap(len(self.mask),
                                                             _faiss.swig_ptr(self._bits))
        return self._selector


# What a search is restricted to: a selection, a plain boolean mask, or None (every row).
Allowed: TypeAlias = Selection | Mask | None


def as_selection(allowed: Allowed) -> Selection | None:
    return allowed if allowed is None or isinstance(allowed, Selection) else Selection(allowed)


def narrowed(selection: Selection | None, mask: Mask | None) -> Selection | None:
    """The rows both `selection` and `mask` keep (None: every row)."""
    if mask is None:
        return selection
    return Selection(mask if selection is None else selection.mask & mask)
