"""A slow, obvious twin of the filter evaluator: a small expression model, printed as filter
text and evaluated row by row in plain Python with Milvus's rules.

Each model node renders to text (`render`) and evaluates one row (`check`) to Milvus's pair
(value, valid): comparisons on a null field are (False, False); `not` gives
`not value and valid`; `and`/`or` combine values and OR validity; a JSON path that is missing
or holds another type fails a comparison, except `!=`; an array index out of range fails all.
"""

from __future__ import annotations

import json
import math
import operator
import re
from dataclasses import dataclass
from typing import Any

from elanus.schema import CollectionSchema, DataType, FieldSchema

SCHEMA = CollectionSchema("things", (
    FieldSchema("id", DataType.INT64, is_primary=True),
    FieldSchema("vec", DataType.FLOAT_VECTOR, dim=2),
    FieldSchema("i32", DataType.INT32, nullable=True),
    FieldSchema("i64", DataType.INT64, nullable=True),
    FieldSchema("d", DataType.DOUBLE, nullable=True),
    FieldSchema("s", DataType.VARCHAR, max_length=16, nullable=True),
    FieldSchema("b", DataType.BOOL, nullable=True),
    FieldSchema("j", DataType.JSON, nullable=True),
    FieldSchema("arr", DataType.ARRAY, element_type=DataType.INT64, max_capacity=8,
                nullable=True),
    FieldSchema("sarr", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=8,
                max_length=8, nullable=True),
), enable_dynamic_field=True)

OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
       ">": operator.gt, ">=": operator.ge}
MISSING = object()
Pair = tuple[bool, bool]
Row = dict[str, Any]


def quote(text: str, single: bool = False) -> str:
    """A filter string literal for `text`."""
    if not single:
        return json.dumps(text, ensure_ascii=False)
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def literal(value: Any, spelling: int = 0) -> str:
    if isinstance(value, bool):
        return ("true", "True", "TRUE")[spelling % 3] if value else ("false", "False",
                                                                     "FALSE")[spelling % 3]
    if isinstance(value, str):
        return quote(value, single=spelling % 2 == 1)
    return repr(value)


def literal_list(values: tuple[Any, ...]) -> str:
    return "[" + ", ".join(literal(v) for v in values) + "]"


def json_kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "str"
    return "array" if isinstance(v, list) else "object"


def same_kind(a: Any, b: Any) -> bool:
    return json_kind(a) == json_kind(b)


def lookup(doc: Any, keys: tuple[Any, ...]) -> Any:
    """JSON pointer semantics: a key names an object member or, if decimal, an array index."""
    v = doc
    for k in keys:
        key = str(k)
        if isinstance(v, dict):
            if key not in v:
                return MISSING
            v = v[key]
        elif isinstance(v, list):
            if not key.isdigit() or (key != "0" and key[0] == "0") or int(key) >= len(v):
                return MISSING
            v = v[int(key)]
        else:
            return MISSING
    return v


def like(text: str, pattern: str) -> bool:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.fullmatch("".join(out), text, re.DOTALL) is not None


def json_equal(a: Any, b: Any) -> bool:
    return same_kind(a, b) and a == b


def trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def arith(op: str, a: Any, b: Any) -> Any:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return trunc_div(a, b) if isinstance(a, int) and isinstance(b, int) else a / b
    if op == "%":
        return a - trunc_div(a, b) * b if isinstance(a, int) and isinstance(b, int) \
            else math.fmod(a, b)
    return float(a) ** b


# -- model nodes ----------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldCmp:
    field: str
    op: str
    value: Any
    flipped: bool = False
    spelling: int = 0

    def render(self) -> str:
        lit = literal(self.value, self.spelling)
        if self.flipped:
            flip = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(self.op, self.op)
            return f"{lit} {flip} {self.field}"
        return f"{self.field} {self.op} {lit}"

    def check(self, row: Row) -> Pair:
        v = row[self.field]
        return (False, False) if v is None else (OPS[self.op](v, self.value), True)


@dataclass(frozen=True)
class FieldRange:
    low: Any
    field: str
    high: Any
    ops: tuple[str, str]

    def render(self) -> str:
        return f"{self.low!r} {self.ops[0]} {self.field} {self.ops[1]} {self.high!r}"

    def check(self, row: Row) -> Pair:
        v = row[self.field]
        if v is None:
            return False, False
        return OPS[self.ops[0]](self.low, v) and OPS[self.ops[1]](v, self.high), True


@dataclass(frozen=True)
class FieldIn:
    field: str
    values: tuple[Any, ...]
    negated: bool

    def render(self) -> str:
        return f"{self.field} {'not in' if self.negated else 'in'} {literal_list(self.values)}"

    def check(self, row: Row) -> Pair:
        v = row[self.field]
        if v is None:
            return False, False
        return (v in self.values) != self.negated, True


@dataclass(frozen=True)
class ArithCmp:
    field: str
    aop: str
    constant: Any
    op: str
    value: Any

    def render(self) -> str:
        return f"{self.field} {self.aop} {self.constant!r} {self.op} {self.value!r}"

    def check(self, row: Row) -> Pair:
        v = row[self.field]
        if v is None:
            return False, False
        return OPS[self.op](arith(self.aop, v, self.constant), self.value), True


@dataclass(frozen=True)
class FieldsCmp:
    left: str
    op: str
    right: str

    def render(self) -> str:
        return f"{self.left} {self.op} {self.right}"

    def check(self, row: Row) -> Pair:
        a, b = row[self.left], row[self.right]
        if a is None or b is None:
            return False, False
        return OPS[self.op](a, b), True


