"""Arithmetic and comparison on constants, with the semantics the evaluator uses on columns.

Integers are int64 as in Milvus: `/` and `%` truncate toward zero (C and Go, not Python),
results outside int64 are errors when folding constants. `**` always yields a float. Values of
different kinds (number, string, boolean) never compare; booleans are not numbers.
Errors are raised as TypeError, ValueError or ZeroDivisionError for the binder to report.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}


def trunc_div(a: int, b: int) -> int:
    """Integer division rounding toward zero."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def trunc_mod(a: int, b: int) -> int:
    """Remainder with the sign of the dividend, so a == trunc_div(a, b) * b + trunc_mod(a, b)."""
    return a - trunc_div(a, b) * b


def fold_arith(op: str, a: Any, b: Any) -> int | float:
    """`a op b` for two numeric constants."""
    if not (_is_number(a) and _is_number(b)):
        raise TypeError(f"arithmetic needs numbers, not {a!r} and {b!r}")
    if op in ("/", "%") and b == 0:
        raise ZeroDivisionError("division by zero")
    if op == "**":
        result: int | float = math.pow(a, b)
    elif isinstance(a, int) and isinstance(b, int):
        if op == "/":
            result = trunc_div(a, b)
        elif op == "%":
            result = trunc_mod(a, b)
        else:
            result = {"+": a + b, "-": a - b, "*": a * b}[op]
        if not INT64_MIN <= result <= INT64_MAX:
            raise OverflowError(f"integer overflow in {a} {op} {b}")
    elif op == "%":
        result = math.fmod(a, b)
    else:
        result = {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[op]
    return result


def fold_compare(op: str, a: Any, b: Any) -> bool:
    """`a op b` for two constants of comparable kinds."""
    if kind_of(a) != kind_of(b):
        raise TypeError(f"cannot compare {a!r} with {b!r}")
    if isinstance(a, bool) and op not in ("==", "!="):
        raise TypeError(f"operator {op} does not apply to booleans")
    return bool(COMPARE[op](a, b))


def kind_of(value: Any) -> str:
    """"number", "string" or "boolean"."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    raise TypeError(f"unsupported constant {value!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
