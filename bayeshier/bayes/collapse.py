"""Collapsed factors: group effects integrated out of the sampled likelihood analytically.

Which factors are collapsed (:func:`collapsed_factors`): with ``Model(likelihood="auto")``
the first (largest) grouping factor, when it is a random intercept whose
parameterization is ``"auto"``, together with the ``"auto"`` factor it is
nested in, if any (:func:`collapsed_parent`).

:meth:`bayeshier.Model.sample` then samples the likelihood with their effects
integrated out: each level's rows are ``Normal(., sigma^2 I + tau^2 11')``, so
NUTS never sees the effects, nor their funnel or their correlation with the
intercept (:func:`collapsed_loglik`). For a nested pair (``cask:batch`` in
``batch``) the rows of parent level ``p`` are ``Normal(., sigma^2 I + tau^2
Z_c Z_c' + omega^2 11')``, a per-parent block whose inverse and determinant
are closed-form (the child levels' blocks ``A = sigma^2 I + tau^2 Z_c Z_c'``
by Sherman-Morrison, then a rank-one update by ``omega^2 11'``). NUTS then
samples only the fixed effects and the scales, whose posterior has no funnel
left.

After sampling, each draw's collapsed effects are drawn from their exact
conditional posterior (:func:`draw_collapsed_effects`): first the parent's
(with the child's effects still integrated out), then the child's given the
parent's, ``Normal(v_j s_j / sigma^2, v_j)`` (the BLUP formula at that draw).
The result is a sample of the same joint posterior.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytensor.tensor as pt
import scipy.sparse as sp
import xarray as xr
from pytensor.tensor.variable import TensorVariable

from bayeshier.bayes.cell_sums import LOG_2PI, Cells, levels_in_order, residual_statistics
from bayeshier.bayes.fixed_scale import InternalDesign
from bayeshier.bayes.names import effect_dims, level_dim
from bayeshier.bayes.nesting import nesting_parents
from bayeshier.bayes.priors import sd_term
from bayeshier.errors import ModelError
from bayeshier.spec.model_spec import GroupingFactor, ModelSpec

__all__ = [
    "collapsed_factors",
    "collapsed_loglik",
    "collapsed_parent",
    "draw_collapsed_effects",
    "level_residual_sums",
    "sum_last_axis",
]

#: Numbers per (chain x draw x level) array while drawing collapsed
#: effects: the draws are processed in blocks of this size, so the
#: temporaries stay small next to the result (10,000 levels x 4,000 draws).
_BLOCK_ELEMENTS = 2_000_000


def collapsed_factors(
    spec: ModelSpec, choices: Mapping[str, str], likelihood: str = "auto"
) -> tuple[str | None, str | None]:
    """The factor collapsed out of the sampled likelihood and its nesting parent, if any.

    ``likelihood="full"`` collapses nothing. ``"auto"`` collapses the
    first (largest) factor when its parameterization is ``"auto"``,
    together with the ``"auto"`` factor it is nested in (see
    :func:`collapsed_parent`); other factors (crossed, or a parent forced
    centered or non-centered) are sampled. ``"collapsed"`` does the same but
    requires the largest factor to be collapsed.

    Only random intercepts are collapsed: with random slopes on the
    largest factor nothing is (``"auto"`` samples it).

    Raises
    ------
    ModelError
        ``"collapsed"`` for a model without grouping factors, whose largest
        factor's parameterization is forced, or whose largest factor has
        random slopes.

    """
    if likelihood == "full":
        return None, None
    reason = _why_not_collapsed(spec, choices)
    if reason is None:
        first = spec.factors[0].name
        return first, collapsed_parent(spec, first, choices)
    if likelihood == "collapsed":
        raise ModelError(reason)
    return None, None


def _why_not_collapsed(spec: ModelSpec, choices: Mapping[str, str]) -> str | None:
    """Why the largest factor cannot be collapsed (the error for ``"collapsed"``), or None."""
    if not spec.factors:
        return (
            "likelihood='collapsed' integrates group effects out, but the model has no "
            "grouping factor: use likelihood='auto' or 'full'."
        )
    first = spec.factors[0].name
    if not spec.factors[0].intercept_only:
        return (
            f"likelihood='collapsed' integrates the effects of the largest grouping factor "
            f"{first!r} out, which bayeshier does for a random intercept alone, but "
            f"{first!r} has random slopes ({', '.join(spec.factors[0].terms)}): use "
            "likelihood='full' or 'auto' (both sample its effects)."
        )
    if choices[first] != "auto":
        return (
            f"likelihood='collapsed' integrates the effects of the largest grouping factor "
            f"{first!r} out, but parameterization forces {first!r} to be {choices[first]!r} "
            f"(sampled). Drop one of the two: parameterization 'auto' for {first!r}, or "
            "likelihood='full' (or 'auto')."
        )
    return None


def collapsed_parent(spec: ModelSpec, name: str, choices: Mapping[str, str]) -> str | None:
    """The factor collapsed together with ``name``: the one ``name`` is nested in.

    Of the random-intercept factors with ``"auto"`` that ``name`` is nested
    in, the one with the most levels (its immediate parent: ``batch`` for ``cask:batch``), or None.
    Collapsing the pair jointly leaves NUTS only the fixed effects and the
    scales (see :func:`collapsed_loglik`).
    """
    parents = [
        p
        for p in nesting_parents(spec, name)
        if choices[p] == "auto" and spec.factor(p).intercept_only
    ]
    if not parents:
        return None
    return max(parents, key=lambda p: spec.factor(p).n_levels)


def collapsed_loglik(
    design: InternalDesign,
    cells: Cells,
    fixed: TensorVariable,
    effects: list[TensorVariable],
    sigma: TensorVariable,
    parent: int | None = None,
) -> TensorVariable:
    """Log-likelihood with the first factor's effects (and its parent's) integrated out.

    ``effects[0]`` is the first factor's sd ``tau``; with ``parent`` (the
    position of a factor the first is nested in), ``effects[parent]`` is that
    factor's sd ``omega``, integrated out too; the others are effects (levels,
    or levels x k with random slopes). Both collapsed factors are random
    intercepts. With
    ``r`` the residual after the fixed and the other effects, child level
    ``j`` (``n_j`` rows, residual sum ``s_j``, ``w_j = 1 / (sigma^2 + n_j
    tau^2)``) contributes ``Normal(r_j | 0, sigma^2 I + tau^2 11')``:
    ``-(n_j - 1) log sigma + log(w_j) / 2 - (r_j'r_j - tau^2 w_j s_j^2) / (2 sigma^2)``.
    With prior weights (row sd ``sigma / sqrt(v_i)``) the level is
    ``Normal(r_j | 0, sigma^2 V_j^-1 + tau^2 11')``: the same with ``n_j`` in
    ``w_j`` the summed weights, ``s_j = sum v_i r_i``, ``r_j' V_j r_j`` and the
    constant ``sum log(v_i) / 2`` (:class:`~bayeshier.bayes.cell_sums.Cells` holds
    the weighted sums).
    A parent level ``p`` (``a_p = sum_j n_j w_j``, ``t_p = sum_j s_j w_j`` over
    its child levels) then adds the rank-one update by ``omega^2 11'``:
    ``-log(1 + omega^2 a_p) / 2 + omega^2 t_p^2 / (2 (1 + omega^2 a_p))``.
    """
    tau = effects[0]
    collapsed = {0} if parent is None else {0, parent}
    others = [None if k in collapsed else effect for k, effect in enumerate(effects)]
    n = cells.n_rows
    rss, cell_sums = residual_statistics(design, cells, fixed, others)
    level_counts = np.bincount(cells.codes[0], weights=cells.counts)
    level_sums = _sum_by_level(cell_sums, cells.codes[0], len(level_counts))
    spread = sigma**2 + level_counts * tau**2
    quadratic = rss - pt.sum(tau**2 * level_sums**2 / spread)
    n_levels = float(len(level_counts))
    loglik = (
        -0.5 * n * LOG_2PI
        + 0.5 * cells.log_weights
        - (n - n_levels) * pt.log(sigma)
        - 0.5 * pt.sum(pt.log(spread))
        - 0.5 * quadratic / sigma**2
    )
    if parent is None:
        return loglik
    omega2 = effects[parent] ** 2
    parent_of = _parent_codes(cells.codes[0], cells.codes[parent], len(level_counts))
    n_parents = int(parent_of.max()) + 1
    info = _sum_by_level(level_counts / spread, parent_of, n_parents)
    score = _sum_by_level(level_sums / spread, parent_of, n_parents)
    update = 1.0 + omega2 * info
    return loglik - 0.5 * pt.sum(pt.log(update)) + 0.5 * omega2 * pt.sum(score**2 / update)


def _parent_codes(child: np.ndarray, parent: np.ndarray, n_child: int) -> np.ndarray:
    """The parent level of each child level, from per-cell codes of a nested pair."""
    codes = np.zeros(n_child, dtype=np.intp)
    codes[child] = parent
    return codes


def _sum_by_level(values: TensorVariable, codes: np.ndarray, n_levels: int) -> TensorVariable:
    """Sum per-cell ``values`` by level (a no-op when cells are the levels)."""
    if levels_in_order(codes, n_levels):
        return values
    return pt.inc_subtensor(pt.zeros(n_levels)[codes], values)


def draw_collapsed_effects(
    spec: ModelSpec,
    design: InternalDesign,
    cells: Cells,
    names: Sequence[str],
    posterior: xr.Dataset,
    rng: np.random.Generator,
) -> xr.Dataset:
    """Draw the collapsed effects of ``names`` from their exact conditional posterior.

    ``names`` is the first factor, optionally followed by the factor it is
    nested in. Given the other parameters, the child's effects are ``b_j ~
    Normal(v_j s_j / sigma^2, v_j)`` with ``v_j = 1 / (1 / tau^2 + n_j /
    sigma^2)`` and ``s_j`` the sum of the residuals ``y - offset - X beta -
    (other effects)`` over level ``j`` (with prior weights, ``n_j`` the
    level's summed weights and ``s_j`` the weighted sum). With a parent, its effects are drawn first
    with the child's still integrated out, ``c_p ~ Normal(t_p / h_p, 1 / h_p)``
    with ``h_p = 1 / omega^2 + a_p`` (``a_p``, ``t_p`` as in
    :func:`collapsed_loglik`), then the child's given them (``s_j`` less
    ``n_j c_p``). Each draw of the result is an exact draw from the joint posterior.

    The draws are processed in blocks of :data:`_BLOCK_ELEMENTS` numbers,
    which bounds the memory of the temporaries whatever the number of levels.

    Returns
    -------
    xarray.Dataset
        ``posterior`` with the variables ``names`` (chain x draw x level) added.

    """
    factors = [spec.factor(name) for name in names]
    n_chains, n_draws = posterior.sizes["chain"], posterior.sizes["draw"]
    drawn = {f.name: np.empty((n_chains, n_draws, f.n_levels)) for f in factors}
    step = max(1, _BLOCK_ELEMENTS // (n_chains * sum(f.n_levels for f in factors)))
    for start in range(0, n_draws, step):
        block = posterior.isel(draw=slice(start, start + step))
        for name, values in _draw_block(spec, design, cells, names, block, rng).items():
            drawn[name][:, start : start + step] = values
    new = {}
    for factor in factors:
        dims = ("chain", "draw", level_dim(factor.name))
        coords = {dims[2]: list(factor.levels)}
        new[factor.name] = xr.DataArray(drawn[factor.name], dims=dims, coords=coords)
    return posterior.assign(new)


def _draw_block(
    spec: ModelSpec,
    design: InternalDesign,
    cells: Cells,
    names: Sequence[str],
    posterior: xr.Dataset,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """The effects of :func:`draw_collapsed_effects` for the draws of ``posterior``."""
    child = spec.factor(names[0])
    residual = level_residual_sums(spec, design, cells, posterior, child.name, without=names[1:])
    tau2 = posterior[sd_term(child.name)].to_numpy()[..., None] ** 2
    sigma2 = posterior["sigma"].to_numpy()[..., None] ** 2
    position = [f.name for f in spec.factors].index(child.name)
    counts = np.bincount(cells.codes[position], weights=cells.counts, minlength=child.n_levels)
    drawn = {}
    if len(names) > 1:
        parent = spec.factor(names[1])
        order = [f.name for f in spec.factors]
        child_codes = cells.codes[order.index(child.name)]
        parent_codes = cells.codes[order.index(parent.name)]
        parent_of = _parent_codes(child_codes, parent_codes, child.n_levels)
        weight = 1.0 / (sigma2 + counts * tau2)
        info = sum_last_axis(counts * weight, parent_of, parent.n_levels)
        score = sum_last_axis(residual * weight, parent_of, parent.n_levels)
        precision = 1.0 / posterior[sd_term(parent.name)].to_numpy()[..., None] ** 2 + info
        effects = score / precision + rng.standard_normal(score.shape) / np.sqrt(precision)
        drawn[parent.name] = effects
        residual = residual - counts * effects[..., parent_of]
    variance = 1.0 / (1.0 / tau2 + counts / sigma2)
    mean = variance * residual / sigma2
    drawn[child.name] = mean + np.sqrt(variance) * rng.standard_normal(mean.shape)
    return drawn


def level_residual_sums(
    spec: ModelSpec,
    design: InternalDesign,
    cells: Cells,
    posterior: xr.Dataset,
    name: str,
    without: Sequence[str] = (),
) -> np.ndarray:
    """Per draw, sums over the levels of ``name`` of ``y - offset - X beta - (other effects)``.

    The effects of ``name`` and of the factors in ``without`` are left out;
    with prior weights the sums are weighted (``sum w_i r_i``).
    """
    position = [f.name for f in spec.factors].index(name)
    cell_sums = np.broadcast_to(cells.sum_resid, (*posterior["sigma"].shape, len(cells.counts)))
    if spec.n_fixed:
        nu = posterior["beta"].to_numpy() @ np.linalg.inv(design.to_user).T
        gamma = design.Qty - nu @ design.R.T
        cell_sums = cell_sums + gamma @ cells.sum_q.T
    for k, factor in enumerate(spec.factors):
        if k != position and factor.name not in without:
            cell_sums = cell_sums - _cell_contributions(factor, k, cells, posterior)
    return sum_last_axis(cell_sums, cells.codes[position], spec.factors[position].n_levels)


def _cell_contributions(
    factor: GroupingFactor, position: int, cells: Cells, posterior: xr.Dataset
) -> np.ndarray:
    """Per draw and cell, the sum over the cell's rows of the factor's effects ``z_i' b_j``."""
    dims = ("chain", "draw", *effect_dims(factor))
    values = posterior[factor.name].transpose(*dims).to_numpy()
    effects = np.take(values, cells.codes[position], axis=2)
    if factor.intercept_only:
        return cells.counts * effects
    assert cells.slopes is not None
    start, stop = cells.slopes.offsets[position], cells.slopes.offsets[position + 1]
    return np.sum(effects * cells.slopes.sum_w[:, start:stop], axis=-1)


def sum_last_axis(values: np.ndarray, codes: np.ndarray, n_levels: int) -> np.ndarray:
    """Sum the last axis of ``values`` (items) by their levels ``codes``, any leading shape.

    ``values`` itself when the items are the levels in order.
    """
    if levels_in_order(codes, n_levels):
        return values
    aggregator = _aggregator(codes, n_levels)
    flat = values.reshape(-1, values.shape[-1])
    summed = np.asarray(aggregator.T @ flat.T).T
    return summed.reshape(*values.shape[:-1], aggregator.shape[1])


def _aggregator(codes: np.ndarray, n_levels: int) -> sp.csr_matrix:
    """Sparse (items x levels) indicator matrix: ``values @ A`` sums items by level."""
    ones = np.ones(len(codes))
    return sp.csr_matrix((ones, (np.arange(len(codes)), codes)), shape=(len(codes), n_levels))
