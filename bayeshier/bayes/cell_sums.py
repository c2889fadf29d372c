"""The Gaussian likelihood from per-cell sufficient statistics.

A cell is a combination of levels of all grouping factors. Every row of a
cell shares its group effects, so the residual sum of squares needs only
per-cell sums of the OLS residual and of the rows of ``Q`` (the thin QR of
the centered design): a gradient costs O(cells x p) rather than O(n x p), and
the log density equals the pointwise one exactly.

With random slopes a row's group effect is ``z_i' b_j`` (``z_i`` its
random-effect columns), so the cell sums also weight by the columns: per
cell ``W'W``, ``W'e`` and ``W'Q`` with ``W`` the rows' random-effect columns
of all factors side by side (see :class:`SlopeSums`).

With prior weights ``w`` (row ``i`` is ``Normal(mu_i + offset_i, sigma /
sqrt(w_i))``) every sum is weighted: a cell's "count" is its summed weights,
its residual sum ``sum w e``, ``e'e`` becomes ``e'We`` (``e`` the weighted
least-squares residual of ``y - offset``, orthogonal to ``Q`` of ``W^1/2
Xc``) and the density gains ``sum log(w_i) / 2``. Without weights every
weight is 1 and the sums are the plain ones.

The sums are taken chunk by chunk (:class:`CellSums`, which add up), so the
rows may live in a Dask DataFrame's partitions: only the sums travel.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytensor.tensor as pt
import scipy.linalg as sla
from pytensor.tensor.variable import TensorVariable

from bayeshier.bayes.fixed_scale import InternalDesign
from bayeshier.bayes.moments import response_less_offset, row_weights
from bayeshier.spec.model_spec import ModelSpec

__all__ = [
    "LOG_2PI",
    "CellSums",
    "Cells",
    "SlopeSums",
    "cell_of_rows",
    "cell_statistics",
    "levels_in_order",
    "residual_statistics",
    "response_less_offset",
    "row_weights",
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
        Rows per cell; with prior weights, the summed weights of its rows.
    sum_q : numpy.ndarray
        Per-cell sums of ``w`` times the rows of ``Xc R^-1`` (cells x p).
    sum_resid : numpy.ndarray
        Per-cell (weighted) sums of the least-squares residual.
    resid_ss : float
        The least-squares residual sum of squares ``e'We``.
    slopes : SlopeSums or None
        The column-weighted sums when a factor has random slopes, else None.
    rows : float or None
        The number of rows (None: ``counts.sum()``, right without weights).
    log_weights : float
        ``sum log w_i`` over the rows (0 without weights).

    """

    codes: list[np.ndarray]
    counts: np.ndarray
    sum_q: np.ndarray
    sum_resid: np.ndarray
    resid_ss: float
    slopes: SlopeSums | None = None
    rows: float | None = None
    log_weights: float = 0.0

    @property
    def n_rows(self) -> float:
        """The number of rows summed (the ``n`` of ``-n log sigma``)."""
        return float(self.counts.sum()) if self.rows is None else self.rows


@dataclass(frozen=True, eq=False)
class CellSums:
    """Per-cell sums over a chunk of rows; two chunks' sums add up with ``+``.

    ``Xc`` is the centered design, ``e0 = y - offset - Xc nu0`` the residual
    of given coefficients ``nu0`` (the least-squares ones) and ``W`` the
    random-effect columns of all factors side by side. Every sum over rows
    is weighted by the rows' prior weights ``w`` (1 without weights).

    Attributes
    ----------
    counts : numpy.ndarray
        Summed weights per cell (rows per cell without weights).
    sum_x : numpy.ndarray
        Per-cell sums of ``w`` times the rows of ``Xc`` (cells x p).
    sum_e : numpy.ndarray
        Per-cell sums of ``w e0``.
    x_e : numpy.ndarray
        ``Xc'W e0`` (for one step of iterative refinement).
    e_ss : float
        ``e0'W e0``.
    sum_w, cross, w_e, w_x : numpy.ndarray or None
        With random slopes, per cell: ``W'w``, ``W'diag(w)W``, ``W'diag(w)e0`` and
        ``W'diag(w)Xc``.
    rows : float
        The number of rows.
    log_weights : float
        ``sum log w`` (0 without weights).

    """

    counts: np.ndarray
    sum_x: np.ndarray
    sum_e: np.ndarray
    x_e: np.ndarray
    e_ss: float
    sum_w: np.ndarray | None = None
    cross: np.ndarray | None = None
    w_e: np.ndarray | None = None
    w_x: np.ndarray | None = None
    rows: float = 0.0
    log_weights: float = 0.0

    def __add__(self, other: CellSums) -> CellSums:
        def add(mine: np.ndarray | None, theirs: np.ndarray | None) -> np.ndarray | None:
            return None if mine is None else mine + theirs

        return CellSums(
            self.counts + other.counts,
            self.sum_x + other.sum_x,
            self.sum_e + other.sum_e,
            self.x_e + other.x_e,
            self.e_ss + other.e_ss,
            add(self.sum_w, other.sum_w),
            add(self.cross, other.cross),
            add(self.w_e, other.w_e),
            add(self.w_x, other.w_x),
            self.rows + other.rows,
            self.log_weights + other.log_weights,
        )


