"""Filter expressions from the Milvus documentation, with the rows each one selects.

Each dataset is one doc example collection: its fields as (name, DataType name, options) and its
rows (the doc's own data where the page gives data, otherwise a few synthetic rows). Options:
`nullable`, `default`, `element` (ARRAY element type) and `match` (enable_analyzer and
enable_match). Rows name dynamic keys under "$meta".

Each example keeps the doc's expression text exactly (the few derived from a doc template say
so), and expects one of:
  - a sorted list of primary keys: the rows the doc states, or for synthetic rows what the
    expression means by Milvus's documented semantics;
  - Sample(factor, of): RANDOM_SAMPLE keeps round(factor * len(of)) rows drawn from `of`, the
    rows the rest of the filter passes;
  - Refused(words): compile_filter raises FilterInvalid with `words` in the message.
`gap` names a documented form elanus does not handle yet; the test is then a strict xfail.

`family` tags the grammar families an example exercises (comma separated; see FAMILIES).
Provenance: every example's `url` is the page that shows it; "also:" comments name other pages
that show the same text. Most of the corpus is from the Milvus 2.6 docs. Pages from the Milvus
3.0 docs, and the older reference pages used for `not in`, `||` and `!`, are marked where used.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

M = "https://milvus.io/docs/"


@dataclass(frozen=True)
class Dataset:
    url: str
    fields: list[tuple[Any, ...]]
    rows: list[dict[str, Any]]
    pk: str = "id"
    dynamic: bool = False


@dataclass(frozen=True)
class Sample:
    factor: float
    of: tuple[int, ...]


@dataclass(frozen=True)
class Refused:
    words: str


@dataclass(frozen=True)
class Example:
    family: str
    expr: str
    expect: list[int] | Sample | Refused
    params: dict[str, Any] | None = None
    url: str = ""
    dataset: str = ""
    gap: str | None = None
    families: frozenset[str] = field(default=frozenset(), compare=False)


def ex(family: str, expr: str, expect: list[int] | Sample | Refused, **kw: Any) -> Example:
    return Example(family, expr, expect, **kw)


DATASETS: dict[str, Dataset] = {}
EXAMPLES: list[Example] = []


def page(dataset: str, url: str, *examples: Example) -> None:
    """Add the examples shown on `url` (unless an example names its own page) for `dataset`."""
    assert dataset in DATASETS, dataset
    for e in examples:
        EXAMPLES.append(replace(e, dataset=dataset, url=e.url or url,
                                families=frozenset(t.strip() for t in e.family.split(","))))


# Families the coverage test requires: each must have at least one example that is evaluated.
FAMILIES = [
    "comparison", "chained range", "in", "not in", "like", "arithmetic",
    "logical and", "logical &&", "logical or", "logical ||", "logical not", "logical !",
    "json path", "json_contains", "dynamic field by name", "dynamic field by $meta",
    "array_contains", "array_length", "arr[i]", "is null", "template params", "timestamptz",
    "geometry", "random_sample", "text_match", "phrase_match",
]

# Refusals shared by many examples. When one of these features lands, its examples fail: give
# them the rows noted beside them.
# Milvus 3.0-only forms: the regex operators =~ and !~, and StructArray element filters
# (element_filter, MATCH_*) with their $[sub_field] references.
REGEX = Refused("unexpected character")
STRUCT = Refused("unexpected character '$'")


# ---------------------------------------------------------------------------------------------
# basic-operators.md (synthetic rows: the page shows expressions without data)
DATASETS["basic_operators"] = Dataset(
    M + "basic-operators.md",
    [("id", "INT64"), ("status", "VARCHAR"), ("age", "INT64"), ("price", "DOUBLE"),
     ("rating", "DOUBLE"), ("discount", "INT64"), ("color", "VARCHAR"), ("name", "VARCHAR"),
     ("stock", "INT64"), ("quantity", "INT64"), ("description", "VARCHAR", {"nullable": True}),
     ("product", "JSON"), ("history_temperatures", "ARRAY", {"element": "INT64"})],
    [{"id": 1, "status": "active", "age": 25, "price": 50.0, "rating": 4.5, "discount": 5,
      "color": "red", "name": "Product A", "stock": 60, "quantity": 1, "description": "nice",
      "product": {"price": 1500, "model": "JSN-087"}, "history_temperatures": [31, 20]},
     {"id": 2, "status": "inactive", "age": 35, "price": 150.0, "rating": 3.0, "discount": 15,
      "color": "green", "name": "SampleXYZ", "stock": 70, "quantity": 3, "description": None,
      "product": {"price": 900, "model": "X"}, "history_temperatures": [25]},
     {"id": 3, "status": "active", "age": 40, "price": 20.0, "rating": 4.0, "discount": 10,
      "color": "blue", "name": "SuperPro", "stock": 10, "quantity": 9, "description": "",
      "product": {"price": 2000}, "history_temperatures": []},
     {"id": 4, "status": "pending", "age": 30, "price": 120.0, "rating": 2.0, "discount": 0,
      "color": "yellow", "name": "ProLine", "stock": 80, "quantity": 2, "description": None,
      "product": {"model": "Y"}, "history_temperatures": [35, 36]}])
page("basic_operators", M + "basic-operators.md",
     ex("comparison", 'status == "active"', [1, 3]),
     ex("comparison", 'status != "inactive"', [1, 3, 4]),
     ex("comparison", "age > 30", [2, 3]),
     ex("comparison", "price < 100", [1, 3]),
     ex("comparison", "rating >= 4", [1, 3]),
     ex("comparison", "discount <= 10", [1, 3, 4]),
     ex("in", 'color in ["red", "green", "blue"]', [1, 2, 3]),  # also: boolean.md
     ex("like", 'name LIKE "Prod%"', [1]),  # also: pattern-matching.md
     ex("like", 'name LIKE "%XYZ"', [2]),
     ex("like", 'name LIKE "%Pro%"', [1, 3, 4]),
     ex("arithmetic", "id % 2 == 0", [2, 4]),
     ex("arithmetic", "price ** 2 > 1000", [1, 2, 4]),
     # The doc says arithmetic between two fields is not supported and returns an error.
     ex("doc error", "price * quantity > 100",
        Refused("arithmetic between two fields is not supported")),
     ex("logical and", "price > 100 AND stock > 50", [2, 4]),
     ex("logical or", 'color == "red" OR color == "blue"', [1, 3]),
     ex("logical not", 'NOT color == "green"', [1, 3, 4]),
     ex("is null", "description IS NULL", [2, 4]),
     ex("is null", "description IS NOT NULL", [1, 3]),
     ex("is null, logical and", "description IS NOT NULL AND price > 10", [1, 3]),
     ex("json path", 'product["price"] > 1000', [1, 3]),
     ex("arr[i]", "history_temperatures[0] > 30", [1, 4]))

# basic-operators.md, "JSON Fields with Null Values" (doc data)
DATASETS["basic_operators_json_null"] = Dataset(
    M + "basic-operators.md",
    [("pk", "INT64"), ("metadata", "JSON", {"nullable": True})],
    [{"pk": 1, "metadata": {"category": "electronics", "price": 99.99, "brand": "BrandA"}},
     {"pk": 2, "metadata": None}, {"pk": 3, "metadata": None},
     {"pk": 4, "metadata": {"category": None, "price": 99.99, "brand": "BrandA"}}],
    pk="pk")
page("basic_operators_json_null", M + "basic-operators.md",
     ex("is null", "metadata IS NULL", [2, 3]),
     ex("is null", "metadata IS NOT NULL", [1, 4]))

# basic-operators.md "ARRAY Fields with Null Values" and array_data_type.md (same doc data)
DATASETS["array_null"] = Dataset(
    M + "basic-operators.md",
    [("pk", "INT64"), ("tags", "ARRAY", {"element": "VARCHAR", "nullable": True}),
     ("ratings", "ARRAY", {"element": "INT64"})],
    [{"pk": 1, "tags": ["pop", "rock", "classic"], "ratings": [5, 4, 3]},
     {"pk": 2, "tags": None, "ratings": [4, 5]}, {"pk": 3, "tags": None, "ratings": [9, 5]}],
    pk="pk")
page("array_null", M + "basic-operators.md",
     ex("is null", "tags IS NULL", [2, 3]),
     # basic-operators.md prints the metadata rows here (copy error); array_data_type.md: pk 1.
     ex("is null", "tags IS NOT NULL", [1]),  # also: array_data_type.md
     ex("arr[i]", "ratings[0] > 4", [1, 3], url=M + "array_data_type.md"),
     ex("arr[i]", 'tags[0] == "pop"', [1], url=M + "array_data_type.md"))

# boolean.md (Filtering Explained); `tags` is a dynamic key here
DATASETS["boolean"] = Dataset(
    M + "boolean.md",
    [("id", "INT64"), ("color", "VARCHAR"), ("product", "JSON"),
     ("history_temperatures", "ARRAY", {"element": "INT64"}), ("age", "INT64"),
     ("city", "VARCHAR")],
    [{"id": 1, "color": "red", "product": {"model": "JSN-087", "price": 1500}, "age": 30,
      "city": "北京", "history_temperatures": list(range(15, 27)),
      "$meta": {"tags": ["electronics", "sale", "new"]}},
     {"id": 2, "color": "green", "product": {"model": "JSN-087", "price": 2000}, "age": 20,
      "city": "上海", "history_temperatures": [23, 24], "$meta": {"tags": ["clearance"]}},
     {"id": 3, "color": "black", "product": {"model": "ABC", "price": 100}, "age": 40,
      "city": "深圳", "history_temperatures": [20] * 11,
      "$meta": {"tags": ["electronics", "sale", "new", "discount"]}},
     {"id": 4, "color": "blue", "product": {"model": "JSN-087", "price": 1800}, "age": 26,
      "city": "上海", "history_temperatures": [30] * 12, "$meta": {}}],
    dynamic=True)
page("boolean", M + "boolean.md",
     ex("json path, logical and", 'product["model"] == "JSN-087" AND product["price"] < 1850',
        [1, 4]),
     ex("arr[i]", "history_temperatures[10] > 23", [1, 4]),
     ex("in, logical and", "age > 25 AND city IN ['北京', '上海']", [1, 4]),
     ex("template params", "age > {age} AND city in {city}", [1, 4],
        params={"age": 25, "city": ["北京", "上海"]}),
     ex("json_contains, dynamic field by name", 'json_contains(tags, "sale")', [1, 3]),
     ex("json_contains, dynamic field by name",
        'json_contains_all(tags, ["electronics", "sale", "new"])', [1, 3]),
     ex("json_contains, dynamic field by name",
        'json_contains_any(tags, ["electronics", "new", "clearance"])', [1, 2, 3]),
     # Doc typo: a single '=' is no operator in Milvus's grammar (meant: color == 'red').
     ex("doc error", "color = 'red' and RANDOM_SAMPLE(0.001)", Refused("use == to compare")))

# json-operators.md
DATASETS["json_operators"] = Dataset(
    M + "json-operators.md",
    [("id", "INT64"), ("product", "JSON")],
    [{"id": 1, "product": {"tags": ["electronics", "sale", "new"]}},
     {"id": 2, "product": {"tags": ["electronics", "sale", "new", "discount"]}},
     {"id": 3, "product": {"tags": ["clearance"]}},
     {"id": 4, "product": {"tags": ["books"]}}, {"id": 5, "product": {}}])
page("json_operators", M + "json-operators.md",
     ex("json_contains", 'json_contains(product["tags"], "sale")', [1, 2]),
     ex("json_contains", 'json_contains_all(product["tags"], ["electronics", "sale", "new"])',
        [1, 2]),
     ex("json_contains",
        'json_contains_any(product["tags"], ["electronics", "new", "clearance"])', [1, 2, 3]))

# array-operators.md (the same four expressions are on boolean.md)
DATASETS["array_operators"] = Dataset(
    M + "array-operators.md",
    [("id", "INT64"), ("history_temperatures", "ARRAY", {"element": "INT64"})],
    [{"id": 1, "history_temperatures": [23, 24, 25]}, {"id": 2, "history_temperatures": [23]},
     {"id": 3, "history_temperatures": [24] * 12}, {"id": 4, "history_temperatures": [10, 11]}])
page("array_operators", M + "array-operators.md",
     ex("array_contains", "ARRAY_CONTAINS(history_temperatures, 23)", [1, 2]),
     ex("array_contains", "ARRAY_CONTAINS_ALL(history_temperatures, [23, 24])", [1]),
     ex("array_contains", "ARRAY_CONTAINS_ANY(history_temperatures, [23, 24])", [1, 2, 3]),
     ex("array_length", "ARRAY_LENGTH(history_temperatures) < 10", [1, 2, 4]))

# filtering-templating.md (used alike for search, query and delete on the page)
DATASETS["templating"] = Dataset(
    M + "filtering-templating.md",
    [("id", "INT64"), ("age", "INT64"), ("city", "VARCHAR")],
    [{"id": 1, "age": 30, "city": "北京"}, {"id": 2, "age": 20, "city": "上海"},
     {"id": 3, "age": 40, "city": "深圳"}, {"id": 4, "age": 26, "city": "上海"}])
page("templating", M + "filtering-templating.md",
     ex("template params", "age > {age} AND city IN {city}", [1, 4],
        params={"age": 25, "city": ["北京", "上海"]}))

# use-json-fields.md (doc data)
DATASETS["use_json_fields"] = Dataset(
    M + "use-json-fields.md",
    [("pk", "INT64"), ("metadata", "JSON", {"nullable": True})],
    [{"pk": 1, "metadata": {"product_info": {"category": "electronics", "brand": "BrandA"},
                          "price": 99.99, "in_stock": True, "tags": ["summer_sale"]}},
     {"pk": 2, "metadata": None}, {"pk": 3, "metadata": None},
     {"pk": 4, "metadata": {"product_info": {"category": None, "brand": "BrandB"},
                          "price": 59.99, "in_stock": None}}],
    pk="pk")
page("use_json_fields", M + "use-json-fields.md",
     ex("is null", "metadata is not null", [1, 4]),
     ex("json path", 'metadata["product_info"]["category"] == "electronics"', [1]),
     ex("json path", 'metadata["product_info"]["brand"] == "BrandA"', [1]),
     # The next two assume a flat metadata (Node.js snippet, "Filter by JSON field values"):
     # no row of this data has a top-level category.
     ex("json path, logical and",
        'metadata["category"] == "electronics" and metadata["price"] < 150', []),
     ex("json path", 'metadata["category"] == "electronics"', []),
     ex("json path", 'metadata["price"] > 50', [1, 4]),
     ex("json_contains", 'json_contains(metadata["tags"], "featured")', []))

# timestamptz-field.md (doc data: 2025-01-01 + i days, Asia/Shanghai)
DATASETS["timestamptz"] = Dataset(
    M + "timestamptz-field.md",
    [("id", "INT64"), ("tsz", "TIMESTAMPTZ", {"nullable": True})],
    [{"id": i + 1, "tsz": f"2025-01-{i + 1:02d}T00:00:00+08:00"} for i in range(12)])
page("timestamptz", M + "timestamptz-field.md",
     # The doc prints the first 10 hits (limit=10): every id but 3.
     ex("timestamptz", "tsz != ISO '2025-01-03T00:00:00+08:00'",
        [1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
     ex("timestamptz, arithmetic", "tsz + INTERVAL 'P0D' != ISO '2025-01-03T00:00:00+08:00'",
        [1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
     # The doc's search output (limit 5) shows ids 6 to 10.
     ex("timestamptz", "tsz > ISO '2025-01-05T00:00:00+08:00'", [6, 7, 8, 9, 10, 11, 12]),
     # A query with timezone='America/Havana': the zone changes the output, not the filter.
     ex("comparison", "id <= 10", list(range(1, 11)), url=M + "get-and-scalar-query.md"))

# get-and-scalar-query.md, filtered-search.md, delete-entities.md (doc data: 10 colours)
COLORS = ["pink_8682", "red_7025", "orange_6781", "pink_9298", "red_4794", "yellow_4222",
          "red_9392", "grey_8510", "white_9381", "purple_4976"]
LIKES = [165, 25, 764, 234, 122, 12, 58, 775, 876, 765]
DATASETS["color_likes"] = Dataset(
    M + "get-and-scalar-query.md",
    [("id", "INT64"), ("color", "VARCHAR"), ("likes", "INT64")],
    [{"id": i, "color": COLORS[i], "likes": LIKES[i]} for i in range(10)])
page("color_likes", M + "get-and-scalar-query.md",
     ex("like", 'color like "red%"', [1, 4, 6]),  # also: filtered-search.md
     ex("like, logical and", 'color like "red%" and likes > 50', [4, 6],
        url=M + "filtered-search.md"),
     ex("like, logical and", "color like 'red%' and likes > 50", [4, 6],  # the Go snippet
        url=M + "filtered-search.md"),
     # The order_by and count(*) examples: a blank filter is no filter (engine/read.py never
     # compiles it), so every row.
     ex("blank", "", list(range(10))),
     ex("in", "color in ['red_7025', 'purple_4976']", [1, 9], url=M + "delete-entities.md"),
     # Doc typo on some versions of the page: the closing quote is missing.
     ex("doc error", "color in ['red_7025', 'purple_4976]",
        Refused("unterminated string literal"), url=M + "delete-entities.md"))

# The doc's small sample factors keep no row of a 10-row collection, so the RANDOM_SAMPLE
# examples run on the colours and likes above repeated to 10,000 rows (ids 0 to 9999).
DATASETS["color_likes_10k"] = Dataset(
    M + "get-and-scalar-query.md",
    [("id", "INT64"), ("color", "VARCHAR"), ("likes", "INT64")],
    [{"id": i, "color": COLORS[i % 10], "likes": LIKES[i % 10]} for i in range(10_000)])
ALL_10K = tuple(range(10_000))
RED_10K = tuple(i for i in range(10_000) if i % 10 in (1, 4, 6))
page("color_likes_10k", M + "get-and-scalar-query.md",
     ex("random_sample", "RANDOM_SAMPLE(0.001)", Sample(0.001, ALL_10K), url=M + "boolean.md"),
     ex("random_sample", "RANDOM_SAMPLE(0.01)", Sample(0.01, ALL_10K)),
     ex("random_sample, like, logical and", 'color like "red%" AND RANDOM_SAMPLE(0.005)',
        Sample(0.005, RED_10K)))

# enable-dynamic-field.md (older 2.5/2.6 text: `color` only in the dynamic field)
DATASETS["dynamic_color"] = Dataset(
    M + "enable-dynamic-field.md",
    [("id", "INT64")],
    [{"id": i, "$meta": {"color": COLORS[i]}} for i in range(10)],
    dynamic=True)
page("dynamic_color", M + "enable-dynamic-field.md",
     ex("like, dynamic field by name", 'color like "red%"', [1, 4, 6]),
     # From the quick-start / dynamic-schema examples (which 2.6 page carries it is unsure).
     ex("like, dynamic field by $meta", '$meta["color"] like "red%"', [1, 4, 6],
        url=M + "quickstart.md"))

# enable-dynamic-field.md (2.6 rewrite)
DATASETS["dynamic_26"] = Dataset(
    M + "enable-dynamic-field.md",
    [("my_id", "INT64")],
    [{"my_id": 1, "$meta": {"overview": "Great product", "words": 150,
                            "dynamic_json": {"varchar": "some text", "nested": {"value": 42.5},
                                             "string_price": "99.99"}}},
     {"my_id": 2, "$meta": {"overview": "Okay", "words": 80,
                            "dynamic_json": {"nested": {"value": 70}}}},
     {"my_id": 3, "$meta": {}}],
    pk="my_id", dynamic=True)
page("dynamic_26", M + "enable-dynamic-field.md",
     ex("dynamic field by name", 'overview == "Great product"', [1]),
     ex("dynamic field by name", "words >= 100", [1]),
     ex("dynamic field by name, json path", 'dynamic_json["nested"]["value"] < 50', [1]))

# nullable-and-default.md (doc data)
DATASETS["nullable"] = Dataset(
    M + "nullable-and-default.md",
    [("id", "INT64"), ("age", "INT64", {"nullable": True})],
    [{"id": 1, "age": 30}, {"id": 2, "age": None}, {"id": 3, "age": None}])
page("nullable", M + "nullable-and-default.md",
     ex("comparison", "age >= 0", [1]),
     ex("chained range", "25 <= age <= 35", [1]))  # the Node.js search snippet

DATASETS["defaults"] = Dataset(
    M + "nullable-and-default.md",
    [("id", "INT64"), ("age", "INT64", {"default": 18}),
     ("status", "VARCHAR", {"default": "active"})],
    [{"id": 1, "age": 30, "status": "premium"}, {"id": 2, "age": None, "status": None},
     {"id": 3, "age": 25, "status": None}, {"id": 4, "age": None, "status": "inactive"}])
page("defaults", M + "nullable-and-default.md",
     ex("comparison", "age == 18", [2, 4]),  # also: default-values.md
     ex("comparison", 'status == "active"', [2, 3], url=M + "default-values.md"))

# keyword-match.md (synthetic rows; fields with enable_match and the standard analyzer)
TEXTS = ["machine learning is fun", "deep learning models", "deep machine vision",
         "keyword1 only", "keyword1 and keyword2", "cooking recipes"]
DATASETS["text_match"] = Dataset(
    M + "keyword-match.md",
    [("id", "INT64"), ("text", "VARCHAR", {"match": True})],
    [{"id": i + 1, "text": t} for i, t in enumerate(TEXTS)])
page("text_match", M + "keyword-match.md",
     ex("text_match", "TEXT_MATCH(text, 'machine deep')", [1, 2, 3]),
     ex("text_match, logical and", "TEXT_MATCH(text, 'machine') and TEXT_MATCH(text, 'deep')",
        [3]),
     ex("text_match, logical not",
        "not TEXT_MATCH(text, 'deep') and TEXT_MATCH(text, 'machine') and "
        "TEXT_MATCH(text, 'learning')", [1]),
     ex("text_match", "TEXT_MATCH(text, 'keyword1 keyword2')", [4, 5]),
     ex("text_match, logical and",
        "TEXT_MATCH(text, 'keyword1') and TEXT_MATCH(text, 'keyword2')", [5]))

# phrase-match.md (doc data, the rows the doc states)
ARTICLES = ["Machine learning boosts efficiency in large-scale data analysis",
            "Learning a machine-based approach is vital for modern AI progress",
            "Deep learning machine architectures optimize computational loads",
            "Machine swiftly improves model performance for ongoing learning",
            "Learning advanced machine algorithms expands AI capabilities"]
DATASETS["phrase_match"] = Dataset(
    M + "phrase-match.md",
    [("id", "INT64"), ("text", "VARCHAR", {"match": True})],
    [{"id": i + 1, "text": t} for i, t in enumerate(ARTICLES)])
page("phrase_match", M + "phrase-match.md",
     ex("phrase_match", "PHRASE_MATCH(text, 'machine learning')", [1]),
     ex("phrase_match", "PHRASE_MATCH(text, 'learning machine', 1)", [2, 3, 5]),
     ex("phrase_match", "PHRASE_MATCH(text, 'machine learning', 2)", [1, 3]),
     ex("phrase_match", "PHRASE_MATCH(text, 'machine learning', 3)", [1, 2, 3, 5]))

# geometry-operators.md (synthetic geometries; Milvus 2.6.4+)
DATASETS["geometry_ops"] = Dataset(
    M + "geometry-operators.md",
    [("id", "INT64"), ("geo_field", "GEOMETRY")],
    [{"id": i + 1, "geo_field": g} for i, g in enumerate([
        "POINT (10 20)", "POINT (5 5)", "LINESTRING (0 5, 10 5)",
        "POLYGON ((2 2, 4 2, 4 4, 2 4, 2 2))", "POINT (120.01 30.01)", "POINT (112 40)",
        "LINESTRING (-1 -1, 0 0)", "POLYGON ((5 5, 15 5, 15 15, 5 15, 5 5))"])])
page("geometry_ops", M + "geometry-operators.md",
     ex("geometry", "ST_EQUALS(geo_field, 'POINT(10 20)')", [1]),
     ex("geometry", "ST_CONTAINS(geo_field, 'POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))')", []),
     ex("geometry", "ST_CROSSES(geo_field, 'LINESTRING(5 0, 5 10)')", [3]),
     ex("geometry", "ST_INTERSECTS(geo_field, 'LINESTRING (1 1, 2 2)')", [4]),
     ex("geometry", "ST_OVERLAPS(geo_field, 'POLYGON((0 0, 0 10, 10 10, 10 0, 0 0))')", [8]),
     ex("geometry", "ST_TOUCHES(geo_field, 'LINESTRING(0 0, 1 1)')", [7]),
     ex("geometry", "ST_WITHIN(geo_field, 'POLYGON((110 38, 115 38, 115 42, 110 42, 110 38))')",
        [6]),
     ex("geometry", "ST_DWITHIN(geo_field, 'POINT(120 30)', 5000)", [5]))  # meters, geodesic

# geometry-field.md (doc data: shops A to F in Berlin; Milvus 2.6.4+)
DATASETS["geometry_field"] = Dataset(
    M + "geometry-field.md",
    [("id", "INT64"), ("name", "VARCHAR"), ("geo", "GEOMETRY")],
    [{"id": i + 1, "name": f"Shop {'ABCDEF'[i]}", "geo": g} for i, g in enumerate([
        "POINT(13.399710 52.518010)", "POINT(13.403934 52.522877)",
        "POINT(13.405088 52.521124)", "POINT(13.408223 52.516876)",
        "POINT(13.400092 52.521507)", "POINT(13.408529 52.519274)"])])
page("geometry_field", M + "geometry-field.md",
     # The doc lists D and F, then (copy error) all six shops again.
     ex("geometry", "st_within(geo, 'POLYGON((13.403683 52.520711, 13.455868 52.520711, "
                    "13.455868 52.495862, 13.403683 52.495862, 13.403683 52.520711))')", [4, 6]),
     # The doc's output shows one search hit (D), but all six shops lie within 1 km of the point.
     ex("geometry", "st_dwithin(geo, 'POINT(13.403683 52.520711)', 1000.0)",
        [1, 2, 3, 4, 5, 6]))

# ngram.md
DATASETS["ngram"] = Dataset(
    M + "ngram.md",
    [("id", "INT64"), ("name", "VARCHAR"), ("title", "VARCHAR"), ("path", "VARCHAR")],
    [{"id": 1, "name": "database", "title": "a vector db", "path": "/a/b.json"},
     {"id": 2, "name": "metadata", "title": "vectors", "path": "/a/b.jsonl"},
     {"id": 3, "name": "Data", "title": "scalar", "path": "json"}])
page("ngram", M + "ngram.md",
     ex("like", 'name LIKE "data%"', [1]),
     ex("like", 'title LIKE "%vector%"', [1, 2]),
     ex("like", 'path LIKE "%json"', [1, 3]))

# use-partition-key.md
DATASETS["partition_key"] = Dataset(
    M + "use-partition-key.md",
    [("id", "INT64"), ("partition_key", "VARCHAR")],
    [{"id": 1, "partition_key": "x"}, {"id": 2, "partition_key": "y"},
     {"id": 3, "partition_key": "w"}])
page("partition_key", M + "use-partition-key.md",
     # Templates with a prose placeholder, not filters: Milvus cannot parse them either.
     ex("doc error", 'partition_key == "x" && <other conditions>', Refused("found '<'")),
     ex("doc error", 'partition_key in ["x", "y", "z"] && <other conditions>',
        Refused("found '<'")),
     # Derived: the two templates without the placeholder.
     ex("comparison", 'partition_key == "x"', [1]),
     ex("in", 'partition_key in ["x", "y", "z"]', [1, 2]))

# elasticsearch-queries-to-milvus.md
DATASETS["es_migration"] = Dataset(
    M + "elasticsearch-queries-to-milvus.md",
    [("id", "INT64"), ("title", "VARCHAR"), ("user", "VARCHAR", {"match": True}),
     ("age", "INT64"), ("status", "VARCHAR", {"match": True}),
     ("degree", "VARCHAR", {"match": True}), ("tags", "ARRAY", {"element": "VARCHAR"})],
    [{"id": 1, "title": "t1", "user": "kimchy", "age": 15, "status": "retired",
      "degree": "graduate", "tags": ["production"]},
     {"id": 4, "title": "t4", "user": "kiddy", "age": 25, "status": "active",
      "degree": "post-graduate", "tags": ["dev"]},
     {"id": 7, "title": "t7", "user": "mr kimchy jr", "age": 10, "status": "retired",
      "degree": "bachelor", "tags": ["production", "dev"]}])
page("es_migration", M + "elasticsearch-queries-to-milvus.md",
     ex("in", "id in [1, 4, 100]", [1, 4]),
     ex("like", 'user like "ki%"', [1, 4]),
     ex("chained range", "10 <= age <= 20", [1, 7]),
     ex("comparison", 'status=="retired"', [1, 7]),
     ex("text_match", 'TEXT_MATCH(status, "retired")', [1, 7]),
     ex("in", 'degree in ["graduate", "post-graduate"]', [1, 4]),
     ex("text_match", 'TEXT_MATCH(degree, "graduate post-graduate")', [1, 4]),
     ex("like, logical and", 'user like "ki%" AND user like "%y"', [1, 4]),
     ex("like, array_contains, logical and",
        'user like "%kimchy%" AND ARRAY_CONTAINS(tags, "production")', [1, 7]))

# pattern-matching.md (a Milvus 3.0.x page; its LIKE examples hold for 2.6)
DATASETS["pattern_matching"] = Dataset(
    M + "pattern-matching.md",
    [("id", "INT64"), ("message", "VARCHAR", {"nullable": True}), ("code", "VARCHAR"),
     ("filename", "VARCHAR"), ("description", "VARCHAR"), ("email", "VARCHAR"),
     ("name", "VARCHAR")],
    [{"id": 1, "message": "failed with E1001 after retry", "code": "E1001",
      "filename": "report.json", "description": "a vector database", "email": "a@example.com",
      "name": "Product"},
     {"id": 2, "message": "DEBUG start", "code": "ERR-7", "filename": "notes.txt",
      "description": "vector search", "email": "b@gmail.com", "name": "prod-42"},
     {"id": 3, "message": "Network ERROR timeout", "code": "AB12", "filename": "x.jsonl",
      "description": "plain", "email": "c@example.org", "name": "%"},
     {"id": 4, "message": None, "code": "ABC", "filename": "data.json", "description": "vectors",
      "email": "d@gmail.com", "name": "_under"},
     {"id": 5, "message": "all good 42", "code": "1234", "filename": "y.JSON", "description": "",
      "email": "e@test.io", "name": "\\back"}])
page("pattern_matching", M + "pattern-matching.md",
     ex("like", 'filename LIKE "%.json"', [1, 4]),
     ex("like", 'description LIKE "%vector database%"', [1]),
     ex("like", 'description LIKE "%vector%"', [1, 2, 4]),
     ex("like", 'code LIKE "AB_%"', [3, 4]),
     ex("like", 'name LIKE r"\\%"', [3]),  # raw string: the literal value %
     ex("like", 'name LIKE r"\\_%"', [4]),  # raw string: starts with a literal _
     ex("like", 'name LIKE r"\\\\%"', [5]),  # raw string: starts with a literal backslash
     ex("like", 'message LIKE "%database%"', []),
     # REFUSED: the regex operators =~ and !~ are Milvus 3.0.x only. The comments give the rows
     # under RE2 search semantics (NULL never matches either operator).
     ex("regex", 'message =~ "E[0-9]{4}"', REGEX),  # [1]
     ex("regex", 'code =~ "E[0-9]{4}"', REGEX),  # [1]
     ex("regex", 'message =~ "(?i)error"', REGEX),  # [3]
     ex("regex", 'message !~ "^DEBUG"', REGEX),  # [1, 3, 5]
     ex("regex", 'message =~ "error"', REGEX),  # []
     ex("regex", 'code =~ "^ERR"', REGEX),  # [2]
     ex("regex", 'filename =~ "\\\\.json$"', REGEX),  # [1, 4]
     ex("regex", 'message =~ "[0-9]+"', REGEX),  # [1, 5]
     ex("regex", 'code =~ "[0-9]{4}"', REGEX),  # [1, 5]
     ex("regex", 'email =~ "@example\\\\.com$"', REGEX),  # [1]
     ex("regex", 'name =~ "^prod-[0-9]+$"', REGEX),  # [2]
     ex("regex", 'message =~ "error|failed|timeout"', REGEX),  # [1, 3]
     ex("regex", 'email =~ "@gmail\\\\.com$"', REGEX),  # [2, 4]
     ex("regex", 'code =~ "^E[0-9]{4}$"', REGEX),  # [1]
     ex("regex", 'message !~ "^DEBUG" OR message IS NULL', REGEX),  # [1, 3, 4, 5]
     ex("regex", 'filename =~ r"\\.json$"', REGEX),  # [1, 4]
     ex("regex", 'message =~ "error.*timeout"', REGEX))  # []

# struct-array-operators.md (beta, Milvus 3.0.x): REFUSED, elanus has no StructArray
# (Array of Structs) type nor the $[sub_field] element grammar. `chunks` is that field.
DATASETS["struct_array"] = Dataset(
    M + "struct-array-operators.md", [("id", "INT64")], [{"id": 1}])
page("struct_array", M + "struct-array-operators.md",
     ex("struct array", 'element_filter(chunks, $[text] LIKE "Red%")', STRUCT),
     ex("struct array", "id > 0 && element_filter(chunks, $[x] > 1)", STRUCT),
     ex("struct array", "MATCH_ANY(chunks, $[text] LIKE 'Red%')", STRUCT),
     ex("struct array", "MATCH_ALL(chunks, $[text] LIKE 'Red%')", STRUCT),
     ex("struct array", "MATCH_LEAST(chunks, $[text] LIKE 'Red%', 3)", STRUCT),
     ex("struct array", "MATCH_MOST(chunks, $[text] LIKE 'Red%', 3)", STRUCT),
     ex("struct array", "MATCH_EXACT(chunks, $[text] LIKE 'Red%', 3)", STRUCT),
     # The doc says the element filter must come last: Milvus refuses this order too.
     ex("doc error, struct array", "element_filter(chunks, $[x] > 1) && id > 0", STRUCT))


# ---------------------------------------------------------------------------------------------
# Added for the families the 2.6 pages never show (`not in`, `||`, `!`): the older reference
# pages, whose examples still hold in Milvus 2.6.

# v2.4.x boolean.md, "Scalar Filtering Rules", section Usage (synthetic rows). Fields are named
# after their types, as on the page. Rows 1-3 hold the page's example values: int_array, and x,
# a dynamic key (the page shows those rows as {"x": [1,2,3]}).
DATASETS["scalar_filtering_rules"] = Dataset(
    M + "v2.4.x/boolean.md",
    [("id", "INT64"), ("int64", "INT64"), ("float", "FLOAT"), ("VARCHAR", "VARCHAR"),
     ("int_array", "ARRAY", {"element": "INT64"})],
    [{"id": 1, "int64": 0, "float": 2.0, "VARCHAR": "prefix one", "int_array": [1, 2, 3],
      "$meta": {"x": [1, 2, 3]}},
     {"id": 2, "int64": 1, "float": 2.0, "VARCHAR": "str1", "int_array": [1, 2, 3, 4, 5, 7, 8],
      "$meta": {"x": [[1, 2, 3], [4, 5, 6], [7, 8, 9]]}},
     {"id": 3, "int64": 3, "float": 1.5, "VARCHAR": "xsuffix", "int_array": [],
      "$meta": {"x": [1, 2, 3, 4, 5, 7, 8]}},
     {"id": 4, "int64": 399, "float": 0.0, "VARCHAR": "str2", "int_array": [9]},
     {"id": 5, "int64": 500, "float": 0.0, "VARCHAR": "a middle b", "int_array": []},
     {"id": 6, "int64": 999, "float": 0.0, "VARCHAR": "long suffix", "int_array": []},
     {"id": 7, "int64": 1000, "float": 0.0, "VARCHAR": "str0", "int_array": []},
     {"id": 8, "int64": -5, "float": 0.0, "VARCHAR": "", "int_array": []}],
    dynamic=True)
page("scalar_filtering_rules", M + "v2.4.x/boolean.md",
     ex("comparison", "int64 > 0", [2, 3, 4, 5, 6, 7]),
     ex("chained range", "0 < int64 < 400", [2, 3, 4]),
     ex("chained range", "500 <= int64 < 1000", [5, 6]),
     ex("comparison", 'VARCHAR > "str1"', [3, 4]),
     ex("logical &&, logical or",
        "(int64 > 0 && int64 < 400) or (int64 > 500 && int64 < 1000)", [2, 3, 4, 6]),
     ex("not in", "int64 not in [1, 2, 3]", [1, 4, 5, 6, 7, 8]),
     ex("not in", 'VARCHAR not in ["str1", "str2"]', [1, 3, 5, 6, 7, 8]),
     ex("in, logical and", "int64 in [1, 2, 3] and float != 2", [3]),
     ex("logical ||", "int64 == 0 || int64 == 1 || int64 == 2", [1, 2]),
     ex("chained range, arithmetic", "200+300 < int64 <= 500+500", [6, 7]),
     ex("like", 'VARCHAR like "prefix%"', [1]),
     ex("like", 'VARCHAR like "%suffix"', [3, 6]),
     ex("like", 'VARCHAR like "%middle%"', [5]),
     ex("like", 'VARCHAR like "_suffix"', [3]),
     ex("json_contains, dynamic field by name", "json_contains(x, 1)", [1, 3]),
     ex("json_contains", 'json_contains(x, "a")', []),
     # A list element matches a row whose array holds that list (row 2).
     ex("json_contains", "json_contains(x, [1,2,3])", [2]),
     ex("json_contains", "json_contains(x, [3,2,1])", []),
     ex("json_contains", "json_contains_all(x, [1,2,8])", [3]),
     ex("json_contains", "json_contains_all(x, [4,5,6])", []),
     ex("json_contains", "json_contains_any(x, [1,2,8])", [1, 3]),
     ex("json_contains", "json_contains_any(x, [4,5,6])", [3]),
     ex("json_contains", "json_contains_any(x, [6,9])", []),
     ex("array_contains", "array_contains(int_array, 1)", [1, 2]),
     # The page says false; Milvus's parser refuses a string element for an INT64 array.
     ex("doc error", 'array_contains(int_array, "a")', Refused("type mismatch")),
     ex("array_contains", "array_contains_all(int_array, [1,2,8])", [2]),
     ex("array_contains", "array_contains_all(int_array, [4,5,6])", []),
     ex("array_contains", "array_contains_any(int_array, [1,2,8])", [1, 2]),
     ex("array_contains", "array_contains_any(int_array, [4,5,6])", [2]),
     ex("array_contains", "array_contains_any(int_array, [6,9])", [4]))

# expression.md, "Predicate Expressions" (synthetic rows). It lists `NOT !`, `AND &&`, `OR ||`.
DATASETS["predicate_expressions"] = Dataset(
    M + "expression.md",
    [("id", "INT64"), ("A", "DOUBLE"), ("B", "INT64"), ("C", "INT64"), ("D", "INT64"),
     ("E", "INT64"), ("F", "INT64"), ("FloatCol", "FLOAT"), ("Int64Col", "INT64")],
    [{"id": 1, "A": 1.0, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6, "FloatCol": 1.0, "Int64Col": 1},
     {"id": 2, "A": 3.5, "B": 1, "C": 2, "D": 5, "E": 4, "F": 7, "FloatCol": 2.5, "Int64Col": 3},
     {"id": 3, "A": 4.0, "B": 3, "C": 4, "D": 3, "E": 5, "F": 6, "FloatCol": 3.0, "Int64Col": 4}])
page("predicate_expressions", M + "expression.md",
     ex("comparison", "A > 1", [2, 3]),
     ex("comparison", "B >= 2", [1, 3]),
     ex("comparison", "C < 3", [2]),
     ex("comparison", "D <= 4", [1, 3]),
     ex("comparison", "E == 5", [1, 3]),
     ex("comparison", "F != 6", [2]),
     ex("logical &&", "A > 3 && A < 4", [2]),
     ex("logical not", "NOT (A == 1)", [2, 3]),
     # Derived: the page's NOT (A == 1) in its `!` spelling (no page shows `!` in an example).
     ex("logical !", "!(A == 1)", [2, 3]),
     ex("in", "FloatCol in [1.0, 2, 3.0]", [1, 3]),
     ex("in", "Int64Col in [1, 2, 3]", [1, 2]))
