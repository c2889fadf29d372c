"""Plots of shrinkage, of the prior-likelihood-posterior analogy, and of MCMC diagnostics.

Computing stays in :mod:`bayeshier.present.comparison` and
:mod:`bayeshier.present.shrinkage`: every function here takes their tidy
tables (or a :class:`~bayeshier.present.comparison.Comparison`), draws on
``ax`` when given (else on a new figure) and returns the
:class:`matplotlib.figure.Figure`.

=================================  =================================================
function                           shows
=================================  =================================================
:func:`shrinkage_arrows`           no-pooling estimate -> BLUP -> posterior mean
:func:`prior_likelihood_posterior` the BLUP as a normal-normal posterior
:func:`ols_vs_within`              pooled OLS, within-group and REML (GLS) slopes
:func:`shrinkage_curves`           kept (lambda) against group size, per variance ratio
:func:`seed_scenarios`             the four classic seed scenarios on those curves
:func:`forest`                     posterior interval (e.g. 89% ETI), BLUP +- 2 cond. sd, no pooling
:func:`shrinkage_2d`               intercept and slope shrinkage, with the population ellipses
:func:`trace`, :func:`rank`,       ArviZ 1.x diagnostics with bayeshier's names
:func:`energy`,
:func:`pair_variances`,
:func:`ppc`
=================================  =================================================
"""

from bayeshier.present.plots.analogy import prior_likelihood_posterior
from bayeshier.present.plots.curves import seed_scenarios, shrinkage_curves
from bayeshier.present.plots.diagnostics import (
    energy,
    model_var_names,
    pair_variances,
    ppc,
    rank,
    trace,
)
from bayeshier.present.plots.forest import forest
from bayeshier.present.plots.ols_gls import ols_vs_within
from bayeshier.present.plots.shrinkage import shrinkage_arrows
from bayeshier.present.plots.slopes import shrinkage_2d

__all__ = [
    "energy",
    "forest",
    "model_var_names",
    "ols_vs_within",
    "pair_variances",
    "ppc",
    "prior_likelihood_posterior",
    "rank",
    "seed_scenarios",
    "shrinkage_2d",
    "shrinkage_arrows",
    "shrinkage_curves",
    "trace",
]
