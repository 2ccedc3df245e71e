"""Handing freed memory back to the operating system.

A seal frees a growing segment's columns, hundreds of MB after a large ingest, but both
allocators behind them keep freed blocks for reuse: Arrow's (mimalloc or jemalloc) until told to
release them, and glibc's malloc (numpy's buffers) for freed blocks below its mmap threshold,
which rises to 32 MB as large blocks are freed. An index build frees its copy of the rows and
faiss's buffers the same way. `return_freed_memory` asks both to return what they hold, so a
process's resident size after a seal or a build is what it still uses.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

import pyarrow as pa


def _find_malloc_trim() -> Any:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None


_malloc_trim = _find_malloc_trim()


def return_freed_memory() -> None:
    """Return the memory Arrow's pool and the C allocator keep for reuse to the OS."""
    pa.default_memory_pool().release_unused()
    if _malloc_trim is not None:
        _malloc_trim(0)
