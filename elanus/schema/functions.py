"""Functions in a collection schema: fields whose values the database computes from other fields.

A BM25 function reads one VARCHAR field whose analyzer is enabled and writes one
SPARSE_FLOAT_VECTOR field: on every insert and upsert each row's text is analyzed and its
vector becomes {term hash: term frequency} (`bm25_vectors`). Clients never send the output
field, never read it back, and search it with raw text under the BM25 metric. The checks here
are Milvus's, with its wording.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from elanus.errors import InvalidArgument, UnexpectedError, Unsupported
from elanus.schema.analyzers import Analyzer, term_hashes
from elanus.schema.multi_analyzer import MultiAnalyzer, row_analyzers, text_analysis
from elanus.schema.types import DataType, single_array
from elanus.schema.vectors import SparseRows, sparse_column

if TYPE_CHECKING:
    from elanus.schema.collection import CollectionSchema, FieldSchema


class FunctionType(enum.IntEnum):
    """Milvus's values (schema.proto FunctionType)."""

    UNKNOWN = 0
    BM25 = 1
    TEXTEMBEDDING = 2
    RERANK = 3
    MINHASH = 4


@dataclass(frozen=True)
class FunctionSchema:
    name: str
    type: FunctionType
    input_field_names: tuple[str, ...]
    output_field_names: tuple[str, ...]
    description: str = ""
    params: dict[str, str] = field(default_factory=dict)
    function_id: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": int(self.type), "description": self.description,
                "input_field_names": list(self.input_field_names),
                "output_field_names": list(self.output_field_names),
                "params": dict(self.params), "function_id": self.function_id}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FunctionSchema:
        return cls(name=raw["name"], type=FunctionType(raw["type"]),
                   input_field_names=tuple(raw["input_field_names"]),
                   output_field_names=tuple(raw["output_field_names"]),
                   description=raw.get("description", ""), params=dict(raw.get("params", {})),
                   function_id=raw.get("function_id", 0))


FIRST_FUNCTION_ID = 100


def validate_functions(schema: CollectionSchema) -> tuple[FunctionSchema, ...]:
    """Milvus's checks of a schema's functions; returns them with ids assigned."""
    names: set[str] = set()
    outputs: set[str] = set()
    out = []
    for i, fn in enumerate(schema.functions):
        _check_basic(fn)
        if fn.name in names:
            raise InvalidArgument(f"duplicate function name: {fn.name}")
        names.add(fn.name)
        inputs = [_input_field(schema, fn, name) for name in fn.input_field_names]
        _check_input(schema, inputs)
        produced = []
        for name in fn.output_field_names:
            f = schema.field(name)
            if f is None:
                raise InvalidArgument(f"function output field not found: {name}")
            if f.is_primary:
                raise InvalidArgument(f"function output field cannot be primary key: function "
                                      f"{fn.name}, field {name}")
            if f.is_partition_key or f.is_clustering_key:
                raise InvalidArgument(f"function output field cannot be partition key or "
                                      f"clustering key: function {fn.name}, field {name}")
            if f.nullable:
                raise InvalidArgument(f"function output field cannot be nullable: function "
                                      f"{fn.name}, field {name}")
            if name in outputs:
                raise InvalidArgument(f"duplicate function output field: function {fn.name}, "
                                      f"field {name}")
            outputs.add(name)
            produced.append(f)
        _check_output(fn, produced)
        out.append(FunctionSchema(fn.name, fn.type, fn.input_field_names, fn.output_field_names,
                                  fn.description, dict(fn.params),
                                  fn.function_id or FIRST_FUNCTION_ID + i))
    return tuple(out)


def _check_basic(fn: FunctionSchema) -> None:
    if not fn.name:
        raise InvalidArgument("function name cannot be empty")
    if not fn.input_field_names:
        raise InvalidArgument(f"function input field names cannot be empty, function: "
                              f"{fn.name}")
    if not fn.output_field_names:
        raise InvalidArgument(f"function output field names cannot be empty, function: "
                              f"{fn.name}")
    for name in fn.input_field_names:
        if not name:
            raise InvalidArgument(f"function input field name cannot be empty string, "
                                  f"function: {fn.name}")
        if fn.input_field_names.count(name) > 1:
            raise InvalidArgument(f"each function input field should be used exactly once in "
                                  f"the same function, function: {fn.name}, input field: "
                                  f"{name}")
    for name in fn.output_field_names:
        if not name:
            raise InvalidArgument(f"function output field name cannot be empty string, "
                                  f"function: {fn.name}")
        if name in fn.input_field_names:
            raise InvalidArgument(f"a single field cannot be both input and output in the same "
                                  f"function, function: {fn.name}, field: {name}")
        if fn.output_field_names.count(name) > 1:
            raise InvalidArgument(f"each function output field should be used exactly once in "
                                  f"the same function, function: {fn.name}, output field: "
                                  f"{name}")
    if fn.type != FunctionType.BM25:
        raise Unsupported(f"{fn.type.name} functions in a collection schema are not supported "
                          "by this elanus build yet")
    if fn.params:
        raise InvalidArgument("BM25 function accepts no params")


def _input_field(schema: CollectionSchema, fn: FunctionSchema, name: str) -> FieldSchema:
    f = schema.field(name)
    if f is None:
        raise InvalidArgument(f"function input field not found: {name}")
    return f


