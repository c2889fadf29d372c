"""Confidence and prediction intervals for the predictions of a linear mixed model.

A prediction ``x'beta_hat + z'b_hat`` for a row of a level seen in the fit
estimates ``x'beta + z'b``. With the variance parameters held at their
estimates (theta_hat, sigma_hat), the error of that estimate is normal with
variance ``sigma^2 c' C^-1 c``, where ``C`` is the coefficient matrix of
the mixed-model equations in the spherical parameterization,

    C = [Lambda'Z'Z Lambda + I   Lambda'Z'X]      c = [Lambda'z]
        [X'Z Lambda              X'X       ],         [x       ]

(Henderson's prediction error variance: the conditional covariance of
``(b, beta)`` given the data, flat prior on beta). It is read exactly off
the blocked Cholesky factor of the fit, ``c'C^-1c = |L^-1 c|^2``: this
includes the fixed effects' variance (``vcov``), each level's conditional
covariance (``condcov``), the covariance between ``beta_hat`` and
``b_hat`` and, for crossed factors, between the levels' effects.

- ``interval="confidence"`` covers ``x'beta + z'b``: variance as above.
- ``interval="prediction"`` covers a new observation: ``sigma^2`` is added.
- A level not seen in the fit (or missing) gets the population prediction,
  and the variance of a new level's effect, ``z' Sigma_f z``, is added.
- With ``include_random=False`` the prediction is ``x'beta_hat``: its
  confidence interval covers ``x'beta`` (variance ``x' vcov x``); its
  prediction interval covers a new observation of new levels, adding
  ``z' Sigma_f z`` of every factor and ``sigma^2``.

The intervals are ``fit +- z_{(1+level)/2} sd`` with normal quantiles: the
uncertainty of theta_hat and sigma_hat is not accounted for, so they are
slightly too narrow with few levels or few rows.
"""

from __future__ import annotations

import weakref

import numpy as np
import pandas as pd
import scipy.linalg as sla
import scipy.sparse as sp
from scipy import stats

from bayeshier.errors import ModelError
from bayeshier.reml._blas import blas_threads_for
from bayeshier.reml.crossprod import CrossProducts, cross_products
from bayeshier.reml.factor import BlockedFactor, factorize, scale_rest_rows

__all__ = ["INTERVALS", "prediction_intervals"]

INTERVALS = ("confidence", "prediction")
#: New rows handled at once (bounds the dense right-hand sides in memory).
_CHUNK = 2048

_FACTORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def prediction_intervals(
    fit,
    newdata: pd.DataFrame,
    prediction: pd.Series,
    *,
    include_random: bool,
    interval: str,
    level: float,
) -> pd.DataFrame:
    """Intervals around ``prediction`` (``fit.predict(newdata, include_random)``).

    Returns
    -------
    pandas.DataFrame
        Columns ``fit``, ``lower`` and ``upper``, indexed like ``newdata``.

    """
    if interval not in INTERVALS:
        raise ModelError(f"interval must be None, 'confidence' or 'prediction', got {interval!r}.")
    if not 0 < level < 1:
        raise ModelError(f"level must be between 0 and 1 (e.g. 0.95), got {level!r}.")
    variance = prediction_variance(fit, newdata, include_random, interval == "prediction")
    half = stats.norm.ppf((1 + level) / 2) * np.sqrt(variance)
    values = prediction.to_numpy()
    table = pd.DataFrame(
        {"fit": values, "lower": values - half, "upper": values + half}, index=newdata.index
    )
    table.attrs = {"interval": interval, "level": level}
    return table


