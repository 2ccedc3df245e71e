"""The typed filter plan: a syntax tree bound to a schema, ready to evaluate.

Two families of frozen nodes. *Sources* produce one value per row: a scalar column, a JSON
path (typed per row at run time), an ARRAY column or one of its elements, an array length, or
arithmetic between one source and a constant. *Predicates* produce Milvus's pair of bitmaps per
row (result, valid) and combine with `Not`, `And`, `Or`. Literals are plain Python values
(`int`, `float`, `str`, `bool`); template parameters are already substituted and constant
sub-expressions already folded, so every plan is as cheap to evaluate as the data allows.

Column names are the stored ones: a field name, or `$meta` for keys of the dynamic field.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal as TypeLiteral

Scalar = int | float | str | bool
ScalarType = TypeLiteral["int", "float", "str", "bool"]
Key = str | int


# -- sources --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ColumnValue:
    """A scalar field (INT8..INT64, FLOAT, DOUBLE, BOOL, VARCHAR)."""

    column: str
    type: ScalarType


@dataclass(frozen=True)
class JsonValue:
    """The value at a JSON pointer inside a JSON column; its type varies per row."""

    column: str
    pointer: tuple[Key, ...]


@dataclass(frozen=True)
class ArrayValue:
    """A whole ARRAY field."""

    column: str
    element: ScalarType


@dataclass(frozen=True)
class ArrayItem:
    """`arr[index]`; rows whose array is shorter have no value."""

    column: str
    element: ScalarType
    index: int


@dataclass(frozen=True)
class ArrayLength:
    """array_length(source): the element count of an ARRAY field or of a JSON array."""

    source: ArrayValue | JsonValue


@dataclass(frozen=True)
class Arith:
    """`source op constant`, or `constant op source` when `source_first` is False."""

    op: str  # + - * / % **
    source: Source
    constant: int | float
    source_first: bool = True


Source = ColumnValue | JsonValue | ArrayValue | ArrayItem | ArrayLength | Arith


# -- predicates -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Compare:
    op: str  # == != < <= > >=
    source: Source
    value: Scalar


@dataclass(frozen=True)
class CompareColumns:
    op: str
    left: ColumnValue
    right: ColumnValue


@dataclass(frozen=True)
class InSet:
    source: Source
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class Like:
    source: Source
    pattern: str  # SQL LIKE: % any run, _ one character, backslash escapes


@dataclass(frozen=True)
class ArrayEquals:
    """The whole array equals `values`, element by element."""

    source: ArrayValue
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class Contains:
    """json_contains / array_contains and their _all / _any forms.

    mode "any": some element equals one of `values`; "all": every one of `values` is an element.
    """

    source: ArrayValue | JsonValue
    values: tuple[Scalar, ...]
    mode: TypeLiteral["any", "all"]


@dataclass(frozen=True)
class ContainsArray:
    """json_contains(path, [..]): the array at the path has an element equal to this array,
    given as compact JSON text."""

    source: JsonValue
    text: str


@dataclass(frozen=True)
class IsNull:
    """Column-level null test (a JSON key holding null does not make its column null)."""

    column: str
    negated: bool = False


@dataclass(frozen=True)
class Exists:
    source: JsonValue


@dataclass(frozen=True)
class Spatial:
    """A geometry operator: ST_<op>(column, literal[, distance]), the column's geometry as A and
    the literal (WKT) as B; `isvalid` takes no literal."""

    op: str  # equals contains crosses intersects overlaps touches within dwithin isvalid
    column: str
    wkt: str = ""
    distance: float = 0.0


@dataclass(frozen=True)
class TextMatch:
    """text_match(column, text): rows holding at least `minimum` of the text's tokens, as the
    field's analyzer cut them (a token the text repeats counts once per repeat)."""

    column: str
    terms: tuple[str, ...]
    minimum: int = 1


@dataclass(frozen=True)
class PhraseMatch:
    """phrase_match(column, text, slop): rows holding the text's tokens, given as (term,
    position), in order within `slop` moves (tantivy's phrase query semantics)."""

    column: str
    tokens: tuple[tuple[str, int], ...]
    slop: int = 0


@dataclass(frozen=True)
class Sample:
    """RANDOM_SAMPLE(factor): about `factor` of the rows the rest of the filter passes, drawn
    at random in each segment."""

    factor: float


@dataclass(frozen=True)
class Not:
    operand: Predicate


@dataclass(frozen=True)
class And:
    operands: tuple[Predicate, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Predicate, ...]


@dataclass(frozen=True)
class Constant:
    value: bool


Predicate = (Compare | CompareColumns | InSet | Like | ArrayEquals | Contains | ContainsArray
             | IsNull | Exists
             | Spatial | TextMatch | PhraseMatch | Sample | Not | And | Or | Constant)


def distinct(values: Iterable[Scalar]) -> tuple[Scalar, ...]:
    """`values` without repeats, in order; 1, 1.0 and True stay apart (Python's == merges them)."""
    return tuple(v for _, v in dict.fromkeys((type(v), v) for v in values))


def source_type(source: Source) -> ScalarType | TypeLiteral["json", "array"]:
    """The static type of a source's values; "json" means it is known per row only."""
    match source:
        case ColumnValue(type=t) | ArrayItem(element=t):
            return t
        case JsonValue():
            return "json"
        case ArrayValue():
            return "array"
        case ArrayLength():
            return "int"
        case Arith(op=op, source=inner):
            inner_type = source_type(inner)
            if op != "**" and inner_type == "int" and isinstance(source.constant, int):
                return "int"
            return "float"
    raise TypeError(f"not a source: {source!r}")


def source_column(source: Source) -> str:
    """The stored column a source reads."""
    match source:
        case ArrayLength(source=inner) | Arith(source=inner):
            return source_column(inner)
        case ColumnValue(column=c) | JsonValue(column=c) | ArrayValue(column=c) | ArrayItem(column=c):
            return c
    raise TypeError(f"not a source: {source!r}")


def leaves(predicate: Predicate) -> Iterator[Predicate]:
    """The predicate's operands below every NOT, AND and OR."""
    stack: list[Predicate] = [predicate]
    while stack:
        match stack.pop():
            case Not(operand=p):
                stack.append(p)
            case And(operands=ps) | Or(operands=ps):
                stack.extend(ps)
            case leaf:
                yield leaf


def predicate_columns(predicate: Predicate) -> frozenset[str]:
    """Every stored column the predicate reads."""
    out: set[str] = set()
    for leaf in leaves(predicate):
        match leaf:
            case Compare(source=s) | InSet(source=s) | Like(source=s):
                out.add(source_column(s))
            case ArrayEquals(source=s) | Contains(source=s) | Exists(source=s) \
                    | ContainsArray(source=s):
                out.add(source_column(s))
            case CompareColumns(left=left, right=right):
                out.update((left.column, right.column))
            case IsNull(column=c) | Spatial(column=c) | TextMatch(column=c) \
                    | PhraseMatch(column=c):
                out.add(c)
    return frozenset(out)


def text_columns(predicate: Predicate) -> frozenset[str]:
    """The columns text_match or phrase_match read: those that need a text index."""
    return frozenset(leaf.column for leaf in leaves(predicate)
                     if isinstance(leaf, TextMatch | PhraseMatch))
