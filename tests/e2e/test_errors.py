"""Bad input gets Milvus's error code and wording, and the server keeps serving."""

from __future__ import annotations

import pytest
from pymilvus import DataType, MilvusClient, MilvusException


def _raises(code: int, words: str):
    class _Check:
        def __enter__(self):
            self._ctx = pytest.raises(MilvusException)
            self.info = self._ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self._ctx.__exit__(*exc)
            assert self.info.value.code == code, str(self.info.value)
            assert words in self.info.value.message, self.info.value.message
            return handled

    return _Check()


@pytest.fixture
def quick(milvus, name: str) -> str:
    milvus.create_collection(name, dimension=4)
    milvus.insert(name, [{"id": i, "vector": [1.0, i, 0, 0]} for i in range(5)])
    return name


def test_unknown_collection(milvus) -> None:
    with _raises(100, "collection not found[database=default][collection=nope]"):
        milvus.search("nope", data=[[1, 2, 3, 4]], limit=1)
    with _raises(100, "collection not found"):
        milvus.load_collection("nope")
    with _raises(100, "can't find collection[database=default][collection=nope]"):
        milvus.describe_collection("nope")
    assert milvus.has_collection("nope") is False
    milvus.drop_collection("nope")  # Milvus: dropping a missing collection succeeds


def test_duplicate_collection(milvus, quick: str) -> None:
    milvus.create_collection(quick, dimension=4)  # identical: succeeds, as in Milvus
    with _raises(65535, "create duplicate collection with different parameters"):
        milvus.create_collection(quick, dimension=8)


@pytest.mark.parametrize("bad, words", [
    ("1abc", "the first character of a collection name must be an underscore or letter"),
    ("a-b", "collection name can only contain numbers, letters and underscores"),
    ("x" * 256, "must be less than 255 characters"),
])
def test_invalid_collection_names(milvus, bad: str, words: str) -> None:
    with _raises(1100, words):
        milvus.create_collection(bad, dimension=4)


@pytest.mark.parametrize("call", [
    lambda m, bad, ok: m.describe_collection(bad),
    lambda m, bad, ok: m.has_collection(bad),
    lambda m, bad, ok: m.drop_collection(bad),
    lambda m, bad, ok: m.load_collection(bad),
    lambda m, bad, ok: m.release_collection(bad),
    lambda m, bad, ok: m.create_alias(bad, "alias_x"),
    lambda m, bad, ok: m.alter_alias(bad, "alias_x"),
], ids=["describe", "has", "drop", "load", "release", "create_alias", "alter_alias"])
def test_every_call_checks_the_collection_name_first(milvus, quick: str, call) -> None:  # type: ignore[no-untyped-def]
    with _raises(1100, "Invalid collection name: 12-s. the first character of a collection "
                       "name must be an underscore or letter"):
        call(milvus, "12-s", quick)


@pytest.mark.parametrize("call", [
    lambda m, c: m.create_alias(c, "12-s"),
    lambda m, c: m.alter_alias(c, "12-s"),
    lambda m, c: m.drop_alias("12-s"),
], ids=["create", "alter", "drop"])
def test_alias_calls_check_the_alias_name(milvus, quick: str, call) -> None:  # type: ignore[no-untyped-def]
    with _raises(1100, "Invalid collection alias: 12-s. the first character of a collection "
                       "alias must be an underscore or letter"):
        call(milvus, quick)


def test_varchar_key_without_max_length_names_the_collection(milvus, name: str) -> None:
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.VARCHAR, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    with _raises(1100, f"type param(max_length) should be specified for the field(id) of "
                       f"collection {name}"):
        milvus.create_collection(name, schema=schema)


def test_invalid_field_name(milvus, name: str) -> None:
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("1vec", DataType.FLOAT_VECTOR, dim=4)
    with _raises(1701, "The first character of a field name must be an underscore or letter"):
        milvus.create_collection(name, schema=schema)


def test_wrong_dimension(milvus, quick: str) -> None:
    with _raises(1100, "the dim (3) of field data(vector) is not equal to schema dim (4)"):
        milvus.insert(quick, [{"id": 9, "vector": [1.0, 2.0, 3.0]}] * 4)
    with _raises(65535, "the length(3) of float data should divide the dim(4)"):
        milvus.insert(quick, [{"id": 9, "vector": [1.0, 2.0, 3.0]}])
    with _raises(1100, "dim"):
        milvus.search(quick, data=[[1.0, 2.0]], limit=1)


def test_upsert_of_one_key_twice_in_a_batch_is_refused(milvus, quick: str) -> None:
    with _raises(1100, "duplicate primary keys are not allowed in the same batch"):
        milvus.upsert(quick, [{"id": 1, "vector": [1.0, 0, 0, 0]},
                              {"id": 1, "vector": [0.0, 1, 0, 0]}])
    assert milvus.query(quick, filter="", output_fields=["count(*)"])[0]["count(*)"] == 5


