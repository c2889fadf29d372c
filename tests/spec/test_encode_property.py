"""Property: random formulas of the allowed grammar give the columns numpy computes directly.

Hypothesis builds numeric expressions from columns, numbers, the allowed
functions (R's or numpy's spelling) and ``+ - * / ^``, with random spacing,
and puts them in a formula with categorical main effects and interactions.
The design bayeshier builds must equal the one computed here with plain
numpy, row for row: rows where a column is NaN are dropped (R's na.omit),
and an infinite value is an error.
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bayeshier.errors import DataError
from bayeshier.spec.build import spec_from_rows
from bayeshier.spec.formula import parse_formula
from bayeshier.spec.recipe import Recipe

Compute = Callable[[pd.DataFrame], np.ndarray]

#: R name -> (numpy spelling, numpy function).
UNARY = {
    "log": ("np.log", np.log),
    "log2": ("np.log2", np.log2),
    "log10": ("np.log10", np.log10),
    "log1p": ("np.log1p", np.log1p),
    "exp": ("np.exp", np.exp),
    "expm1": ("np.expm1", np.expm1),
    "sqrt": ("np.sqrt", np.sqrt),
    "abs": ("np.abs", np.abs),
    "sin": ("np.sin", np.sin),
    "cos": ("np.cos", np.cos),
    "tan": ("np.tan", np.tan),
    "floor": ("np.floor", np.floor),
    "ceiling": ("np.ceil", np.ceil),
}
BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": np.true_divide}


@dataclass(frozen=True)
class Expr:
    """A numeric expression: its text (canonical spacing) and how numpy computes it."""

    text: str
    compute: Compute
    is_name: bool = False


def _column(name: str) -> Expr:
    return Expr(name, lambda d: d[name].to_numpy(dtype=float), is_name=True)


def _number(value: int) -> Expr:
    return Expr(str(value), lambda d: np.full(len(d), float(value)))


def _unary(name: str, numpy: bool, inner: Expr) -> Expr:
    spelling, function = UNARY[name]
    return Expr(
        f"{spelling if numpy else name}({inner.text})", lambda d: function(inner.compute(d))
    )


def _binary(op: str, left: Expr, right: Expr) -> Expr:
    if op == "^":
        return Expr(
            f"({left.text}^{right.text})", lambda d: np.power(left.compute(d), right.compute(d))
        )
    return Expr(
        f"({left.text} {op} {right.text})", lambda d: BINARY[op](left.compute(d), right.compute(d))
    )


def _pmax(left: Expr, right: Expr) -> Expr:
    return Expr(
        f"pmax({left.text}, {right.text})", lambda d: np.maximum(left.compute(d), right.compute(d))
    )


LEAVES = st.one_of(
    st.sampled_from(["x1", "x2", "x3", "`x-4`", "x.5"]).map(
        lambda n: (
            _column(n.strip("`"))
            if not n.startswith("`")
            else Expr(n, _column("x-4").compute, True)
        )
    ),
    st.integers(1, 3).map(_number),
)


def _extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    return st.one_of(
        st.builds(_unary, st.sampled_from(sorted(UNARY)), st.booleans(), children),
        st.builds(_binary, st.sampled_from(["+", "-", "*", "/", "^"]), children, children),
        st.builds(_pmax, children, children),
    )


EXPRESSIONS = st.recursive(LEAVES, _extend, max_leaves=4)


def as_term(expr: Expr) -> str:
    """A term of the formula: a column or a call as it is, anything else inside I()."""
    if expr.is_name or (not expr.text.startswith("(") and "(" in expr.text and expr.text[-1] == ")"
                        and expr.text.count("(") == 1):  # fmt: skip
        return expr.text
    return f"I({expr.text})"


def respace(text: str, spaces: list[int]) -> str:
    """The same formula with random spacing around the operators."""
    pieces = text.split(" ")
    out = pieces[0]
    for i, piece in enumerate(pieces[1:]):
        out += " " * spaces[i % len(spaces)] + piece
    return out


def frame(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x1": rng.uniform(0.5, 3.0, n),
            "x2": rng.uniform(-2.0, 2.0, n),
            "x3": rng.integers(1, 5, n).astype(float),
            "x-4": rng.uniform(0.1, 1.0, n),
            "x.5": rng.normal(size=n),
            "a": rng.choice(["p", "q", "r"], n),
            "n": rng.integers(1, 4, n),
            "g": np.repeat(["g1", "g2", "g3"], n // 3 + 1)[:n],
        }
    )
    return data


def treatment(values: np.ndarray, used: np.ndarray) -> list[np.ndarray]:
    """Treatment contrasts of the levels the ``used`` rows hold (lme4 drops unused levels)."""
    levels = sorted(set(values[used]))
    return [(values == level).astype(float) for level in levels[1:]]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    mains=st.lists(EXPRESSIONS, min_size=1, max_size=3, unique_by=lambda e: as_term(e)),
    interaction=st.one_of(st.none(), st.tuples(EXPRESSIONS, st.sampled_from(["x1", "x2"]))),
    categorical=st.sampled_from([None, "a", "factor(n)"]),
    spaces=st.lists(st.integers(0, 2), min_size=1, max_size=4),
    seed=st.integers(0, 10_000),
)
def test_design_equals_numpy(mains, interaction, categorical, spaces, seed) -> None:
    data = frame(seed, 45)
    terms = [as_term(e) for e in mains]
    columns = [e.compute for e in mains]
    if categorical is not None:
        terms.append(categorical)
        source = (data["a"] if categorical == "a" else data["n"]).to_numpy()
        columns.append(source)  # its contrasts are made once the complete rows are known
    if interaction is not None:
        left, right = interaction
        term = f"{as_term(left)}:{right}"
        if as_term(left) != right:  # x1:x1 is x1 (R's term algebra), not a product
            terms.append(term)
            columns.append(lambda d: left.compute(d) * d[right].to_numpy())
    text = respace("y ~ " + " + ".join(terms) + " + (1|g)", spaces)
    with np.errstate(all="ignore"):
        numeric = [np.ones(len(data))] + [c(data) for c in columns if callable(c)]
    complete = ~np.isnan(np.column_stack(numeric)).any(axis=1)
    contrasts = [treatment(c, complete) for c in columns if not callable(c)]
    categorical_at = next((k for k, c in enumerate(columns) if not callable(c)), len(columns))
    numeric[1 + categorical_at : 1 + categorical_at] = [c for cs in contrasts for c in cs]
    expected = np.column_stack(numeric)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recipe = Recipe(parse_formula(text))
        if np.isinf(expected).any() or (np.abs(expected) > 1e300).any():
            with pytest.raises(DataError, match="infinite"):
                spec_from_rows(recipe, data)
            return
        groups = data["g"].to_numpy()[complete]
        if complete.sum() < 4 or len(set(groups)) < 2:  # too few for a grouping factor
            return
        spec = spec_from_rows(recipe, data)
    assert spec.X.shape == (complete.sum(), expected.shape[1]), text
    np.testing.assert_array_equal(spec.row_index, np.flatnonzero(complete))
    np.testing.assert_allclose(spec.X, expected[complete], rtol=1e-12, atol=1e-300, err_msg=text)
