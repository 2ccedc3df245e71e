"""RPCs on partitions: create, drop, has, show, load, release, statistics."""

from __future__ import annotations

from typing import Any

from pymilvus.grpc_gen import common_pb2, milvus_pb2

from elanus.engine.engine import Engine
from elanus.engine.tso import physical_ms
from elanus.errors import InvalidArgument, UnexpectedError
from elanus.server.grpc.handlers import db_name, handler
from elanus.server.grpc.status import OK


@handler("CreatePartition")
def create_partition(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    engine.create_partition(db_name(req, ctx), req.collection_name, req.partition_name)
    return OK


@handler("DropPartition")
def drop_partition(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    engine.drop_partition(db_name(req, ctx), req.collection_name, req.partition_name)
    return OK


@handler("HasPartition")
def has_partition(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.BoolResponse:
    return milvus_pb2.BoolResponse(status=OK, value=engine.has_partition(
        db_name(req, ctx), req.collection_name, req.partition_name))


@handler("ShowPartitions")
def show_partitions(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.ShowPartitionsResponse:
    infos = engine.list_partitions(db_name(req, ctx), req.collection_name)
    if req.partition_names:
        wanted = set(req.partition_names)
        infos = [p for p in infos if p.name in wanted]
    return milvus_pb2.ShowPartitionsResponse(
        status=OK, partition_names=[p.name for p in infos], partitionIDs=[p.id for p in infos],
        created_timestamps=[p.created_ts for p in infos],
        created_utc_timestamps=[physical_ms(p.created_ts) for p in infos],
        inMemory_percentages=[100 if p.loaded else 0 for p in infos])


@handler("LoadPartitions")
def load_partitions(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    if not req.partition_names:
        raise UnexpectedError("failed to load partition, due to no partition specified")
    engine.load_partitions(db_name(req, ctx), req.collection_name, list(req.partition_names))
    return OK


@handler("ReleasePartitions")
def release_partitions(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    if not req.partition_names:
        raise InvalidArgument("", "any partition", "empty partition list")
    engine.release_partitions(db_name(req, ctx), req.collection_name, list(req.partition_names))
    return OK


@handler("GetPartitionStatistics")
def get_partition_statistics(engine: Engine, req: Any,
                             ctx: Any) -> milvus_pb2.GetPartitionStatisticsResponse:
    stats = engine.partition_stats(db_name(req, ctx), req.collection_name, req.partition_name)
    return milvus_pb2.GetPartitionStatisticsResponse(
        status=OK, stats=[common_pb2.KeyValuePair(key="row_count", value=str(stats.row_count))])
