from __future__ import annotations

import pytest

from bayeshier.errors import FormulaError
from bayeshier.spec.allowlist import (
    FUNCTION_NAMES,
    check,
    function_of,
    literal_value,
    names_in,
)
from bayeshier.spec.parser import parse_text

ISSUE_FUNCTIONS = (
    "log log2 log10 log1p exp expm1 sqrt abs sin cos tan floor ceiling round pmin pmax "
    "as.numeric factor as.factor C I scale center poly offset"
).split()


def test_the_issue_s_functions_are_allowed() -> None:
    assert set(ISSUE_FUNCTIONS) <= set(FUNCTION_NAMES)


@pytest.mark.parametrize(
    "text",
    [
        "log(x, base = 2)",
        "log(x, 10)",
        "np.log(x) + np.sqrt(x) + np.ceil(x) + numpy.abs(x) + np.minimum(x, z)",
        "I(x^2 + 2 * x - 1/x)",
        "poly(x, 3, raw = TRUE)",
        "poly(x, degree = 2)",
        'factor(year, levels = c(2008, 1999)) + C(drv, ref = "f") + relevel(a, "b")',
        "scale(x, center = FALSE) + center(x) + round(x, digits = 2)",
        "pmin(x, z, 3) + as.numeric(n) + offset(log(w))",
        "Treatment + C + log + I + np + pi",
    ],
)
def test_allowed_terms(text: str) -> None:
    check(parse_text(text), "term", text)


@pytest.mark.parametrize(
    ("text", "context", "message"),
    [
        ("exec('x')", "term", "function 'exec' is not allowed"),
        ("np.save('f', x)", "term", "function 'np.save' is not allowed"),
        ("os.system('x')", "term", "function 'os.system' is not allowed"),
        ("getattr(x, 'y')", "term", "function 'getattr' is not allowed"),
        ("__import__('os')", "term", "function '__import__' is not allowed"),
        ("x.__class__", "term", "dunder"),
        ("_private", "term", "starts with '_'"),
        ("lambda", "term", "reserved word"),
        ("'text'", "term", "string 'text'"),
        ("I(x:z)", "term", "not arithmetic"),
        ("I(x %in% z)", "term", "not arithmetic"),
        ("log(factor(x))", "term", "no place in arithmetic"),
        ("I(poly(x, 2))", "term", "several columns"),
        ("I(offset(x))", "term", "only allowed as a term"),
        ("cbind(a, b)", "term", "only allowed as the response"),
        ("c(1, 2)", "term", "value of levels ="),
        ("log(x, base = z)", "term", "must be a literal"),
        ("poly(x, raw = 1)", "term", "wrong type"),
        ("log(x, y = 2)", "term", "no argument 'y'"),
        ("sqrt(x, 2)", "term", "takes 1 positional"),
        ("x %% 2", "term", "no meaning in a formula"),
        ("(a + b)^z", "term", "whole number"),
        ("(a + b)^0.5", "term", "whole number"),
        ("factor(x, levels = c(a))", "term", "must be a literal"),
        ("x ~ y", "arith", "'~' cannot appear here"),
    ],
)
def test_refused_with_the_piece_named(text: str, context, message: str) -> None:
    with pytest.raises(FormulaError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check(parse_text(text), context, text)


def test_numpy_spellings_map_to_r_functions() -> None:
    assert function_of(parse_text("np.ceil(x)")).name == "ceiling"
    assert function_of(parse_text("numpy.maximum(x, y)")).name == "pmax"
    assert function_of(parse_text("np.save(x)")) is None
    assert function_of(parse_text("np.exec(x)")) is None


def test_literals() -> None:
    assert literal_value(parse_text('c("a", 2, -1)')) == ("a", 2.0, -1.0)
    assert literal_value(parse_text("TRUE")) is True
    assert literal_value(parse_text("(3)")) == 3.0
    with pytest.raises(ValueError):
        literal_value(parse_text("x"))


def test_names_in_skips_literal_arguments() -> None:
    names = [n.id for n in names_in(parse_text("log(x, base = 2) + poly(z, 2, raw = TRUE) + w"))]
    assert names == ["x", "z", "w"]


def test_the_readme_lists_every_allowed_function() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Formulas are data", 1)[1].split("\n## ", 1)[0]
    assert "data, never code" in section and "model file" in section
    for name in FUNCTION_NAMES:
        assert f"`{name}(" in section or f", `{name}`" in section or f"`{name}`" in section, name
