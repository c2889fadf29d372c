"""Where the chains start: the REML estimates and BLUPs, in each parameterization.

For every grouping factor, :func:`factor_start` gives the BLUPs, the scale of
the standardized coordinates of its centered form (``sqrt(condVar)``, or with
random slopes the Cholesky factors of the levels' conditional covariances)
and the starting values of its variables when it is centered and when it is
non-centered; the :class:`~bayeshier.bayes.plan.SamplingPlan` keeps the one
its parameterization needs. The fixed effects start at REML too
(:func:`bayeshier.bayes.fixed_scale.fixed_start`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bayeshier.bayes.moments import Moments
from bayeshier.bayes.names import corr_chol_name, noncentered_name, sd_component_name
from bayeshier.bayes.priors import random_column_scales, sd_term
from bayeshier.reml import RemlFit
from bayeshier.spec.model_spec import GroupingFactor

__all__ = ["MIN_START_EIGENVALUE", "FactorStart", "factor_start", "start_correlation"]

#: A starting correlation matrix is shrunk towards the identity until its smallest
#: eigenvalue is at least this (a singular REML fit has a correlation of +-1).
MIN_START_EIGENVALUE = 0.05


class FactorStart(NamedTuple):
    """One factor's BLUPs, their scale, and its starting values per parameterization.

    Attributes
    ----------
    loc : numpy.ndarray
        BLUPs: per level, or levels x k with random slopes.
    scale : numpy.ndarray
        ``sqrt(condVar)`` per level, or with random slopes the levels x k x k
        Cholesky factors of the conditional covariances.
    values : dict
        ``"centered"`` and ``"noncentered"`` -> variable name -> starting value.

    """

    loc: np.ndarray
    scale: np.ndarray
    values: dict[str, dict[str, np.ndarray]]


def factor_start(
    factor: GroupingFactor, fit: RemlFit, covariance: np.ndarray, columns: Moments | None
) -> FactorStart:
    """The start of one factor from its REML covariance (``columns``: its columns' moments)."""
    if factor.intercept_only:
        return _intercept_start(factor, fit, covariance)
    return _slope_start(factor, fit, covariance, random_column_scales(columns))


def _intercept_start(factor: GroupingFactor, fit: RemlFit, covariance: np.ndarray) -> FactorStart:
    """A random intercept: BLUPs, ``sqrt(condVar)`` and the starting values."""
    name = factor.name
    sigma = float(fit.sigma)
    sd = float(np.sqrt(covariance[0, 0]))
    blup = fit.ranef[name]["Intercept"].reindex(factor.levels).to_numpy(dtype=float)
    condvar = fit.condvar[name]["Intercept"].reindex(factor.levels).to_numpy(dtype=float)
    sd_start = max(sd, 0.1 * sigma, 1e-8)
    scale = np.sqrt(np.maximum(condvar, (1e-3 * sd_start) ** 2))
    common = {sd_term(name): np.asarray(sd_start)}
    values = {
        "centered": {**common, name: blup},
        "noncentered": {**common, noncentered_name(name): blup / sd_start},
    }
    return FactorStart(blup, scale, values)


def _slope_start(
    factor: GroupingFactor, fit: RemlFit, covariance: np.ndarray, scales: np.ndarray
) -> FactorStart:
    """A factor with random slopes: the same from its covariance and conditional covariances.

    The sds start at REML, at least ``0.1 sigma / s_x`` (``s_x`` the column's
    scale in ``scales``, see :func:`bayeshier.bayes.priors.random_column_scales`); the
    correlations at REML, shrunk towards 0 when nearly singular
    (:data:`MIN_START_EIGENVALUE`).
    """
    name = factor.name
    sigma = float(fit.sigma)
    terms = list(factor.terms)
    blup = fit.ranef[name][terms].reindex(factor.levels).to_numpy(dtype=float)
    condcov = np.asarray(fit.condcov[name], dtype=float)
    sds = np.sqrt(np.diag(covariance))
    sd_start = np.maximum(sds, np.maximum(0.1 * sigma / scales, 1e-8))
    correlation = start_correlation(covariance, factor.blocks)
    chol = sd_start[:, None] * np.linalg.cholesky(correlation)
    floor = (1e-3 * sd_start) ** 2 * np.eye(len(terms))
    scale = np.linalg.cholesky(condcov + floor)
    common = {sd_component_name(name, r): np.asarray(v) for r, v in enumerate(sd_start)}
    offset = 0
    for block, size in enumerate(factor.blocks):
        if size > 1:
            piece = correlation[offset : offset + size, offset : offset + size]
            common[corr_chol_name(name, block)] = np.linalg.cholesky(piece)
        offset += size
    values = {
        "centered": {**common, name: blup},
        "noncentered": {**common, noncentered_name(name): np.linalg.solve(chol, blup.T).T},
    }
    return FactorStart(blup, scale, values)


def start_correlation(covariance: np.ndarray, blocks: tuple[int, ...]) -> np.ndarray:
    """The REML correlation matrix (zero across blocks), shrunk towards I if nearly singular.

    A zero sd gives zero correlations in its row and column; the matrix is
    shrunk towards the identity until its smallest eigenvalue is at least
    :data:`MIN_START_EIGENVALUE`, so that its Cholesky factor is a valid start.
    """
    sds = np.sqrt(np.diag(covariance))
    outer = np.outer(sds, sds)
    correlation = np.divide(covariance, outer, out=np.zeros_like(covariance), where=outer > 0)
    mask = np.zeros_like(correlation, dtype=bool)
    offset = 0
    for size in blocks:
        mask[offset : offset + size, offset : offset + size] = True
        offset += size
    correlation = np.where(mask, np.clip(correlation, -1.0, 1.0), 0.0)
    np.fill_diagonal(correlation, 1.0)
    smallest = float(np.linalg.eigvalsh(correlation).min())
    if smallest < MIN_START_EIGENVALUE:
        weight = (1.0 - MIN_START_EIGENVALUE) / (1.0 - smallest)
        correlation = weight * correlation + (1.0 - weight) * np.eye(len(sds))
    return correlation
