"""R's term algebra; the expected labels are R's ``attr(terms(f), "term.labels")``."""

from __future__ import annotations

import pytest

from bayeshier.spec.parser import parse_text
from bayeshier.spec.terms import expand_terms, split_uncorrelated


def labels(text: str) -> tuple[tuple[str, ...], bool]:
    terms = expand_terms(parse_text(text), text)
    return terms.labels, terms.intercept


@pytest.mark.parametrize(
    ("text", "expected", "intercept"),
    [
        ("a*b", ("a", "b", "a:b"), True),
        ("b:a + a", ("a", "b:a"), True),
        ("a + b %in% a", ("a", "a:b"), True),
        ("b %in% a", ("b:a",), True),
        ("a/b", ("a", "a:b"), True),
        ("(a+b+c)^2", ("a", "b", "c", "a:b", "a:c", "b:c"), True),
        ("(a+b+x)^2 - a:b", ("a", "b", "x", "a:x", "b:x"), True),
        ("0 + a + b", ("a", "b"), False),
        ("-1 + a:b", ("a:b",), False),
        ("z:x + x", ("x", "z:x"), True),
        ("(a + x)/z", ("a", "x", "a:x:z"), True),
        ("x*z*a - x:z:a", ("x", "z", "a", "x:z", "x:a", "z:a"), True),
        ("a/b/x", ("a", "a:b", "a:b:x"), True),
        ("x + -1", ("x",), False),
        ("x - x", (), True),
        ("x - 0", ("x",), True),
        ("0 + x - 0", ("x",), True),
        ("a + -b", ("a",), True),
        ("c:a + b:a", ("c:a", "a:b"), True),
        ("x + x + x:x", ("x",), True),
        ("1", (), True),
        ("0", (), False),
        ("((a))", ("a",), True),
    ],
)
def test_terms_as_r_expands_them(text: str, expected: tuple, intercept: bool) -> None:
    assert labels(text) == (expected, intercept)


def test_offsets_are_not_terms() -> None:
    text = "x + offset(z) + offset(2 * w)"
    terms = expand_terms(parse_text(text), text)
    assert terms.labels == ("x",)
    assert len(terms.offsets) == 2


def test_variables_keep_their_trees_by_text() -> None:
    text = "log( x ) + log(x):a"
    terms = expand_terms(parse_text(text), text)
    assert list(terms.variables) == ["log(x)", "a"]
    assert terms.labels == ("log(x)", "log(x):a")


def test_uncorrelated_blocks() -> None:
    text = "x + z"
    blocks = split_uncorrelated(expand_terms(parse_text(text), text))
    assert [(b.intercept, b.labels) for b in blocks] == [
        (True, ()),
        (False, ("x",)),
        (False, ("z",)),
    ]
    assert [b.text for b in blocks] == ["1", "0 + x", "0 + z"]
