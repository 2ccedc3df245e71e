"""Building vector indexes for sealed segments, off the request path.

One background thread takes collections from a queue and builds, for every vector index spec,
the index of every sealed segment that has none yet: build with faiss, write the serialized index
as a checksummed blob, then commit it to the catalog in one transaction and attach it to the
loaded segment. A segment without its index is searched exactly meanwhile, so results never
depend on build progress. faiss releases the GIL while it builds.
"""

from __future__ import annotations

import logging
import zipfile
from typing import TYPE_CHECKING

from elanus.engine.memory import return_freed_memory
from elanus.engine.scalar_indexing import segment_indexes
from elanus.engine.segment import SealedSegment
from elanus.engine.worker import Worker
from elanus.errors import Corruption
from elanus.index.factory import build_index, load_index, map_index, mappable
from elanus.index.registry import BuildPlan, build_plan
from elanus.index.vector import BuildCancelled, IndexSpec
from elanus.schema import DataType
from elanus.storage.catalog import Commit, FileRecord
from elanus.storage.segment_file import read_blob, verified_blob_path, write_blob

if TYPE_CHECKING:
    from elanus.engine.collection import Collection
    from elanus.engine.engine import Engine

log = logging.getLogger(__name__)
STOP_WAIT_SECONDS = 5.0  # how long a stop waits for the index build under way


def _plan(collection: Collection, spec: IndexSpec) -> BuildPlan:
    field = collection.schema.field(spec.field_name)
    return build_plan(spec.index_type, spec.params,
                      field.dtype if field is not None else DataType.FLOAT_VECTOR)


class IndexBuilder:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.failures: dict[tuple[int, str], str] = {}  # (collection, index name) -> reason
        self._worker = Worker("index-builder", self.build_missing)
        self._worker.start()

    def schedule(self, collection: Collection) -> None:
        self._worker.submit(collection)

    def stop(self) -> None:
        """Stop building: a graph under way (built in one faiss call) is not waited for beyond
        a few seconds; it is discarded when it ends, and the next open builds it again."""
        self._worker.stop(STOP_WAIT_SECONDS)

    def wait_idle(self, timeout: float) -> bool:
        """Block until every scheduled build is done; False on timeout."""
        return self._worker.wait_idle(timeout)

    def build_missing(self, collection: Collection) -> None:
        built = False
        for spec in list(collection.indexes.values()):
            if not spec.metric_type:
                self._warm(collection, spec)
            else:
                for f in self._missing(collection, spec):
                    if self._worker.stopping.is_set():
                        return
                    try:
                        self._build_one(collection, spec, f)
                    except Exception:
                        log.exception("index build of %s for %s failed", f.key, collection.name)
                    built = True
        if built:  # a build's copies of the rows and faiss's buffers are freed by now
            return_freed_memory()

    def _warm(self, collection: Collection, spec: IndexSpec) -> None:
        """Build a scalar index in the loaded sealed segments now rather than on first use."""
        with collection.lock:
            segments = list(collection.sealed.values())
        for segment in segments:
            if self._worker.stopping.is_set():
                return
            try:
                segment_indexes(collection.schema, [spec], segment)
            except Exception:
                log.exception("scalar index %s of %s failed", spec.index_name, collection.name)

    @staticmethod
    def _missing(collection: Collection, spec: IndexSpec) -> list[FileRecord]:
        with collection.lock:
            done = {f.segment_id for f in collection.files
                    if f.kind == "index" and f.index_name == spec.index_name}
            return [f for f in collection.files if f.kind == "segment" and f.segment_id not in done]

    def _build_one(self, collection: Collection, spec: IndexSpec, seg_file: FileRecord) -> None:
        segment = collection.sealed.get(seg_file.segment_id)
        if segment is None:
            try:
                table = collection._read(seg_file.key, seg_file.size, seg_file.checksum)
            except Corruption:
                with collection.lock:
                    if all(f.key != seg_file.key for f in collection.files):
                        return  # compacted or truncated away meanwhile: nothing to index
                raise
            segment = SealedSegment(seg_file.segment_id, seg_file.partition_id, collection.schema,
                                    table, seg_file.key)
        plan = _plan(collection, spec)
        try:
            index = build_index(plan.kind, segment.raw_vectors(spec.field_name), spec.metric_type,
                                plan.params, self._worker.stopping.is_set)
        except BuildCancelled:
            return  # shutting down: the next open builds it again
        except Exception as exc:
            self.failures[(collection.id, spec.index_name)] = str(exc)
            raise
        if self._worker.stopping.is_set():
            return  # finished after the engine closed: nothing may be written now
        key = f"collections/{collection.id}/indexes/{spec.index_name}/{seg_file.segment_id}.faiss"
        info = write_blob(self.engine.store, key, index.serialize())
        self.engine.fault("index:before-commit")
        record = FileRecord(key, collection.id, "index", seg_file.segment_id, info.size,
                            info.checksum, seg_file.num_rows, seg_file.partition_id, spec.index_name)
        with collection.lock:
            current = collection.indexes.get(spec.index_name)
            live = any(f.key == seg_file.key for f in collection.files)
            if current != spec or not live or collection.dropped:
                self.engine.store.delete(key)  # index or segment dropped meanwhile
                return
            self.engine.catalog.commit(Commit(collection.id, add=[record]))
            self.failures.pop((collection.id, spec.index_name), None)
            collection.files.append(record)
            loaded = collection.sealed.get(seg_file.segment_id)
            if loaded is not None:
                loaded.set_index(spec.field_name, index)

    def attach(self, collection: Collection, segment: SealedSegment, f: FileRecord) -> None:
        """Load a committed index file into a segment being loaded."""
        spec = collection.indexes.get(f.index_name)
        if spec is None or not spec.metric_type:
            return
        plan = _plan(collection, spec)
        base = segment.raw_vectors(spec.field_name)
        store = self.engine.store
        path = (verified_blob_path(store, f.key, f.size, f.checksum)
                if collection.index_mmap(spec) and mappable(plan.kind) else None)
        try:
            if path is not None:
                index = map_index(path, spec.metric_type, plan.kind, base)
            else:
                data = read_blob(store, f.key, size=f.size, checksum=f.checksum)
                index = load_index(data, spec.metric_type, plan.kind, base)
        except (ValueError, RuntimeError, OSError, KeyError, zipfile.BadZipFile) as exc:
            # faiss or numpy refusing bytes they did not write
            raise Corruption(f.key, f"undecodable index file: {exc}") from exc
        segment.set_index(spec.field_name, index)
