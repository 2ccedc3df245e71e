"""The syntax tree of a filter expression, as `parse` builds it, before any schema is known.

Nodes are frozen dataclasses. Each keeps `offset`, the character position in the expression
text where it starts, so errors can point at it; offsets take no part in equality, so two trees
that say the same thing compare equal wherever their text put them. `to_text` prints a tree
back as an expression that parses to an equal tree (fully parenthesized, canonical spelling).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

Scalar = int | float | str | bool


class Node:
    """Base of every syntax node."""

    offset: int


@dataclass(frozen=True)
class Literal(Node):
    value: Scalar
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class ListLiteral(Node):
    items: tuple[Node, ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Param(Node):
    """A template placeholder `{name}`, bound from the request's filter parameters."""

    name: str
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Name(Node):
    """A bare identifier: a field, or a dynamic-field key, or `$meta` itself."""

    name: str
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Path(Node):
    """`name[k1][k2]...`: JSON keys (str) or positions (int) below a field."""

    name: str
    keys: tuple[str | int, ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Call(Node):
    """A function call; `name` is lower case (json_contains, array_length, ...)."""

    name: str
    args: tuple[Node, ...]
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Keyword(Node):
    """A named call argument, `minimum_should_match=2`; `name` is lower case."""

    name: str
    value: Node
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "-" or "+"
    operand: Node
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Arith(Node):
    op: str  # + - * / % **
    left: Node
    right: Node
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Compare(Node):
    op: str  # == != < <= > >=
    left: Node
    right: Node
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Range(Node):
    """`low low_op target high_op high`, both operators < / <= or both > / >=."""

    low: Node
    low_op: str
    target: Node
    high_op: str
    high: Node
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class In(Node):
    operand: Node
    values: Node
    negated: bool = False
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Like(Node):
    operand: Node
    pattern: Node
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class IsNull(Node):
    operand: Node
    negated: bool = False  # True for IS NOT NULL
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Exists(Node):
    operand: Node
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Not(Node):
    operand: Node
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Logical(Node):
    op: str  # "and" or "or"
    left: Node
    right: Node
    offset: int = field(default=0, compare=False)


def to_text(node: Node) -> str:
    """Print `node` as an expression that parses back to an equal tree."""
    match node:
        case Literal(value=bool() as b):
            return "true" if b else "false"
        case Literal(value=str() as s):
            return json.dumps(s, ensure_ascii=False)
        case Literal(value=float() as f):
            if not math.isfinite(f):
                return _bad(node)
            return f"({f!r})" if f < 0 or str(f).startswith("-") else repr(f)
        case Literal(value=int() as i):
            return f"({i})" if i < 0 else str(i)
        case ListLiteral(items=items):
            return "[" + ", ".join(to_text(i) for i in items) + "]"
        case Param(name=name):
            return "{" + name + "}"
        case Name(name=name):
            return name
        case Path(name=name, keys=keys):
            return name + "".join(f"[{json.dumps(k, ensure_ascii=False)}]" for k in keys)
        case Call(name=name, args=args):
            return f"{name}({', '.join(to_text(a) for a in args)})"
        case Keyword(name=name, value=value):
            return f"{name}={to_text(value)}"
        case Unary(op=op, operand=operand):
            return f"({op}{to_text(operand)})"
        case Arith(op=op, left=left, right=right) | Compare(op=op, left=left, right=right):
            return f"({to_text(left)} {op} {to_text(right)})"
        case Range(low=low, low_op=low_op, target=target, high_op=high_op, high=high):
            return f"({to_text(low)} {low_op} {to_text(target)} {high_op} {to_text(high)})"
        case In(operand=operand, values=values, negated=negated):
            return f"({to_text(operand)} {'not in' if negated else 'in'} {to_text(values)})"
        case Like(operand=operand, pattern=pattern):
            return f"({to_text(operand)} like {to_text(pattern)})"
        case IsNull(operand=operand, negated=negated):
            return f"({to_text(operand)} is {'not null' if negated else 'null'})"
        case Exists(operand=operand):
            return f"(exists {to_text(operand)})"
        case Not(operand=operand):
            return f"(not {to_text(operand)})"
        case Logical(op=op, left=left, right=right):
            return f"({to_text(left)} {op} {to_text(right)})"
    return _bad(node)


def _bad(node: Node) -> str:
    raise ValueError(f"cannot print {node!r}")
