"""The OLS and no-pooling baselines that :func:`bayeshier.compare` sets beside REML/BLUP.

:func:`ols`
    ``lm(y ~ fixed part)``: every row independent (the ``ols``/``ols_se``
    columns of the ``fixed`` table).
:func:`no_pooling` and :func:`no_pooling_coefficients`
    Each level's own coefficients, ``lm(y ~ 0 + g + other fixed terms)``
    (the factor as a fixed effect, level-means coding), or with random
    slopes ``lm(y ~ 0 + g/(1 + x) + other fixed terms)``; other grouping
    factors are ignored. :func:`no_pooling_formula` writes that ``lm`` call.
:func:`within_slopes`
    The common slopes of the other fixed terms in that fit (the "within"
    estimates that GLS moves toward as the groups' weight grows).

Only least squares here: no REML, no posterior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayeshier.spec.model_spec import GroupingFactor, ModelSpec

__all__ = [
    "no_pooling",
    "no_pooling_coefficients",
    "no_pooling_formula",
    "ols",
    "within_slopes",
]


def ols(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Least squares: coefficients, their standard errors and the residual sd (as R's ``lm``).

    Parameters
    ----------
    X : numpy.ndarray
        Design (n x p) of full column rank.
    y : numpy.ndarray
        Response.

    Returns
    -------
    coef, se : numpy.ndarray
    sigma : float
        ``sqrt(RSS / (n - p))``.

    """
    Q, R = np.linalg.qr(X)
    coef = np.linalg.solve(R, Q.T @ y)
    residual = y - X @ coef
    dof = X.shape[0] - X.shape[1]
    sigma = float(np.sqrt(residual @ residual / dof))
    R_inv = np.linalg.inv(R)
    se = sigma * np.sqrt(np.sum(R_inv**2, axis=1))
    return coef, se, sigma


def no_pooling(spec: ModelSpec, factor: str) -> pd.Series:
    """Each level's own intercept: ``lm(y ~ 0 + g + other fixed terms)``, level-means coding.

    The level intercepts are ``mean_j(y) - mean_j(x) . slopes`` with the
    within-group slopes of :func:`within_slopes`. Other grouping factors are
    ignored. With random slopes see :func:`no_pooling_coefficients`.

    Returns
    -------
    pandas.Series
        Indexed by level.

    """
    return no_pooling_coefficients(spec, factor).iloc[:, 0]


def no_pooling_coefficients(spec: ModelSpec, factor: str) -> pd.DataFrame:
    """Each level's own coefficients of the factor's random-effect columns.

    The least-squares fit with one coefficient per level and random-effect
    column (``lm(y ~ 0 + g/(1 + x) + other fixed terms)`` for ``(x|g)``) and
    common slopes for the other fixed terms (:func:`within_slopes`): the
    common slopes come from the rows with each level's own fit projected
    out (Frisch-Waugh-Lovell), then each level's coefficients from its own
    rows. A level whose columns are collinear within it (e.g. one value of
    ``x``) gets NaN. Other grouping factors are ignored.

    Returns
    -------
    pandas.DataFrame
        Levels x terms (the factor's ``terms``).

    """
    grouping = spec.factor(factor)
    fit = _within_fit(spec, grouping)
    index = pd.Index(grouping.levels, name=grouping.name)
    return pd.DataFrame(fit.coefficients, index=index, columns=list(grouping.terms))


def within_slopes(spec: ModelSpec, factor: str) -> pd.Series:
    """Slopes of the other fixed terms with ``factor`` as a fixed effect.

    By the Frisch-Waugh-Lovell theorem these are the slopes of
    ``lm(y ~ 0 + g + other fixed terms)``: regress group-demeaned ``y`` on the
    group-demeaned columns (with random slopes, the residuals of each
    level's own fit on its random-effect columns). A column constant within
    every level (aliased with the factor) gets slope 0 where R would report NA.

    Returns
    -------
    pandas.Series
        Indexed by term (empty for an intercept-only model).

    """
    grouping = spec.factor(factor)
    names = [spec.fixed_names[j] for j in _other_columns(spec, grouping)]
    return pd.Series(_within_fit(spec, grouping).slopes, index=pd.Index(names, dtype=object))


