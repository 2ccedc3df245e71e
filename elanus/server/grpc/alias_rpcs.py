"""RPCs on collection aliases, and renaming collections."""

from __future__ import annotations

from typing import Any

from pymilvus.grpc_gen import common_pb2, milvus_pb2

from elanus.engine.engine import Engine
from elanus.server.grpc.handlers import db_name, handler
from elanus.server.grpc.status import OK


@handler("CreateAlias")
def create_alias(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    engine.create_alias(db_name(req, ctx), req.collection_name, req.alias)
    return OK


@handler("AlterAlias")
def alter_alias(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    engine.alter_alias(db_name(req, ctx), req.collection_name, req.alias)
    return OK


@handler("DropAlias")
def drop_alias(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    engine.drop_alias(db_name(req, ctx), req.alias)
    return OK


@handler("DescribeAlias")
def describe_alias(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.DescribeAliasResponse:
    db, collection = engine.describe_alias(db_name(req, ctx), req.alias)
    return milvus_pb2.DescribeAliasResponse(status=OK, db_name=db, alias=req.alias,
                                            collection=collection)


@handler("ListAliases")
def list_aliases(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.ListAliasesResponse:
    db = db_name(req, ctx)
    return milvus_pb2.ListAliasesResponse(
        status=OK, db_name=db, collection_name=req.collection_name,
        aliases=engine.list_aliases(db, req.collection_name))


@handler("RenameCollection")
def rename_collection(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    engine.rename_collection(db_name(req, ctx), req.oldName, req.newName, req.newDBName)
    return OK
