"""Build the PyMC model of a specification: priors, group effects and one of three densities.

The ``density`` of the data (:data:`bayeshier._choices.DENSITIES`) is one of

* ``"pointwise"``: the observed variable (for prior and posterior predictive
  sampling).
* ``"sufficient"``: an equal log density from per-cell sums
  (:func:`bayeshier.bayes.cell_sums.sufficient_loglik`), as a ``pm.Potential``.
* ``"collapsed"``: the same with the effects of
  :attr:`SamplingPlan.collapsed <bayeshier.bayes.plan.SamplingPlan>`
  (the largest factor, and the factor it is nested in if any) integrated out
  (:func:`bayeshier.bayes.collapse.collapsed_loglik`); they get no variable, only
  their sds.

The fixed effects are sampled on the internal scale
(:mod:`bayeshier.bayes.fixed_scale`) and each factor's effects as the
:class:`~bayeshier.bayes.plan.SamplingPlan` says: centered, non-centered,
or as group means that absorb the intercept.

A factor with random slopes has one sd per term (scalar internal variables,
reported together as ``sd_<factor>`` with dim ``<factor>_term``) and, per
correlated covariance block, the Cholesky factor of its correlation matrix
with an LKJ prior (``pm.LKJCorr``); ``corr_<factor>`` reports the whole
correlation matrix. The Cholesky factor of the effects' covariance is
``L = diag(sd) C`` with ``C = blockdiag(L_corr_block)``: centered effects are
``MvNormal(0, L L')`` per level, non-centered ``b_j = L z_j``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from bayeshier._choices import DENSITIES, Density
from bayeshier.bayes.cell_sums import LOG_2PI, Cells, sufficient_loglik
from bayeshier.bayes.collapse import collapsed_loglik
from bayeshier.bayes.fixed_scale import Affine, BatchedAffine, InternalDesign
from bayeshier.bayes.moments import row_weights
from bayeshier.bayes.names import (
    FIXED_RV,
    corr_chol_name,
    corr_name,
    effect_dims,
    has_correlation,
    level_dim,
    means_name,
    model_coords,
    noncentered_name,
    observed_name,
    sd_component_name,
    term_bis_dim,
    term_dim,
)
from bayeshier.bayes.plan import SamplingPlan
from bayeshier.bayes.prior_parse import Prior
from bayeshier.bayes.priors import corr_term, intercept_index, sd_term
from bayeshier.errors import ModelError
from bayeshier.spec.model_spec import GroupingFactor, ModelSpec

__all__ = ["build_model", "check_density"]


def check_density(density: object) -> None:
    """Reject an unknown ``density`` (:data:`bayeshier._choices.DENSITIES`): a ModelError."""
    if density not in DENSITIES:
        allowed = ", ".join(repr(choice) for choice in DENSITIES)
        raise ModelError(f"density must be one of {allowed}; got {density!r}.")


def build_model(
    spec: ModelSpec,
    priors: Mapping[str, Prior],
    plan: SamplingPlan,
    design: InternalDesign,
    cells: Cells | None,
    density: Density = "pointwise",
) -> pm.Model:
    """Build the PyMC model.

    Parameters
    ----------
    spec : ModelSpec
        The model's specification.
    priors : dict
        Term name -> resolved prior (:func:`bayeshier.bayes.priors.resolve_priors`).
    plan : SamplingPlan
        Parameterization and starting point.
    design : InternalDesign
        The centered design (the fixed effects' internal scale).
    cells : Cells or None
        Per-cell sums; needed by the ``"sufficient"`` and ``"collapsed"`` densities.
    density : {"pointwise", "sufficient", "collapsed"}
        How the model computes the log density of the data (see the module docstring).

    Returns
    -------
    pymc.Model

    """
    check_density(density)
    collapsed = plan.collapsed if density == "collapsed" else ()
    with pm.Model(coords=model_coords(spec)) as model:
        fixed = _add_fixed_effects(spec, priors, plan, design)
        sigma = _add_prior_rv(priors, plan, "sigma")
        effects: dict[str, TensorVariable] = {}
        for factor in sorted(spec.factors, key=lambda f: f.name == plan.absorbs):
            if factor.name in collapsed:
                effects[factor.name] = _add_prior_rv(priors, plan, sd_term(factor.name))
            else:
                effects[factor.name] = _add_group_effects(
                    spec, priors, plan, factor, fixed, effects
                )
        ordered = [effects[factor.name] for factor in spec.factors]
        if density == "pointwise":
            _add_pointwise_likelihood(spec, design, fixed, ordered, sigma)
        elif not collapsed:
            pm.Potential("_loglik", sufficient_loglik(design, cells, fixed, ordered, sigma))
        else:
            parent = _position(spec, plan.collapsed_parent)
            loglik = collapsed_loglik(design, cells, fixed, ordered, sigma, parent=parent)
            pm.Potential("_loglik", loglik)
    return model


def _position(spec: ModelSpec, name: str | None) -> int | None:
    """Index of factor ``name`` in ``spec.factors`` (None for None)."""
    return None if name is None else [f.name for f in spec.factors].index(name)


def _add_fixed_effects(
    spec: ModelSpec, priors: Mapping[str, Prior], plan: SamplingPlan, design: InternalDesign
) -> TensorVariable:
    """The centered-design coefficients (sampled on the internal scale) and ``beta``."""
    makers = [priors[name].make for name in spec.fixed_names]
    transform = Affine(plan.fixed_loc, plan.fixed_chol)

    def stacked(size: object) -> TensorVariable:
        return pt.stack([make() for make in makers])

    if not makers:
        return pt.zeros((0,))
    nu = pm.CustomDist(
        FIXED_RV, dist=stacked, dims="fixed", transform=transform, initval=plan.fixed_loc
    )
    pm.Deterministic("beta", pt.dot(design.to_user, nu), dims="fixed")
    return nu


def _add_prior_rv(priors: Mapping[str, Prior], plan: SamplingPlan, term: str) -> TensorVariable:
    """A scalar parameter (``sigma``, ``sd_<factor>``) with its prior, starting at REML."""
    model = pm.modelcontext(None)
    return model.register_rv(priors[term].make(), term, initval=plan.start[term])


def _add_group_effects(
    spec: ModelSpec,
    priors: Mapping[str, Prior],
    plan: SamplingPlan,
    factor: GroupingFactor,
    fixed: TensorVariable,
    others: dict[str, TensorVariable],
) -> TensorVariable:
    """A factor's sd(s), correlation and effects, parameterized as ``plan`` says."""
    if not factor.intercept_only:
        return _add_slope_effects(priors, plan, factor, fixed)
    sd = _add_prior_rv(priors, plan, sd_term(factor.name))
    dim = level_dim(factor.name)
    loc, scale = plan.effect_loc[factor.name], plan.effect_scale[factor.name]
    if factor.name == plan.absorbs:
        center = fixed[intercept_index(spec)]
        for parent, codes in plan.parents.items():
            center = center + others[parent][codes]
        name = means_name(factor.name)
        start = plan.start[name]
        transform = Affine(start, scale)
        means = pm.Normal(name, center, sd, dims=dim, transform=transform, initval=start)
        return pm.Deterministic(factor.name, means - center, dims=dim)
    if plan.parameterization[factor.name] == "centered":
        start = plan.start[factor.name]
        transform = Affine(loc, scale)
        return pm.Normal(factor.name, 0.0, sd, dims=dim, transform=transform, initval=start)
    name = noncentered_name(factor.name)
    z = pm.Normal(name, 0.0, 1.0, dims=dim, initval=plan.start[name])
    return pm.Deterministic(factor.name, sd * z, dims=dim)


def _add_slope_effects(
    priors: Mapping[str, Prior],
    plan: SamplingPlan,
    factor: GroupingFactor,
    fixed: TensorVariable,
) -> TensorVariable:
    """Effects of a factor with random slopes (levels x terms), as ``plan`` says."""
    sd, corr_chol = _add_scales(priors, plan, factor)
    name, dims = factor.name, effect_dims(factor)
    scale = plan.effect_scale[name]
    if name == plan.absorbs:
        assert plan.absorb_map is not None
        center = pt.dot(plan.absorb_map, fixed)
        means_var = means_name(name)
        start = plan.start[means_var]
        transform = BatchedAffine(start, scale)
        means = _correlated_normal(means_var, center, sd, corr_chol, dims, transform, start)
        return pm.Deterministic(name, means - center, dims=dims)
    if plan.parameterization[name] == "centered":
        transform = BatchedAffine(plan.effect_loc[name], scale)
        zero = pt.zeros(factor.n_columns)
        return _correlated_normal(name, zero, sd, corr_chol, dims, transform, plan.start[name])
    z_name = noncentered_name(name)
    z = pm.Normal(z_name, 0.0, 1.0, dims=dims, initval=plan.start[z_name])
    white = z if corr_chol is None else pt.dot(z, corr_chol.T)
    return pm.Deterministic(name, white * sd, dims=dims)


def _add_scales(
    priors: Mapping[str, Prior], plan: SamplingPlan, factor: GroupingFactor
) -> tuple[TensorVariable, TensorVariable | None]:
    """``sd_<factor>``, the LKJ correlation blocks and ``corr_<factor>``.

    Returns the sds and the lower-triangular Cholesky factor ``C`` of the
    terms' correlation matrix (block diagonal, one LKJ block per correlated
    term; None when no terms are correlated): a level's effects have
    covariance ``diag(sd) C C' diag(sd)``.
    """
    model = pm.modelcontext(None)
    name = factor.name
    components = []
    for r, term in enumerate(factor.terms):
        variable = sd_component_name(name, r)
        prior = priors[sd_term(name, term)].make()
        components.append(model.register_rv(prior, variable, initval=plan.start[variable]))
    sd = pm.Deterministic(sd_term(name), pt.stack(components), dims=term_dim(name))
    if not has_correlation(factor):
        return sd, None
    blocks = []
    for block, size in enumerate(factor.blocks):
        if size == 1:
            blocks.append(pt.ones((1, 1)))
            continue
        variable = corr_chol_name(name, block)
        prior = priors[corr_term(name)].make(size)
        blocks.append(model.register_rv(prior, variable, initval=plan.start[variable]))
    corr_chol = blocks[0] if len(blocks) == 1 else pt.linalg.block_diag(*blocks)
    dims = (term_dim(name), term_bis_dim(name))
    pm.Deterministic(corr_name(name), pt.dot(corr_chol, corr_chol.T), dims=dims)
    return sd, corr_chol


def _correlated_normal(
    name: str,
    mu: TensorVariable,
    sd: TensorVariable,
    corr_chol: TensorVariable | None,
    dims: tuple[str, ...],
    transform: BatchedAffine,
    initval: np.ndarray,
) -> TensorVariable:
    """Levels x k effects, each level's row ``~ MvNormal(mu, diag(sd) C C' diag(sd))``.

    Independent normals when the terms are uncorrelated (``C`` is None);
    otherwise one custom distribution over the whole levels x k matrix whose
    log density whitens with one triangular solve (much cheaper to compile
    than ``pm.MvNormal``'s batched solves).
    """
    if corr_chol is None:
        return pm.Normal(name, mu, sd, dims=dims, transform=transform, initval=initval)
    shape = np.shape(initval)
    return pm.CustomDist(
        name,
        pt.broadcast_to(mu, shape),
        sd,
        corr_chol,
        logp=_correlated_normal_logp,
        random=_correlated_normal_random,
        signature="(g,k),(k),(k,k)->(g,k)",
        dims=dims,
        transform=transform,
        initval=initval,
    )


def _correlated_normal_logp(
    value: TensorVariable, mu: TensorVariable, sd: TensorVariable, corr_chol: TensorVariable
) -> TensorVariable:
    """Log density of ``value`` (levels x k) whose rows are ``MvNormal(mu_j, D C C' D)``."""
    scaled = (value - mu) / sd
    k = int(corr_chol.type.shape[-1])
    white: list[TensorVariable] = []
    for i in range(k):  # forward substitution, C white = scaled (k is small and known)
        row = scaled[:, i] - sum((corr_chol[i, m] * white[m] for m in range(i)), start=0.0)
        white.append(row / corr_chol[i, i])
    squares = sum((pt.sum(w**2) for w in white), start=0.0)
    log_det = pt.sum(pt.log(sd)) + sum(pt.log(corr_chol[i, i]) for i in range(k))
    return -0.5 * squares - value.shape[0] * (log_det + 0.5 * k * LOG_2PI)


def _correlated_normal_random(
    mu: np.ndarray,
    sd: np.ndarray,
    corr_chol: np.ndarray,
    rng: np.random.Generator | None = None,
    size: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Draws of :func:`_correlated_normal` (prior and prior predictive sampling)."""
    rng = np.random.default_rng() if rng is None else rng
    shape = tuple(size) + mu.shape if size is not None else mu.shape
    z = rng.standard_normal(shape)
    return mu + sd * (z @ np.swapaxes(corr_chol, -1, -2))


def _add_pointwise_likelihood(
    spec: ModelSpec,
    design: InternalDesign,
    fixed: TensorVariable,
    effects: list[TensorVariable],
    sigma: TensorVariable,
) -> None:
    """The observed variable, one row per observation (dimension ``obs``).

    Row ``i`` is ``Normal(mu_i + offset_i, sigma / sqrt(w_i))`` (lme4's offset
    and prior weights; none without them).
    """
    mu = pt.dot(design.Xc, fixed) if spec.n_fixed else pt.zeros(spec.nobs)
    if spec.offset is not None:
        mu = mu + spec.offset
    for factor, effect in zip(spec.factors, effects, strict=True):
        if factor.intercept_only:
            mu = mu + effect[factor.codes]
        else:
            mu = mu + pt.sum(effect[factor.codes] * factor.design, axis=1)
    weights = row_weights(spec)
    sd = sigma if weights is None else sigma / np.sqrt(weights)
    pm.Normal(observed_name(spec), mu, sd, observed=spec.y, dims="obs")
