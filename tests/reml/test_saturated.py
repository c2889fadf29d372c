"""The edges of the REML criterion: zero residual variance and extreme variance ratios.

References are computed here, independently of the solver: the saturated
residual by dense least squares on ``[X Z]``, and the REML optimum of a
balanced random-intercept model from its closed form (per-group means), by a
one-dimensional search over ``log theta``.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from bayeshier import fit_reml
from bayeshier.errors import DataError, ModelError, PrecisionWarning
from bayeshier.reml.crossprod import cross_products
from bayeshier.reml.results import SingularFitWarning
from bayeshier.reml.saturated import saturated_residual_share
from bayeshier.spec import build_spec

_SETTINGS = settings(
    max_examples=int(os.environ.get("BAYESHIER_PROPERTY_EXAMPLES", "40")), deadline=None
)
GROUPS, PER_GROUP = 10, 5


def _frame(y: np.ndarray, codes: np.ndarray, **columns: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"y": y, "g": [f"g{c}" for c in codes], **columns})


def _dummies(labels: pd.Series) -> np.ndarray:
    return pd.get_dummies(labels).to_numpy(dtype=float)


def _lstsq_share(data: pd.DataFrame, X: np.ndarray, Z: np.ndarray) -> float:
    y = data["y"].to_numpy()
    full = np.column_stack([X, Z])
    residual = y - full @ np.linalg.lstsq(full, y, rcond=None)[0]
    ols = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    return float(residual @ residual / (ols @ ols))


@_SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    slope=st.booleans(),
    crossed=st.booleans(),
    noise=st.sampled_from([1.0, 1e-2]),
)
def test_saturated_share_is_dense_least_squares(seed, slope, crossed, noise):
    rng = np.random.default_rng(seed)
    n, levels = 60, 6
    codes = rng.integers(0, levels, n)
    codes[:levels] = np.arange(levels)
    x = rng.normal(size=n)
    other = np.arange(n) % 4
    y = rng.normal(size=levels)[codes] + x + noise * rng.normal(size=n)
    data = _frame(y, codes, x=x, h=[f"h{c}" for c in other])
    bars = "(x|g)" if slope else "(1|g)"
    formula = f"y ~ x + {bars}" + (" + (1|h)" if crossed else "")
    Z = _dummies(data["g"])
    if slope:
        Z = np.column_stack([Z, Z * x[:, None]])
    if crossed:
        Z = np.column_stack([Z, _dummies(data["h"])])
    X = np.column_stack([np.ones(n), x])
    expected = _lstsq_share(data, X, Z)
    got = saturated_residual_share(cross_products(build_spec(formula, data)))
    assert got == pytest.approx(expected, rel=1e-8, abs=1e-14)


@pytest.mark.parametrize("formula", ["y ~ 1 + (1|g)", "y ~ x + (1|g)", "y ~ x + (x|g)"])
def test_response_constant_within_groups_is_refused(formula):
    rng = np.random.default_rng(3)
    codes = np.repeat(np.arange(GROUPS), PER_GROUP)
    x = rng.normal(size=codes.size)
    y = 50.0 + rng.normal(0.0, 10.0, GROUPS)[codes] + (2.0 * x if "x +" in formula else 0.0)
    with pytest.raises(ModelError, match=r"residual variance is zero.*'g'"):
        fit_reml(formula, _frame(y, codes, x=x))


def test_constant_response_is_refused_not_a_linalg_traceback():
    """A constant y is a property of the data: the spec layer refuses it (a DataError)."""
    codes = np.repeat(np.arange(GROUPS), PER_GROUP)
    with pytest.raises(DataError, match=r"response 'y' is constant: every one of the 50 rows"):
        fit_reml("y ~ 1 + (1|g)", _frame(np.ones(codes.size), codes))


def test_response_fitted_exactly_by_the_fixed_effects_is_refused():
    """``y = 3 + 2 x`` exactly: the OLS residual is rounding, not a residual variance."""
    codes = np.repeat(np.arange(GROUPS), PER_GROUP)
    x = np.random.default_rng(2).normal(size=codes.size)
    with pytest.raises(ModelError, match="residual variance is zero"):
        fit_reml("y ~ x + (1|g)", _frame(3.0 + 2.0 * x, codes, x=x))


def _closed_form_reml(y: np.ndarray, codes: np.ndarray, theta: float) -> tuple[float, float]:
    """REML criterion and sigma of ``y ~ 1 + (1|g)`` for a balanced design, from group means."""
    n = y.size
    means = np.bincount(codes, weights=y) / PER_GROUP
    within = float(np.sum((y - means[codes]) ** 2))
    weight = 1.0 / (1.0 + theta**2 * PER_GROUP)
    beta = means.mean()
    quadratic = within + weight * PER_GROUP * float(np.sum((means - beta) ** 2))
    log_det = GROUPS * np.log(1.0 + theta**2 * PER_GROUP)
    log_det_x = np.log(GROUPS * PER_GROUP * weight)
    sigma2 = quadratic / (n - 1)
    return log_det + log_det_x + (n - 1) * (1.0 + np.log(2.0 * np.pi * sigma2)), np.sqrt(sigma2)


def _exact_optimum(y: np.ndarray, codes: np.ndarray, guess: float) -> tuple[float, float]:
    result = minimize_scalar(
        lambda log_theta: _closed_form_reml(y, codes, np.exp(log_theta))[0],
        bounds=(np.log(guess) - 6.0, np.log(guess) + 6.0),
        method="bounded",
        options={"xatol": 1e-11},
    )
    theta = float(np.exp(result.x))
    if _closed_form_reml(y, codes, 0.0)[0] <= result.fun:  # the optimum on the boundary
        theta = 0.0
    return theta, _closed_form_reml(y, codes, theta)[1]


@_SETTINGS
@given(seed=st.integers(0, 2**32 - 1), log_ratio=st.floats(0.0, 8.0))
@example(seed=413413867, log_ratio=2.765625)  # the polish refused the step to the optimum
def test_extreme_variance_ratio_is_right_or_says_why(seed, log_ratio):
    """Up to ratios near 1e3 the fit is the exact optimum; beyond, right or a PrecisionWarning."""
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(GROUPS), PER_GROUP)
    ratio = 10.0**log_ratio
    y = 7.0 + ratio * rng.normal(size=GROUPS)[codes] + rng.normal(size=codes.size)
    theta, sigma = _exact_optimum(y, codes, max(ratio, 1e-2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = fit_reml("y ~ 1 + (1|g)", _frame(y, codes))
        except ModelError as error:  # a residual below 1e-13 of the total is refused
            assert ratio > 1e5 and "too small to resolve" in str(error)
            return
    explained = any(issubclass(w.category, PrecisionWarning) for w in caught)
    # Up to 1e3 the optimum to 1e-6 (sigma) and 1e-5 (theta); beyond, the criterion is flat
    # in theta to about 1e-12 relative, and an unwarned fit must still be within 1e-5 / 1e-4
    # (seen: sigma 1.3e-6 and theta 7e-6 off at a ratio of 3.7e3, with no warning).
    loose = 1.0 if ratio < 1e3 else 10.0
    accurate = np.isclose(fit.sigma, sigma, rtol=1e-6 * loose) and np.isclose(
        fit.theta[0], theta, rtol=1e-5 * loose
    )
    assert accurate or explained, (fit.sigma, sigma, fit.theta[0], theta)
    if ratio < 1e3:
        # a fit on the boundary says so (lme4's "boundary (singular) fit"), and nothing else
        singular = [w for w in caught if issubclass(w.category, SingularFitWarning)]
        assert accurate and len(caught) == len(singular) and bool(singular) == (theta == 0.0)


def test_ratio_of_a_million_warns_with_the_reason():
    rng = np.random.default_rng(11)
    codes = np.repeat(np.arange(GROUPS), PER_GROUP)
    y = 1e6 * rng.normal(size=GROUPS)[codes] + rng.normal(size=codes.size)
    with pytest.warns(PrecisionWarning, match="times the residual sd"):
        fit_reml("y ~ 1 + (1|g)", _frame(y, codes))
