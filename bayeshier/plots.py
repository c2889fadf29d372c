"""Plots of shrinkage, of the prior-likelihood-posterior analogy, and of MCMC diagnostics.

The public face of :mod:`bayeshier.present.plots`; see there for the list.
Importing it loads matplotlib (``import bayeshier`` does not).
"""

from bayeshier.present.plots import (
    energy,
    forest,
    model_var_names,
    ols_vs_within,
    pair_variances,
    ppc,
    prior_likelihood_posterior,
    rank,
    seed_scenarios,
    shrinkage_2d,
    shrinkage_arrows,
    shrinkage_curves,
    trace,
)

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
