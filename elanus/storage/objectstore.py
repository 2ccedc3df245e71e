"""The object-store seam: where sealed segment files, delete logs and index files live.

An `ObjectStore` maps keys to immutable byte strings. A key is a relative name whose parts are
separated by '/', e.g. ``collections/7/segments/12.arrow``; no part is empty, starts with '.',
or contains a backslash or NUL. Keys name objects, not directories: ``list("collections/7/")``
returns every key under that prefix, as an S3 listing would.

`LocalObjectStore` keeps each object as the file ``root/<key>``. `put` is atomic and durable:
the bytes go to a hidden temp file beside the target, which is fsynced, renamed over the target,
and the directory fsynced, so a reader or a crash sees the old object or the new one, never a
mix. New directories are created durably. `delete` unlinks and fsyncs the directory, and is
idempotent, as S3's is. Leftover temp files from a crash start with '.' and are never listed.

Any thread may call any method; concurrent `put`s of one key leave one complete value.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from elanus.errors import InvalidArgument
from elanus.storage.files import ensure_directory, fsync_directory, replace_atomically

Data = bytes | bytearray | memoryview


class ObjectStore(Protocol):
    """Keyed, immutable byte objects; see the module docstring for key rules.

    `get` and `open_path` callers get FileNotFoundError for a missing key; turning that
    into `Corruption(key, "missing")` is the engine's call, since only it knows the key
    should exist.
    """

    def put(self, key: str, data: Data) -> None:
        """Store `data` under `key`, atomically and durably, replacing any old value."""

    def get(self, key: str) -> bytes:
        """Return the object's bytes. Raises FileNotFoundError when absent."""

    def open_path(self, key: str) -> Path | None:
        """Return a local file path holding the object (for memory mapping), or None when
        the store is not local. The path may not exist; opening it then fails."""

    def delete(self, key: str) -> None:
        """Remove the object, durably; a missing key is not an error."""

    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""

    def list(self, prefix: str = "") -> list[str]:
        """Every key that starts with `prefix` (a plain string prefix), sorted."""


def check_key(key: str) -> None:
    """Raise InvalidArgument unless `key` is a well-formed object key."""
    if not isinstance(key, str) or not key:
        raise InvalidArgument(f"invalid object key {key!r}: empty")
    for part in key.split("/"):
        if not part or part.startswith(".") or "\\" in part or "\0" in part:
            raise InvalidArgument(f"invalid object key {key!r}")


class LocalObjectStore:
    """An `ObjectStore` over a directory on the local file system."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        ensure_directory(self.root)

    def __repr__(self) -> str:
        return f"LocalObjectStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        check_key(key)
        return self.root.joinpath(*key.split("/"))

    def put(self, key: str, data: Data) -> None:
        path = self._path(key)
        ensure_directory(path.parent)
        replace_atomically(path, data)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def open_path(self, key: str) -> Path | None:
        return self._path(key)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        fsync_directory(path.parent)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        # Walk only the deepest directory the prefix names in full; filter the rest by string.
        head, _, _ = prefix.rpartition("/")
        if head:
            check_key(head)
        base = self.root.joinpath(*head.split("/")) if head else self.root
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = os.path.relpath(dirpath, self.root)
            stem = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            if not (stem.startswith(prefix) or prefix.startswith(stem)):
                dirnames[:] = []
                continue
            for name in filenames:
                key = stem + name
                if not name.startswith(".") and key.startswith(prefix):
                    keys.append(key)
        keys.sort()
        return keys