def _check_input(schema: CollectionSchema, inputs: list[FieldSchema]) -> None:
    if len(inputs) != 1 or inputs[0].dtype != DataType.VARCHAR:
        raise InvalidArgument(f"BM25 function input field must be a VARCHAR field, got "
                              f"{len(inputs)} field with type {inputs[0].dtype.milvus_name}")
    if inputs[0].type_params.get("enable_analyzer", "").lower() != "true":
        raise InvalidArgument("BM25 function input field must set enable_analyzer to true")
    text_analysis(schema, inputs[0])  # its analyzer params are valid


def _check_output(fn: FunctionSchema, outputs: list[FieldSchema]) -> None:
    if len(outputs) != 1:
        raise InvalidArgument(f"BM25 function only need 1 output field, but got {len(outputs)}")
    if outputs[0].dtype != DataType.SPARSE_FLOAT_VECTOR:
        raise InvalidArgument(f"BM25 function output field must be a SparseFloatVector field, "
                              f"but got {outputs[0].dtype.milvus_name}")


def bm25_analysis(schema: CollectionSchema, fn: FunctionSchema) -> Analyzer | MultiAnalyzer:
    """The analysis of a BM25 function's input field."""
    f = schema.field(fn.input_field_names[0])
    assert f is not None
    return text_analysis(schema, f)


def term_frequencies(analyzers: Analyzer | Sequence[Analyzer],
                     texts: Sequence[str | None]) -> SparseRows:
    """Each text's BM25 vector, {term hash: count}, as CSR rows with sorted indices, analyzed
    by one analyzer or each by its own. A null or empty text has an empty vector."""
    if isinstance(analyzers, Analyzer):
        per_row = [analyzers.terms(t) if t else [] for t in texts]
    else:
        per_row = [a.terms(t) if t else [] for a, t in zip(analyzers, texts)]
    counts = np.fromiter((len(terms) for terms in per_row), dtype=np.int64, count=len(per_row))
    flat = pa.array([term for terms in per_row for term in terms], type=pa.large_string())
    if len(flat) == 0:
        empty = np.zeros(len(per_row) + 1, dtype=np.int64)
        return SparseRows(empty, np.empty(0, np.uint32), np.empty(0, np.float32))
    # Hash each distinct term once, then count (row, hash) pairs in one sort.
    encoded = pc.dictionary_encode(flat)
    hashes = term_hashes(encoded.dictionary.to_pylist())[
        encoded.indices.to_numpy(zero_copy_only=False)]
    rows = np.repeat(np.arange(len(per_row), dtype=np.int64), counts)
    key = (rows.astype(np.uint64) << np.uint64(32)) | hashes.astype(np.uint64)
    unique, tf = np.unique(key, return_counts=True)
    entry_rows = (unique >> np.uint64(32)).astype(np.int64)
    indptr = np.zeros(len(per_row) + 1, dtype=np.int64)
    np.cumsum(np.bincount(entry_rows, minlength=len(per_row)), out=indptr[1:])
    return SparseRows(indptr, (unique & np.uint64(0xFFFFFFFF)).astype(np.uint32),
                      tf.astype(np.float32))


def bm25_column(schema: CollectionSchema, fn: FunctionSchema,
                columns: dict[str, pa.Array]) -> pa.Array:
    """The output column of a BM25 function over one batch's columns (its input field, and
    a multi-language field's language field)."""
    analysis = bm25_analysis(schema, fn)
    text = columns[fn.input_field_names[0]]
    texts = single_array(text).to_pylist() if len(text) else []
    if isinstance(analysis, MultiAnalyzer):
        languages = single_array(columns[analysis.by_field]).to_pylist() if len(text) else []
        return sparse_column(term_frequencies(row_analyzers(analysis, languages, len(texts)),
                                              texts))
    return sparse_column(term_frequencies(analysis, texts))


def check_function_change(schema: CollectionSchema, change: str, function_name: str = "",
                          fn: FunctionSchema | None = None) -> None:
    """add_collection_function, alter_collection_function and drop_collection_function, as
    Milvus 2.6 answers them. Milvus changes only TEXTEMBEDDING functions this way (it refuses
    to add, alter or drop a BM25 function); elanus serves no TEXTEMBEDDING function (they call
    an external embedding model), so no change is ever applied: this raises Milvus's error,
    or returns for a drop of a function the schema does not have, which Milvus accepts."""
    if change == "drop":
        found = next((f for f in schema.functions if f.name == function_name), None)
        if found is not None and found.type == FunctionType.BM25:
            raise UnexpectedError("Currently does not support droping BM25 function")
        return
    if fn is None:
        raise UnexpectedError("Function Schema is empty")
    verb = "adding" if change == "add" else "alter"
    if fn.type == FunctionType.BM25:
        raise UnexpectedError(f"Currently does not support {verb} BM25 function")
    if change == "alter":
        if function_name != fn.name:
            raise UnexpectedError("Invalid function config, name not match")
        old = next((f for f in schema.functions if f.name == function_name), None)
        if old is None:
            raise UnexpectedError(f"Function {function_name} not found")
        if old.type == FunctionType.BM25:
            raise UnexpectedError("Currently does not support alter BM25 function")
    raise Unsupported(f"{fn.type.name} functions are not supported by this elanus build yet")
