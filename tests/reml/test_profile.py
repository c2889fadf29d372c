"""Likelihood profiles (lme4's ``profile``), the sd/cor scale and the inverse splines."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.interpolate import CubicSpline

from bayeshier import datasets, fit_reml
from bayeshier.reml._blas import blas_threads_for
from bayeshier.reml.profile import Profile
from bayeshier.reml.profile_criterion import MLCriterion
from bayeshier.reml.sdcor import sdcor_to_theta, theta_to_sdcor
from bayeshier.reml.splines import back_spline


@pytest.fixture(scope="module")
def sleep_fit():
    return fit_reml("Reaction ~ Days + (Days|Subject)", datasets.load("sleepstudy"))


@pytest.fixture(scope="module")
def dyestuff_profile() -> Profile:
    return fit_reml("Yield ~ 1 + (1|Batch)", datasets.load("dyestuff")).profile()


def test_profile_table_layout(dyestuff_profile: Profile) -> None:
    table = dyestuff_profile.table
    assert dyestuff_profile.parameters == ["sd_(Intercept)|Batch", "sigma", "Intercept"]
    assert list(table.columns) == [
        "parameter",
        "zeta",
        "sd_(Intercept)|Batch",
        "sigma",
        "Intercept",
    ]
    assert dyestuff_profile.lower.to_dict() == {"sd_(Intercept)|Batch": 0.0, "sigma": 0.0}


def test_profiles_are_zero_at_the_ml_estimate_and_increase(dyestuff_profile: Profile) -> None:
    table, estimates = dyestuff_profile.table, dyestuff_profile.estimates
    for name in dyestuff_profile.parameters:
        rows = table[table["parameter"] == name]
        at_estimate = rows[np.isclose(rows[name], estimates[name], rtol=1e-12)]
        assert at_estimate["zeta"].tolist() == [0.0]
        assert np.all(np.diff(rows["zeta"].to_numpy()) > 0)
        # the walk goes beyond lme4's 99% cutoff on both sides, or down to the bound
        cutoff = np.sqrt(stats.chi2.ppf(0.99, 3))
        assert rows["zeta"].max() > cutoff
        bound = dyestuff_profile.lower.get(name, -np.inf)
        assert rows["zeta"].min() < -cutoff or rows[name].min() == bound


@pytest.fixture(scope="module")
def criterion(sleep_fit):
    with blas_threads_for(0):  # one BLAS thread for tiny matrices, as profile_fit runs
        yield MLCriterion.from_fit(sleep_fit)


def test_profile_of_the_estimate_agrees_with_the_ml_fit(criterion: MLCriterion) -> None:
    ml = fit_reml("Reaction ~ Days + (Days|Subject)", datasets.load("sleepstudy"), reml=False)
    assert criterion.deviance == pytest.approx(ml.criterion, rel=1e-12)
    assert criterion.variance_deviance(criterion.optimum[:4]) == pytest.approx(
        ml.criterion, rel=1e-10
    )
    # holding a fixed effect at its estimate changes nothing
    point = criterion.fixed_point(1, criterion.optimum[5])
    assert point[0] == pytest.approx(0.0, abs=1e-4)
    np.testing.assert_allclose(point[1:], criterion.optimum, rtol=1e-5)


def test_fixed_effect_profile_is_nearly_quadratic(criterion: MLCriterion) -> None:
    """Two ML standard errors away: zeta = sqrt(n log(1 + 4/n)) < 2 at theta_hat, less optimized."""
    beta, se = criterion.optimum[5], criterion.ml_se[1]
    zeta = criterion.fixed_point(1, beta + 2 * se)[0]
    assert 1.8 < zeta <= 2.0 + 1e-8


def test_profile_confint_level(dyestuff_profile: Profile) -> None:
    narrow = dyestuff_profile.confint(0.5)
    wide = dyestuff_profile.confint(0.99)
    assert (wide["lower"] < narrow["lower"]).all() and (narrow["upper"] < wide["upper"]).all()


def test_sdcor_round_trip(sleep_fit) -> None:
    variance = theta_to_sdcor(sleep_fit.layout, sleep_fit.theta, sleep_fit.sigma)
    varcorr = sleep_fit.varcorr
    assert variance[0] == pytest.approx(varcorr["sd_cor"].iloc[0], rel=1e-12)
    assert variance[1] == pytest.approx(varcorr["sd_cor"].iloc[2], rel=1e-12)
    assert variance[2] == pytest.approx(varcorr["sd_cor"].iloc[1], rel=1e-12)
    assert variance[3] == sleep_fit.sigma
    theta = sdcor_to_theta(sleep_fit.layout, variance[:-1], sleep_fit.sigma)
    np.testing.assert_allclose(theta, sleep_fit.theta, rtol=1e-12)


def test_sdcor_accepts_singular_covariances(sleep_fit) -> None:
    theta = sdcor_to_theta(sleep_fit.layout, np.array([2.0, 1.0, 3.0]), 1.0)
    np.testing.assert_allclose(theta, [2.0, 3.0, 0.0], atol=1e-7)
    theta = sdcor_to_theta(sleep_fit.layout, np.array([0.0, 0.5, 3.0]), 1.0)
    np.testing.assert_allclose(theta, [0.0, 0.0, 3.0])


def test_back_spline_inverts_a_monotone_function() -> None:
    x = np.linspace(-2.0, 3.0, 14)
    zeta = np.sinh(x / 2) + x
    inverse = back_spline(x, zeta)
    np.testing.assert_allclose(inverse(zeta[:-1]), x[:-1], atol=1e-12)
    targets = np.array([-1.5, 0.3, 2.2])
    interior = np.linspace(x[1], x[-2], 50)  # the end pieces are quadratics
    forward = CubicSpline(x, zeta, bc_type="natural")
    np.testing.assert_allclose(forward(inverse(forward(interior))), forward(interior), atol=1e-3)
    assert np.isfinite(inverse(targets)).all()
    assert np.isnan(inverse([zeta[0] - 0.1, zeta[-1] + 0.1])).all()


def test_back_spline_refuses_a_non_monotone_profile() -> None:
    x = np.arange(6.0)
    with pytest.raises(ValueError, match="monotone"):
        back_spline(x, np.array([0.0, 1.0, 0.5, 2.0, 3.0, 4.0]))
    with pytest.raises(ValueError, match="4 points"):
        back_spline(x[:3], x[:3])
