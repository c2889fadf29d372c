"""The Gaussian likelihood from per-cell sufficient statistics.

A cell is a combination of levels of all grouping factors. Every row of a
cell shares its group effects, so the residual sum of squares needs only
per-cell sums of the OLS residual and of the rows of ``Q`` (the thin QR of
the centred design): a gradient costs O(cells x p) rather than O(n x p), and
the log density equals the pointwise one exactly.

With random slopes a row's group effect is ``z_i' b_j`` (``z_i`` its
random-effect columns), so the cell sums also weight by the columns: per
cell ``W'W``, ``W'e`` and ``W'Q`` with ``W`` the rows' random-effect columns
of all factors side by side (see :class:`SlopeSums`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from bayeshier.internal_scale import InternalDesign
from bayeshier.spec import ModelSpec

__all__ = [
    "LOG_2PI",
    "Cells",
    "SlopeSums",
    "cell_statistics",
    "residual_statistics",
    "sufficient_loglik",
]

LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True, eq=False)
class SlopeSums:
    """Per-cell sums weighted by the random-effect columns (models with random slopes).

    ``W`` is the n x K matrix of every factor's random-effect columns side by
    side (a column of ones for a random intercept); factor ``f`` owns the
    columns ``offsets[f]:offsets[f + 1]``.

    Attributes
    ----------
    offsets : tuple of int
        Column offsets of the factors in ``W`` (length factors + 1).
    sum_w : numpy.ndarray
        Per-cell column sums of ``W`` (cells x K).
    cross : numpy.ndarray
        Per-cell ``W'W`` (cells x K x K).
    w_resid : numpy.ndarray
        Per-cell ``W'e``, ``e`` the OLS residual (cells x K).
    w_q : numpy.ndarray
        Per-cell ``W'Q`` (cells x K x p).

    """

    offsets: tuple[int, ...]
    sum_w: np.ndarray
    cross: np.ndarray
    w_resid: np.ndarray
    w_q: np.ndarray


@dataclass(frozen=True, eq=False)
class Cells:
    """Sufficient statistics per cell (one combination of levels of all factors).

    Attributes
    ----------
    codes : list of numpy.ndarray
        For each factor (spec order), the level of every cell.
    counts : numpy.ndarray
        Rows per cell.
    sum_q : numpy.ndarray
        Per-cell sums of the rows of ``Q`` (cells x p).
    sum_resid : numpy.ndarray
        Per-cell sums of the OLS residual.
    slopes : SlopeSums or None
        The column-weighted sums when a factor has random slopes, else None.

    """

    codes: list[np.ndarray]
    counts: np.ndarray
    sum_q: np.ndarray
    sum_resid: np.ndarray
    slopes: SlopeSums | None = None


def cell_statistics(spec: ModelSpec, design: InternalDesign) -> Cells:
    """Group rows into cells (combinations of levels) and sum what the likelihood needs."""
    stacked = np.column_stack([f.codes for f in spec.factors])
    if stacked.shape[1] == 1:
        cell = stacked[:, 0]
        cell_codes = [np.arange(spec.factors[0].n_levels)]
        n_cells = spec.factors[0].n_levels
    else:
        unique, cell = np.unique(stacked, axis=0, return_inverse=True)
        cell = cell.ravel()
        cell_codes = [unique[:, k] for k in range(unique.shape[1])]
        n_cells = unique.shape[0]
    counts = np.bincount(cell, minlength=n_cells).astype(float)
    sum_resid = np.bincount(cell, weights=design.resid, minlength=n_cells)
    sum_q = _sum_by_cell(design.Q, cell, n_cells)
    slopes = None if spec.intercepts_only else _slope_sums(spec, design, cell, n_cells)
    return Cells(cell_codes, counts, sum_q, sum_resid, slopes)


def _sum_by_cell(values: np.ndarray, cell: np.ndarray, n_cells: int) -> np.ndarray:
    """Per-cell sums of the columns of ``values`` (rows x m -> cells x m)."""
    if not values.shape[1]:
        return np.zeros((n_cells, 0))
    return np.column_stack(
        [np.bincount(cell, weights=values[:, j], minlength=n_cells) for j in range(values.shape[1])]
    )


def _slope_sums(
    spec: ModelSpec, design: InternalDesign, cell: np.ndarray, n_cells: int
) -> SlopeSums:
    """The column-weighted per-cell sums of :class:`SlopeSums`."""
    W = np.column_stack([factor.columns() for factor in spec.factors])
    offsets = tuple(np.cumsum([0, *(factor.n_columns for factor in spec.factors)]).tolist())
    K, p = W.shape[1], design.Q.shape[1]
    n = len(cell)
    cross = _sum_by_cell((W[:, :, None] * W[:, None, :]).reshape(n, K * K), cell, n_cells)
    w_q = _sum_by_cell((W[:, :, None] * design.Q[:, None, :]).reshape(n, K * p), cell, n_cells)
    return SlopeSums(
        offsets=offsets,
        sum_w=_sum_by_cell(W, cell, n_cells),
        cross=cross.reshape(n_cells, K, K),
        w_resid=_sum_by_cell(W * design.resid[:, None], cell, n_cells),
        w_q=w_q.reshape(n_cells, K, p),
    )


def residual_statistics(
    design: InternalDesign,
    cells: Cells,
    fixed: TensorVariable,
    effects: list[TensorVariable | None],
) -> tuple[TensorVariable, TensorVariable]:
    """``r'r`` and the per-cell sums of ``r = y - Xc nu - (group effects)``, from cell sums.

    With ``gamma = Q'y - R nu`` (``e`` the OLS residual, orthogonal to ``Q``):
    for random intercepts, with ``eta_c`` the summed effects of cell ``c``,
    ``r'r = e'e + gamma'gamma - 2 sum_c eta_c (S_e,c + S_Q,c' gamma) + sum_c n_c eta_c^2``;
    with random slopes, ``u_c`` the effects of cell ``c`` (all factors side by side),
    ``r'r = e'e + gamma'gamma - 2 sum_c u_c'(W_c'e + W_c'Q gamma) + sum_c u_c' W_c'W_c u_c``.

    Parameters
    ----------
    design : InternalDesign
        The centred design and its QR.
    cells : Cells
        Per-cell sums.
    fixed : TensorVariable
        ``nu``, the coefficients of the centred design.
    effects : list
        Group effects of every factor (spec order): levels, or levels x k
        with slopes; ``None`` leaves a factor out of ``r``.

    Returns
    -------
    rss : TensorVariable
        The residual sum of squares ``r'r``.
    cell_sums : TensorVariable
        Per cell, the sum of ``r`` over its rows.

    """
    has_fixed = bool(design.Q.shape[1])
    gamma = design.Qty - pt.dot(design.R, fixed) if has_fixed else None
    rss = float(design.resid @ design.resid) + (pt.dot(gamma, gamma) if has_fixed else 0.0)
    cell_sums = pt.as_tensor(cells.sum_resid)
    if has_fixed:
        cell_sums = cell_sums + pt.dot(cells.sum_q, gamma)
    if cells.slopes is None:
        eta = _cell_intercepts(cells, effects)
        rss = rss - 2.0 * pt.dot(eta, cell_sums) + pt.dot(cells.counts, eta**2)
        return rss, cell_sums - cells.counts * eta
    sums = cells.slopes
    u = _cell_effects(cells, effects)
    data = sums.w_resid + (pt.dot(sums.w_q, gamma) if has_fixed else 0.0)
    quadratic = pt.sum(u[:, :, None] * sums.cross * u[:, None, :])
    rss = rss - 2.0 * pt.sum(u * data) + quadratic
    return rss, cell_sums - pt.sum(sums.sum_w * u, axis=1)


def _cell_intercepts(cells: Cells, effects: list[TensorVariable | None]) -> TensorVariable:
    """Summed random intercepts of every cell (factors given as None contribute nothing)."""
    pairs = zip(effects, cells.codes, strict=True)
    return sum(
        (effect[code] for effect, code in pairs if effect is not None),
        start=pt.zeros(len(cells.counts)),
    )


def _cell_effects(cells: Cells, effects: list[TensorVariable | None]) -> TensorVariable:
    """Effects of every cell, all factors' columns side by side (cells x K); None gives zeros."""
    assert cells.slopes is not None
    offsets = cells.slopes.offsets
    parts = []
    for k, (effect, code) in enumerate(zip(effects, cells.codes, strict=True)):
        width = offsets[k + 1] - offsets[k]
        if effect is None:
            parts.append(pt.zeros((len(cells.counts), width)))
        else:
            picked = _pick(effect, code)
            parts.append(picked[:, None] if effect.ndim == 1 else picked)
    return parts[0] if len(parts) == 1 else pt.concatenate(parts, axis=1)


def _pick(effect: TensorVariable, code: np.ndarray) -> TensorVariable:
    """``effect[code]``, or ``effect`` itself when the cells are its levels in order."""
    if np.array_equal(code, np.arange(len(code))) and effect.type.shape[0] == len(code):
        return effect
    return effect[code]


def sufficient_loglik(
    design: InternalDesign,
    cells: Cells,
    fixed: TensorVariable,
    effects: list[TensorVariable],
    sigma: TensorVariable,
) -> TensorVariable:
    """Gaussian log-likelihood of all rows from per-cell sums.

    ``effects`` are the group effects of every factor (spec order); the
    residual sum of squares is :func:`residual_statistics`.
    """
    n = float(cells.counts.sum())
    rss, _ = residual_statistics(design, cells, fixed, effects)
    return -0.5 * n * LOG_2PI - n * pt.log(sigma) - 0.5 * rss / sigma**2
