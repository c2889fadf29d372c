from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from reference_cases import CASE_DATA, load_reference

from bayeshier import datasets
from bayeshier.reml.covariance import theta_layout
from bayeshier.reml.crossprod import cross_products
from bayeshier.reml.factor import factorize, profiled_deviance
from bayeshier.reml.gradient import criterion_gradient
from bayeshier.spec.model_spec import build_spec

CASES = [
    "dyestuff",
    "mpg_class",
    "mpg_class_ml",
    "penicillin_crossed",
    "penicillin_crossed_ml",
    "pastes_nested",
    "pastes_nested_ml",
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("theta_scale", [0.3, 1.0, 2.5])
def test_analytic_gradient_equals_central_differences(case: str, theta_scale: float) -> None:
    reference = load_reference(case)
    spec = build_spec(reference["formula"], datasets.load(CASE_DATA[case]))
    cp = cross_products(spec)
    layout = theta_layout(spec.factors)
    theta = theta_scale * np.linspace(0.7, 1.4, len(spec.factors))

    def criterion(point: np.ndarray) -> float:
        return profiled_deviance(
            cp, factorize(cp, layout.relative_factors(point)), reference["REML"]
        )

    step = 1e-6
    numeric = [
        (criterion(theta + step * e) - criterion(theta - step * e)) / (2 * step)
        for e in np.eye(len(theta))
    ]
    factor = factorize(cp, layout.relative_factors(theta))
    analytic = criterion_gradient(cp, factor, reference["REML"], layout)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-6)


def test_gradient_is_nan_where_theta_is_zero_and_finite_elsewhere() -> None:
    spec = build_spec("diameter ~ 1 + (1|plate) + (1|sample)", datasets.load("penicillin"))
    cp = cross_products(spec)
    layout = theta_layout(spec.factors)
    factor = factorize(cp, layout.relative_factors(np.array([0.0, 2.0])))
    gradient = criterion_gradient(cp, factor, True, layout)
    assert np.isnan(gradient[0]) and np.isfinite(gradient[1])


def _slope_data() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 300
    data = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
            "a": rng.integers(0, 12, n).astype(str),
            "b": rng.integers(0, 7, n).astype(str),
            "f": rng.choice(list("pqr"), n),
        }
    )
    a_effect = data["a"].map({str(i): rng.normal() for i in range(12)})
    b_effect = data["b"].map({str(i): rng.normal() for i in range(7)})
    data["y"] = data["x"] + rng.normal(size=n) + a_effect * (1 + data["x"]) + b_effect
    return data


SLOPE_FORMULAS = [
    "y ~ x + (x|a)",  # one factor, 2 x 2 block
    "y ~ x + (1|a) + (x|b)",  # slopes on the dense (second) factor
    "y ~ x + (x|a) + (x||b)",  # correlated first, uncorrelated second
    "y ~ x + z + (x + z|a) + (1|b)",  # 3 x 3 block
    "y ~ x + (f|a)",  # categorical inside the bar
    "y ~ x + (0 + f|b) + (1|a)",  # one column per level of f
    "y ~ x + (x|b/a)",  # nested, slopes on both
]


@pytest.mark.parametrize("formula", SLOPE_FORMULAS)
@pytest.mark.parametrize("reml", [True, False])
def test_slope_gradient_equals_central_differences(formula: str, reml: bool) -> None:
    spec = build_spec(formula, _slope_data())
    cp = cross_products(spec)
    layout = theta_layout(spec.factors)
    rng = np.random.default_rng(7)
    theta = layout.start() + 0.3 * rng.standard_normal(layout.n_theta)
    theta[layout.diagonal] = np.abs(theta[layout.diagonal])

    def criterion(point: np.ndarray) -> float:
        return profiled_deviance(cp, factorize(cp, layout.relative_factors(point)), reml)

    step = 1e-6
    numeric = [
        (criterion(theta + step * e) - criterion(theta - step * e)) / (2 * step)
        for e in np.eye(len(theta))
    ]
    factor = factorize(cp, layout.relative_factors(theta))
    analytic = criterion_gradient(cp, factor, reml, layout)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-5)
