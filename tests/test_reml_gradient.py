from __future__ import annotations

import numpy as np
import pytest
from conftest import CASE_DATA, load_reference

from bayeshier import datasets
from bayeshier.reml.crossprod import cross_products
from bayeshier.reml.factor import factorize, profiled_deviance
from bayeshier.reml.gradient import criterion_gradient
from bayeshier.spec import build_spec

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
    theta = theta_scale * np.linspace(0.7, 1.4, len(spec.factors))

    def criterion(point: np.ndarray) -> float:
        return profiled_deviance(cp, factorize(cp, point), reference["REML"])

    step = 1e-6
    numeric = [
        (criterion(theta + step * e) - criterion(theta - step * e)) / (2 * step)
        for e in np.eye(len(theta))
    ]
    analytic = criterion_gradient(cp, factorize(cp, theta), reference["REML"])
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-6)


def test_gradient_is_nan_where_theta_is_zero_and_finite_elsewhere() -> None:
    spec = build_spec("diameter ~ 1 + (1|plate) + (1|sample)", datasets.load("penicillin"))
    cp = cross_products(spec)
    gradient = criterion_gradient(cp, factorize(cp, np.array([0.0, 2.0])), True)
    assert np.isnan(gradient[0]) and np.isfinite(gradient[1])
