"""The parser builds the trees Milvus's grammar implies, and reports syntax errors with offsets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elanus.errors import FilterInvalid
from elanus.expr import parse, to_text
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
    Not,
    Param,
    Path,
    Range,
    Unary,
)
from elanus.expr.tokens import Kind, tokenize


@pytest.mark.parametrize("text, tree", [
    ("a > 1", Compare(">", Name("a"), Literal(1))),
    ("a>=1.5", Compare(">=", Name("a"), Literal(1.5))),
    ("a == -3", Compare("==", Name("a"), Literal(-3))),
    ("0x1F == a", Compare("==", Literal(31), Name("a"))),
    ("a == 017", Compare("==", Name("a"), Literal(15))),
    ("a == 0b101", Compare("==", Name("a"), Literal(5))),
    ("a == 1e3", Compare("==", Name("a"), Literal(1000.0))),
    ("a == .5", Compare("==", Name("a"), Literal(0.5))),
    ("s == 'it\\'s'", Compare("==", Name("s"), Literal("it's"))),
    ('s == "tab\\there\\u00e9\\x41\\101"', Compare("==", Name("s"), Literal("tab\thereéAA"))),
    ('s like "100\\%"', Like(Name("s"), Literal("100\\%"))),
    ('s like r"a\\_b"', Like(Name("s"), Literal("a\\_b"))),
    ("flag == True", Compare("==", Name("flag"), Literal(True))),
    ("flag != FALSE", Compare("!=", Name("flag"), Literal(False))),
    ("10 < x <= 20", Range(Literal(10), "<", Name("x"), "<=", Literal(20))),
    ("20 >= x > 10", Range(Literal(20), ">=", Name("x"), ">", Literal(10))),
    ("x in [1, 2, 3,]", In(Name("x"), ListLiteral((Literal(1), Literal(2), Literal(3))))),
    ("x NOT IN []", In(Name("x"), ListLiteral(()), negated=True)),
    ("x in {ids}", In(Name("x"), Param("ids"))),
    ("x is null", IsNull(Name("x"))),
    ("x IS NOT NULL", IsNull(Name("x"), negated=True)),
    ('exists j["a"]', Exists(Path("j", ("a",)))),
    ('j["a"][0]["b c"] == 1', Compare("==", Path("j", ("a", 0, "b c")), Literal(1))),
    ('$meta["k"] == 1', Compare("==", Path("$meta", ("k",)), Literal(1))),
    ("age % 2 == 0", Compare("==", Arith("%", Name("age"), Literal(2)), Literal(0))),
    ("a + b * c ** 2 ** 3 > 0", Compare(">", Arith("+", Name("a"), Arith(
        "*", Name("b"), Arith("**", Name("c"), Arith("**", Literal(2), Literal(3))))),
        Literal(0))),
    ("-a ** 2 < 0", Compare("<", Unary("-", Arith("**", Name("a"), Literal(2))), Literal(0))),
    ("not a == 1", Not(Compare("==", Name("a"), Literal(1)))),
    ("!a", Not(Name("a"))),
    ("a or b and c", Logical("or", Name("a"), Logical("and", Name("b"), Name("c")))),
    ("a || b && !c", Logical("or", Name("a"), Logical("and", Name("b"), Not(Name("c"))))),
    ("(a OR b) AND c", Logical("and", Logical("or", Name("a"), Name("b")), Name("c"))),
    ('JSON_CONTAINS(j["t"], "x")', Call("json_contains", (Path("j", ("t",)), Literal("x")))),
    ("array_length(arr) == 2", Compare("==", Call("array_length", (Name("arr"),)), Literal(2))),
    ("TEXT_MATCH(t, 'a b')", Call("text_match", (Name("t"), Literal("a b")))),
    ("text_match(t, 'a', minimum_should_match=2)", Call("text_match", (
        Name("t"), Literal("a"), Keyword("minimum_should_match", Literal(2))))),
    ("text_match(t, 'a', MINIMUM_SHOULD_MATCH = 2)", Call("text_match", (
        Name("t"), Literal("a"), Keyword("minimum_should_match", Literal(2))))),
    ('PHRASE_MATCH(t, "a b", 1)', Call("phrase_match", (Name("t"), Literal("a b"), Literal(1)))),
])
def test_parse_builds_tree(text: str, tree: object) -> None:
    assert parse(text) == tree
    assert parse(to_text(tree)) == tree  # type: ignore[arg-type]


def test_single_equals_is_an_operator_only_after_an_option_name() -> None:
    assert [t.text for t in tokenize("minimum_should_match=1")] == [
        "minimum_should_match", "=", "1", ""]
    with pytest.raises(FilterInvalid, match="use == to compare"):
        tokenize("minimum = 1")


def test_nodes_keep_their_offsets() -> None:
    tree = parse("a > 1 and  b['k'] < 2")
    assert isinstance(tree, Logical)
    assert tree.right.offset == 11
    assert isinstance(tree.right, Compare) and tree.right.left.offset == 11


def test_keywords_are_lower_or_upper_case_only() -> None:
    assert [t.kind for t in tokenize("and AND And")] == [Kind.KEYWORD, Kind.KEYWORD, Kind.IDENT,
                                                        Kind.EOF]
    with pytest.raises(FilterInvalid):
        parse("a And b")


@pytest.mark.parametrize("text, detail, offset", [
    ("", "empty expression", 0),
    ("   ", "empty expression", 0),
    ("a >", "expected a value", 3),
    ("a = 1", "use == to compare", 2),
    ("(a > 1", "expected ')'", 6),
    ("a > 1)", "unexpected token", 5),
    ("1 < a > 2", "chained range", 6),
    ("1 < a < 2 < 3", "at most two", 10),
    ("'open", "unterminated string", 0),
    ('"line\nbreak"', "unterminated string", 0),
    ("a == 08", "invalid octal", 5),
    ("a == 1abc", "invalid number", 5),
    ("$foo > 1", "unexpected character '$'", 0),
    ("a > 1 and", "expected a value", 9),
    ("a not like 'x'", "expected 'in' after 'not'", 6),
    ("a is 1", "expected 'null'", 5),
    ("j[-1] == 1", "non-negative decimal index", 2),
    ("j[a] == 1", "string key", 2),
    ("{} == 1", "template variable name", 1),
    ("a == '\\u12'", "invalid escape", 6),
    ("a # 1", "unexpected character '#'", 2),
    ("(" * 100 + "a" + ")" * 100, "nested too deeply", 64),
])
def test_syntax_error_names_the_place(text: str, detail: str, offset: int) -> None:
    with pytest.raises(FilterInvalid) as err:
        parse(text)
    assert detail in err.value.detail
    assert err.value.offset == offset
    assert err.value.code == 1100


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list("ab1 ()[]{}\"'<>=!&|+-*/%.,_$\\") + [
    " and ", " or ", " not ", " in ", " like ", " is ", " null ", "exists ", "json_contains",
    "array_length", "true", "j", "x"]), max_size=40).map("".join))
def test_parse_raises_only_filter_invalid(text: str) -> None:
    try:
        tree = parse(text)
    except FilterInvalid:
        return
    assert parse(to_text(tree)) == tree
