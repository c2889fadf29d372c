"""Shrinkage of random intercepts: the BLUP *is* a normal-normal posterior mean.

For a random-intercept factor with standard deviation ``sigma_b``, residual
standard deviation ``sigma`` and ``n_j`` rows in level ``j``, the weight the
data get is

    lambda_j = sigma_b^2 / (sigma_b^2 + sigma^2 / n_j),

the share of its own deviation that the level's BLUP *keeps*: the tables
here call it ``kept`` (1: no pooling, 0: complete pooling) and its
complement ``pooling = 1 - lambda_j`` (the share pulled to the population
mean; "shrinkage" in words). The BLUP is
``b_j = lambda_j * (mean of y - X beta_hat over level j)`` with conditional
variance ``lambda_j * sigma^2 / n_j = (1/sigma_b^2 + n_j/sigma^2)^-1``
(lme4's ``condVar``). That is exactly the posterior of
``b_j`` under the prior ``N(0, sigma_b^2)`` combined with the likelihood
``N(data_mean_j, sigma^2 / n_j)``: :func:`normal_prior_posterior` lays the two
pieces and their precision-weighted combination side by side.

Several grouping factors (crossed or nested)
--------------------------------------------
``lambda_j`` is computed with the same formula for each factor, from that
factor's ``sigma_f`` and its levels' row counts. It is the weight given *the
other factors' BLUPs*: the level's data mean is then taken over the partial
residuals ``y - X beta_hat - (BLUPs of the other factors)``, and
``lambda_j * data_mean_j`` still equals the BLUP exactly (the mixed-model
equations solved one factor at a time). The matching variance
``lambda_j * sigma^2 / n_j`` holds the other effects fixed, so it is at most
lme4's ``condVar``, which also accounts for their uncertainty.

The classic demonstration lives in :mod:`bayeshier.present.scenarios`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bayeshier.errors import ModelError
from bayeshier.reml import RemlFit
from bayeshier.spec.model_spec import GroupingFactor

__all__ = [
    "curves",
    "factor_sd",
    "level_weights",
    "normal_prior_posterior",
    "population_intercept",
    "variance_ratio",
    "weights",
]


# ----------------------------------------------------------------- weights
def weights(sd_group: float, sigma: float, counts: np.ndarray | Sequence[float]) -> np.ndarray:
    """The shares groups keep, ``lambda = sd_group^2 / (sd_group^2 + sigma^2 / n)``.

    Parameters
    ----------
    sd_group : float
        Standard deviation of the group effects (0 gives weight 0: complete pooling).
    sigma : float
        Residual standard deviation (must be positive).
    counts : array_like
        Rows per group.

    Returns
    -------
    numpy.ndarray
        One weight in [0, 1) per group: the ``kept`` column of the tables
        (``1 - lambda`` is their ``pooling``).

    """
    counts = np.asarray(counts, dtype=float)
    prior_var = float(sd_group) ** 2
    return prior_var / (prior_var + float(sigma) ** 2 / counts)


def factor_sd(fit: RemlFit, name: str) -> float:
    """REML/ML estimate of the standard deviation of grouping factor ``name``."""
    covariance = fit.covariances[fit.spec.factor(name).name]
    return float(np.sqrt(covariance.loc["Intercept", "Intercept"]))


def variance_ratio(fit: RemlFit, name: str) -> float:
    """``sd_f^2 / sigma^2`` of grouping factor ``name``: the curve of :func:`curves` it sits on."""
    return (factor_sd(fit, name) / fit.sigma) ** 2


def population_intercept(fit: RemlFit) -> float:
    """The fixed intercept (the population mean the BLUPs shrink toward), 0 without one."""
    return float(fit.fixef.get("Intercept", 0.0))


def level_weights(fit: RemlFit) -> pd.DataFrame:
    """The share ``kept`` (and ``pooling``) of every level of every grouping factor.

    Parameters
    ----------
    fit : RemlFit
        A random-intercept fit.

    Returns
    -------
    pandas.DataFrame
        Columns ``factor``, ``level``, ``n`` (rows in the level), ``kept``:
        ``lambda_j = sd_f^2 / (sd_f^2 + sigma^2 / n_j)``, the share of the
        level's own (residual) mean that its BLUP keeps, and ``pooling``,
        ``1 - kept``. With several factors ``kept`` is the weight given the
        other factors' BLUPs (see the module notes).

    """
    blocks = []
    for factor in fit.spec.factors:
        _require_intercept_only(factor)
        counts = factor.counts()
        kept = weights(factor_sd(fit, factor.name), fit.sigma, counts)
        blocks.append(
            pd.DataFrame(
                {
                    "factor": factor.name,
                    "level": list(factor.levels),
                    "n": counts,
                    "kept": kept,
                    "pooling": 1.0 - kept,
                }
            )
        )
    return pd.concat(blocks, ignore_index=True)


# --------------------------------------------------- the normal-normal view
def normal_prior_posterior(fit: RemlFit, factor: str | None = None) -> pd.DataFrame:
    """The BLUPs as the posterior of a normal prior and a normal likelihood.

    Parameters
    ----------
    fit : RemlFit
        A random-intercept fit.
    factor : str, optional
        Grouping factor to show; required when the model has several.

    Returns
    -------
    pandas.DataFrame
        Indexed by level (index name: the factor), columns

        ``prior_sd``
            ``sigma_b``, the estimated sd of the group effects (prior ``N(0, sigma_b^2)``).
        ``data_mean``
            The level's mean residual at ``beta_hat``: mean over its rows of
            ``y - X beta_hat`` (minus the other factors' BLUPs, if any).
        ``data_var``
            ``sigma^2 / n_j``, the variance of that mean.
        ``kept``
            ``lambda_j``, the data's share of the total precision: the share
            of ``data_mean`` the posterior mean (the BLUP) keeps.
        ``pooling``
            ``1 - lambda_j``, the prior's share: how far the BLUP is pooled
            toward the population mean.
        ``posterior_mean``, ``posterior_var``
            ``lambda_j * data_mean`` and ``(1/sigma_b^2 + 1/data_var)^-1``:
            the BLUP and (for one factor) lme4's ``condVar``. With
            ``sigma_b = 0`` the posterior is the prior: mean 0, variance 0.

        ``attrs`` hold ``factor``, ``center`` (the fixed intercept: add it to
        put every column on the scale of the level means) and ``response``.

    Examples
    --------
    >>> from bayeshier import datasets, fit_reml
    >>> fit = fit_reml("Yield ~ 1 + (1|Batch)", datasets.load("dyestuff"))
    >>> table = normal_prior_posterior(fit)
    >>> bool(abs(table["posterior_mean"] - fit.ranef["Batch"]["Intercept"]).max() < 1e-10)
    True

    """
    grouping = _choose_factor(fit, factor)
    counts = grouping.counts().astype(float)
    prior_sd = factor_sd(fit, grouping.name)
    data_var = fit.sigma**2 / counts
    kept = weights(prior_sd, fit.sigma, counts)
    data_mean = (
        np.bincount(
            grouping.codes, weights=partial_residuals(fit, grouping.name), minlength=len(counts)
        )
        / counts
    )
    table = pd.DataFrame(
        {
            "prior_sd": prior_sd,
            "data_mean": data_mean,
            "data_var": data_var,
            "kept": kept,
            "pooling": 1.0 - kept,
            "posterior_mean": kept * data_mean,
            "posterior_var": kept * data_var,
        },
        index=pd.Index(grouping.levels, name=grouping.name),
    )
    table.attrs.update(
        factor=grouping.name, center=population_intercept(fit), response=fit.spec.response
    )
    return table


def partial_residuals(fit: RemlFit, name: str) -> np.ndarray:
    """``y - X beta_hat`` minus the BLUPs of every factor other than ``name``."""
    residual = fit.spec.y - fit.spec.X @ fit.fixef.to_numpy()
    for other in fit.spec.factors:
        if other.name != name:
            effects = fit.ranef[other.name].to_numpy()[other.codes]
            residual = residual - np.einsum("ik,ik->i", other.columns(), effects)
    return residual


def _choose_factor(fit: RemlFit, name: str | None) -> GroupingFactor:
    if name is not None:
        return _require_intercept_only(fit.spec.factor(name))
    if len(fit.spec.factors) > 1:
        names = ", ".join(repr(f.name) for f in fit.spec.factors)
        raise ModelError(
            f"The model has several grouping factors ({names}): choose one with factor=."
        )
    return _require_intercept_only(fit.spec.factors[0])


def _require_intercept_only(factor: GroupingFactor) -> GroupingFactor:
    """The scalar weights here are for random intercepts; say where slopes are shown."""
    if not factor.intercept_only:
        raise ModelError(
            f"The grouping factor {factor.name!r} has random slopes ({', '.join(factor.terms)}): "
            "its shrinkage is a matrix, not the scalar lambda_j of a random intercept. Use "
            "bayeshier.compare(fit) (per-term rows) and bayeshier.plots.shrinkage_2d."
        )
    return factor


# ------------------------------------------------------- the kept curves
def curves(
    ratios: Sequence[float], sizes: Sequence[float] | np.ndarray | None = None
) -> pd.DataFrame:
    """The share a group keeps, ``lambda``, against group size for several variance ratios.

    Parameters
    ----------
    ratios : sequence of float
        Variance ratios ``sigma_b^2 / sigma^2``.
    sizes : array_like, optional
        Group sizes ``n`` (default: 60 sizes from 1 to 1000, log-spaced).

    Returns
    -------
    pandas.DataFrame
        Tidy: columns ``ratio``, ``n``, ``kept`` (``ratio / (ratio + 1/n)``)
        and ``pooling`` (``1 - kept``).

    """
    n = np.geomspace(1, 1000, 60) if sizes is None else np.asarray(sizes, dtype=float)
    blocks = []
    for ratio in ratios:
        kept = weights(np.sqrt(ratio), 1.0, n)
        blocks.append(
            pd.DataFrame({"ratio": float(ratio), "n": n, "kept": kept, "pooling": 1 - kept})
        )
    return pd.concat(blocks, ignore_index=True)
