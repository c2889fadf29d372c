"""Parametric bootstrap of a linear mixed model (lme4's ``bootMer`` with ``use.u = FALSE``).

Each replicate simulates a response from the fitted model, new random
effects and new residuals,

    y* = offset + X beta_hat + Z b* + e*,  b*_fj ~ N(0, sigma_hat^2 T_f T_f'),
    e*_i ~ N(0, sigma_hat^2 / w_i)  (w the prior weights, 1 without),

and refits it by the fit's own criterion (REML or ML) on the same
specification: only the response changes, so the design, the encodings
and the grouping are reused and nothing is parsed again. The statistics
kept are lme4's: the random effects' standard deviations and correlations,
sigma, and the fixed effects.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from bayeshier.errors import ConvergenceWarning, ModelError
from bayeshier.reml.covariance import ThetaLayout
from bayeshier.reml.refit import refit_spec
from bayeshier.reml.sdcor import parameter_names, theta_to_sdcor

__all__ = [
    "BootstrapWarning",
    "bootstrap_replicates",
    "check_bootstrappable",
    "parametric_bootstrap",
    "percentile_intervals",
    "simulate",
    "simulated_random_part",
]

#: Seconds between two updates of the progress line.
_PROGRESS_INTERVAL = 0.2


class BootstrapWarning(UserWarning):
    """Some bootstrap refits failed or did not converge (they are left out)."""


def parametric_bootstrap(
    fit,
    nsim: int = 500,
    *,
    random_seed: int | np.random.Generator | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Refit ``fit``'s model to ``nsim`` responses simulated from it.

    Parameters
    ----------
    fit : RemlFit
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
        One row per replicate, one column per parameter (lme4's names).
        Replicates whose refit failed or did not converge are left out
        (with a :class:`BootstrapWarning`); ``attrs["n_failed"]`` counts them.

    Raises
    ------
    ModelError
        For a fit without rows in memory, a bad ``nsim``, or if every refit fails.

    """
    check_bootstrappable(fit, nsim)
    names = parameter_names(fit)

    def replicate(rng: np.random.Generator) -> np.ndarray | None:
        return _refit(fit, simulate(fit, rng))

    return bootstrap_replicates(names, replicate, nsim, random_seed=random_seed, progress=progress)


def bootstrap_replicates(
    names: list[str],
    replicate: Callable[[np.random.Generator], np.ndarray | None],
    nsim: int,
    *,
    random_seed: int | np.random.Generator | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run ``nsim`` replicates (simulate and refit; ``None`` for a failed refit) into a table.

    ``replicate`` draws from the generator seeded by ``random_seed`` and
    returns the refitted parameters ``names``. Failed replicates are left
    out with a :class:`BootstrapWarning` (``attrs["n_failed"]`` counts them);
    a :class:`ModelError` if all fail.
    """
    rng = np.random.default_rng(random_seed)
    rows, failed = [], 0
    bar = _Progress(nsim, enabled=progress)
    for _ in range(nsim):
        estimates = replicate(rng)
        if estimates is None:
            failed += 1
        else:
            rows.append(estimates)
        bar.update()
    bar.close()
    if not rows:
        raise ModelError(
            f"All {nsim} bootstrap refits failed or did not converge: the model cannot be "
            "refitted to data simulated from it. Check the fit (is_singular, optimization)."
        )
    if failed:
        warnings.warn(
            f"{failed} of {nsim} bootstrap refits failed or did not converge and are left out.",
            BootstrapWarning,
            stacklevel=2,
        )
    table = pd.DataFrame(rows, columns=names)
    table.attrs["n_failed"] = failed
    return table


def simulate(fit, rng: np.random.Generator) -> np.ndarray:
    """One response simulated from the fitted model (new random effects, new residuals).

    The mean of the fixed part is the fit's fitted values less its BLUPs'
    contribution, so whatever the fit's mean holds besides ``X beta`` is kept.
    """
    spec = fit.spec
    response = fit.fitted - _random_part(spec, [fit.ranef[f.name].to_numpy() for f in spec.factors])
    response = response + simulated_random_part(spec, fit.layout, fit.theta, fit.sigma, rng)
    noise = fit.sigma * rng.standard_normal(spec.nobs)
    if spec.weights is not None:  # prior weights: Var(e_i) = sigma^2 / w_i
        noise = noise / np.sqrt(spec.weights)
    return response + noise


def simulated_random_part(
    spec, layout: ThetaLayout, theta: np.ndarray, scale: float, rng: np.random.Generator
) -> np.ndarray:
    """``Z b*`` for new random effects ``b*_fj ~ N(0, scale^2 T_f T_f')`` of every level."""
    effects = []
    for factor, T in zip(spec.factors, layout.relative_factors(theta), strict=True):
        spherical = rng.standard_normal((factor.n_levels, factor.n_columns))
        effects.append(scale * spherical @ T.T)
    return _random_part(spec, effects)


def percentile_intervals(replicates: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Percentile intervals of every column (sample quantiles, linear interpolation)."""
    tails = [(1 - level) / 2, (1 + level) / 2]
    table = replicates.quantile(tails).T
    table.columns = ["lower", "upper"]
    return table


def _refit(fit, response: np.ndarray) -> np.ndarray | None:
    """The parameters refitted to ``response``, or ``None`` if the refit fails."""
    spec = replace(fit.spec, y=response, fixed_xty=None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            refit = refit_spec(spec, reml=fit.reml)
    except (ConvergenceWarning, np.linalg.LinAlgError, ArithmeticError):
        return None
    est = refit.estimates
    variance = theta_to_sdcor(refit.layout, refit.theta, est.sigma)
    return np.concatenate([variance, est.beta])


def _random_part(spec, effects: list[np.ndarray]) -> np.ndarray:
    """``Z b`` of the spec's rows for effects ``b`` (levels x k per factor)."""
    total = np.zeros(spec.nobs)
    for factor, values in zip(spec.factors, effects, strict=True):
        total = total + np.einsum("ik,ik->i", factor.columns(), values[factor.codes])
    return total


def check_bootstrappable(fit, nsim: int) -> None:
    """Refuse a fit without its rows in memory, or an ``nsim`` that is not a positive integer."""
    if not fit.spec.holds_rows:
        raise ModelError(
            "The parametric bootstrap simulates responses row by row and needs the rows in "
            "memory: fit the model on a pandas DataFrame (not a Dask DataFrame)."
        )
    if isinstance(nsim, bool) or not isinstance(nsim, int | np.integer) or nsim < 1:
        raise ModelError(f"nsim must be a positive integer, got {nsim!r}.")


class _Progress:
    """A one-line progress display on standard error, updated at most every 0.2 s."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total = total
        self.done = 0
        self.enabled = enabled
        self.started = time.perf_counter()
        self.shown = -np.inf

    def update(self) -> None:
        self.done += 1
        now = time.perf_counter()
        if self.enabled and (now - self.shown >= _PROGRESS_INTERVAL or self.done == self.total):
            self.shown = now
            width = 30
            filled = int(width * self.done / self.total)
            bar = "#" * filled + "-" * (width - filled)
            elapsed = now - self.started
            sys.stderr.write(f"\rbootstrap [{bar}] {self.done}/{self.total} ({elapsed:.1f} s)")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()
