"""Multi-language analyzers: one VARCHAR field analyzed per row by the analyzer its language
field names (Milvus's `multi_analyzer_params`).

    {"by_field": "language",
     "analyzers": {"english": {"type": "english"}, "chinese": {"type": "chinese"},
                   "default": {"tokenizer": "icu"}},
     "alias": {"en": "english", "cn": "chinese"}}

A row's analyzer is found by its `by_field` value, through `alias` first; a value naming no
analyzer (or a null) takes "default". As in Milvus, they serve BM25 full-text search only: a
query text is analyzed with the analyzer the search's `analyzer_name` names (else "default").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from elanus.errors import InvalidArgument
from elanus.schema.analyzers import Analyzer, analyzer, field_analyzer
from elanus.schema.types import DataType

if TYPE_CHECKING:
    from elanus.schema.collection import CollectionSchema, FieldSchema

DEFAULT = "default"
PARAMS = "multi_analyzer_params"


@dataclass(frozen=True)
class MultiAnalyzer:
    by_field: str
    analyzers: dict[str, Analyzer]
    alias: dict[str, str]

    def pick(self, name: str | None) -> Analyzer:
        """The analyzer a language value (or an `analyzer_name`) selects."""
        key = self.alias.get(name, name) if name is not None else DEFAULT
        return self.analyzers.get(key) or self.analyzers[DEFAULT]


def multi_analyzer(raw: str, field: str) -> MultiAnalyzer:
    """`multi_analyzer_params` (JSON text) checked as Milvus checks them."""
    try:
        spec = json.loads(raw)
    except ValueError:
        raise InvalidArgument(f"multi analyzer params of field {field} should be a json map: "
                              f"{raw}") from None
    if not isinstance(spec, dict):
        raise InvalidArgument(f"multi analyzer params of field {field} should be a json map: "
                              f"{raw}")
    if "by_field" not in spec:
        raise InvalidArgument("bm25 function with multi analyzer must have by_field param in "
                              "multi_analyzer_params")
    if not isinstance(spec["by_field"], str):
        raise InvalidArgument(f"bm25 function with multi analyzer by_field must be string but "
                              f"now: {json.dumps(spec['by_field'])}")
    alias = spec.get("alias", {})
    if not isinstance(alias, dict) or not all(isinstance(v, str) for v in alias.values()):
        raise InvalidArgument(f"bm25 function with multi analyzer mapping must be string map "
                              f"but now: {json.dumps(alias)}")
    if "analyzers" not in spec:
        raise InvalidArgument("bm25 function with multi analyzer must have analyzers param in "
                              "multi_analyzer_params")
    if not isinstance(spec["analyzers"], dict):
        raise InvalidArgument("bm25 function unmarshal multi_analyzer_params analyzers failed")
    built = {}
    for name, params in spec["analyzers"].items():
        try:
            built[name] = analyzer(params)
        except InvalidArgument as exc:
            raise InvalidArgument(f"bm25 function create analyzer {name} failed with error: "
                                  f"{exc.detail}") from None
    if DEFAULT not in built:
        raise InvalidArgument(f"multi analyzer params of field {field} must set a \"default\" "
                              "analyzer")
    return MultiAnalyzer(spec["by_field"], built, dict(alias))


def text_analysis(schema: CollectionSchema, f: FieldSchema) -> Analyzer | MultiAnalyzer:
    """The analysis of a VARCHAR field with enable_analyzer: one analyzer, or one per language
    (whose `by_field` must be a VARCHAR field of the schema)."""
    raw = f.type_params.get(PARAMS)
    if not raw:
        return field_analyzer(f.type_params, f.name)
    if f.type_params.get("enable_analyzer", "").lower() != "true":
        raise InvalidArgument(f"field {f.name} is not enable analyzer")
    if f.type_params.get("analyzer_params"):
        raise InvalidArgument(f"field {f.name} sets both analyzer_params and "
                              "multi_analyzer_params")
    multi = multi_analyzer(raw, f.name)
    by = schema.field(multi.by_field)
    if by is None or by.dtype != DataType.VARCHAR:
        raise InvalidArgument("bm25 function with multi analyzer must have two input fields")
    return multi


def row_analyzers(analysis: Analyzer | MultiAnalyzer,
                  languages: Sequence[str | None] | None, n: int) -> list[Analyzer]:
    """Each of `n` rows' analyzer."""
    if isinstance(analysis, Analyzer):
        return [analysis] * n
    assert languages is not None
    chosen = {name: analysis.pick(name) for name in set(languages)}
    return [chosen[name] for name in languages]


def query_analyzer(analysis: Analyzer | MultiAnalyzer, params: dict[str, Any]) -> Analyzer:
    """The analyzer of a search's query texts: a multi-language field's `analyzer_name`."""
    if isinstance(analysis, Analyzer):
        return analysis
    name = params.get("analyzer_name")
    return analysis.pick(str(name) if name is not None else None)
