"""bayeshier.present.shrinkage: the BLUP as a normal-normal posterior, and lambda."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from reference_cases import TESTS, fitted_case, load_reference

from bayeshier import shrinkage
from bayeshier.errors import ModelError

SINGLE_FACTOR_CASES = [
    "dyestuff",
    "dyestuff_ml",
    "dyestuff2_singular",
    "mpg_class",
    "mpg_class_ml",
    "seed_model1",
    "seed_model1b",
    "seed_model2",
    "seed_model3",
    "sleepstudy_intercept",
]
COLUMNS = [
    "prior_sd",
    "data_mean",
    "data_var",
    "kept",
    "pooling",
    "posterior_mean",
    "posterior_var",
]


def _reference_series(reference: dict, key: str, factor: str, index: pd.Index) -> np.ndarray:
    values = reference[key][factor]["Intercept"]
    return np.array([values[level] for level in index])


# ------------------------------------------------------ normal-normal view
@pytest.mark.parametrize("case", SINGLE_FACTOR_CASES)
def test_normal_prior_posterior_is_the_blup_and_condvar(case):
    fit = fitted_case(case)
    table = shrinkage.normal_prior_posterior(fit)
    factor = fit.spec.factors[0].name
    assert list(table.columns) == COLUMNS
    assert table.index.name == factor
    # exact identity with our own REML fit
    np.testing.assert_allclose(
        table["posterior_mean"], fit.ranef[factor]["Intercept"], rtol=0, atol=1e-10
    )
    np.testing.assert_allclose(
        table["posterior_var"], fit.condvar[factor]["Intercept"], rtol=0, atol=1e-10
    )
    # and lme4's numbers, to the reference tolerance of the REML fit itself
    reference = load_reference(case)
    ranef = _reference_series(reference, "ranef", factor, table.index)
    condvar = _reference_series(reference, "condVar", factor, table.index)
    np.testing.assert_allclose(table["posterior_mean"], ranef, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(table["posterior_var"], condvar, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", SINGLE_FACTOR_CASES)
def test_pieces_follow_the_precision_weighted_formula(case):
    fit = fitted_case(case)
    table = shrinkage.normal_prior_posterior(fit)
    factor = fit.spec.factors[0]
    counts = factor.counts()
    residual = fit.spec.y - fit.spec.X @ fit.fixef.to_numpy()
    means = pd.Series(residual).groupby(factor.codes).mean().to_numpy()
    np.testing.assert_allclose(table["data_mean"], means, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(table["data_var"], fit.sigma**2 / counts, rtol=1e-12)
    prior_var = table["prior_sd"] ** 2
    np.testing.assert_allclose(
        table["kept"], prior_var / (prior_var + table["data_var"]), rtol=1e-12
    )
    np.testing.assert_allclose(table["pooling"], 1 - table["kept"], rtol=1e-12)
    # the posterior mean keeps the share `kept` of the data mean
    np.testing.assert_allclose(
        table["posterior_mean"], table["kept"] * table["data_mean"], rtol=1e-12, atol=1e-12
    )
    assert table.attrs["center"] == pytest.approx(fit.fixef["Intercept"])


@pytest.mark.parametrize("case", ["seed_model1", "dyestuff2_singular"])
def test_singular_fit_posterior_is_the_prior(case):
    table = shrinkage.normal_prior_posterior(fitted_case(case))
    assert (table["prior_sd"] == 0).all()
    assert (table["kept"] == 0).all() and (table["pooling"] == 1).all()
    assert (table["posterior_mean"] == 0).all()
    assert (table["posterior_var"] == 0).all()
    assert (table["data_var"] > 0).all()


def test_several_factors_need_a_choice_and_match_the_blups():
    fit = fitted_case("penicillin_crossed")
    with pytest.raises(ModelError, match=r"plate.*sample"):
        shrinkage.normal_prior_posterior(fit)
    for name in ("plate", "sample"):
        table = shrinkage.normal_prior_posterior(fit, factor=name)
        np.testing.assert_allclose(
            table["posterior_mean"], fit.ranef[name]["Intercept"], rtol=0, atol=1e-10
        )
        # holding the other factor's effects fixed removes their uncertainty
        assert (table["posterior_var"] < fit.condvar[name]["Intercept"]).all()


# ------------------------------------------------------------------ lambda
def test_level_weights_lists_every_level_of_every_factor():
    fit = fitted_case("pastes_nested")
    table = shrinkage.level_weights(fit)
    assert list(table.columns) == ["factor", "level", "n", "kept", "pooling"]
    assert table.groupby("factor", sort=False).size().to_dict() == {"cask:batch": 30, "batch": 10}
    assert table["kept"].between(0, 1).all()
    np.testing.assert_allclose(table["pooling"], 1 - table["kept"])
    assert shrinkage.factors is shrinkage.level_weights  # the former name


@pytest.mark.parametrize("case", ["dyestuff", "mpg_class", "sleepstudy_intercept"])
def test_single_factor_lambda_is_one_minus_condvar_share(case):
    fit = fitted_case(case)
    name = fit.spec.factors[0].name
    sd = shrinkage.factor_sd(fit, name)
    table = shrinkage.level_weights(fit)
    expected = 1 - fit.condvar[name]["Intercept"].to_numpy() / sd**2
    np.testing.assert_allclose(table["kept"], expected, rtol=1e-10)


def test_weights_grow_with_group_size_and_variance_ratio():
    n = np.array([1, 5, 25, 500])
    small, large = shrinkage.weights(1.0, 5.0, n), shrinkage.weights(5.0, 5.0, n)
    assert np.all(np.diff(small) > 0)
    assert np.all(large > small)
    assert shrinkage.weights(1.0, 5.0, [5])[0] == pytest.approx(1 / (1 + 5))
    assert shrinkage.weights(0.0, 5.0, [5])[0] == 0.0


def test_curves_are_tidy():
    table = shrinkage.curves([0.04, 1.0], sizes=[1, 10, 100])
    assert list(table.columns) == ["ratio", "n", "kept", "pooling"]
    assert len(table) == 6
    row = table[(table["ratio"] == 1.0) & (table["n"] == 10)]
    assert row["kept"].item() == pytest.approx(10 / 11)
    assert row["pooling"].item() == pytest.approx(1 / 11)


def test_variance_ratio():
    fit = fitted_case("seed_model2")
    assert shrinkage.variance_ratio(fit, "g") == pytest.approx(fit.theta[0] ** 2)


def test_slope_factors_are_sent_to_compare_and_the_2d_plot():
    fit = fitted_case("sleepstudy_slopes")
    for view in (shrinkage.normal_prior_posterior, shrinkage.level_weights):
        with pytest.raises(ModelError, match="shrinkage_2d"):
            view(fit)


def test_partial_residuals_remove_the_slopes_of_other_factors():
    from bayeshier import fit_reml

    data = pd.read_csv(TESTS / "fixtures" / "lme4_tight" / "slopes_crossed.csv")
    fit = fit_reml("y ~ x + (1|a) + (x|b)", data)
    residual = shrinkage.partial_residuals(fit, "a")
    b_effects = fit.ranef["b"].loc[data["b"]].to_numpy()
    expected = fit.spec.y - fit.spec.X @ fit.fixef.to_numpy()
    expected -= b_effects[:, 0] + b_effects[:, 1] * data["x"].to_numpy()
    np.testing.assert_allclose(residual, expected, rtol=1e-12)
