from __future__ import annotations

import pytest

from bayeshier.errors import FormulaError
from bayeshier.spec.formula import parse_formula


def test_fixed_and_random_parts_are_split() -> None:
    parsed = parse_formula("hwy ~ displ + year + (1|class)")
    assert parsed.response == "hwy"
    assert parsed.fixed == "displ + year"
    assert [term.name for term in parsed.random] == ["class"]


def test_random_terms_anywhere_in_the_formula() -> None:
    parsed = parse_formula("y ~ (1|a) + x + (1 | b)")
    assert parsed.fixed == "x"
    assert [term.name for term in parsed.random] == ["a", "b"]


def test_intercept_only_fixed_part() -> None:
    assert parse_formula("y ~ (1|g)").fixed == "1"


def test_nesting_expands_as_lme4() -> None:
    parsed = parse_formula("strength ~ 1 + (1|batch/cask)")
    assert [term.name for term in parsed.random] == ["batch", "cask:batch"]
    assert parsed.random[1].variables == ("cask", "batch")


def test_three_level_nesting() -> None:
    parsed = parse_formula("y ~ (1|a/b/c)")
    assert [term.name for term in parsed.random] == ["a", "b:a", "c:b:a"]


def test_explicit_interaction_group() -> None:
    parsed = parse_formula("y ~ x + (1|a:b)")
    assert parsed.random[0].variables == ("a", "b")


def test_transforms_stay_in_the_fixed_part() -> None:
    parsed = parse_formula("np.log(y) ~ x * z + center(w) + (1|g) - 1")
    assert parsed.response == "np.log(y)"
    assert parsed.fixed == "x * z + center(w) - 1"


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("y ~ x + (|g)", "left side of the bar is empty"),
        ("y ~ x + (0|g)", "has no columns"),
        ("y ~ x + (x :: z|g)", "Cannot read the left side 'x :: z'"),
        ("y ~ x + (C(x, bad=)|g)", "Cannot read the left side"),
        ("y ~ x", "no random-effect term"),
        ("y ~ x + (1|g", "never closed"),
        ("y ~ x | g", "inside parentheses"),
        ("y ~ x * (1|g)", "only be added with '+'"),
        ("y ~ (1|2)", "column names"),
        ("y ~ (1|a+b)", "'+'"),
        ("y + (1|g)", "no '~'"),
        ("~ x + (1|g)", "response"),
        ("y ~ x + + (1|g)", "follows '++'"),
        ("y ~ x + (1|g) + z*", "fixed part 'x + z*'"),
    ],
)
def test_bad_formulas_name_the_problem(formula: str, message: str) -> None:
    with pytest.raises(FormulaError, match=_escaped(message)):
        parse_formula(formula)


def _escaped(text: str) -> str:
    import re

    return re.escape(text)


def test_python_names_lists_identifiers_inside_transforms() -> None:
    from bayeshier.spec.formula import python_names

    assert python_names("y ~ center(x) + np.log(z) + w") == {"center", "x", "np", "z"}


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("y ~ x + (x|g)", [(("g",), "1 + x")]),
        ("y ~ x + (1 + x|g)", [(("g",), "1 + x")]),
        ("y ~ x + (0 + x|g)", [(("g",), "0 + x")]),
        ("y ~ x + (x - 1|g)", [(("g",), "0 + x")]),
        ("y ~ x + (x||g)", [(("g",), "1"), (("g",), "0 + x")]),
        ("y ~ (x + z||g)", [(("g",), "1"), (("g",), "0 + x"), (("g",), "0 + z")]),
        ("y ~ (0 + x + z||g)", [(("g",), "0 + x"), (("g",), "0 + z")]),
        ("y ~ (x|a/b)", [(("a",), "1 + x"), (("b", "a"), "1 + x")]),
        ("y ~ (1|a) + (x|b)", [(("a",), "1"), (("b",), "1 + x")]),
    ],
)
def test_random_slopes_expand_like_lme4(formula: str, expected: list) -> None:
    parsed = parse_formula(formula)
    assert [(term.variables, term.expr) for term in parsed.random] == expected
