"""Tokens of Milvus's filter language.

`tokenize(text)` turns a filter expression into a list of `Token`s ending with an `EOF` token.
Every token keeps its character offset into the text, so later errors can point at it.

Lexical rules follow Milvus's grammar (planparserv2): keywords are accepted in lower or upper
case only (`and`/`AND`, never `And`); booleans also in title case (`True`); integers are
decimal, octal (`017`), hexadecimal (`0x1F`) or binary (`0b101`); strings are single or double
quoted with C/Go escapes, or raw (`r"..."`, backslashes kept); identifiers are ASCII
`[A-Za-z_][A-Za-z0-9_]*` plus the dynamic field `$meta`. Unknown escape sequences keep their
backslash, so LIKE patterns such as ``"100\\%"`` reach the matcher intact. A single `=` is an
operator only after the option name `minimum_should_match` (text_match's option, as Milvus's
grammar has it); anywhere else it is refused with a hint to use `==`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from elanus.errors import FilterInvalid


class Kind(Enum):
    INT = "integer"
    FLOAT = "float"
    STRING = "string"
    BOOL = "boolean"
    IDENT = "identifier"
    KEYWORD = "keyword"
    OP = "operator"
    EOF = "end of expression"


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str                                   # the source text of the token
    offset: int
    value: int | float | str | bool | None = None  # literals: the value; keywords: lower case


KEYWORDS = frozenset({"and", "or", "not", "in", "like", "exists", "is", "null"})
OPTIONS = frozenset({"minimum_should_match", "MINIMUM_SHOULD_MATCH"})  # name=value arguments
_BOOLEANS = {"true": True, "True": True, "TRUE": True,
             "false": False, "False": False, "FALSE": False}

# Two-character operators first, so "**" wins over "*" and "<=" over "<".
_OPERATOR = re.compile(r"\*\*|==|!=|<=|>=|&&|\|\||[<>+\-*/%!()\[\],{}]")

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FLOAT = re.compile(r"(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+")
_INT = re.compile(r"0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+")
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                   "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}
_OCTAL = frozenset("01234567")
_HEX = frozenset("0123456789abcdefABCDEF")


def tokenize(text: str) -> list[Token]:
    """Split `text` into tokens; raises FilterInvalid at the first character that fits none."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        if c in "rR" and i + 1 < n and text[i + 1] in "\"'":
            end, value = _raw_string(text, i + 1)
            tokens.append(Token(Kind.STRING, text[i:end], i, value))
            i = end
        elif c in "\"'":
            end, value = _string(text, i)
            tokens.append(Token(Kind.STRING, text[i:end], i, value))
            i = end
        elif c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            tokens.append(_number(text, i))
            i += len(tokens[-1].text)
        elif c == "$":
            if not text.startswith("$meta", i) or _WORD.match(text, i + 5):
                raise FilterInvalid(text, "unexpected character '$'", i)
            tokens.append(Token(Kind.IDENT, "$meta", i, "$meta"))
            i += 5
        elif m := _WORD.match(text, i):
            tokens.append(_word(m.group(), i))
            i = m.end()
        else:
            m = _OPERATOR.match(text, i)
            if m is None and c == "=" and tokens and tokens[-1].kind is Kind.IDENT \
                    and tokens[-1].text in OPTIONS:
                tokens.append(Token(Kind.OP, "=", i, "="))
                i += 1
                continue
            if m is None:
                hint = ", use == to compare" if c == "=" else ""
                raise FilterInvalid(text, f"unexpected character {c!r}{hint}", i)
            op = m.group()
            tokens.append(Token(Kind.OP, op, i, op))
            i += len(op)
    tokens.append(Token(Kind.EOF, "", n))
    return tokens


def _word(word: str, offset: int) -> Token:
    if word in _BOOLEANS:
        return Token(Kind.BOOL, word, offset, _BOOLEANS[word])
    lower = word.lower()
    if lower in KEYWORDS and word in (lower, word.upper()):
        return Token(Kind.KEYWORD, word, offset, lower)
    return Token(Kind.IDENT, word, offset, word)


def _number(text: str, start: int) -> Token:
    m = _FLOAT.match(text, start)
    if m:
        end = m.end()
        kind, value = Kind.FLOAT, float(m.group())
    else:
        m = _INT.match(text, start)
        assert m is not None  # the caller saw a digit
        end, digits = m.end(), m.group()
        kind, value = Kind.INT, _integer(text, digits, start)
    if end < len(text) and (text[end].isalnum() or text[end] in "_."):
        raise FilterInvalid(text, f"invalid number {text[start:end + 1]!r}", start)
    return Token(kind, text[start:end], start, value)


def _integer(text: str, digits: str, offset: int) -> int:
    lower = digits.lower()
    if lower.startswith("0x"):
        return int(lower, 16)
    if lower.startswith("0b"):
        return int(lower, 2)
    if len(digits) > 1 and digits[0] == "0":  # C-style octal, as Milvus
        if not set(digits) <= _OCTAL:
            raise FilterInvalid(text, f"invalid octal number {digits!r}", offset)
        return int(digits, 8)
    return int(digits)


def _raw_string(text: str, quote_at: int) -> tuple[int, str]:
    """A raw literal: a backslash only stops the quote from closing it, and is kept."""
    quote, i = text[quote_at], quote_at + 1
    while i < len(text):
        c = text[i]
        if c in "\r\n":
            break
        if c == "\\" and i + 1 < len(text) and text[i + 1] not in "\r\n":
            i += 2
            continue
        if c == quote:
            return i + 1, text[quote_at + 1: i]
        i += 1
    raise FilterInvalid(text, "unterminated string literal", quote_at - 1)


def _string(text: str, start: int) -> tuple[int, str]:
    """A quoted literal with escapes decoded; returns (end offset, value)."""
    quote, i = text[start], start + 1
    out: list[str] = []
    while i < len(text):
        c = text[i]
        if c == quote:
            return i + 1, "".join(out)
        if c in "\r\n":
            break
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(text):
            break
        value, i = _escape(text, i)
        out.append(value)
    raise FilterInvalid(text, "unterminated string literal", start)


def _escape(text: str, at: int) -> tuple[str, int]:
    """Decode the escape sequence starting with the backslash at `at`; returns (value, next)."""
    c = text[at + 1]
    if c in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[c], at + 2
    if c in _OCTAL:
        j = at + 1
        while j < len(text) and j < at + 4 and text[j] in _OCTAL:
            j += 1
        return _code_point(text, int(text[at + 1: j], 8), at), j
    if c in "xuU":
        width = {"x": 0, "u": 4, "U": 8}[c]
        j = at + 2
        while j < len(text) and text[j] in _HEX and (not width or j < at + 2 + width):
            j += 1
        if j == at + 2 or (width and j != at + 2 + width):
            raise FilterInvalid(text, f"invalid escape sequence \\{c}", at)
        return _code_point(text, int(text[at + 2: j], 16), at), j
    # Any other escaped character keeps its backslash (LIKE uses \% and \_ as escapes).
    return "\\" + c, at + 2


def _code_point(text: str, value: int, at: int) -> str:
    if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
        raise FilterInvalid(text, "escape sequence is not a valid character", at)
    return chr(value)