def prediction_variance(
    fit, newdata: pd.DataFrame, include_random: bool, new_observation: bool
) -> np.ndarray:
    """Variance of the prediction error of every row of ``newdata`` (see the module notes)."""
    spec = fit.spec
    X = spec.fixed_design(newdata)
    designs = [factor.design_for(newdata) for factor in spec.factors]
    if include_random:
        codes = [factor.codes_for(newdata) for factor in spec.factors]
    else:
        codes = [np.full(len(newdata), -1) for _ in spec.factors]
    cp, factor = _factor_of(fit)
    estimated = np.empty(len(newdata))
    with blas_threads_for(cp.rest.shape[0]):
        for start in range(0, len(newdata), _CHUNK):
            rows = slice(start, start + _CHUNK)
            estimated[rows] = _spherical_norms(
                cp, factor, X[rows], [d[rows] for d in designs], [c[rows] for c in codes]
            )
    variance = fit.sigma**2 * estimated
    if include_random or new_observation:
        for grouping, design, code in zip(spec.factors, designs, codes, strict=True):
            covariance = fit.covariances[grouping.name].to_numpy()
            new_level = np.einsum("ik,kl,il->i", design, covariance, design)
            variance = variance + np.where(code < 0, new_level, 0.0)
    if new_observation:
        variance = variance + fit.sigma**2
    return variance


def _factor_of(fit) -> tuple[CrossProducts, BlockedFactor]:
    """The cross products and blocked factor at the fit's theta (computed once per fit)."""
    if fit not in _FACTORS:
        cp = cross_products(fit.spec)
        _FACTORS[fit] = (cp, factorize(cp, fit.layout.relative_factors(fit.theta)))
    return _FACTORS[fit]


def _spherical_norms(
    cp: CrossProducts,
    factor: BlockedFactor,
    X: np.ndarray,
    designs: list[np.ndarray],
    codes: list[np.ndarray],
) -> np.ndarray:
    """``|L^-1 c|^2`` for the rows' vectors ``c`` (level ``-1``: that factor left out).

    With ``L = [[L11, 0], [L21, L22]]`` and ``L11 L11' = A11`` block diagonal,
    ``|L^-1 c|^2 = c1'A11^-1 c1 + |L22^-1 (c2 - M21 A11^-1 c1)|^2``, where
    ``M21 A11^-1 c1`` only involves the level of the row in the first factor.
    """
    m = X.shape[0]
    q, p = cp.q_rest, cp.n_fixed
    first_codes, first_design = codes[0], designs[0]
    seen = first_codes >= 0
    weights = factor.first_weights()[np.maximum(first_codes, 0)]
    h = np.where(seen[:, None], np.einsum("ikl,il->ik", weights, first_design), 0.0)
    first_part = np.einsum("ik,ik->i", first_design, h)
    k1 = cp.columns[0]
    columns = (np.maximum(first_codes, 0)[:, None] * k1 + np.arange(k1)).ravel()
    H = sp.csc_matrix(
        (h.ravel(), (columns, np.repeat(np.arange(m), k1))), shape=(cp.first_sums.shape[0], m)
    )
    rhs = np.empty((q + p, m))
    rhs[:q] = _rest_columns(cp, designs[1:], codes[1:], m) - (cp.first_by_rest @ H).toarray()
    r_inv_t_x = sla.solve_triangular(cp.R, X.T, trans="T", check_finite=False)
    rhs[q:] = r_inv_t_x - np.asarray(H.T @ cp.first_sums[:, :p]).T
    rhs = scale_rest_rows(cp, factor.relative, rhs)
    solved = sla.solve_triangular(
        factor.rest[: q + p, : q + p], rhs, lower=True, check_finite=False
    )
    return first_part + np.einsum("ij,ij->j", solved, solved)


def _rest_columns(
    cp: CrossProducts, designs: list[np.ndarray], codes: list[np.ndarray], m: int
) -> np.ndarray:
    """``z_r`` of every row in the rest block's coordinates (q_rest x m, unscaled)."""
    block = np.zeros((cp.q_rest, m))
    offset = 0
    for size, k, design, code in zip(cp.rest_sizes, cp.columns[1:], designs, codes, strict=True):
        seen = np.flatnonzero(code >= 0)
        for r in range(k):
            block[offset + code[seen] * k + r, seen] = design[seen, r]
        offset += size
    return block