@dataclass(frozen=True)
class IsNull:
    field: str
    negated: bool

    def render(self) -> str:
        return f"{self.field} {'is not null' if self.negated else 'is null'}"

    def check(self, row: Row) -> Pair:
        return (row[self.field] is not None) == self.negated, True


@dataclass(frozen=True)
class Like:
    target: Path | str
    pattern: str

    def render(self) -> str:
        target = self.target if isinstance(self.target, str) else self.target.render()
        return f"{target} like {quote(self.pattern)}"

    def check(self, row: Row) -> Pair:
        if isinstance(self.target, str):
            v = row[self.target]
            return (False, False) if v is None else (like(v, self.pattern), True)
        v, valid = self.target.value(row)
        return valid and isinstance(v, str) and like(v, self.pattern), valid


@dataclass(frozen=True)
class Path:
    """A JSON path: column "j" or "$meta"; `bare` renders a dynamic key without `$meta`."""

    column: str
    keys: tuple[Any, ...]
    bare: bool = False

    def render(self) -> str:
        keys = "".join(f"[{json.dumps(k)}]" for k in self.keys)
        if self.column == "$meta" and self.bare:
            return str(self.keys[0]) + "".join(f"[{json.dumps(k)}]" for k in self.keys[1:])
        return self.column + keys

    def value(self, row: Row) -> tuple[Any, bool]:
        doc = row[self.column]
        if doc is None:
            return MISSING, False
        return lookup(doc, self.keys), True


@dataclass(frozen=True)
class JsonCmp:
    path: Path
    op: str
    value: Any

    def render(self) -> str:
        return f"{self.path.render()} {self.op} {literal(self.value)}"

    def check(self, row: Row) -> Pair:
        v, valid = self.path.value(row)
        if not valid:
            return False, False
        if v is MISSING or not same_kind(v, self.value):
            return self.op == "!=", True
        return OPS[self.op](v, self.value), True


@dataclass(frozen=True)
class JsonIn:
    path: Path
    values: tuple[Any, ...]
    negated: bool

    def render(self) -> str:
        word = "not in" if self.negated else "in"
        return f"{self.path.render()} {word} {literal_list(self.values)}"

    def check(self, row: Row) -> Pair:
        v, valid = self.path.value(row)
        if not valid:
            return False, False
        found = v is not MISSING and any(json_equal(v, x) for x in self.values)
        return found != self.negated, True


@dataclass(frozen=True)
class Exists:
    path: Path

    def render(self) -> str:
        return f"exists {self.path.render()}"

    def check(self, row: Row) -> Pair:
        v, valid = self.path.value(row)
        return valid and v is not MISSING, valid


@dataclass(frozen=True)
class Contains:
    """json_contains* on a Path, or array_contains* on an ARRAY field name."""

    target: Path | str
    mode: str  # "", "_all", "_any"
    values: tuple[Any, ...]

    def render(self) -> str:
        if isinstance(self.target, str):
            name, target = "array_contains", self.target
        else:
            name, target = "json_contains", self.target.render()
        arg = literal(self.values[0]) if not self.mode else literal_list(self.values)
        return f"{name}{self.mode}({target}, {arg})"

    def check(self, row: Row) -> Pair:
        if isinstance(self.target, str):
            v, valid = row[self.target], row[self.target] is not None
        else:
            v, valid = self.target.value(row)
        if not valid:
            return False, False
        if not isinstance(v, list):
            return False, True
        present = [any(json_equal(e, x) for e in v) for x in self.values]
        return (all(present) if self.mode == "_all" else any(present)), True


@dataclass(frozen=True)
class ArrayItem:
    field: str
    index: int
    op: str
    value: Any

    def render(self) -> str:
        return f"{self.field}[{self.index}] {self.op} {literal(self.value)}"

    def check(self, row: Row) -> Pair:
        v = row[self.field]
        if v is None:
            return False, False
        return self.index < len(v) and OPS[self.op](v[self.index], self.value), True


@dataclass(frozen=True)
class ArrayLength:
    field: str
    op: str
    value: int

    def render(self) -> str:
        return f"array_length({self.field}) {self.op} {self.value}"

    def check(self, row: Row) -> Pair:
        v = row[self.field]
        return (False, False) if v is None else (OPS[self.op](len(v), self.value), True)


@dataclass(frozen=True)
class ArrayEquals:
    field: str
    values: tuple[Any, ...]
    negated: bool

    def render(self) -> str:
        return f"{self.field} {'!=' if self.negated else '=='} {literal_list(self.values)}"

    def check(self, row: Row) -> Pair:
        v = row[self.field]
        if v is None:
            return False, False
        return (list(v) == list(self.values)) != self.negated, True


@dataclass(frozen=True)
class Not:
    operand: Any
    spelling: str = "not"

    def render(self) -> str:
        return f"{self.spelling} ({self.operand.render()})"

    def check(self, row: Row) -> Pair:
        value, valid = self.operand.check(row)
        return (not value) and valid, valid


@dataclass(frozen=True)
class Logical:
    left: Any
    right: Any
    spelling: str  # and AND && or OR ||

    def render(self) -> str:
        return f"({self.left.render()}) {self.spelling} ({self.right.render()})"

    def check(self, row: Row) -> Pair:
        lv, lvalid = self.left.check(row)
        rv, rvalid = self.right.check(row)
        value = (lv and rv) if self.spelling.lower() in ("and", "&&") else (lv or rv)
        return value, lvalid or rvalid
