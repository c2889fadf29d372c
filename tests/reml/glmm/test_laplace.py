"""The Laplace deviance and its exact gradient in (theta, beta)."""

from __future__ import annotations

import numpy as np
import pytest

from bayeshier.reml.covariance import theta_layout
from bayeshier.reml.glmm import make_family
from bayeshier.reml.glmm.fit import _problem
from bayeshier.reml.glmm.objective import Objective
from bayeshier.reml.glmm.response import glmm_data


def _objective(glmer, case: str, link: str | None = None) -> Objective:
    reference = glmer.read_json(case)
    family = make_family(reference["family"], link)
    prepared = glmm_data(reference["formula"], glmer.case_data(case), family)
    return Objective(_problem(prepared, family), theta_layout(prepared.spec.factors))


@pytest.mark.parametrize(
    ("case", "link"),
    [("cbpp_binomial", None), ("cbpp_binomial", "probit"), ("grouseticks_poisson", None)],
)
def test_gradient_matches_central_differences(glmer, case, link):
    objective = _objective(glmer, case, link)
    n_theta = objective.layout.n_theta
    point = np.concatenate(
        [np.full(n_theta, 0.7), np.linspace(-1.0, 0.5, objective.problem.X.shape[1])]
    )
    evaluation = objective.evaluate(point[:n_theta], point[n_theta:])
    exact = np.concatenate([evaluation.grad_theta, evaluation.grad_beta])
    numeric = np.empty_like(point)
    for i in range(point.size):
        step = np.zeros_like(point)
        step[i] = 1e-5
        upper, lower = point + step, point - step
        numeric[i] = (
            objective.value(upper[:n_theta], upper[n_theta:])
            - objective.value(lower[:n_theta], lower[n_theta:])
        ) / 2e-5
    np.testing.assert_allclose(exact, numeric, rtol=1e-5, atol=1e-5)


def test_deviance_at_glmers_optimum_is_its_loglik(glmer):
    """glmer's exact optimum, plugged in, gives glmer's logLik there."""
    exact = glmer.read_json("grouseticks_poisson_exact")
    objective = _objective(glmer, "grouseticks_poisson")
    theta = glmer.lme4_values(exact["theta"])
    value = objective.value(theta, glmer.lme4_values(exact["fixef"]))
    assert -0.5 * value == pytest.approx(exact["logLik"], rel=1e-10)
