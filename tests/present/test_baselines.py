"""bayeshier.present.baselines: OLS and the no-pooling fits, against R's ``lm``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reference_cases import FIXTURES, fitted_case, load_reference

from bayeshier import datasets, fit_reml
from bayeshier.present.baselines import (
    least_squares_rows,
    no_pooling,
    no_pooling_coefficients,
    no_pooling_formula,
    ols,
    within_slopes,
)
from bayeshier.present.comparison import compare
from bayeshier.spec.model_spec import build_spec

SEED_CASES = ["seed_model1", "seed_model1b", "seed_model2", "seed_model3"]


# --------------------------------------------------------------------- OLS
@pytest.mark.parametrize("case", ["mpg_class", "sleepstudy_intercept"])
def test_ols_is_lm_of_the_fixed_part(case):
    reference = load_reference(case)["lm"]
    spec = fitted_case(case).spec
    coef, se, _ = ols(spec.X, spec.y)
    table = pd.DataFrame({"ols": coef, "ols_se": se}, index=list(spec.fixed_names))
    for lm_name, value in reference["coef"].items():
        term = "Intercept" if lm_name == "(Intercept)" else lm_name
        assert table.loc[term, "ols"] == pytest.approx(value, rel=1e-6, abs=1e-6)
        assert table.loc[term, "ols_se"] == pytest.approx(reference["se"][lm_name], rel=1e-6)


def test_ols_matches_the_textbook_formulas():
    rng = np.random.default_rng(1)
    X = np.column_stack([np.ones(40), rng.normal(size=(40, 2))])
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(0.0, 0.3, 40)
    coef, se, sigma = ols(X, y)
    np.testing.assert_allclose(coef, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-12)
    residual = y - X @ coef
    assert sigma == pytest.approx(np.sqrt(residual @ residual / (40 - 3)), rel=1e-12)
    covariance = sigma**2 * np.linalg.inv(X.T @ X)
    np.testing.assert_allclose(se, np.sqrt(np.diag(covariance)), rtol=1e-10)


# -------------------------------------------------------------- no pooling
@pytest.mark.parametrize("name", SEED_CASES)
def test_seed_no_pooling_matches_lm_coef_exactly(name):
    reference = load_reference(name)
    own = no_pooling(fitted_case(name).spec, "g")
    expected = [reference["lm"]["coef"][f"g{level}"] for level in own.index]
    np.testing.assert_allclose(own, expected, rtol=1e-10)


def test_no_pooling_with_covariates_is_lm_with_level_means_coding():
    fit = fitted_case("mpg_class")
    data = datasets.load("mpg")
    indicators = pd.get_dummies(data["class"], dtype=float)
    design = np.column_stack([indicators.to_numpy(), data[["displ", "year"]].to_numpy(float)])
    coef = np.linalg.lstsq(design, data["hwy"].to_numpy(float), rcond=None)[0]
    ours = no_pooling(fit.spec, "class")
    np.testing.assert_allclose(ours[list(indicators.columns)], coef[:7], rtol=1e-8)


def test_no_pooling_is_indexed_by_level_in_the_factor_order():
    spec = fitted_case("mpg_class").spec
    own = no_pooling(spec, "class")
    assert own.index.name == "class"
    assert list(own.index) == list(spec.factor("class").levels)


def test_no_pooling_ignores_the_other_grouping_factors():
    fit = fitted_case("penicillin_crossed")
    data = datasets.load("penicillin")
    for name in ("plate", "sample"):
        means = data.groupby(name, observed=True)["diameter"].mean()
        own = no_pooling(fit.spec, name)
        np.testing.assert_allclose(own, means[own.index], rtol=1e-12)


def test_slope_no_pooling_is_each_subjects_own_lm():
    data = datasets.load("sleepstudy")
    own = {
        str(subject): np.polyfit(rows["Days"], rows["Reaction"], 1)[::-1]
        for subject, rows in data.groupby("Subject", observed=True)
    }
    coefficients = no_pooling_coefficients(fitted_case("sleepstudy_slopes").spec, "Subject")
    assert list(coefficients.columns) == ["Intercept", "Days"]
    for column, term in enumerate(["Intercept", "Days"]):
        expected = [own[level][column] for level in coefficients.index]
        np.testing.assert_allclose(coefficients[term], expected, rtol=1e-10)


def test_a_level_without_its_own_slope_gets_nan():
    data = datasets.load("sleepstudy")
    first = data["Subject"].cat.categories[0]
    one_day = data[(data["Subject"] != first) | (data["Days"] == 0)]  # one row: no own slope
    spec = build_spec("Reaction ~ Days + (Days|Subject)", one_day)
    coefficients = no_pooling_coefficients(spec, "Subject")
    assert coefficients.loc[str(first)].isna().all()
    assert coefficients.drop(index=str(first)).notna().all().all()


# ----------------------------------------------------------- within slopes
def test_within_slopes_are_the_common_slopes_of_the_level_means_lm():
    spec = fitted_case("mpg_class").spec
    data = datasets.load("mpg")
    indicators = pd.get_dummies(data["class"], dtype=float).to_numpy()
    design = np.column_stack([indicators, data[["displ", "year"]].to_numpy(float)])
    coef = np.linalg.lstsq(design, data["hwy"].to_numpy(float), rcond=None)[0]
    slopes = within_slopes(spec, "class")
    assert list(slopes.index) == ["displ", "year"]
    np.testing.assert_allclose(slopes, coef[7:], rtol=1e-8)


def test_within_slopes_of_an_intercept_only_model_are_empty():
    assert within_slopes(fitted_case("seed_model2").spec, "g").empty


def test_a_column_constant_within_every_level_gets_slope_zero():
    data = datasets.load("mpg")
    data["class_code"] = data["class"].cat.codes.astype(float)  # aliased with the factor
    spec = build_spec("hwy ~ displ + class_code + (1|class)", data)
    slopes = within_slopes(spec, "class")
    assert slopes["class_code"] == pytest.approx(0.0, abs=1e-8)
    without = within_slopes(build_spec("hwy ~ displ + (1|class)", data), "class")
    assert slopes["displ"] == pytest.approx(without["displ"], rel=1e-10)


# ------------------------------------------------------------ the formula
@pytest.mark.parametrize(
    ("formula", "factor", "expected"),
    [
        ("hwy ~ displ + year + (1|class)", "class", "lm(hwy ~ 0 + class + displ + year)"),
        ("Reaction ~ Days + (Days|Subject)", "Subject", "lm(Reaction ~ 0 + Subject/(1 + Days))"),
        ("Reaction ~ 1 + (1|Subject)", "Subject", "lm(Reaction ~ 0 + Subject)"),
    ],
)
def test_no_pooling_formula_names_the_lm_call(formula, factor, expected):
    data = datasets.load("mpg" if formula.startswith("hwy") else "sleepstudy")
    assert no_pooling_formula(build_spec(formula, data), factor) == expected


# ------------------------------------------------------- weights and offsets
LM_FIXTURE = Path(__file__).parent / "fixtures" / "lm_baselines.json"
ROW_CASES = {
    "weights": ("rform_sleep_weights", "Reaction ~ Days + (1|Subject)", {"weights": "w"}),
    "offset": ("rform_sleep_offset", "Reaction ~ Days + offset(2*Days) + (1|Subject)", {}),
    "offset_argument": (
        "rform_sleep_offset",
        "Reaction ~ Days + (1|Subject)",
        {"offset": "2*Days"},
    ),
}


def _row_case(name: str):
    case, formula, arguments = ROW_CASES[name]
    data = pd.read_csv(FIXTURES / f"{case}.csv").astype({"Subject": str})
    return fit_reml(formula, data, **arguments)


@pytest.mark.parametrize("name", list(ROW_CASES))
def test_weighted_and_offset_baselines_are_those_of_lm(name):
    """compare()'s OLS and no-pooling columns use the fit's weights and offset, as lm does."""
    reference = json.loads(LM_FIXTURE.read_text())
    key = "weights" if name == "weights" else "offset"
    fit = _row_case(name)
    expected = reference[f"{key}_ols"]
    cmp = compare(fit).fixed.set_index("term")
    np.testing.assert_allclose(cmp["ols"], list(expected["coef"].values()), rtol=1e-9)
    np.testing.assert_allclose(cmp["ols_se"], list(expected["se"].values()), rtol=1e-9)
    own = reference[f"{key}_no_pooling"]
    levels = no_pooling(fit.spec, "Subject")
    np.testing.assert_allclose(
        levels.to_numpy(), [own["coef"][f"Subject{lev}"] for lev in levels.index], rtol=1e-9
    )
    assert within_slopes(fit.spec, "Subject")["Days"] == pytest.approx(
        own["coef"]["Days"], rel=1e-9
    )


def test_the_lm_calls_name_the_weights_and_offset():
    assert no_pooling_formula(_row_case("weights").spec, "Subject") == (
        "lm(Reaction ~ 0 + Subject + Days, weights = w)"
    )
    assert no_pooling_formula(_row_case("offset").spec, "Subject") == (
        "lm(Reaction ~ 0 + Subject + Days + offset(2 * Days))"
    )
    assert no_pooling_formula(_row_case("offset_argument").spec, "Subject") == (
        "lm(Reaction ~ 0 + Subject + Days, offset = 2 * Days)"
    )
    assert "ols: lm(Reaction ~ Days, weights = w)" in compare(_row_case("weights")).to_text()


def test_unweighted_rows_come_back_as_they_are():
    spec = fitted_case("sleepstudy_intercept").spec
    X, y, root = least_squares_rows(spec)
    np.testing.assert_array_equal(X, spec.X)
    np.testing.assert_array_equal(y, spec.y)
    assert (root == 1).all()
