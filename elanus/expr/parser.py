"""Parser: filter text -> syntax tree (`elanus.expr.nodes`), no schema involved.

Precedence, loosest first: `or`/`||`; `and`/`&&`; `not`/`!`; one predicate (comparison, chained
range `1 < x <= 5`, `[not] in`, `like`, `is [not] null`, `exists`); `+ -`; `* / %`; unary
`- +`; `**` (right-associative); primaries (literals, lists, parentheses, `{param}`, field
names with `[key]` paths, function calls, whose arguments may include text_match's
`minimum_should_match=N`). As in SQL and Python, `not a == 1` means `not (a == 1)`. A minus
sign directly before a number literal is folded into the literal.

Every syntax error is a FilterInvalid carrying the offset of the offending token.
"""

from __future__ import annotations

from elanus.errors import FilterInvalid
from elanus.expr.nodes import (
    Arith,
    Call,
    Compare,
    Exists,
    In,
    IsNull,
    Keyword,
    Like,
    ListLiteral,
    Literal,
    Logical,
    Name,
    Node,
    Not,
    Param,
    Path,
    Range,
    Unary,
)
from elanus.expr.tokens import Kind, Token, tokenize
from elanus.schema import timestamps

MAX_DEPTH = 64  # nesting of parentheses, lists and prefix operators

_LITERALS = frozenset({Kind.INT, Kind.FLOAT, Kind.STRING, Kind.BOOL})
_TIME_LITERALS = frozenset({"ISO", "INTERVAL"})
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_ASCENDING = frozenset({"<", "<="})
_DESCENDING = frozenset({">", ">="})


