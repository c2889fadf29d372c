"""Parametric bootstrap of a GLMM (lme4's ``bootMer`` of a ``glmer`` fit, ``use.u = FALSE``).

Each replicate simulates a response from the fitted model with new random
effects,

    eta* = offset + X beta_hat + Z b*,   b*_fj ~ N(0, T_f T_f'),
    y*_i ~ Binomial(n_i, mu*_i) / n_i  or  Poisson(mu*_i),   mu* = linkinv(eta*),

and refits it as :func:`~bayeshier.reml.glmm.fit.fit_glmm` does (the
Laplace search, then the quadrature one for ``nagq > 1``), started from the
fit's estimates, on the same specification: nothing is parsed again. The
statistics kept are lme4's: the random effects' standard deviations and
correlations, then the fixed effects. A refit that does not converge (a
simulated response can be completely separated) is left out and counted,
as for linear models (:func:`bayeshier.reml.bootstrap.bootstrap_replicates`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from bayeshier.errors import ConvergenceWarning, ModelError
from bayeshier.reml._blas import blas_threads_for
from bayeshier.reml.bootstrap import (
    bootstrap_replicates,
    check_bootstrappable,
    simulated_random_part,
)
from bayeshier.reml.glmm.pirls import Problem
from bayeshier.reml.glmm.search import search_then_quadrature
from bayeshier.reml.sdcor import parameter_names, scale_free_sdcor

__all__ = ["glmm_bootstrap", "simulate_glmm"]


def glmm_bootstrap(
    fit,
    nsim: int = 500,
    *,
    random_seed: int | np.random.Generator | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Refit a GLMM to ``nsim`` responses simulated from it.

    Parameters
    ----------
    fit : GlmmFit
        A fit on a pandas DataFrame (the rows must be in memory).
    nsim : int, default 500
        Number of simulated responses.
    random_seed : int or numpy.random.Generator, optional
        Seed of the simulations: the same seed gives the same replicates.
    progress : bool, default True
        Show a progress line on standard error.

    Returns
    -------
    pandas.DataFrame
        One row per replicate, one column per parameter (lme4's names, no
        ``sigma``); ``attrs["n_failed"]`` counts the refits left out.

    Raises
    ------
    ModelError
        For a fit without rows in memory, a bad ``nsim``, binomial trials
        that are not whole numbers, a Poisson fit with prior weights, or if
        every refit fails.

    """
    check_bootstrappable(fit, nsim)
    _check_simulable(fit)
    names = parameter_names(fit)

    # the design is built once; each replicate only changes the response
    problem = Problem.of(fit.spec, fit.family, fit.y, fit.weights, fit.offset)

    def replicate(rng: np.random.Generator) -> np.ndarray | None:
        return _refit(fit, problem.with_response(simulate_glmm(fit, rng)))

    with blas_threads_for(problem.dense_order):  # as fit_glmm runs
        return bootstrap_replicates(
            names, replicate, nsim, random_seed=random_seed, progress=progress
        )


def simulate_glmm(fit, rng: np.random.Generator) -> np.ndarray:
    """One response simulated from the fitted GLMM with new random effects.

    Binomial: the proportion of successes of each row's trials; Poisson: the counts.
    """
    eta = fit.spec.X @ fit.fixef.to_numpy() + fit.offset
    eta = eta + simulated_random_part(fit.spec, fit.layout, fit.theta, 1.0, rng)
    mu = fit.family.linkinv(eta)
    if fit.family.name == "poisson":
        return rng.poisson(mu).astype(float)
    trials = np.rint(fit.weights).astype(np.int64)
    return rng.binomial(trials, mu) / trials


def _refit(fit, problem: Problem) -> np.ndarray | None:
    """The parameters refitted to ``problem`` from the fit's estimates, or None if it fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            found = search_then_quadrature(
                problem, fit.layout, fit.nagq, fit.theta, fit.fixef.to_numpy()
            )
    except (ConvergenceWarning, np.linalg.LinAlgError, ArithmeticError, ValueError):
        return None
    if not found.summary.converged or not np.all(np.isfinite(found.beta)):
        return None
    variance = scale_free_sdcor(fit.layout, found.theta)
    return np.concatenate([variance, found.beta])


def _check_simulable(fit) -> None:
    weights = np.asarray(fit.weights, dtype=float)
    if fit.family.name == "poisson" and not np.all(weights == 1.0):
        raise ModelError(
            "A Poisson GLMM with prior weights cannot be simulated (a weighted count has no "
            "Poisson distribution), so it cannot be bootstrapped: use confint(method='profile')."
        )
    if fit.family.name == "binomial" and not np.allclose(weights, np.rint(weights)):
        raise ModelError(
            "The binomial trials (weights) are not whole numbers, so responses cannot be "
            "simulated for a bootstrap: use confint(method='profile')."
        )