def no_pooling_formula(spec: ModelSpec, factor: str) -> str:
    """The ``lm`` formula behind the ``no_pooling`` column of ``factor``."""
    grouping = spec.factor(factor)
    own = factor
    if not grouping.intercept_only:
        slopes = [t for t in grouping.terms if t != "Intercept"]
        intercept = "1" if "Intercept" in grouping.terms else "0"
        own = f"{factor}/({' + '.join([intercept, *slopes])})"
    terms = [own, *(spec.fixed_names[j] for j in _other_columns(spec, grouping))]
    return f"lm({spec.response} ~ 0 + {' + '.join(terms)})"


@dataclass(frozen=True)
class _WithinFit:
    coefficients: np.ndarray  # levels x k
    slopes: np.ndarray  # other fixed columns


def _within_fit(spec: ModelSpec, grouping: GroupingFactor) -> _WithinFit:
    """Per-level coefficients of the random-effect columns and common other slopes."""
    Z = grouping.columns()
    others = _other_columns(spec, grouping)
    projector = _level_projector(grouping, Z)
    y_within = spec.y - _project(grouping, Z, projector, spec.y)
    slopes = np.zeros(len(others))
    if others:
        X = spec.X[:, others]
        X_within = X - _project(grouping, Z, projector, X)
        slopes = np.linalg.lstsq(X_within, y_within, rcond=1e-10)[0]
        residual = spec.y - X @ slopes
    else:
        residual = spec.y
    coefficients = np.einsum("jrs,js->jr", projector, _level_cross(grouping, Z, residual))
    coefficients[~_estimable(grouping, Z)] = np.nan
    return _WithinFit(coefficients, slopes)


def _other_columns(spec: ModelSpec, grouping: GroupingFactor) -> list[int]:
    """Fixed-effect columns that are not among the factor's random-effect columns."""
    return [j for j, name in enumerate(spec.fixed_names) if name not in grouping.terms]


def _level_cross(grouping: GroupingFactor, Z: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``Z_j' v`` per level (levels x k, or levels x k x m for a matrix ``v``)."""
    n = grouping.n_levels
    columns = values if values.ndim == 2 else values[:, None]
    sums = np.stack(
        [
            np.column_stack(
                [
                    np.bincount(grouping.codes, weights=Z[:, r] * columns[:, m], minlength=n)
                    for m in range(columns.shape[1])
                ]
            )
            for r in range(Z.shape[1])
        ],
        axis=1,
    )
    return sums if values.ndim == 2 else sums[:, :, 0]


def _level_projector(grouping: GroupingFactor, Z: np.ndarray) -> np.ndarray:
    """``(Z_j'Z_j)^+`` per level (pseudo-inverse, so collinear levels do no harm)."""
    return np.linalg.pinv(_level_cross(grouping, Z, Z), hermitian=True)


def _project(
    grouping: GroupingFactor, Z: np.ndarray, projector: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """Each row's fitted value from its own level's least squares on ``Z``."""
    coefficients = projector @ _level_cross(grouping, Z, values).reshape(
        grouping.n_levels, Z.shape[1], -1
    )
    fitted = np.einsum("ir,irm->im", Z, coefficients[grouping.codes])
    return fitted if values.ndim == 2 else fitted[:, 0]


def _estimable(grouping: GroupingFactor, Z: np.ndarray) -> np.ndarray:
    """Levels whose own random-effect columns have full rank."""
    ranks = np.linalg.matrix_rank(_level_cross(grouping, Z, Z), hermitian=True)
    return ranks == Z.shape[1]
