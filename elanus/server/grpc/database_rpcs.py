"""RPCs on databases: create, drop, list, describe, alter.

CreateDatabase, DropDatabase, DescribeDatabase and AlterDatabase carry the database they act on
in `db_name`; that is the target, not the request's database context.
"""

from __future__ import annotations

from typing import Any

from pymilvus.grpc_gen import common_pb2, milvus_pb2

from elanus.engine.engine import Engine
from elanus.engine.tso import physical_ms
from elanus.server.grpc.handlers import handler, kv_pairs
from elanus.server.grpc.status import OK


@handler("CreateDatabase")
def create_database(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    engine.create_database(req.db_name, kv_pairs(req.properties))
    return OK


@handler("DropDatabase")
def drop_database(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    engine.drop_database(req.db_name)
    return OK


@handler("ListDatabases")
def list_databases(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.ListDatabasesResponse:
    dbs = engine.list_databases()
    return milvus_pb2.ListDatabasesResponse(
        status=OK, db_names=[d.name for d in dbs], db_ids=[d.id for d in dbs],
        created_timestamp=[physical_ms(d.created_ts) for d in dbs])


@handler("DescribeDatabase")
def describe_database(engine: Engine, req: Any,
                      ctx: Any) -> milvus_pb2.DescribeDatabaseResponse:
    d = engine.describe_database(req.db_name)
    return milvus_pb2.DescribeDatabaseResponse(
        status=OK, db_name=d.name, dbID=d.id, created_timestamp=physical_ms(d.created_ts),
        properties=[common_pb2.KeyValuePair(key=k, value=v) for k, v in d.properties.items()])


@handler("AlterDatabase")
def alter_database(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    engine.alter_database_properties(req.db_name, kv_pairs(req.properties),
                                     list(req.delete_keys))
    return OK
