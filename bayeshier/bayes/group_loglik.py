"""The log-likelihood per level of the largest grouping factor (leave-one-group-out LOO).

For hierarchical data the usual cross-validation leaves out a whole group.
Its pointwise quantity is, per posterior draw and level ``j`` of the largest
grouping factor, the log density of all rows of the level with the level's
own effects integrated out over their prior ``N(0, Sigma)``, given the other
parameters (fixed effects, ``sigma``, ``Sigma`` and the effects of the other
factors):

    log N(r_j | 0, sigma^2 W_j^-1 + Z_j Sigma Z_j')
      = -n_j/2 log(2 pi) + 1/2 sum log w_i - (n_j - k) log sigma - 1/2 log|A_j|
        - (r_j' W_j r_j - u_j' Sigma A_j^-1 u_j) / (2 sigma^2),

with ``r_j`` the residuals ``y - offset - X beta - (other effects)`` of the
level's ``n_j`` rows, ``W_j`` their prior weights (1 without ``weights=``),
``Z_j`` their ``k`` random-effect columns, ``u_j = Z_j' W_j r_j``,
``C_j = Z_j' W_j Z_j`` and ``A_j = sigma^2 I + C_j Sigma``. For a random
intercept ``A_j = sigma^2 + m_j tau^2`` (``m_j`` the level's summed weights),
exactly the level's term of the collapsed likelihood that NUTS samples
(:func:`bayeshier.bayes.collapse.collapsed_loglik`); it is the same whether
the factor was collapsed or sampled. Conditioning on the level's own sampled
effects instead would make the leave-one-group-out importance weights far
more variable (their Pareto k far higher).

Everything comes from per-cell sums of ``v_i v_i'`` with ``v_i = [e_i, q_i,
z_i]`` (``e`` the OLS residual, ``q`` the rows of ``Xc R^-1``, ``z`` every
factor's random-effect columns), weighted by ``w_i``: since ``r_i = v_i' a``
with ``a = [1, gamma, -b]`` (``gamma = Q'y - R nu`` as in
:mod:`bayeshier.bayes.cell_sums`), a level's ``r'Wr`` and ``u`` are
quadratic and linear in ``a``. One pass over the rows (or over a Dask
DataFrame's partitions); then each draw costs O(cells x d^2), not O(rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import xarray as xr

from bayeshier.bayes.cell_sums import LOG_2PI, cell_of_rows, response_less_offset, row_weights
from bayeshier.bayes.collapse import sum_last_axis
from bayeshier.bayes.fixed_scale import InternalDesign
from bayeshier.bayes.names import effect_dims, level_dim
from bayeshier.bayes.posterior import covariance_root
from bayeshier.bayes.priors import sd_term
from bayeshier.spec.model_spec import ModelSpec

__all__ = ["GroupMoments", "group_loglik", "group_moments"]

#: Numbers per (draws x cells x d) temporary: the draws are processed in blocks.
_BLOCK_ELEMENTS = 2_000_000


@dataclass(frozen=True, eq=False)
class GroupMoments:
    """Per-cell weighted sums of ``v v'`` and what the largest factor's levels need.

    Attributes
    ----------
    moments : numpy.ndarray
        Per cell, ``sum w_i v_i v_i'`` (cells x d x d), ``d = 1 + p + K``.
    level_of_cell : numpy.ndarray
        The largest factor's level of each cell.
    rows : numpy.ndarray
        Rows per level of the largest factor.
    log_weights : numpy.ndarray
        Per level of the largest factor, ``sum log w_i`` (0 without weights).
    offsets : tuple of int
        Where each factor's columns start in ``v`` (factors in spec order, then the end).

    """

    moments: np.ndarray
    level_of_cell: np.ndarray
    rows: np.ndarray
    log_weights: np.ndarray
    offsets: tuple[int, ...]


def chunk_moments(
    spec: ModelSpec, cells: np.ndarray, means: np.ndarray, ols: np.ndarray, r_inv: np.ndarray
) -> np.ndarray:
    """Per cell, ``sum w v v'`` (flattened), the row count and ``sum log w``, of these rows."""
    cell = cell_of_rows(spec, cells)
    n_cells = len(cells)
    Xc = spec.X - means
    weights = row_weights(spec)
    w = np.ones(len(cell)) if weights is None else weights
    columns = [response_less_offset(spec) - Xc @ ols, *(Xc @ r_inv).T]
    columns += [column for factor in spec.factors for column in factor.columns().T]
    d = len(columns)
    result = np.zeros((n_cells, d * d + 2))
    for i in range(d):
        weighted = w * columns[i]
        for j in range(i, d):
            sums = np.bincount(cell, weights=weighted * columns[j], minlength=n_cells)
            result[:, i * d + j] = result[:, j * d + i] = sums
    result[:, -2] = np.bincount(cell, minlength=n_cells)
    result[:, -1] = np.bincount(cell, weights=np.log(w), minlength=n_cells)
    return result


def group_moments(spec: ModelSpec, design: InternalDesign) -> GroupMoments:
    """The :class:`GroupMoments` of ``spec``'s rows, in memory or where a Dask DataFrame lives."""
    cells = spec.level_combinations
    p = design.R.shape[0]
    r_inv = sla.solve_triangular(design.R, np.eye(p), check_finite=False) if p else np.eye(0)
    args = (cells, design.means, design.ols, r_inv)
    if spec.holds_rows:
        sums = chunk_moments(spec, *args)
    else:
        sums = spec.source.reduce_rows(spec, chunk_moments, *args)
    widths = [f.n_columns for f in spec.factors]
    d = 1 + p + sum(widths)
    largest = spec.factors[0].n_levels
    level = cells[:, 0]
    return GroupMoments(
        moments=sums[:, : d * d].reshape(-1, d, d),
        level_of_cell=level,
        rows=np.bincount(level, weights=sums[:, -2], minlength=largest),
        log_weights=np.bincount(level, weights=sums[:, -1], minlength=largest),
        offsets=tuple(int(x) for x in np.cumsum([1 + p, *widths])),
    )


