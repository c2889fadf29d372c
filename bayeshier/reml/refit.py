"""Refit a model's specification and keep the pieces inference needs (no :class:`RemlFit`).

Profiles refit a REML model by maximum likelihood, the bootstrap refits
simulated responses: both need theta, the blocked factor and the estimates,
not the tidy tables of a :class:`~bayeshier.reml.results.RemlFit`. Running
the pipeline here (the same steps as :func:`bayeshier.reml.fit.fit_spec`)
keeps the methods of ``RemlFit`` that call them free of an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayeshier.reml._blas import blas_threads_for
from bayeshier.reml.covariance import ThetaLayout, theta_layout
from bayeshier.reml.crossprod import CrossProducts, cross_products
from bayeshier.reml.estimates import Estimates, estimates
from bayeshier.reml.factor import BlockedFactor, factorize
from bayeshier.reml.optimize import optimize_theta, starting_theta
from bayeshier.spec.model_spec import ModelSpec

__all__ = ["Refit", "dense_size", "refit_spec", "state_at"]


@dataclass(frozen=True, eq=False)
class Refit:
    """A specification fitted again: its cross products, theta, factor and estimates."""

    cp: CrossProducts
    layout: ThetaLayout
    theta: np.ndarray
    factor: BlockedFactor
    estimates: Estimates


def refit_spec(spec: ModelSpec, *, reml: bool) -> Refit:
    """Fit ``spec`` by REML or ML (warns :class:`~bayeshier.errors.ConvergenceWarning` as a fit)."""
    layout = theta_layout(spec.factors)
    with blas_threads_for(dense_size(spec)):
        cp = cross_products(spec)
        theta, _ = optimize_theta(cp, layout, reml, starting_theta(cp, layout, reml))
        factor = factorize(cp, layout.relative_factors(theta))
        return Refit(cp, layout, theta, factor, estimates(cp, factor, reml))


def state_at(spec: ModelSpec, theta: np.ndarray, *, reml: bool) -> Refit:
    """The pieces of a fit of ``spec`` at a known ``theta`` (no optimization)."""
    layout = theta_layout(spec.factors)
    with blas_threads_for(dense_size(spec)):
        cp = cross_products(spec)
        factor = factorize(cp, layout.relative_factors(np.asarray(theta, dtype=float)))
        return Refit(
            cp, layout, np.asarray(theta, dtype=float), factor, estimates(cp, factor, reml)
        )


def dense_size(spec: ModelSpec) -> int:
    """Rows of the dense block of the blocked factor (the other factors, X and y)."""
    return sum(f.n_levels * f.n_columns for f in spec.factors[1:]) + spec.n_fixed + 1
