"""Binder: syntax tree + schema + template parameters -> typed plan (`elanus.expr.plan`).

Names resolve as Milvus resolves them: a schema field by name; else, when the collection has
the dynamic field, a key of `$meta` (`color` means `$meta["color"]`); else the filter is
refused naming the field. `{name}` placeholders take their values from the request's
parameters. Constant sub-expressions are folded (integer `/` and `%` truncate toward zero, as
Go and C do). Types are checked statically wherever the schema fixes them: a VARCHAR field
compared with a number, LIKE on a number, arithmetic between two fields, a divisor of zero,
are FilterInvalid with the offset of the offending node. JSON values are typed per row, so
comparisons on them are checked only for operators that fit no JSON value. text_match and
phrase_match cut their text with the field's analyzer here, once per request, and are refused
with Milvus's words on fields without enable_match.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from elanus.errors import FilterInvalid, NotBoolean
from elanus.expr import nodes as syn
from elanus.expr import plan
from elanus.expr.folding import INT64_MAX, INT64_MIN, fold_arith, fold_compare
from elanus.expr.plan import Predicate, Scalar, Source, distinct, source_column, source_type
from elanus.schema import DYNAMIC_FIELD, CollectionSchema, DataType, FieldSchema, geometry
from elanus.schema.analyzers import field_analyzer, match_enabled

_SCALAR_TYPES: dict[DataType, plan.ScalarType] = {
    DataType.BOOL: "bool", DataType.INT8: "int", DataType.INT16: "int", DataType.INT32: "int",
    DataType.INT64: "int", DataType.FLOAT: "float", DataType.DOUBLE: "float",
    DataType.VARCHAR: "str", DataType.STRING: "str",
    DataType.TIMESTAMPTZ: "int",  # microseconds since the epoch, UTC
}
MAX_ARITH_DEPTH = 32  # operators applied to one field; Milvus itself takes one
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
# Geometry operators and their argument counts (field, WKT literal, distance in meters).
_SPATIAL = {"st_equals": 2, "st_contains": 2, "st_crosses": 2, "st_intersects": 2,
            "st_overlaps": 2, "st_touches": 2, "st_within": 2, "st_dwithin": 3, "st_isvalid": 1}
MAX_MINIMUM_SHOULD_MATCH = 1000  # Milvus's bound on text_match's minimum_should_match
MAX_SLOP = 2**32 - 1  # phrase_match's slop is a uint32
_CONTAINS = {"json_contains": "one", "array_contains": "one", "json_contains_all": "all",
             "array_contains_all": "all", "json_contains_any": "any", "array_contains_any": "any"}


@dataclass(frozen=True)
class _Const:
    value: Scalar


@dataclass(frozen=True)
class _List:
    values: tuple[Scalar, ...]


_Bound = _Const | _List | Source | Predicate


def bind(tree: syn.Node, schema: CollectionSchema, params: Mapping[str, Any] | None,
         text: str) -> Predicate:
    """Bind `tree` (parsed from `text`) to `schema`; raises FilterInvalid. RANDOM_SAMPLE may
    stand alone or as an operand of the top-level AND, as Milvus allows."""
    binder = _Binder(text, schema, params or {})
    top = [tree]
    if isinstance(tree, syn.Logical) and tree.op == "and":
        top = binder.conjuncts(tree)
    samples = [n for n in top if isinstance(n, syn.Call) and n.name == "random_sample"]
    if len(samples) > 1:
        raise binder.fail("random_sample can be used only once in a filter", samples[1])
    if not samples:
        return binder.predicate(tree)
    sample = binder.sample(samples[0])
    rest = [binder.predicate(n) for n in top if n is not samples[0]]
    return plan.And((*rest, sample)) if rest else sample


class _Binder:
    def __init__(self, text: str, schema: CollectionSchema, params: Mapping[str, Any]) -> None:
        self.text, self.schema, self.params = text, schema, params

    def fail(self, detail: str, node: syn.Node) -> FilterInvalid:
        return FilterInvalid(self.text, detail, node.offset)

    # -- predicates ------------------------------------------------------------------------

    def predicate(self, node: syn.Node) -> Predicate:
        if isinstance(node, syn.Logical):
            return self.logical(node)
        bound = self.value(node)
        match bound:
            case _Const(value=bool() as b):
                return plan.Constant(b)
            case _Const() | _List():
                raise self.fail("the expression must be boolean, not a constant", node)
            case plan.ColumnValue() | plan.JsonValue() | plan.ArrayItem():
                if source_type(bound) == "bool":
                    return plan.Compare("==", bound, True)  # a bare boolean field
                if isinstance(node, (syn.Name, syn.Path)) and not isinstance(bound,
                                                                            plan.ArrayItem):
                    raise NotBoolean(syn.to_text(node), self._type_name(bound), node.offset)
                raise self.fail(f"the expression must be boolean, but {_describe(node)} is a "
                                f"{source_type(bound)} value", node)
            case plan.ArrayValue() | plan.ArrayLength() | plan.Arith():
                raise self.fail("the expression must be boolean", node)
        return bound

    def _type_name(self, source: plan.ColumnValue | plan.JsonValue) -> str:
        """Milvus's name of the data type a bare predicate has."""
        if isinstance(source, plan.JsonValue):
            return "JSON"
        f = self.schema.field(source.column)
        return f.dtype.milvus_name if f is not None else source.type

    def conjuncts(self, node: syn.Logical) -> list[syn.Node]:
        """Flatten a chain of one operator iteratively: long `id == 1 or id == 2 or ...`
        filters are common and must not hit Python's recursion limit."""
        leaves: list[syn.Node] = []
        stack: list[syn.Node] = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, syn.Logical) and n.op == node.op:
                stack.extend((n.right, n.left))
            else:
                leaves.append(n)
        return leaves

    def logical(self, node: syn.Logical) -> Predicate:
        operands = tuple(self.predicate(leaf) for leaf in self.conjuncts(node))
        if node.op == "and":
            return plan.And(operands)
        return plan.Or(_merge_equalities(operands))

    def compare(self, node: syn.Compare) -> Predicate:
        left, right = self.value(node.left), self.value(node.right)
        op = node.op
        if isinstance(left, _Const) and isinstance(right, _Const):
            return plan.Constant(self.folded(lambda: fold_compare(op, left.value, right.value),
                                             node))
        if isinstance(left, (_Const, _List)) and isinstance(right, _SOURCES):
            left, right, op = right, left, _FLIP[op]
        if not isinstance(left, _SOURCES):
            raise self.fail(f"cannot compare {_describe(node.left)}", node)
        if isinstance(right, _Const):
            return self.compare_value(op, left, right.value, node)
        if isinstance(right, _List):
            if isinstance(left, plan.ArrayValue) and op in ("==", "!="):
                values = tuple(self.element(left, v, node) for v in right.values)
                equals = plan.ArrayEquals(left, values)
                return equals if op == "==" else plan.Not(equals)
            raise self.fail(f"cannot compare {_describe(node.left)} with a list", node)
        if isinstance(left, plan.ColumnValue) and isinstance(right, plan.ColumnValue):
            lt, rt = left.type, right.type
            if _numeric(lt) != _numeric(rt) or (not _numeric(lt) and lt != rt):
                raise self.fail(f"cannot compare {lt} field {left.column} with {rt} field "
                                f"{right.column}", node)
            if lt == "bool" and op not in ("==", "!="):
                raise self.fail(f"operator {op} does not apply to boolean fields", node)
            return plan.CompareColumns(op, left, right)
        raise self.fail("comparing two expressions is supported only between scalar fields",
                        node)

    def compare_value(self, op: str, source: Source, value: Scalar, node: syn.Node) -> Predicate:
        kind = source_type(source)
        if kind == "array":
            raise self.fail(f"array field {source_column(source)} can be compared only with "
                            "a list, or through an element such as field[0]", node)
        if kind == "json":
            if isinstance(value, bool) and op not in ("==", "!="):
                raise self.fail(f"operator {op} does not apply to a boolean", node)
            return plan.Compare(op, source, value)
        self.check_type(kind, value, node)
        if kind == "bool" and op not in ("==", "!="):
            raise self.fail(f"operator {op} does not apply to boolean fields", node)
        return plan.Compare(op, source, value)

    def check_type(self, kind: str, value: Scalar, node: syn.Node) -> None:
        ok = {"int": _is_number(value), "float": _is_number(value),
              "str": isinstance(value, str), "bool": isinstance(value, bool)}[kind]
        if not ok:
            raise self.fail(f"type mismatch: {_describe(node)} compares a {kind} value with "
                            f"{_type_name(value)} {value!r}", node)

    def range(self, node: syn.Range) -> Predicate:
        target = self.value(node.target)
        low, high = self.value(node.low), self.value(node.high)
        if not isinstance(target, _SOURCES):
            raise self.fail("the middle of a range must be a field", node.target)
        bounds = [(low, node.low, _FLIP[node.low_op]), (high, node.high, node.high_op)]
        parts: list[Predicate] = []
        for bound, where, op in bounds:
            if not isinstance(bound, _Const):
                raise self.fail("the bounds of a range must be constants", where)
            parts.append(self.compare_value(op, target, bound.value, node))
        return plan.And(tuple(parts))

    def membership(self, node: syn.In) -> Predicate:
        operand, values = self.value(node.operand), self.value(node.values)
        if not isinstance(values, _List):
            raise self.fail("'in' needs a list of values", node.values)
        if isinstance(operand, _Const):
            found = any(self.folded(lambda v=v: fold_compare("==", operand.value, v), node)
                        for v in values.values)
            return plan.Constant(found != node.negated)
        if not isinstance(operand, _SOURCES) or source_type(operand) == "array":
            raise self.fail(f"'in' does not apply to {_describe(node.operand)}", node)
        kind = source_type(operand)
        if kind != "json":
            for v in values.values:
                self.check_type(kind, v, node)
        result: Predicate = plan.InSet(operand, values.values)
        return plan.Not(result) if node.negated else result

    def like(self, node: syn.Like) -> Predicate:
        operand, pattern = self.value(node.operand), self.value(node.pattern)
        if not (isinstance(pattern, _Const) and isinstance(pattern.value, str)):
            raise self.fail("the pattern of like must be a string", node.pattern)
        if not isinstance(operand, _SOURCES) or source_type(operand) not in ("str", "json"):
            raise self.fail(f"like applies only to strings, not {_describe(node.operand)}",
                            node)
        return plan.Like(operand, pattern.value)

    def is_null(self, node: syn.IsNull) -> Predicate:
        if not isinstance(node.operand, (syn.Name, syn.Path)):
            raise self.fail("is null applies only to a field", node.operand)
        f = self.schema.field(node.operand.name)
        if isinstance(node.operand, syn.Name) and f is not None and \
                f.dtype == DataType.GEOMETRY:
            return plan.IsNull(f.name, node.negated)
        source = self.field(node.operand)
        return plan.IsNull(source_column(source), node.negated)

    def exists(self, node: syn.Exists) -> Predicate:
        source = self.value(node.operand)
        if not isinstance(source, plan.JsonValue):
            raise self.fail("exists applies only to a JSON path or a dynamic field",
                            node.operand)
        return plan.Exists(source)

    def sample(self, node: syn.Call) -> Predicate:
        if len(node.args) != 1:
            raise self.fail("random_sample takes one argument, the sample factor", node)
        factor = self.value(node.args[0])
        if not (isinstance(factor, _Const) and _is_number(factor.value)
                and 0 < float(factor.value) < 1):
            raise self.fail("the sample factor of random_sample must be a number in (0, 1)",
                            node.args[0])
        return plan.Sample(float(factor.value))

    def call(self, node: syn.Call) -> _Bound:
        if node.name == "random_sample":
            raise self.fail("random_sample can be used only alone or as an operand of the "
                            "top-level AND", node)
        if node.name in ("text_match", "phrase_match"):
            return self.text_match(node)
        if node.name in _SPATIAL:
            return self.spatial(node)
        if node.name == "array_length":
            if len(node.args) != 1:
                raise self.fail("array_length takes one argument", node)
            source = self.value(node.args[0])
            if not isinstance(source, (plan.ArrayValue, plan.JsonValue)):
                raise self.fail("array_length applies only to an ARRAY field or a JSON path",
                                node.args[0])
            return plan.ArrayLength(source)
        mode = _CONTAINS.get(node.name)
        if mode is None:
            raise self.fail(f"function {node.name} is not supported", node)
        if len(node.args) != 2:
            raise self.fail(f"{node.name} takes two arguments", node)
        source, arg = self.value(node.args[0]), self.value(node.args[1])
        if not isinstance(source, (plan.ArrayValue, plan.JsonValue)):
            raise self.fail(f"{node.name} applies only to an ARRAY field or a JSON path",
                            node.args[0])
        if mode == "one":
            if isinstance(arg, _List) and isinstance(source, plan.JsonValue):
                text = json.dumps(list(arg.values), separators=(",", ":"), ensure_ascii=False)
                return plan.ContainsArray(source, text)
            if not isinstance(arg, _Const):
                raise self.fail(f"{node.name} with a list element is not supported",
                                node.args[1])
            values: tuple[Scalar, ...] = (arg.value,)
        elif isinstance(arg, _List):
            values = arg.values
        else:
            raise self.fail(f"the second argument of {node.name} must be a list", node.args[1])
        if isinstance(source, plan.ArrayValue):
            values = tuple(self.element(source, v, node.args[1]) for v in values)
        return plan.Contains(source, values, "all" if mode == "all" else "any")

    def text_match(self, node: syn.Call) -> Predicate:
        """TEXT_MATCH(field, 'text'[, minimum_should_match=N]) and PHRASE_MATCH(field,
        'text'[, slop]): the text is cut by the field's analyzer now, once per request."""
        phrase = node.name == "phrase_match"
        option = "slop" if phrase else "minimum_should_match=N"
        if not 2 <= len(node.args) <= 3:
            raise self.fail(f"{node.name} takes a field, a text and optionally {option}", node)
        f = self.match_field(node, "phrase" if phrase else "text")
        text = self.value(node.args[1])
        if not (isinstance(text, _Const) and isinstance(text.value, str)):
            raise self.fail(f"the text of {node.name} must be a string", node.args[1])
        analyzer = field_analyzer(f.type_params, f.name)
        extra = node.args[2] if len(node.args) == 3 else None
        if phrase:
            terms, positions = analyzer.term_positions(text.value)
            slop = self.slop(extra) if extra is not None else 0
            return plan.PhraseMatch(f.name, tuple(zip(terms, positions)), slop)
        minimum = self.minimum_should_match(extra) if extra is not None else 1
        return plan.TextMatch(f.name, tuple(analyzer.terms(text.value)), minimum)

    def match_field(self, node: syn.Call, kind: str) -> FieldSchema:
        """The VARCHAR field with enable_match that a text_match or phrase_match filters."""
        target = node.args[0]
        if not isinstance(target, syn.Name):
            raise self.fail(f"the first argument of {node.name} must be a field name", target)
        f = self.schema.field(target.name)
        if f is None and not self.schema.enable_dynamic_field:
            raise self.fail(f"field {target.name} not exist", target)
        if f is None or f.dtype != DataType.VARCHAR:  # a dynamic key reads as JSON in Milvus
            raise self.fail(f"{kind} match operation on non-string is unsupported", target)
        if not match_enabled(f):
            raise self.fail(f'field "{target.name}" does not enable match', target)
        return f

    def minimum_should_match(self, node: syn.Node) -> int:
        if not (isinstance(node, syn.Keyword) and node.name == "minimum_should_match"):
            raise self.fail("the third argument of text_match must be minimum_should_match=N",
                            node)
        value = self.value(node.value)
        if not (isinstance(value, _Const) and _is_integer(value.value)):
            raise self.fail("minimum_should_match should be a const integer expression", node)
        assert isinstance(value.value, int)
        if value.value < 1:
            raise self.fail(f"minimum_should_match should be >= 1, got {value.value}", node)
        if value.value > MAX_MINIMUM_SHOULD_MATCH:
            raise self.fail(f"minimum_should_match should be <= {MAX_MINIMUM_SHOULD_MATCH}, "
                            f"got {value.value}", node)
        return value.value

    def slop(self, node: syn.Node) -> int:
        """phrase_match's slop, with Milvus's wording (and its spelling) for bad ones."""
        passed = _antlr_text(node)
        try:
            value = None if isinstance(node, syn.Keyword) else self.value(node)
        except FilterInvalid:
            value = None
        if not (isinstance(value, _Const) and _is_integer(value.value)):
            raise self.fail('"slop" should be a const integer expression with "uint32" value. '
                            f'"slop" expression passed: {passed}', node)
        assert isinstance(value.value, int)
        if value.value < 0:
            raise self.fail(f'"slop" should not be a negative interger. "slop" passed: {passed}',
                            node)
        if value.value > MAX_SLOP:
            raise self.fail('"slop" exceeds the range of "uint32". "slop" expression passed: '
                            f"{passed}", node)
        return value.value

    def spatial(self, node: syn.Call) -> Predicate:
        """ST_<op>(field, 'wkt'), ST_DWITHIN(field, 'wkt', meters), ST_ISVALID(field)."""
        op = node.name[3:]
        arity = _SPATIAL[node.name]
        if len(node.args) != arity:
            raise self.fail(f"{node.name.upper()} takes {arity} argument"
                            f"{'s' if arity > 1 else ''}", node)
        target = node.args[0]
        f = self.schema.field(target.name) if isinstance(target, syn.Name) else None
        if f is None or f.dtype != DataType.GEOMETRY:
            what = {1: "STIsValid", 2: "spatial", 3: "ST_DWITHIN"}[arity]
            raise self.fail(f"{what} operation are only supported on geometry fields now, got: "
                            f"{syn.to_text(target)}", target)
        if arity == 1:
            return plan.Spatial(op, f.name)
        wkt = self.value(node.args[1])
        if not (isinstance(wkt, _Const) and isinstance(wkt.value, str)):
            raise self.fail(f"the geometry of {node.name.upper()} must be a WKT string",
                            node.args[1])
        try:
            shape = geometry.literal(wkt.value)
        except ValueError as exc:
            raise self.fail(str(exc), node.args[1]) from None
        if arity == 2:
            return plan.Spatial(op, f.name, wkt.value)
        if shape.geom_type != "Point":
            raise self.fail("the geometry of ST_DWITHIN must be a POINT, got "
                            f"{shape.geom_type.upper()}", node.args[1])
        distance = self.value(node.args[2])
        if not isinstance(distance, _Const):
            raise self.fail("distance parameter must be a constant numeric value, got: "
                            f"{syn.to_text(node.args[2])}", node.args[2])
        if not _is_number(distance.value):
            raise self.fail("distance parameter must be a numeric value (int or float), got: "
                            f"{distance.value!r}", node.args[2])
        meters = float(distance.value)
        if not meters >= 0:
            raise self.fail(f"distance parameter must be non-negative, got: {meters:f}",
                            node.args[2])
        return plan.Spatial(op, f.name, wkt.value, meters)

    def element(self, source: plan.ArrayValue, value: Scalar, node: syn.Node) -> Scalar:
        self.check_type(source.element, value, node)
        return value

    # -- values ----------------------------------------------------------------------------

    def value(self, node: syn.Node) -> _Bound:
        match node:
            case syn.Literal(value=v):
                return self.constant(v, node)
            case syn.ListLiteral(items=items):
                values = []
                for item in items:
                    bound = self.value(item)
                    if not isinstance(bound, _Const):
                        raise self.fail("list elements must be constants", item)
                    values.append(bound.value)
                return _List(tuple(values))
            case syn.Param():
                return self.param(node)
            case syn.Name() | syn.Path():
                return self.field(node)
            case syn.Call():
                return self.call(node)
            case syn.Unary(op=op, operand=operand):
                inner = self.value(operand)
                if op == "-":
                    return self.arith(syn.Arith("*", syn.Literal(-1), operand, node.offset),
                                      _Const(-1), inner)
                return self.arith(syn.Arith("*", syn.Literal(1), operand, node.offset),
                                  _Const(1), inner)
            case syn.Arith(left=left, right=right):
                return self.arith(node, self.value(left), self.value(right))
            case syn.Compare():
                return self.compare(node)
            case syn.Range():
                return self.range(node)
            case syn.In():
                return self.membership(node)
            case syn.Like():
                return self.like(node)
            case syn.IsNull():
                return self.is_null(node)
            case syn.Exists():
                return self.exists(node)
            case syn.Not(operand=operand):
                return plan.Not(self.predicate(operand))
            case syn.Logical():
                return self.logical(node)
            case syn.Keyword(name=name):
                raise self.fail(f"{name}= is an option of text_match only", node)
        raise self.fail(f"unsupported expression {type(node).__name__}", node)

    def constant(self, value: Any, node: syn.Node) -> _Const:
        if isinstance(value, int) and not isinstance(value, bool) and \
                not INT64_MIN <= value <= INT64_MAX:
            raise self.fail(f"integer {value} is out of the int64 range", node)
        return _Const(value)

    def param(self, node: syn.Param) -> _Const | _List:
        if node.name not in self.params:
            raise self.fail(f"template variable {{{node.name}}} has no value", node)
        raw = self.params[node.name]
        if isinstance(raw, (list, tuple)):
            return _List(tuple(self.constant(_scalar(v, node, self), node).value for v in raw))
        return self.constant(_scalar(raw, node, self), node)

    def field(self, node: syn.Name | syn.Path) -> Source:
        name = node.name
        keys = node.keys if isinstance(node, syn.Path) else ()
        f = self.schema.field(name)
        if f is None:
            if name == DYNAMIC_FIELD and self.schema.enable_dynamic_field:
                return plan.JsonValue(DYNAMIC_FIELD, keys)
            if self.schema.enable_dynamic_field:
                return plan.JsonValue(DYNAMIC_FIELD, (name, *keys))
            raise self.fail(f"field {name} not exist", node)
        if f.dtype == DataType.JSON:
            return plan.JsonValue(name, keys)
        if f.dtype == DataType.ARRAY:
            element = _SCALAR_TYPES.get(f.element_type)
            if element is None:
                raise self.fail(f"array field {name} of {f.element_type.name} cannot be "
                                "filtered", node)
            if not keys:
                return plan.ArrayValue(name, element)
            if len(keys) != 1 or not isinstance(keys[0], int):
                raise self.fail(f"array field {name} takes exactly one integer index", node)
            return plan.ArrayItem(name, element, keys[0])
        kind = _SCALAR_TYPES.get(f.dtype)
        if f.dtype == DataType.GEOMETRY:
            raise self.fail(f"geometry field {name} can be filtered only by the ST_ operators "
                            "and IS NULL", node)
        if kind is None:
            raise self.fail(f"field {name} of type {f.dtype.milvus_name} cannot be filtered",
                            node)
        if keys:
            raise self.fail(f"field {name} is neither JSON nor ARRAY and takes no index", node)
        return plan.ColumnValue(name, kind)

    def arith(self, node: syn.Arith, left: _Bound, right: _Bound) -> _Bound:
        op = node.op
        if isinstance(left, _Const) and isinstance(right, _Const):
            return self.constant(self.folded(lambda: fold_arith(op, left.value, right.value),
                                             node), node)
        for side, where in ((left, node.left), (right, node.right)):
            if isinstance(side, _Const):
                if not _is_number(side.value):
                    raise self.fail(f"arithmetic needs numbers, not {side.value!r}", where)
            elif not isinstance(side, _SOURCES) or source_type(side) not in ("int", "float", "json"):
                raise self.fail(f"arithmetic needs a numeric field, not {_describe(where)}",
                                where)
        if isinstance(left, _SOURCES) and isinstance(right, _SOURCES):
            raise self.fail("arithmetic between two fields is not supported", node)
        source = left if isinstance(left, _SOURCES) else right
        if isinstance(source, plan.Arith) and _arith_depth(source) >= MAX_ARITH_DEPTH:
            raise self.fail("arithmetic on a field is nested too deeply", node)
        if isinstance(right, _Const) and isinstance(left, _SOURCES):
            if op in ("/", "%") and right.value == 0:
                raise self.fail("division by zero", node.right)
            return plan.Arith(op, left, _number(right.value))
        assert isinstance(left, _Const) and isinstance(right, _SOURCES)
        if op in ("/", "%"):
            raise self.fail(f"the right operand of {op} must be a constant", node.right)
        return plan.Arith(op, right, _number(left.value), source_first=False)

    def folded(self, compute: Any, node: syn.Node) -> Any:
        try:
            return compute()
        except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
            raise self.fail(str(exc), node) from None