def _coefficients(
    spec: ModelSpec, design: InternalDesign, moments: GroupMoments, posterior: xr.Dataset
) -> np.ndarray:
    """Per draw and cell, ``a = [1, gamma, -b]`` with the largest factor's effects left at 0."""
    shape = posterior["sigma"].shape
    n_cells, d = moments.moments.shape[:2]
    a = np.zeros((*shape, n_cells, d))
    a[..., 0] = 1.0
    p = design.R.shape[0]
    if p:
        nu = posterior["beta"].to_numpy() @ np.linalg.inv(design.to_user).T
        a[..., 1 : 1 + p] = (design.Qty - nu @ design.R.T)[..., None, :]
    codes = spec.level_combinations
    for k, factor in enumerate(spec.factors[1:], start=1):
        dims = ("chain", "draw", *effect_dims(factor))
        values = posterior[factor.name].transpose(*dims).to_numpy()
        picked = np.take(values, codes[:, k], axis=2)
        start, stop = moments.offsets[k], moments.offsets[k + 1]
        a[..., start:stop] = -(picked if picked.ndim == 4 else picked[..., None])
    return a


def _level_sums(
    spec: ModelSpec, design: InternalDesign, moments: GroupMoments, posterior: xr.Dataset
) -> tuple[np.ndarray, np.ndarray]:
    """Per draw and level of the largest factor: ``r'Wr`` and ``u = Z'W r`` (k columns)."""
    a = _coefficients(spec, design, moments, posterior)
    Ma = np.einsum("cde,abce->abcd", moments.moments, a)
    rr = np.sum(a * Ma, axis=-1)
    start, stop = moments.offsets[0], moments.offsets[1]
    u = np.moveaxis(Ma[..., start:stop], -2, -1)
    n_levels = spec.factors[0].n_levels
    rr = sum_last_axis(rr, moments.level_of_cell, n_levels)
    u = np.moveaxis(sum_last_axis(u, moments.level_of_cell, n_levels), -1, -2)
    return rr, u


def _marginal(
    spec: ModelSpec,
    moments: GroupMoments,
    posterior: xr.Dataset,
    rr: np.ndarray,
    u: np.ndarray,
) -> np.ndarray:
    """The levels' marginal log densities (chain x draw x level), see the module docstring."""
    factor = spec.factors[0]
    start, stop = moments.offsets[0], moments.offsets[1]
    block = moments.moments[:, start:stop, start:stop]
    cross = np.stack(
        [sum_last_axis(block[:, i, j], moments.level_of_cell, factor.n_levels)
         for i in range(stop - start) for j in range(stop - start)], axis=-1,
    ).reshape(factor.n_levels, stop - start, stop - start)  # fmt: skip
    sigma = posterior["sigma"].to_numpy()[..., None]
    s2 = sigma**2
    k = factor.n_columns
    if factor.intercept_only:
        tau2 = posterior[sd_term(factor.name)].to_numpy()[..., None] ** 2
        spread = s2 + cross[:, 0, 0] * tau2
        log_det, correction = np.log(spread), tau2 * u[..., 0] ** 2 / spread
    else:
        root = covariance_root(posterior, factor)
        cov = root @ np.swapaxes(root, -1, -2)
        A = s2[..., None, None] * np.eye(k) + np.einsum("gkl,abls->abgks", cross, cov)
        log_det = np.linalg.slogdet(A)[1]
        solved = np.linalg.solve(A, u[..., None])[..., 0]
        correction = np.sum(np.einsum("abkl,abgl->abgk", cov, u) * solved, axis=-1)
    n = moments.rows
    return (
        -0.5 * n * LOG_2PI
        + 0.5 * moments.log_weights
        - (n - k) * np.log(sigma)
        - 0.5 * log_det
        - 0.5 * (rr - correction) / s2
    )


def group_loglik(
    spec: ModelSpec,
    design: InternalDesign,
    moments: GroupMoments,
    posterior: xr.Dataset,
    name: str,
) -> xr.Dataset:
    """The log-likelihood per level of the largest factor, as variable ``name``.

    Returns
    -------
    xarray.Dataset
        ``name`` with dims (chain, draw, ``<factor>_level``), the levels as
        coordinates: ``az.loo`` of it is leave-one-group-out LOO.

    """
    factor = spec.factors[0]
    n_chains, n_draws = posterior.sizes["chain"], posterior.sizes["draw"]
    n_cells, d = moments.moments.shape[:2]
    step = max(1, _BLOCK_ELEMENTS // (n_chains * n_cells * d))
    values = np.empty((n_chains, n_draws, factor.n_levels))
    for start in range(0, n_draws, step):
        block = posterior.isel(draw=slice(start, start + step))
        rr, u = _level_sums(spec, design, moments, block)
        values[:, start : start + step] = _marginal(spec, moments, block, rr, u)
    dims = ("chain", "draw", level_dim(factor.name))
    coords = {
        "chain": posterior["chain"],
        "draw": posterior["draw"],
        dims[2]: list(factor.levels),
    }
    return xr.Dataset({name: xr.DataArray(values, dims=dims, coords=coords)})