def test_missing_and_unknown_fields(milvus, name: str) -> None:
    schema = MilvusClient.create_schema(enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
    schema.add_field("title", DataType.VARCHAR, max_length=5)
    index = milvus.prepare_index_params()
    index.add_index("vector", metric_type="L2")
    milvus.create_collection(name, schema=schema, index_params=index)
    with pytest.raises(MilvusException, match="Insert missed an field `title`"):
        milvus.insert(name, [{"id": 1, "vector": [1, 2]}])
    with pytest.raises(MilvusException, match="unexpected field `color`"):
        milvus.insert(name, [{"id": 1, "vector": [1, 2], "title": "a", "color": "red"}])
    with pytest.raises(MilvusException, match="should be a int64"):
        milvus.insert(name, [{"id": "one", "vector": [1, 2], "title": "a"}])
    with _raises(1100, "length of varchar field title exceeds max length, row number: 0, "
                       "length: 10, max length: 5"):
        milvus.insert(name, [{"id": 1, "vector": [1, 2], "title": "x" * 10}])
    with _raises(1100, "field color not exist"):
        milvus.query(name, filter="color == 'red'", limit=1)


def test_malformed_filters(milvus, quick: str) -> None:
    with _raises(1100, "failed to create query plan: cannot parse expression: id >"):
        milvus.query(quick, filter="id >", limit=1)
    with _raises(1100, "cannot parse expression"):
        milvus.search(quick, data=[[1, 2, 3, 4]], limit=1, filter="id in [1, 2")
    with _raises(1100, "failed to create delete plan: cannot parse expression: id ===== 3"):
        milvus.delete(quick, filter="id ===== 3")
    with _raises(1100, "empty expression should be used with limit"):
        milvus.query(quick, filter="")
    # An unknown name with the dynamic field on is a dynamic key: it matches nothing.
    assert milvus.query(quick, filter="colour == 'red'", limit=5) == []


def test_search_errors_worded_as_milvus(milvus, quick: str) -> None:
    with _raises(1100, "predicate is not a boolean expression: invalidexpr, data type: JSON"):
        milvus.query(quick, filter="invalidexpr", limit=1)
    with _raises(1100, "failed to get field schema by name: fieldName(nope) not found"):
        milvus.search(quick, data=[[1.0, 0, 0, 0]], anns_field="nope", limit=1)
    with _raises(1100, "hints: not_supported_hints not supported"):
        milvus.search(quick, data=[[1.0, 0, 0, 0]], limit=1,
                      search_params={"hints": "not_supported_hints"})
    hits = milvus.search(quick, data=[[1.0, 0, 0, 0]], limit=2, filter="id >= 3",
                         search_params={"hints": "iterative_filter"})
    assert [h["id"] for h in hits[0]] == [3, 4]


def test_index_errors(milvus, quick: str) -> None:
    assert milvus.describe_index(quick, "no_such_index") is None  # pymilvus maps code 700
    with _raises(65535, "at most one distinct index is allowed per field"):
        params = milvus.prepare_index_params()
        params.add_index("vector", index_type="HNSW", metric_type="L2", params={"M": 8})
        milvus.create_index(quick, params)
    with _raises(65535, "index cannot be dropped, collection is loaded, please release it first"):
        milvus.drop_index(quick, "vector")
    with _raises(1100, "metric type not match"):
        milvus.search(quick, data=[[1, 2, 3, 4]], limit=1, search_params={"metric_type": "L2"})


def test_not_loaded_and_load_without_index(milvus, quick: str, name: str) -> None:
    milvus.release_collection(quick)
    milvus.release_collection(quick)  # releasing twice is fine
    with _raises(101, "collection not loaded"):
        milvus.search(quick, data=[[1, 2, 3, 4]], limit=1)
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    bare = f"{name}_bare"
    milvus.create_collection(bare, schema=schema)
    with _raises(700, f"index not found[collection={bare}]"):
        milvus.load_collection(bare)


def test_unserved_rpc_is_a_clear_error(milvus, quick: str) -> None:
    with _raises(10, "CreateRole is not supported by elanus yet"):
        milvus.create_role("reader")


def test_server_keeps_serving_after_errors(milvus, quick: str) -> None:
    for _ in range(3):
        with pytest.raises(MilvusException):
            milvus.query(quick, filter="((((", limit=1)
    assert len(milvus.query(quick, filter="id >= 0")) == 5


def test_delete_everything_by_a_constant_filter_is_refused(milvus, quick: str) -> None:
    with _raises(1100, "delete plan can't be empty or always true"):
        milvus.delete(quick, filter="1 == 1")
    assert len(milvus.query(quick, filter="id >= 0")) == 5