_SOURCES = (plan.ColumnValue, plan.JsonValue, plan.ArrayValue, plan.ArrayItem, plan.ArrayLength,
            plan.Arith)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _antlr_text(node: syn.Node) -> str:
    """The expression as Milvus's parser quotes it back: its tokens without spaces."""
    if isinstance(node, syn.Literal) and _is_integer(node.value):
        return str(node.value)
    return syn.to_text(node).replace(" ", "")


def _arith_depth(source: plan.Arith) -> int:
    depth = 0
    inner: Source = source
    while isinstance(inner, plan.Arith):
        depth, inner = depth + 1, inner.source
    return depth


def _merge_equalities(operands: tuple[Predicate, ...]) -> tuple[Predicate, ...]:
    """`x == 1 or x == 2 or ...` -> `x in [1, 2, ...]`: the same rows and validity, one kernel
    call instead of one per constant (filters listing thousands of ids are common)."""
    groups: dict[Source, list[Scalar]] = {}
    for p in operands:
        if isinstance(p, plan.Compare) and p.op == "==":
            groups.setdefault(p.source, []).append(p.value)
    out: list[Predicate] = []
    emitted: set[Source] = set()
    for p in operands:
        if isinstance(p, plan.Compare) and p.op == "==" and len(groups[p.source]) > 1:
            if p.source not in emitted:
                emitted.add(p.source)
                out.append(plan.InSet(p.source, distinct(groups[p.source])))
        else:
            out.append(p)
    return tuple(out)


def _number(value: Scalar) -> int | float:
    assert isinstance(value, (int, float)) and not isinstance(value, bool)
    return value


def _numeric(kind: str) -> bool:
    return kind in ("int", "float")


def _type_name(value: Scalar) -> str:
    return {bool: "boolean", int: "integer", float: "float", str: "string"}[type(value)]


def _describe(node: syn.Node) -> str:
    match node:
        case syn.Name(name=name):
            return f"field {name}"
        case syn.Path():
            return f"field {syn.to_text(node)}"
    return "the expression"


def _scalar(raw: Any, node: syn.Param, binder: _Binder) -> Scalar:
    """A template parameter value as a plain Python scalar (numpy scalars included)."""
    if isinstance(raw, (bool, str)):
        return raw
    if hasattr(raw, "item") and callable(raw.item):  # numpy scalars
        raw = raw.item()
    if isinstance(raw, (bool, int, float, str)):
        return raw
    raise binder.fail(f"template variable {{{node.name}}} has an unsupported value "
                      f"{type(raw).__name__}", node)
