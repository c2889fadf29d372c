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

Weights and offsets
-------------------
A model fitted with ``weights=`` or an offset (``offset=`` or an
``offset()`` term) gets the baselines R's ``lm`` gives with the same
arguments: weighted least squares (``lm(..., weights = w)``: every row
scaled by ``sqrt(w)``) of ``y - offset`` (``lm(y ~ ... + offset(o))``), so
the columns compare like with like. :func:`least_squares_rows` applies both;
:func:`ols_fit`, :func:`no_pooling_coefficients` and :func:`within_slopes`
use it, and :func:`no_pooling_formula` writes them into the ``lm`` call.

Only least squares here: no REML, no posterior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayeshier.spec.model_spec import GroupingFactor, ModelSpec
from bayeshier.spec.tree import deparse

__all__ = [
    "least_squares_rows",
    "lm_extras",
    "no_pooling",
    "no_pooling_coefficients",
    "no_pooling_formula",
    "ols",
    "ols_fit",
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


def least_squares_rows(spec: ModelSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows least squares works on: ``sqrt(w) X``, ``sqrt(w) (y - offset)`` and ``sqrt(w)``.

    Without weights ``sqrt(w)`` is 1 and without an offset it is 0, so an
    unweighted model's rows come back as they are. Ordinary least squares on
    them is ``lm(y ~ X + offset(o), weights = w)``.

    Returns
    -------
    X, y, root_weights : numpy.ndarray
        Design (n x p), response (n) and ``sqrt(w)`` (n).

    """
    X, y = spec.X, spec.y
    root = np.ones(len(y)) if spec.weights is None else np.sqrt(np.asarray(spec.weights, float))
    if spec.offset is not None:
        y = y - np.asarray(spec.offset, dtype=float)
    return X * root[:, None], y * root, root


def ols_fit(spec: ModelSpec) -> tuple[np.ndarray, np.ndarray, float]:
    """``lm(y ~ fixed part)`` of a model, with its weights and offset (see :func:`ols`)."""
    X, y, _ = least_squares_rows(spec)
    return ols(X, y)


def lm_extras(spec: ModelSpec) -> str:
    """``", weights = w"`` (and offset) as the ``lm`` call of the baselines needs them.

    An ``offset()`` term is in the formula already; an ``offset=`` argument
    is written as ``offset = <its text>`` (``offset = (values)`` when it was
    given as values), weights likewise.
    """
    recipe = spec.recipe
    parts = []
    for key, present in (("weights", spec.has_weights), ("offset", _argument_offset(spec))):
        if present:
            node = getattr(recipe, key, None)
            parts.append(f"{key} = {deparse(node) if node is not None else '(values)'}")
    return "".join(f", {part}" for part in parts)


def _argument_offset(spec: ModelSpec) -> bool:
    recipe = spec.recipe
    return recipe is not None and (recipe.offset is not None or recipe.offset_array is not None)


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
    offsets = spec.formula.fixed_terms.offsets if spec.formula.fixed_terms is not None else ()
    terms += [f"offset({deparse(o)})" for o in offsets]
    return f"lm({spec.response} ~ 0 + {' + '.join(terms)}{lm_extras(spec)})"


@dataclass(frozen=True)
class _WithinFit:
    coefficients: np.ndarray  # levels x k
    slopes: np.ndarray  # other fixed columns


def _within_fit(spec: ModelSpec, grouping: GroupingFactor) -> _WithinFit:
    """Per-level coefficients of the random-effect columns and common other slopes."""
    X_all, y, root = least_squares_rows(spec)  # weights and offset applied
    Z = grouping.columns() * root[:, None]
    others = _other_columns(spec, grouping)
    projector = _level_projector(grouping, Z)
    y_within = y - _project(grouping, Z, projector, y)
    slopes = np.zeros(len(others))
    if others:
        X = X_all[:, others]
        X_within = X - _project(grouping, Z, projector, X)
        slopes = np.linalg.lstsq(X_within, y_within, rcond=1e-10)[0]
        residual = y - X @ slopes
    else:
        residual = y
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
