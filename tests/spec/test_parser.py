from __future__ import annotations

import pytest

from bayeshier.errors import FormulaError
from bayeshier.spec.parser import parse_text
from bayeshier.spec.tree import BinOp, Call, Name, Number, Paren, String, UnaryOp, deparse


def shape(node) -> object:
    """The tree as nested tuples, to compare structures."""
    if isinstance(node, BinOp):
        return (node.op, shape(node.left), shape(node.right))
    if isinstance(node, UnaryOp):
        return (f"u{node.op}", shape(node.operand))
    if isinstance(node, Paren):
        return ("()", shape(node.inner))
    if isinstance(node, Call):
        return (node.func, *map(shape, node.args), *((k, shape(v)) for k, v in node.kwargs))
    if isinstance(node, Name):
        return node.id
    if isinstance(node, Number):
        return node.value
    return repr(node.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # R: ^ binds tighter than unary minus, which binds tighter than ':'
        ("-a^2", ("u-", ("^", "a", 2.0))),
        ("-a:b", (":", ("u-", "a"), "b")),
        ("a:b*c", ("*", (":", "a", "b"), "c")),
        ("a*b+c", ("+", ("*", "a", "b"), "c")),
        ("a %in% b:c", ("%in%", "a", (":", "b", "c"))),
        ("a*b %in% c", ("*", "a", ("%in%", "b", "c"))),
        ("a^b^c", ("^", "a", ("^", "b", "c"))),
        ("a-b-c", ("-", ("-", "a", "b"), "c")),
        ("a/b/c", ("/", ("/", "a", "b"), "c")),
        ("y ~ x + (1|g)", ("~", "y", ("+", "x", ("()", ("|", 1.0, "g"))))),
        ("x + 1|g", ("|", ("+", "x", 1.0), "g")),
        ("log(x, base = 2)", ("log", "x", ("base", 2.0))),
        ('C(x, ref = "b")', ("C", "x", ("ref", "'b'"))),
        ("f()", ("f",)),
    ],
)
def test_r_precedence(text: str, expected: object) -> None:
    assert shape(parse_text(text)) == expected


@pytest.mark.parametrize(
    ("text", "deparsed"),
    [
        ("I( Days ^ 2 )", "I(Days^2)"),
        ("I(Days**2)", "I(Days^2)"),
        ("log(x,base=2)", "log(x, base = 2)"),
        ("exp( z / 4 )", "exp(z/4)"),
        ("I(2*x - 1)", "I(2 * x - 1)"),
        ("`my col` + b %in% a", "`my col` + b %in% a"),
        ("factor(year,levels=c(2008,1999))", "factor(year, levels = c(2008, 1999))"),
        ("I(x * 1e-3 + 2.50)", "I(x * 0.001 + 2.5)"),
    ],
)
def test_deparse_writes_as_r(text: str, deparsed: str) -> None:
    assert deparse(parse_text(text)) == deparsed


def test_spans_point_into_the_text() -> None:
    text = "y ~ log(x) + z"
    node = parse_text(text)
    call = node.right.left
    assert text[call.start : call.end] == "log(x)"
    assert isinstance(call, Call) and isinstance(call.args[0], Name)
    assert isinstance(parse_text('"s"'), String)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(x", "never closed"),
        ("x)", "')' without its '('"),
        ("a b", "follows an expression"),
        ("f(x)(y)", "only a function name can be called"),
        ("(f)(y)", "only a function name can be called"),
        ("`f`(y)", "called like a function"),
        ("f(a = 1, 2)", "positional argument follows a keyword"),
        ("f(a = 1, a = 2)", "given twice"),
        ("f(x,)", "missing after ','"),
        ("x, y", "outside a function's arguments"),
        ("x = 1", "outside a function's arguments"),
        ("x +", "nothing on its right"),
        ("*x", "cannot start an expression"),
        ("", "empty"),
    ],
)
def test_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(FormulaError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_text(text)


def test_a_formula_must_be_text() -> None:
    with pytest.raises(FormulaError, match="must be a string"):
        parse_text(42)  # type: ignore[arg-type]
