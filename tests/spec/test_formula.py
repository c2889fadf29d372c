from __future__ import annotations

import re

import pytest

from bayeshier.errors import FormulaError
from bayeshier.spec.formula import FormulaWarning, parse_expression, parse_formula
from bayeshier.spec.tree import Name


def test_fixed_and_random_parts_are_split() -> None:
    parsed = parse_formula("hwy ~ displ + year + (1|class)")
    assert parsed.response == "hwy"
    assert parsed.fixed == "displ + year"
    assert parsed.fixed_formula == "hwy ~ displ + year"
    assert [term.name for term in parsed.random] == ["class"]


def test_random_terms_anywhere_in_the_formula() -> None:
    parsed = parse_formula("y ~ (1|a) + x + (1 | b)")
    assert parsed.fixed == "x"
    assert [term.name for term in parsed.random] == ["a", "b"]


def test_intercept_only_fixed_part() -> None:
    assert parse_formula("y ~ (1|g)").fixed == "1"
    assert parse_formula("y ~ 0 + (1|g)").fixed_terms.intercept is False


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


def test_grouping_by_an_expression() -> None:
    parsed = parse_formula("y ~ x + (1|factor(g))")
    assert parsed.random[0].name == "factor(g)"


def test_transforms_stay_in_the_fixed_part_as_r_writes_them() -> None:
    parsed = parse_formula("np.log(y) ~ x * z + center(w) + (1|g) - 1")
    assert parsed.response == "np.log(y)"
    assert parsed.fixed == "x * z + center(w) - 1"
    assert parsed.fixed_terms.intercept is False


def test_whitespace_and_powers_are_normalised() -> None:
    parsed = parse_formula("Reaction ~ Days + I( Days ^ 2 ) + I(Days**3) + (Days|Subject)")
    assert parsed.fixed_terms.labels == ("Days", "I(Days^2)", "I(Days^3)")


def test_double_parentheses_and_unary_plus_around_a_bar() -> None:
    assert parse_formula("y ~ x + ((1|g))").random[0].name == "g"
    assert parse_formula("y ~ x + + (1|g)").fixed == "x"


def test_minus_one_first_is_a_formula() -> None:
    parsed = parse_formula("y ~ -1 + x + (1|g)")
    assert parsed.fixed_terms.intercept is False
    assert parsed.fixed_terms.labels == ("x",)


def test_offsets_are_collected_apart() -> None:
    parsed = parse_formula("Reaction ~ Days + offset(2*Days) + offset(log(z)) + (1|Subject)")
    assert parsed.fixed_terms.labels == ("Days",)
    assert len(parsed.fixed_terms.offsets) == 2


def test_cbind_response_is_parsed() -> None:
    parsed = parse_formula("cbind(incidence, nonincidence) ~ period + (1|herd)")
    assert parsed.is_counts and parsed.response == "cbind(incidence, nonincidence)"


def test_power_outside_i_warns_with_r_s_meaning() -> None:
    with pytest.warns(FormulaWarning, match=r"Days\^2 means the interactions.*I\(Days\^2\)"):
        parsed = parse_formula("y ~ Days^2 + (1|g_power_warning)")
    assert parsed.fixed_terms.labels == ("Days",)


def test_weights_expression_is_parsed_and_checked() -> None:
    assert parse_expression("w") == Name("w", 0, 1)
    with pytest.raises(FormulaError, match="'exec' is not allowed"):
        parse_expression("exec('x')")


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("y ~ x + (|g)", "left side of the bar is empty"),
        ("y ~ x + (0|g)", "has no columns"),
        ("y ~ x + (x :: z|g)", "operator ':' cannot start an expression (position 12)"),
        ("y ~ x + (C(x, bad=)|g)", "')' cannot start an expression"),
        ("y ~ x", "no random-effect term"),
        ("y ~ x + (1|g", "never closed"),
        ("y ~ x | g", "inside parentheses"),
        ("y ~ x * (1|g)", "only be added with '+'"),
        ("y ~ x - (1|g)", "only be added with '+'"),
        ("y ~ (1|2)", "column names"),
        ("y ~ (1|a+b)", "'+'"),
        ("y + (1|g)", "no '~'"),
        ("~ x + (1|g)", "response"),
        ("y ~ x ~ z + (1|g)", "exactly one '~'"),
        ("y ~ x + (1|g) + z*", "the operator '*' has nothing on its right"),
        ("y ~ x + (offset(z)|g)", "an offset has no place"),
        ("y ~ x + 2 + (1|g)", "the number 2 stands alone as a term"),
        ("y ~ x + (1|g) + ", "has nothing on its right"),
        ("", "empty"),
    ],
)
def test_bad_formulas_name_the_problem(formula: str, message: str) -> None:
    with pytest.raises(FormulaError, match=re.escape(message)):
        parse_formula(formula)


def test_errors_point_at_the_offending_piece() -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula("y ~ x + foo(x) + (1|g)")
    lines = str(caught.value).splitlines()
    assert lines[1] == "  y ~ x + foo(x) + (1|g)"
    assert lines[2] == "          ^^^^^^"
    assert "Allowed functions: log, log2" in str(caught.value)


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
        ("y ~ (1|g) + (x|g)", [(("g",), "1"), (("g",), "1 + x")]),
        (
            "y ~ (x*z||g)",
            [(("g",), "1"), (("g",), "0 + x"), (("g",), "0 + z"), (("g",), "0 + x:z")],
        ),
        ("y ~ (I(x^2)|g)", [(("g",), "1 + I(x^2)")]),
    ],
)
def test_random_slopes_expand_like_lme4(formula: str, expected: list) -> None:
    parsed = parse_formula(formula)
    assert [(term.variables, term.expr) for term in parsed.random] == expected


def test_parsed_formulas_are_cached() -> None:
    assert parse_formula("y ~ x + (1|g)") is parse_formula("y ~ x + (1|g)")
