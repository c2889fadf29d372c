"""The factor whose effects are integrated out of the sampled likelihood.

:meth:`bayeshier.Model.sample` integrates the effects of the first (largest)
grouping factor out analytically: each level's rows are ``Normal(.,
sigma^2 I + sd^2 11')``, so NUTS never sees the effects, nor their funnel or
their correlation with the intercept (:func:`marginal_loglik`). After
sampling, each draw's effects are drawn from their exact conditional
posterior ``Normal(v_j s_j / sigma^2, v_j)``, the BLUP formula at that draw
(:func:`draw_integrated_effects`); the result is a sample of the same joint
posterior.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
import scipy.sparse as sp
import xarray as xr
from pytensor.tensor.variable import TensorVariable

from bayeshier.internal_scale import InternalDesign
from bayeshier.likelihood import LOG_2PI, Cells, residual_sum_of_squares
from bayeshier.naming import level_dim
from bayeshier.priors import sd_term
from bayeshier.spec import ModelSpec

__all__ = ["draw_integrated_effects", "level_residual_sums", "marginal_loglik"]


def marginal_loglik(
    design: InternalDesign,
    cells: Cells,
    fixed: TensorVariable,
    effects: list[TensorVariable],
    sigma: TensorVariable,
) -> TensorVariable:
    """Log-likelihood with the first factor's effects integrated out, from per-cell sums.

    ``effects[0]`` is the first factor's sd ``tau``; the others are effects.
    With ``r`` the residual after the fixed and the other effects, level ``j``
    (``n_j`` rows, residual sum ``s_j``) contributes ``Normal(r_j | 0,
    sigma^2 I + tau^2 11')``:  ``-(n_j - 1) log sigma - log(sigma^2 + n_j tau^2) / 2
    - (r_j'r_j - tau^2 s_j^2 / (sigma^2 + n_j tau^2)) / (2 sigma^2)``.
    """
    tau, others = effects[0], effects[1:]
    n = float(cells.counts.sum())
    eta = sum(
        (effect[code] for effect, code in zip(others, cells.codes[1:], strict=True)),
        start=pt.zeros(len(cells.counts)),
    )
    cell_sums = cells.sum_resid - cells.counts * eta
    rss, projected = residual_sum_of_squares(design, cells, fixed, eta)
    if projected is not None:
        cell_sums = cell_sums + projected
    level_counts = np.bincount(cells.codes[0], weights=cells.counts)
    level_sums = _sum_by_level(cell_sums, cells.codes[0], len(level_counts))
    spread = sigma**2 + level_counts * tau**2
    quadratic = rss - pt.sum(tau**2 * level_sums**2 / spread)
    n_levels = float(len(level_counts))
    return (
        -0.5 * n * LOG_2PI
        - (n - n_levels) * pt.log(sigma)
        - 0.5 * pt.sum(pt.log(spread))
        - 0.5 * quadratic / sigma**2
    )


def _sum_by_level(values: TensorVariable, codes: np.ndarray, n_levels: int) -> TensorVariable:
    """Sum per-cell ``values`` by level (a no-op when cells are the levels)."""
    if len(codes) == n_levels and np.array_equal(codes, np.arange(n_levels)):
        return values
    return pt.inc_subtensor(pt.zeros(n_levels)[codes], values)


def draw_integrated_effects(
    spec: ModelSpec,
    design: InternalDesign,
    cells: Cells,
    name: str,
    posterior: xr.Dataset,
    rng: np.random.Generator,
) -> xr.Dataset:
    """Draw the integrated-out effects of factor ``name`` from their exact conditional posterior.

    Given the other parameters, ``b_j ~ Normal(v_j s_j / sigma^2, v_j)`` with
    ``v_j = 1 / (1 / sd^2 + n_j / sigma^2)`` and ``s_j`` the sum of the
    residuals ``y - X beta - (other effects)`` over level ``j``: each draw
    of the result is an exact draw from the joint posterior.

    Returns
    -------
    xarray.Dataset
        ``posterior`` with the variable ``name`` (chain x draw x level) added.

    """
    factor = spec.factor(name)
    residual = level_residual_sums(spec, design, cells, posterior, factor.name)
    sd = posterior[sd_term(factor.name)].to_numpy()[..., None]
    sigma2 = posterior["sigma"].to_numpy()[..., None] ** 2
    counts = factor.counts()
    variance = 1.0 / (1.0 / sd**2 + counts / sigma2)
    mean = variance * residual / sigma2
    draws = mean + np.sqrt(variance) * rng.standard_normal(mean.shape)
    dims = ("chain", "draw", level_dim(factor.name))
    effect = xr.DataArray(draws, dims=dims, coords={dims[2]: list(factor.levels)})
    return posterior.assign({factor.name: effect})


def level_residual_sums(
    spec: ModelSpec, design: InternalDesign, cells: Cells, posterior: xr.Dataset, name: str
) -> np.ndarray:
    """Per draw, sums over the levels of ``name`` of ``y - X beta - (other effects)``."""
    position = [f.name for f in spec.factors].index(name)
    cell_sums = np.broadcast_to(cells.sum_resid, (*posterior["sigma"].shape, len(cells.counts)))
    if spec.n_fixed:
        nu = posterior["beta"].to_numpy() @ np.linalg.inv(design.to_user).T
        gamma = design.Qty - nu @ design.R.T
        cell_sums = cell_sums + gamma @ cells.sum_q.T
    for k, factor in enumerate(spec.factors):
        if k != position:
            effects = posterior[factor.name].to_numpy()[..., cells.codes[k]]
            cell_sums = cell_sums - cells.counts * effects
    n_levels = spec.factors[position].n_levels
    to_level = _aggregator(cells.codes[position], n_levels)
    flat = cell_sums.reshape(-1, cell_sums.shape[-1])
    return np.asarray(to_level.T @ flat.T).T.reshape(*cell_sums.shape[:-1], n_levels)


def _aggregator(codes: np.ndarray, n_levels: int) -> sp.csr_matrix:
    """Sparse (items x levels) indicator matrix: ``values @ A`` sums items by level."""
    ones = np.ones(len(codes))
    return sp.csr_matrix((ones, (np.arange(len(codes)), codes)), shape=(len(codes), n_levels))
