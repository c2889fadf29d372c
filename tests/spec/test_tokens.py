from __future__ import annotations

import pytest

from bayeshier.errors import FormulaError
from bayeshier.spec.tokens import Kind, tokenize


def kinds_and_texts(text: str) -> list[tuple[str, str]]:
    return [(t.kind.name, t.text) for t in tokenize(text)[:-1]]


def test_r_names_keep_their_dots_and_underscores() -> None:
    assert kinds_and_texts("Sepal.Length + np.log(x_1) + .hidden") == [
        ("NAME", "Sepal.Length"),
        ("OPERATOR", "+"),
        ("NAME", "np.log"),
        ("OPEN", "("),
        ("NAME", "x_1"),
        ("CLOSE", ")"),
        ("OPERATOR", "+"),
        ("NAME", ".hidden"),
    ]


def test_backticks_hold_any_name() -> None:
    (token,) = tokenize("`my col (2)`")[:-1]
    assert token.kind is Kind.QUOTED and token.text == "my col (2)"
    assert (token.start, token.end) == (0, 12)


@pytest.mark.parametrize("text", ["1", "2.5", "1e-3", ".5", "3E+2", "2L"])
def test_numbers(text: str) -> None:
    (token,) = tokenize(text)[:-1]
    assert token.kind is Kind.NUMBER


def test_strings_with_escapes() -> None:
    (token,) = tokenize(r'"a \"b\" c"')[:-1]
    assert token.kind is Kind.STRING and token.text == 'a "b" c'


def test_operators_and_power_spellings() -> None:
    assert [t.text for t in tokenize("a ** 2 ^ 3 : b %in% c || d | e ~ f")[:-1]] == [
        "a", "^", "2", "^", "3", ":", "b", "%in%", "c", "||", "d", "|", "e", "~", "f",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("x[0]", "'['"),
        ("{x}", "'{'"),
        ("x$y", "'$'"),
        ("x@y", "'@'"),
        ("x; y", "';'"),
        ("!x", "'!'"),
        ("x == 1", "'=='"),
        ("'open", "never closed"),
        ("`col", "never closed"),
        ("``", "empty"),
        ("1x", "'1x' is not a number"),
        ("x %in y", "never closed"),
        ('"\\q"', "escape"),
    ],
)
def test_characters_that_have_no_place_in_a_formula(text: str, what: str) -> None:
    with pytest.raises(FormulaError, match=what.replace("[", r"\[").replace("$", r"\$")):
        tokenize(text)
