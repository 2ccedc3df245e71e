"""RPCs on collections: create, drop, has, describe, list, load, release, flush, statistics."""

from __future__ import annotations

import time
from typing import Any

from pymilvus.grpc_gen import common_pb2, milvus_pb2, schema_pb2

from elanus.engine.engine import Engine
from elanus.engine.tso import physical_ms
from elanus.errors import (
    CollectionNotFound,
    CollectionNotLoaded,
    InvalidArgument,
)
from elanus.schema import validate_name
from elanus.server.grpc.handlers import db_name, handler, kv_pairs
from elanus.server.grpc.schema_codec import (
    decode_field,
    decode_function,
    decode_schema,
    encode_schema,
)
from elanus.server.grpc.status import OK


@handler("CreateCollection")
def create_collection(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    validate_name(req.collection_name, "collection")
    schema = decode_schema(req.schema, req.collection_name)
    engine.create_collection(db_name(req, ctx), schema, consistency_level=req.consistency_level,
                             num_shards=req.shards_num or 1, properties=kv_pairs(req.properties),
                             num_partitions=max(int(req.num_partitions), 0))
    return OK


@handler("DropCollection")
def drop_collection(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    db = db_name(req, ctx)
    if engine.has_collection(db, req.collection_name):
        engine.drop_collection(db, req.collection_name)
    return OK  # Milvus: dropping a collection that does not exist succeeds


@handler("HasCollection")
def has_collection(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.BoolResponse:
    return milvus_pb2.BoolResponse(status=OK,
                                   value=engine.has_collection(db_name(req, ctx),
                                                               req.collection_name))


@handler("DescribeCollection")
def describe_collection(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.DescribeCollectionResponse:
    try:
        info = engine.describe_collection(db_name(req, ctx), req.collection_name)
    except CollectionNotFound as exc:
        raise CollectionNotFound(exc.name, exc.database, describing=True) from None
    db_id = engine.describe_database(info.db).id
    return milvus_pb2.DescribeCollectionResponse(
        status=OK, schema=encode_schema(info.schema), collectionID=info.id,
        created_timestamp=info.created_ts, created_utc_timestamp=physical_ms(info.created_ts),
        shards_num=info.num_shards, consistency_level=info.consistency_level,
        collection_name=info.name, db_name=info.db, num_partitions=len(info.partitions),
        virtual_channel_names=[f"by-dev-rootcoord-dml_{i}_{info.id}v{i}"
                               for i in range(info.num_shards)],
        physical_channel_names=[f"by-dev-rootcoord-dml_{i}" for i in range(info.num_shards)],
        properties=[common_pb2.KeyValuePair(key=k, value=v) for k, v in info.properties.items()],
        aliases=list(info.aliases), update_timestamp=info.schema_ts, db_id=db_id,
    )


@handler("ShowCollections")
def show_collections(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.ShowCollectionsResponse:
    db = db_name(req, ctx)
    names = engine.list_collections(db)
    if req.collection_names:
        names = [n for n in names if n in set(req.collection_names)]
    infos = [engine.describe_collection(db, n) for n in names]
    loaded = [100 if engine.load_state(db, n) else 0 for n in names]
    return milvus_pb2.ShowCollectionsResponse(
        status=OK, collection_names=names, collection_ids=[i.id for i in infos],
        created_timestamps=[i.created_ts for i in infos],
        created_utc_timestamps=[physical_ms(i.created_ts) for i in infos],
        inMemory_percentages=loaded, query_service_available=[bool(p) for p in loaded],
        shards_num=[i.num_shards for i in infos])


@handler("LoadCollection")
def load_collection(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    engine.load_collection(db_name(req, ctx), req.collection_name)
    return OK


@handler("ReleaseCollection")
def release_collection(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    engine.release_collection(db_name(req, ctx), req.collection_name)
    return OK


@handler("GetLoadState")
def get_load_state(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.GetLoadStateResponse:
    db = db_name(req, ctx)
    if not engine.has_collection(db, req.collection_name):
        state = common_pb2.LoadStateNotExist
    elif engine.load_state(db, req.collection_name, list(req.partition_names)):
        state = common_pb2.LoadStateLoaded
    else:
        state = common_pb2.LoadStateNotLoad
    return milvus_pb2.GetLoadStateResponse(status=OK, state=state)


@handler("GetLoadingProgress")
def get_loading_progress(engine: Engine, req: Any,
                         ctx: Any) -> milvus_pb2.GetLoadingProgressResponse:
    db = db_name(req, ctx)
    if not engine.load_state(db, req.collection_name, list(req.partition_names)):
        raise CollectionNotLoaded(engine.collection(db, req.collection_name).id)
    return milvus_pb2.GetLoadingProgressResponse(status=OK, progress=100, refresh_progress=100)


@handler("GetCollectionStatistics")
def get_collection_statistics(engine: Engine, req: Any,
                              ctx: Any) -> milvus_pb2.GetCollectionStatisticsResponse:
    stats = engine.collection_stats(db_name(req, ctx), req.collection_name)
    return milvus_pb2.GetCollectionStatisticsResponse(
        status=OK, stats=[common_pb2.KeyValuePair(key="row_count", value=str(stats.row_count))])


@handler("Flush")
def flush(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.FlushResponse:
    db = db_name(req, ctx)
    out = milvus_pb2.FlushResponse(status=OK, db_name=db)
    now = int(time.time())
    for name in req.collection_names:
        sealed = engine.flush(db, name)
        out.coll_segIDs[name].data.extend(sealed)
        out.flush_coll_segIDs[name].data.extend(sealed)
        out.coll_seal_times[name] = now
        out.coll_flush_ts[name] = engine.tso.allocate()
    return out


@handler("GetFlushState")
def get_flush_state(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.GetFlushStateResponse:
    # Flush seals synchronously: every segment id it returned is already committed.
    return milvus_pb2.GetFlushStateResponse(status=OK, flushed=True)


@handler("TruncateCollection")
def truncate_collection(engine: Engine, req: Any, ctx: Any) -> Any:
    engine.truncate_collection(db_name(req, ctx), req.collection_name)
    return milvus_pb2.TruncateCollectionResponse(status=OK)


# -- compaction -----------------------------------------------------------------------------

_COMPACTION_STATES = {"Executing": common_pb2.Executing, "Completed": common_pb2.Completed}
_PLAN_STATES = {"Executing": common_pb2.CompactionTaskStateExecuting,
                "Completed": common_pb2.CompactionTaskStateCompleted,
                "Failed": common_pb2.CompactionTaskStateFailed}


@handler("ManualCompaction")
def manual_compaction(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.ManualCompactionResponse:
    db = db_name(req, ctx)
    name = req.collection_name or engine.collection_by_id(req.collectionID).name
    job_id = engine.compact(db, name, clustering=req.majorCompaction)
    return milvus_pb2.ManualCompactionResponse(status=OK, compactionID=job_id,
                                               compactionPlanCount=1)


def _job(engine: Engine, job_id: int) -> Any:
    return engine.compaction_job(job_id)


@handler("GetCompactionState")
def get_compaction_state(engine: Engine, req: Any,
                         ctx: Any) -> milvus_pb2.GetCompactionStateResponse:
    job = _job(engine, req.compactionID)
    if job is None:  # unknown here (or from before a restart): nothing to report
        return milvus_pb2.GetCompactionStateResponse(status=OK, state=common_pb2.UndefiedState)
    plans = job.plans
    return milvus_pb2.GetCompactionStateResponse(
        status=OK, state=_COMPACTION_STATES[job.state],
        executingPlanNo=sum(p.state == "Executing" for p in plans),
        completedPlanNo=sum(p.state == "Completed" for p in plans),
        failedPlanNo=sum(p.state == "Failed" for p in plans))


@handler("GetCompactionStateWithPlans")
def get_compaction_plans(engine: Engine, req: Any,
                         ctx: Any) -> milvus_pb2.GetCompactionPlansResponse:
    job = _job(engine, req.compactionID)
    if job is None:
        return milvus_pb2.GetCompactionPlansResponse(status=OK, state=common_pb2.UndefiedState)
    infos = [milvus_pb2.CompactionMergeInfo(sources=p.sources, target=p.targets[0] if p.targets else 0,
                                            plan_id=p.plan_id,
                                            trigger_id=job.job_id,
                                            collection_id=job.collection_id,
                                            state=_PLAN_STATES[p.state],
                                            type=common_pb2.CompactionTypeMix,
                                            failure_reason=p.failure, targets=p.targets)
             for p in job.plans]
    return milvus_pb2.GetCompactionPlansResponse(status=OK, state=_COMPACTION_STATES[job.state],
                                                 mergeInfos=infos)


@handler("AlterCollection")
def alter_collection(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    db = db_name(req, ctx)
    name = req.collection_name or engine.collection_by_id(req.collectionID).name
    engine.alter_collection_properties(db, name, kv_pairs(req.properties), list(req.delete_keys))
    return OK


@handler("AddCollectionField")
def add_collection_field(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    pb = schema_pb2.FieldSchema()
    try:
        pb.ParseFromString(req.schema)
    except Exception:  # noqa: BLE001 (protobuf raises its own DecodeError family)
        raise InvalidArgument("the field schema could not be decoded") from None
    db = db_name(req, ctx)
    name = req.collection_name or engine.collection_by_id(req.collectionID).name
    engine.add_field(db, name, decode_field(pb))
    return OK


@handler("AddCollectionFunction")
def add_collection_function(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    fn = decode_function(req.functionSchema) if req.HasField("functionSchema") else None
    engine.change_function(db_name(req, ctx), req.collection_name, "add", fn=fn)
    return OK


@handler("AlterCollectionFunction")
def alter_collection_function(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    fn = decode_function(req.functionSchema) if req.HasField("functionSchema") else None
    engine.change_function(db_name(req, ctx), req.collection_name, "alter", req.function_name,
                           fn)
    return OK


@handler("DropCollectionFunction")
def drop_collection_function(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    engine.change_function(db_name(req, ctx), req.collection_name, "drop", req.function_name)
    return OK


@handler("AlterCollectionField")
def alter_collection_field(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    engine.alter_field(db_name(req, ctx), req.collection_name, req.field_name,
                       kv_pairs(req.properties), list(req.delete_keys))
    return OK


# -- segments -------------------------------------------------------------------------------

_SEGMENT_STATES = {"Growing": common_pb2.Growing, "Sealed": common_pb2.Sealed,
                   "Flushed": common_pb2.Flushed}


@handler("GetPersistentSegmentInfo")
def get_persistent_segment_info(engine: Engine, req: Any,
                                ctx: Any) -> milvus_pb2.GetPersistentSegmentInfoResponse:
    db = req.dbName or db_name(req, ctx)
    cid = engine.collection(db, req.collectionName).id
    infos = [milvus_pb2.PersistentSegmentInfo(
        segmentID=s.segment_id, collectionID=cid, partitionID=s.partition_id,
        num_rows=s.num_rows,
        state=_SEGMENT_STATES[s.state]) for s in engine.segment_infos(db, req.collectionName)
        if s.state != "Growing"]
    return milvus_pb2.GetPersistentSegmentInfoResponse(status=OK, infos=infos)


@handler("GetQuerySegmentInfo")
def get_query_segment_info(engine: Engine, req: Any,
                           ctx: Any) -> milvus_pb2.GetQuerySegmentInfoResponse:
    db = req.dbName or db_name(req, ctx)
    cid = engine.collection(db, req.collectionName).id
    infos = [milvus_pb2.QuerySegmentInfo(
        segmentID=s.segment_id, collectionID=cid, partitionID=s.partition_id,
        num_rows=s.num_rows,
        index_name=s.index_name, state=_SEGMENT_STATES[s.state], nodeID=1, nodeIds=[1])
        for s in engine.segment_infos(db, req.collectionName) if s.loaded]
    return milvus_pb2.GetQuerySegmentInfoResponse(status=OK, infos=infos)
