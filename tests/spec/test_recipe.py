"""weights= and offset=: column names, expressions or values; lme4's meaning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeshier import datasets
from bayeshier.errors import DataError, FormulaError
from bayeshier.spec.model_spec import build_spec, used_columns
from bayeshier.spec.recipe import Recipe


@pytest.fixture
def sleep() -> pd.DataFrame:
    data = datasets.load("sleepstudy")
    data["w"] = np.linspace(0.5, 2.0, len(data))
    return data


FORMULA = "Reaction ~ Days + (1|Subject)"


@pytest.mark.parametrize(
    "weights",
    ["w", "1/(1/w)", "np.sqrt(w^2)", "`w`"],
)
def test_weights_by_name_or_expression(sleep: pd.DataFrame, weights: str) -> None:
    spec = build_spec(FORMULA, sleep, weights=weights)
    np.testing.assert_allclose(spec.weights, sleep["w"], rtol=1e-14)
    assert spec.log_weights == pytest.approx(np.log(sleep["w"]).sum())


def test_weights_as_values(sleep: pd.DataFrame) -> None:
    values = sleep["w"].to_numpy()
    np.testing.assert_array_equal(build_spec(FORMULA, sleep, weights=values).weights, values)
    shuffled = sleep["w"].sample(frac=1.0, random_state=1)  # a Series is matched by index
    np.testing.assert_array_equal(build_spec(FORMULA, sleep, weights=shuffled).weights, values)
    with pytest.raises(DataError, match="1 value"):
        build_spec(FORMULA, sleep, weights=[1.0])


def test_weights_must_be_positive_and_missing_ones_drop_the_row(sleep: pd.DataFrame) -> None:
    sleep.loc[3, "w"] = np.nan
    spec = build_spec(FORMULA, sleep, weights="w")
    assert spec.n_dropped == 1 and 3 not in spec.row_index
    sleep.loc[5, "w"] = 0.0
    with pytest.raises(DataError, match="weights must be positive"):
        build_spec(FORMULA, sleep, weights="w")


def test_weights_expression_is_checked_like_a_formula(sleep: pd.DataFrame) -> None:
    with pytest.raises(FormulaError, match="'open' is not allowed"):
        build_spec(FORMULA, sleep, weights="open('x')")


def test_offset_terms_add_up_with_the_offset_argument(sleep: pd.DataFrame) -> None:
    spec = build_spec(
        "Reaction ~ Days + offset(Days) + offset(log(w)) + (1|Subject)", sleep, offset="2*w"
    )
    expected = sleep["Days"] + np.log(sleep["w"]) + 2 * sleep["w"]
    np.testing.assert_allclose(spec.offset, expected)
    assert spec.fixed_names == ("Intercept", "Days")


def test_used_columns_include_weights_offsets_and_groups(sleep: pd.DataFrame) -> None:
    sleep["v"] = sleep["w"] + 1
    spec = build_spec("Reaction ~ offset(log(w)) + (1|Subject)", sleep, weights="v")
    assert set(spec.columns) == {"Reaction", "w", "Subject", "v"}
    assert used_columns(Recipe(spec.formula), sleep) == ["Reaction", "w", "Subject"]
