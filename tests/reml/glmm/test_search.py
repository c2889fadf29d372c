"""The joint search over (theta, beta) and glmer's start."""

from __future__ import annotations

import numpy as np

from bayeshier.reml.covariance import theta_layout
from bayeshier.reml.glmm import make_family
from bayeshier.reml.glmm.fit import _problem
from bayeshier.reml.glmm.objective import Objective, glm_start
from bayeshier.reml.glmm.response import glmm_data
from bayeshier.reml.glmm.search import search


def _objective(glmer, case):
    reference = glmer.read_json(case)
    family = make_family(reference["family"])
    prepared = glmm_data(reference["formula"], glmer.case_data(case), family)
    return Objective(_problem(prepared, family), theta_layout(prepared.spec.factors))


def test_glm_start_solves_the_glm_score_equations(glmer):
    objective = _objective(glmer, "contraception_bernoulli")
    problem = objective.problem
    beta = glm_start(problem)
    terms = problem.family.row_terms(problem.X @ beta + problem.offset, problem.y, problem.n)
    np.testing.assert_allclose(problem.X.T @ terms.score, 0.0, atol=1e-8)


def test_search_from_a_far_start_reaches_the_optimum(glmer):
    objective = _objective(glmer, "seed_binary")
    exact = glmer.read_json("seed_binary_exact")
    found = search(objective, np.array([3.0]), np.array([2.0]))
    assert found.summary.converged
    np.testing.assert_allclose(found.theta, glmer.lme4_values(exact["theta"]), atol=1e-6)
    np.testing.assert_allclose(found.beta, exact["fixef"], atol=1e-6)
    assert found.theta[0] > 0


def test_negative_theta_is_flipped(glmer):
    objective = _objective(glmer, "seed_binary")
    found = search(objective, np.array([-1.0]), np.array([0.0]))
    assert found.theta[0] > 0