def cell_statistics(spec: ModelSpec, design: InternalDesign) -> Cells:
    """Group rows into cells (combinations of levels) and sum what the likelihood needs.

    The rows are summed in chunks (all at once in memory; per partition,
    added up where they live, for a Dask DataFrame) with the OLS
    coefficients as ``nu0``; one step of iterative refinement then makes the
    residual orthogonal to ``Xc`` exactly, on the sums (they are linear in it).
    """
    cells = spec.level_combinations
    args = (cells, design.means, design.ols)
    if spec.holds_rows:
        sums = chunk_cell_sums(spec, *args)
    else:
        sums = spec.source.reduce_rows(spec, chunk_cell_sums, *args)
    return _finish_cells(spec, design, cells, sums)


def chunk_cell_sums(
    spec: ModelSpec, cells: np.ndarray, means: np.ndarray, nu0: np.ndarray
) -> CellSums:
    """The :class:`CellSums` of the rows ``spec`` holds.

    ``cells`` are all the cells (:attr:`~bayeshier.spec.model_spec.ModelSpec.level_combinations`),
    ``means`` the values the design is centered by and ``nu0`` the coefficients of ``e0``.
    """
    cell = cell_of_rows(spec, cells)
    n_cells = len(cells)
    Xc = spec.X - means
    e0 = response_less_offset(spec) - Xc @ nu0
    weights = row_weights(spec)
    we0 = e0 if weights is None else weights * e0
    sums = CellSums(
        counts=np.bincount(cell, weights=weights, minlength=n_cells).astype(float),
        sum_x=_sum_by_cell(_weighted(Xc, weights), cell, n_cells),
        sum_e=np.bincount(cell, weights=we0, minlength=n_cells),
        x_e=Xc.T @ we0,
        e_ss=float(e0 @ we0),
        rows=float(len(cell)),
        log_weights=0.0 if weights is None else float(np.sum(np.log(weights))),
    )
    if spec.intercepts_only:
        return sums
    W = np.column_stack([factor.columns() for factor in spec.factors])
    n, K, p = W.shape[0], W.shape[1], Xc.shape[1]
    Ww = _weighted(W, weights)
    cross = _sum_by_cell((Ww[:, :, None] * W[:, None, :]).reshape(n, K * K), cell, n_cells)
    w_x = _sum_by_cell((Ww[:, :, None] * Xc[:, None, :]).reshape(n, K * p), cell, n_cells)
    return replace(
        sums,
        sum_w=_sum_by_cell(Ww, cell, n_cells),
        cross=cross.reshape(n_cells, K, K),
        w_e=_sum_by_cell(Ww * e0[:, None], cell, n_cells),
        w_x=w_x.reshape(n_cells, K, p),
    )


