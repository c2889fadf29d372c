"""Adaptive Gauss-Hermite quadrature of a GLMM with one scalar random-effect term.

With a single grouping factor and one random-effect column the integral
over ``u`` factors into one integral per level. Around each level's
conditional mode ``u~_j``, with the Laplace scale ``sd_j = 1 / L_jj``
(``L_jj^2 = 1 + T^2 sum_i w_i z_i^2``), the knots ``u~_j + z_k sd_j`` of the
Gauss-Hermite rule for a standard normal weight give (lme4's ``glmerAGQ``)

    -2 log L = sum_j devc_j(u~_j) + sum_j log L_jj^2 - 2 sum_j log m_j,
    m_j = sum_k w_k exp(-(devc_j(u~_j + z_k sd_j) - devc_j(u~_j)) / 2 + z_k^2 / 2),

where ``devc_j(u) = u^2 + sum_{i in j} d_i`` and ``d_i`` are the squared
deviance residuals (R's ``dev.resids``). As in glmer, the deviance
residuals are relative to the saturated model, so for a binomial with
trials or a Poisson response this ``-2 log L`` omits the saturated model's
log-likelihood, which the Laplace deviance includes: the two are on
different scales (glmer's ``logLik`` differs the same way between
``nAGQ = 1`` and ``nAGQ > 1``). With ``nagq = 1`` the rule is the mode alone
and the expression is the Laplace approximation on the deviance-residual
scale.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from bayeshier.errors import ModelError
from bayeshier.reml.glmm.pirls import Mode, Problem
from bayeshier.spec.model_spec import ModelSpec

__all__ = ["MAX_NAGQ", "agq_deviance", "check_agq", "gauss_hermite"]

#: lme4's limit on the number of quadrature points.
MAX_NAGQ = 25


@cache
def gauss_hermite(nagq: int) -> tuple[np.ndarray, np.ndarray]:
    """Knots and weights (summing to 1) of the ``nagq``-point rule for a standard normal weight."""
    knots, weights = np.polynomial.hermite_e.hermegauss(nagq)
    return knots, weights / np.sqrt(2.0 * np.pi)


def check_agq(spec: ModelSpec, nagq: int) -> None:
    """Refuse an ``nagq`` that glmer would refuse, saying why."""
    if not isinstance(nagq, int | np.integer) or not 1 <= nagq <= MAX_NAGQ:
        raise ModelError(
            f"nagq={nagq!r}: give a whole number of quadrature points from 1 (the Laplace "
            f"approximation) to {MAX_NAGQ}."
        )
    if nagq > 1 and (len(spec.factors) != 1 or spec.factors[0].n_columns != 1):
        terms = ", ".join(f"{f.name} ({', '.join(f.terms)})" for f in spec.factors)
        raise ModelError(
            f"nagq={nagq} (adaptive Gauss-Hermite quadrature) needs a single grouping factor "
            f"with one random-effect column, as in glmer; this model has: {terms}. "
            "Use nagq=1 (the Laplace approximation)."
        )


def agq_deviance(
    problem: Problem, mode: Mode, relative: list[np.ndarray], base: np.ndarray, nagq: int
) -> float:
    """``-2 log L`` by adaptive Gauss-Hermite quadrature at the modes ``mode``."""
    design, family = problem.design, problem.family
    codes, levels = design.codes[0], design.levels[0]
    theta = float(relative[0][0, 0])
    u = mode.modes[0]
    sd = np.sqrt(mode.factor.first_inverse[:, 0, 0])
    z = design.design(0)[:, 0]
    per_row = family.deviance_residuals(mode.terms.mu, problem.y, problem.n)
    centre = u * u + np.bincount(codes, weights=per_row, minlength=levels)
    knots, weights = gauss_hermite(nagq)
    # every knot at once: rows x knots, summed per level
    shifted = u[:, None] + sd[:, None] * knots[None, :]
    eta = base[:, None] + (theta * z)[:, None] * shifted[codes]
    residuals = family.deviance_residuals(
        family.linkinv(eta), problem.y[:, None], problem.n[:, None]
    )
    value = shifted * shifted
    np.add.at(value, codes, residuals)
    exponent = -0.5 * (value - centre[:, None]) + 0.5 * knots * knots
    total = np.exp(exponent) @ weights
    return float(centre.sum() + mode.factor.log_det_z() - 2.0 * np.sum(np.log(total)))