def parse(text: str) -> Node:
    """Parse a filter expression into its syntax tree; raises FilterInvalid."""
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0

    # -- token helpers ---------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        tok = self.tokens[self.pos]
        if tok.kind is not Kind.EOF:
            self.pos += 1
        return tok

    def at_end(self) -> bool:
        return self.tok.kind is Kind.EOF

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind is Kind.OP and self.tok.text in ops

    def at_keyword(self, *words: str) -> bool:
        return self.tok.kind is Kind.KEYWORD and self.tok.value in words

    def expect_op(self, op: str) -> Token:
        if not self.at_op(op):
            raise self.error(f"expected {op!r}")
        return self.advance()

    def error(self, detail: str, tok: Token | None = None) -> FilterInvalid:
        tok = tok or self.tok
        found = "end of expression" if tok.kind is Kind.EOF else repr(tok.text)
        return FilterInvalid(self.text, f"{detail}, found {found}", tok.offset)

    def enter(self) -> None:
        """Count one level of nesting, just after its opening token was consumed."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            opening = self.tokens[self.pos - 1]
            raise FilterInvalid(self.text, "expression is nested too deeply", opening.offset)

    # -- grammar ---------------------------------------------------------------------------

    def parse(self) -> Node:
        if self.at_end():
            raise FilterInvalid(self.text, "empty expression", 0)
        node = self.expr()
        if not self.at_end():
            raise self.error("unexpected token")
        return node

    def expr(self) -> Node:
        node = self.and_expr()
        while self.at_keyword("or") or self.at_op("||"):
            self.advance()
            node = Logical("or", node, self.and_expr(), node.offset)
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self.at_keyword("and") or self.at_op("&&"):
            self.advance()
            node = Logical("and", node, self.not_expr(), node.offset)
        return node

    def not_expr(self) -> Node:
        if self.at_keyword("not") or self.at_op("!"):
            start = self.advance()
            self.enter()
            operand = self.not_expr()
            self.depth -= 1
            return Not(operand, start.offset)
        return self.predicate()

    def predicate(self) -> Node:
        if self.at_keyword("exists"):
            start = self.advance()
            return Exists(self.additive(), start.offset)
        left = self.additive()
        if self.tok.kind is Kind.OP and self.tok.text in _COMPARISONS:
            return self.comparison(left)
        if self.at_keyword("in"):
            self.advance()
            return In(left, self.additive(), False, left.offset)
        if self.at_keyword("not"):
            self.advance()
            if not self.at_keyword("in"):
                raise self.error("expected 'in' after 'not'")
            self.advance()
            return In(left, self.additive(), True, left.offset)
        if self.at_keyword("like"):
            self.advance()
            return Like(left, self.additive(), left.offset)
        if self.at_keyword("is"):
            self.advance()
            negated = self.at_keyword("not")
            if negated:
                self.advance()
            if not self.at_keyword("null"):
                raise self.error("expected 'null' after 'is'")
            self.advance()
            return IsNull(left, negated, left.offset)
        return left

    def comparison(self, left: Node) -> Node:
        op_tok = self.advance()
        middle = self.additive()
        if not (self.tok.kind is Kind.OP and self.tok.text in _COMPARISONS):
            return Compare(op_tok.text, left, middle, left.offset)
        second = self.advance()
        ops = {op_tok.text, second.text}
        if not (ops <= _ASCENDING or ops <= _DESCENDING):
            raise self.error("a chained range needs two of < <= or two of > >=", second)
        high = self.additive()
        if self.tok.kind is Kind.OP and self.tok.text in _COMPARISONS:
            raise self.error("at most two comparison operators may be chained")
        return Range(left, op_tok.text, middle, second.text, high, left.offset)

    def additive(self) -> Node:
        node = self.term()
        while self.at_op("+", "-"):
            op = self.advance().text
            node = Arith(op, node, self.term(), node.offset)
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.at_op("*", "/", "%"):
            op = self.advance().text
            node = Arith(op, node, self.unary(), node.offset)
        return node

    def unary(self) -> Node:
        if self.at_op("-", "+"):
            start = self.advance()
            self.enter()
            operand = self.unary()
            self.depth -= 1
            number = operand.value if isinstance(operand, Literal) else None
            if isinstance(number, (int, float)) and not isinstance(number, bool):
                return Literal(-number if start.text == "-" else number, start.offset)
            return Unary(start.text, operand, start.offset)
        return self.power()

    def power(self) -> Node:
        base = self.primary()
        if self.at_op("**"):
            self.advance()
            self.enter()
            exponent = self.unary()
            self.depth -= 1
            return Arith("**", base, exponent, base.offset)
        return base

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind in (Kind.INT, Kind.FLOAT, Kind.STRING, Kind.BOOL):
            self.advance()
            assert tok.value is not None
            return Literal(tok.value, tok.offset)
        if tok.kind is Kind.IDENT and tok.text.upper() in _TIME_LITERALS \
                and self.tokens[self.pos + 1].kind is Kind.STRING:
            return self.time_literal()
        if tok.kind is Kind.IDENT:
            return self.name()
        if self.at_op("("):
            self.advance()
            self.enter()
            node = self.expr()
            self.depth -= 1
            self.expect_op(")")
            return node
        if self.at_op("["):
            return self.list_literal()
        if self.at_op("{"):
            self.advance()
            if self.tok.kind is not Kind.IDENT or self.tok.text == "$meta":
                raise self.error("expected a template variable name after '{'")
            name = self.advance().text
            self.expect_op("}")
            return Param(name, tok.offset)
        raise self.error("expected a value, a field or '('")

    def time_literal(self) -> Node:
        """`ISO '2025-01-01T00:00:00Z'` (an instant) or `INTERVAL 'P1DT2H'` (a duration), both
        as microseconds, the unit TIMESTAMPTZ fields are compared in."""
        word = self.advance()
        text = self.advance()
        assert isinstance(text.value, str)
        try:
            if word.text.upper() == "ISO":
                value = timestamps.literal(text.value)
            else:
                value = timestamps.duration(text.value)
        except ValueError as exc:
            raise FilterInvalid(self.text, str(exc), text.offset) from None
        return Literal(value, word.offset)

    def list_literal(self) -> Node:
        start = self.advance()
        self.enter()
        items: list[Node] = []
        while not self.at_op("]"):
            tok = self.tok
            after = self.tokens[self.pos + 1] if tok.kind in _LITERALS else tok
            if after is not tok and after.kind is Kind.OP and after.text in (",", "]"):
                # Fast path for long lists of plain constants (id in [...] with many ids).
                assert tok.value is not None
                items.append(Literal(tok.value, tok.offset))
                self.advance()
            else:
                items.append(self.expr())
            if not self.at_op(","):
                break
            self.advance()
        self.depth -= 1
        self.expect_op("]")
        return ListLiteral(tuple(items), start.offset)

    def name(self) -> Node:
        tok = self.advance()
        if self.at_op("("):
            return self.call(tok)
        keys: list[str | int] = []
        while self.at_op("["):
            self.advance()
            key = self.tok
            decimal = key.text.isdigit() and (key.text == "0" or key.text[0] != "0")
            if key.kind is Kind.STRING or (key.kind is Kind.INT and decimal):
                assert isinstance(key.value, (str, int))
                keys.append(key.value)
                self.advance()
            else:
                raise self.error("expected a string key or a non-negative decimal index")
            self.expect_op("]")
        return Path(tok.text, tuple(keys), tok.offset) if keys else Name(tok.text, tok.offset)

    def call(self, name: Token) -> Node:
        self.advance()  # "("
        self.enter()
        args: list[Node] = []
        while not self.at_op(")"):
            if self.tok.kind is Kind.IDENT and self.tokens[self.pos + 1].text == "=":
                option = self.advance()  # the tokenizer makes "=" only after an option name
                self.advance()
                args.append(Keyword(option.text.lower(), self.unary(), option.offset))
            else:
                args.append(self.expr())
            if not self.at_op(","):
                break
            self.advance()
        self.depth -= 1
        self.expect_op(")")
        text = name.text
        canonical = text.lower() if text in (text.lower(), text.upper()) else text
        return Call(canonical, tuple(args), name.offset)
