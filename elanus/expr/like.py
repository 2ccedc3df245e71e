"""LIKE patterns: `%` matches any run of characters, `_` one character, `\\` escapes the next.

The evaluator hands a pattern to Arrow's match_like, and reads its shape to pick a faster
kernel or an index: a pure prefix (`abc%`) is a starts_with test or a range of a sorted index;
the literal runs between wildcards narrow the rows through an n-gram index.
"""

from __future__ import annotations


def tokens(pattern: str) -> list[tuple[str, bool]]:
    """The pattern as (character, is_wildcard) pairs."""
    out: list[tuple[str, bool]] = []
    escaped = False
    for ch in pattern:
        if escaped:
            out.append((ch, False))
            escaped = False
        elif ch == "\\":
            escaped = True
        else:
            out.append((ch, ch in "%_"))
    if escaped:  # a trailing lone backslash means itself
        out.append(("\\", False))
    return out


def literal_parts(pattern: str) -> list[str]:
    """The runs of literal characters between the wildcards."""
    parts: list[str] = []
    current: list[str] = []
    for ch, wild in tokens(pattern):
        if wild:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p]


def pure_prefix(pattern: str) -> str | None:
    """The prefix of a pattern of the form `abc%` (no other wildcard), else None."""
    toks = tokens(pattern)
    wild = [i for i, (_, w) in enumerate(toks) if w]
    if wild != [len(toks) - 1] or toks[-1][0] != "%":
        return None
    return "".join(ch for ch, _ in toks[:-1])


def arrow_pattern(pattern: str) -> str:
    """The pattern as Arrow's match_like reads it."""
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    return pattern + "\\" if trailing % 2 else pattern