def _weighted(values: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """The rows of ``values`` times their prior weights (``values`` itself without weights)."""
    return values if weights is None else weights[:, None] * values


def cell_of_rows(spec: ModelSpec, cells: np.ndarray) -> np.ndarray:
    """The position in ``cells`` of every row's combination of levels."""
    if cells.shape[1] == 1:
        return np.searchsorted(cells[:, 0], spec.factors[0].codes)
    known = pd.MultiIndex.from_arrays(list(cells.T))
    rows = pd.MultiIndex.from_arrays([factor.codes for factor in spec.factors])
    return known.get_indexer(rows)


def _finish_cells(
    spec: ModelSpec, design: InternalDesign, cells: np.ndarray, sums: CellSums
) -> Cells:
    """The :class:`Cells` from the sums of all rows: refine the residual, turn ``Xc`` into ``Q``.

    With ``delta = (Xc'Xc)^-1 Xc'e0`` the refined residual is ``e = e0 - Xc
    delta``, so ``S_e = S_e0 - S_x delta``, ``W'e = W'e0 - W'Xc delta`` and
    ``e'e = e0'e0 - |R^-T Xc'e0|^2``; ``Q = Xc R^-1`` makes every ``Xc`` sum a ``Q`` sum.
    """
    p = design.R.shape[0]
    r_inv = sla.solve_triangular(design.R, np.eye(p), check_finite=False) if p else np.eye(0)
    correction = r_inv.T @ sums.x_e
    delta = r_inv @ correction
    slopes = None
    if sums.sum_w is not None:
        slopes = SlopeSums(
            offsets=tuple(np.cumsum([0, *(f.n_columns for f in spec.factors)]).tolist()),
            sum_w=sums.sum_w,
            cross=sums.cross,
            w_resid=sums.w_e - sums.w_x @ delta,
            w_q=sums.w_x @ r_inv,
        )
    return Cells(
        codes=[cells[:, k] for k in range(cells.shape[1])],
        counts=sums.counts,
        sum_q=sums.sum_x @ r_inv,
        sum_resid=sums.sum_e - sums.sum_x @ delta,
        resid_ss=float(sums.e_ss - correction @ correction),
        slopes=slopes,
        rows=sums.rows,
        log_weights=sums.log_weights,
    )


def _sum_by_cell(values: np.ndarray, cell: np.ndarray, n_cells: int) -> np.ndarray:
    """Per-cell sums of the columns of ``values`` (rows x m -> cells x m)."""
    if not values.shape[1]:
        return np.zeros((n_cells, 0))
    return np.column_stack(
        [np.bincount(cell, weights=values[:, j], minlength=n_cells) for j in range(values.shape[1])]
    )


def residual_statistics(
    design: InternalDesign,
    cells: Cells,
    fixed: TensorVariable,
    effects: list[TensorVariable | None],
) -> tuple[TensorVariable, TensorVariable]:
    """``r'r`` and the per-cell sums of ``r = y - Xc nu - (group effects)``, from cell sums.

    With prior weights and an offset, ``r = y - offset - ...``, ``r'r`` is ``r'Wr`` and the
    cell sums are ``sum w r`` (the cell sums are weighted; the formulas are the same).

    With ``gamma = Q'y - R nu`` (``e`` the OLS residual, orthogonal to ``Q``):
    for random intercepts, with ``eta_c`` the summed effects of cell ``c``,
    ``r'r = e'e + gamma'gamma - 2 sum_c eta_c (S_e,c + S_Q,c' gamma) + sum_c n_c eta_c^2``;
    with random slopes, ``u_c`` the effects of cell ``c`` (all factors side by side),
    ``r'r = e'e + gamma'gamma - 2 sum_c u_c'(W_c'e + W_c'Q gamma) + sum_c u_c' W_c'W_c u_c``.

    Parameters
    ----------
    design : InternalDesign
        The centered design and its QR.
    cells : Cells
        Per-cell sums.
    fixed : TensorVariable
        ``nu``, the coefficients of the centered design.
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
    has_fixed = bool(design.R.shape[0])
    gamma = design.Qty - pt.dot(design.R, fixed) if has_fixed else None
    rss = cells.resid_ss + (pt.dot(gamma, gamma) if has_fixed else 0.0)
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


def levels_in_order(codes: np.ndarray, n_levels: int | None) -> bool:
    """Whether ``codes`` are ``0, 1, ..., n_levels - 1``: the cells are the levels, in order."""
    return len(codes) == n_levels and np.array_equal(codes, np.arange(n_levels))


def _pick(effect: TensorVariable, code: np.ndarray) -> TensorVariable:
    """``effect[code]``, or ``effect`` itself when the cells are its levels in order."""
    return effect if levels_in_order(code, effect.type.shape[0]) else effect[code]


def sufficient_loglik(
    design: InternalDesign,
    cells: Cells,
    fixed: TensorVariable,
    effects: list[TensorVariable],
    sigma: TensorVariable,
) -> TensorVariable:
    """Gaussian log-likelihood of all rows from per-cell sums.

    ``effects`` are the group effects of every factor (spec order); the
    (weighted) residual sum of squares is :func:`residual_statistics`. Row
    ``i`` has sd ``sigma / sqrt(w_i)``, hence the constant ``sum log(w_i) / 2``.
    """
    n = cells.n_rows
    rss, _ = residual_statistics(design, cells, fixed, effects)
    return -0.5 * n * LOG_2PI + 0.5 * cells.log_weights - n * pt.log(sigma) - 0.5 * rss / sigma**2
