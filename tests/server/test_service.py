"""The servicer answers every MilvusService RPC: served ones work, the rest say so clearly."""

from __future__ import annotations

import pytest
from pymilvus.grpc_gen import common_pb2, milvus_pb2

from elanus.engine.engine import Engine
from elanus.errors import ElanusError
from elanus.server.grpc.handlers import HANDLERS, SERVICE, response_type
from elanus.server.grpc.service import MilvusServicer
from elanus.server.grpc.status import to_status


class _Ctx:
    def invocation_metadata(self) -> tuple[()]:
        return ()

    def abort(self, code: object, details: str) -> None:
        raise RuntimeError(details)


@pytest.fixture(scope="module")
def servicer(tmp_path_factory: pytest.TempPathFactory):
    engine = Engine(tmp_path_factory.mktemp("svc") / "data")
    yield MilvusServicer(engine)
    engine.close()


def _status(reply: object) -> common_pb2.Status:
    return reply if isinstance(reply, common_pb2.Status) else reply.status  # type: ignore[attr-defined]


def _has_status(method: str) -> bool:
    t = response_type(method)
    return t is common_pb2.Status or "status" in t.DESCRIPTOR.fields_by_name


@pytest.mark.parametrize("method", [m.name for m in SERVICE.methods
                                    if m.name not in HANDLERS
                                    and not (m.client_streaming or m.server_streaming)])
def test_unserved_rpc_names_itself(servicer: MilvusServicer, method: str) -> None:
    request = response_type(method)  # any message works: the handler never reads it
    call = getattr(servicer, method)
    if not _has_status(method):  # no status field: the call fails at gRPC level, with a message
        with pytest.raises(RuntimeError, match=method):
            call(request(), _Ctx())
        return
    status = _status(call(request(), _Ctx()))
    assert status.code == 10
    assert method in status.reason


def test_every_rpc_has_a_method_on_the_servicer() -> None:
    missing = [m.name for m in SERVICE.methods if m.name not in MilvusServicer.__dict__]
    assert not missing


def test_failures_become_statuses_and_unknown_bugs_are_code_65535() -> None:
    assert to_status(ElanusError("x")).code == 65535
    status = to_status(ZeroDivisionError("boom"))
    assert status.code == 5 and "ZeroDivisionError" in status.reason


def test_describe_missing_collection_uses_milvus_wording(servicer: MilvusServicer) -> None:
    reply = servicer.DescribeCollection(
        milvus_pb2.DescribeCollectionRequest(collection_name="missing"), _Ctx())
    assert reply.status.code == 100
    assert reply.status.error_code == common_pb2.CollectionNotExists
    assert reply.status.reason == "can't find collection[database=default][collection=missing]"


def test_unknown_database_is_code_800(servicer: MilvusServicer) -> None:
    reply = servicer.ShowCollections(milvus_pb2.ShowCollectionsRequest(db_name="other"), _Ctx())
    assert reply.status.code == 800
    assert reply.status.reason == "database not found[database=other]"


def test_write_against_an_old_schema_version_is_a_schema_mismatch(
        servicer: MilvusServicer) -> None:
    from pymilvus.grpc_gen import schema_pb2

    from elanus.schema import DataType, FieldSchema

    engine = servicer.engine
    schema = schema_pb2.CollectionSchema(name="versions", fields=[
        schema_pb2.FieldSchema(name="id", data_type=DataType.INT64, is_primary_key=True),
        schema_pb2.FieldSchema(name="v", data_type=DataType.FLOAT_VECTOR,
                               type_params=[common_pb2.KeyValuePair(key="dim", value="2")])])
    status = servicer.CreateCollection(milvus_pb2.CreateCollectionRequest(
        collection_name="versions", schema=schema.SerializeToString()), _Ctx())
    assert status.code == 0

    def described() -> int:
        return servicer.DescribeCollection(milvus_pb2.DescribeCollectionRequest(
            collection_name="versions"), _Ctx()).update_timestamp

    def insert(schema_ts: int) -> common_pb2.Status:
        ids = schema_pb2.FieldData(type=DataType.INT64, field_name="id")
        ids.scalars.long_data.data.append(1)
        vec = schema_pb2.FieldData(type=DataType.FLOAT_VECTOR, field_name="v")
        vec.vectors.dim = 2
        vec.vectors.float_vector.data.extend([0.5, 0.5])
        return servicer.Insert(milvus_pb2.InsertRequest(
            collection_name="versions", fields_data=[ids, vec], num_rows=1,
            schema_timestamp=schema_ts), _Ctx()).status

    first = described()
    assert first > 0 and insert(first).code == 0 and insert(0).code == 0
    reply = servicer.DescribeCollection(milvus_pb2.DescribeCollectionRequest(
        collection_name="versions"), _Ctx())
    assert reply.db_id == engine.describe_database("default").id == 1
    engine.add_field("default", "versions", FieldSchema("n", DataType.INT64, nullable=True))
    assert described() > first
    stale = insert(first)
    assert (stale.code, stale.error_code) == (109, common_pb2.SchemaMismatch)
    assert stale.reason == "collection schema mismatch[collection=versions]"
    assert insert(described()).code == 0
