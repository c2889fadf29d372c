"""PIRLS: the conditional modes are where the penalized deviance is stationary."""

from __future__ import annotations

import numpy as np

from bayeshier.reml.covariance import theta_layout
from bayeshier.reml.glmm import make_family
from bayeshier.reml.glmm.fit import _problem
from bayeshier.reml.glmm.pirls import pirls
from bayeshier.reml.glmm.response import glmm_data


def test_modes_zero_the_penalized_score_crossed(glmer):
    reference = glmer.read_json("grouseticks_poisson")
    family = make_family("poisson")
    prepared = glmm_data(reference["formula"], glmer.case_data("grouseticks_poisson"), family)
    problem = _problem(prepared, family)
    relative = theta_layout(prepared.spec.factors).relative_factors(np.array([0.8, 0.6]))
    base = problem.X @ np.array([0.5, 1.0, -1.0, -0.8])
    mode = pirls(problem, relative, base)
    assert mode.converged and mode.iterations < 20
    design = problem.design
    for index, (u, T) in enumerate(zip(mode.modes, relative, strict=True)):
        # d/du [D + |u|^2] = -2 Lambda'Z' score + 2 u = 0
        score = (design.level_sums(index, mode.terms.score) @ T).ravel()
        np.testing.assert_allclose(score, u, atol=1e-8)
    warm = pirls(problem, relative, base, start=[u.copy() for u in mode.modes])
    assert warm.iterations <= 2
    assert np.isclose(warm.kernel + warm.penalty, mode.kernel + mode.penalty, rtol=1e-12)
