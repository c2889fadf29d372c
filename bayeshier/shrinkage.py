"""Shrinkage of random intercepts: the BLUP *is* a normal-normal posterior mean.

The public face of :mod:`bayeshier.present.shrinkage` (the maths: weights,
the normal-normal view, the curves) and :mod:`bayeshier.present.scenarios`
(the classic seed demonstration), in one namespace.
"""

from bayeshier.present.scenarios import (
    SEED_FORMULA,
    SEED_SCENARIOS,
    Scenario,
    scenario_fits,
    scenarios,
    simulate,
)
from bayeshier.present.shrinkage import (
    curves,
    factor_sd,
    level_weights,
    normal_prior_posterior,
    partial_residuals,
    population_intercept,
    variance_ratio,
    weights,
)

#: The former name of :func:`level_weights`, kept so that existing code runs.
factors = level_weights

__all__ = [
    "SEED_FORMULA",
    "SEED_SCENARIOS",
    "Scenario",
    "curves",
    "factor_sd",
    "factors",
    "level_weights",
    "normal_prior_posterior",
    "partial_residuals",
    "population_intercept",
    "scenario_fits",
    "scenarios",
    "simulate",
    "variance_ratio",
    "weights",
]
