"""The PyMC graph of a GLMM: priors, group effects, linear predictor and likelihood.

Two densities of the data:

* ``"aggregated"`` (what :meth:`GlmmModel.sample` uses): the log density of
  the cells of :mod:`bayeshier.bayes.glmm.aggregate`, a ``pm.Potential``
  written in numerically stable forms (``k eta - n softplus(eta)`` for the
  logit, ``log Phi`` for the probit, ``k eta - m exp(eta)`` for the log);
* ``"pointwise"``: an observed Binomial or Poisson variable with one entry per
  row (dimension ``obs``), for prior and posterior predictive sampling.

Both are equal up to a constant. The ``"aggregated"`` graph also integrates
out the effects of a factor that a nested one is centred on
(:attr:`GlmmPlan.collapsed`, :mod:`bayeshier.bayes.glmm.nested`); the
``"pointwise"`` graph keeps every effect, so that it can be sampled forwards
(prior predictive). The fixed effects are sampled on the
internal scale of :class:`~bayeshier.bayes.glmm.plan.GlmmPlan` (centered
design, whitened by glmer's ``vcov``) and reported as ``beta``; each factor
is centered (standardized by its conditional modes and variances, and
hierarchically centred on what it absorbs, :mod:`bayeshier.bayes.glmm.centering`)
or non-centered as the plan says.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from bayeshier.bayes.fixed_scale import Affine
from bayeshier.bayes.glmm.aggregate import Cells
from bayeshier.bayes.glmm.centering import Hierarchy, centered_name
from bayeshier.bayes.glmm.nested import add_collapsed_nest
from bayeshier.bayes.glmm.plan import GlmmPlan, mixed_names
from bayeshier.bayes.names import FIXED_RV, level_dim, model_coords, noncentered_name
from bayeshier.bayes.prior_parse import Prior
from bayeshier.bayes.priors import sd_term
from bayeshier.errors import ModelError
from bayeshier.reml.glmm import Family
from bayeshier.spec.model_spec import ModelSpec

__all__ = ["GLMM_DENSITIES", "GlmmDensity", "build_glmm_model", "cell_loglik", "log_probabilities"]

GlmmDensity = Literal["aggregated", "pointwise"]
GLMM_DENSITIES: tuple[str, ...] = ("aggregated", "pointwise")


def log_probabilities(eta: TensorVariable, link: str) -> tuple[TensorVariable, TensorVariable]:
    """``log p`` and ``log(1 - p)`` of a binomial success at linear predictor ``eta``."""
    if link == "logit":
        return -pt.softplus(-eta), -pt.softplus(eta)
    if link == "probit":
        normal = pm.Normal.dist(0.0, 1.0)
        return pm.logcdf(normal, eta), pm.logcdf(normal, -eta)
    if link == "cloglog":
        rate = pt.exp(pt.minimum(eta, 30.0))
        return pt.log1mexp(-pt.maximum(rate, 1e-300)), -rate
    raise ModelError(f"Unknown binomial link {link!r}: use 'logit', 'probit' or 'cloglog'.")


def cell_loglik(eta: TensorVariable, cells: Cells, family: Family) -> TensorVariable:
    """Log density of the cells (up to a constant) at their linear predictors ``eta``."""
    k, n = cells.successes, cells.trials
    if family.name == "poisson":
        return pt.sum(k * eta - n * pt.exp(eta))
    if family.link == "logit":
        return pt.sum(k * eta - n * pt.softplus(eta))
    log_p, log_q = log_probabilities(eta, family.link)
    return pt.sum(k * log_p + (n - k) * log_q)


def build_glmm_model(
    spec: ModelSpec,
    family: Family,
    priors: Mapping[str, Prior],
    plan: GlmmPlan,
    cells: Cells,
    density: GlmmDensity = "aggregated",
    observed: str = "y",
) -> pm.Model:
    """Build the PyMC model.

    Parameters
    ----------
    spec : ModelSpec
        The specification (fixed-effect names, grouping factors, rows).
    family : Family
        Distribution and link.
    priors : dict
        Term name -> prior (:func:`bayeshier.bayes.glmm.priors.glmm_priors`).
    plan : GlmmPlan
        Parameterization and starting point.
    cells : Cells
        The aggregated data (and each row's cell).
    density : {"aggregated", "pointwise"}
        How the log density of the data is computed (see the module docstring).
    observed : str
        Name of the observed variable of the ``"pointwise"`` density.

    Returns
    -------
    pymc.Model

    """
    if density not in GLMM_DENSITIES:
        raise ModelError(f"density must be 'aggregated' or 'pointwise'; got {density!r}.")
    with pm.Model(coords=model_coords(spec)) as model:
        beta = _add_fixed_effects(spec, priors, plan)
        collapsed = plan.collapsed if density == "aggregated" else ()
        effects = _add_all_group_effects(spec, priors, plan, beta, collapsed)
        kept = _row_columns(spec, plan)
        if density == "aggregated":
            eta = _linear_predictor(
                cells.X[:, kept], cells.codes, cells.offset, beta[kept], effects
            )
            pm.Potential("_loglik", cell_loglik(eta, cells, family))
        else:
            codes = tuple(np.asarray(f.codes, dtype=np.int64) for f in spec.factors)
            offset = cells.offset[cells.row_cell]
            X = np.asarray(spec.X, float)[:, kept]
            eta = _linear_predictor(X, codes, offset, beta[kept], effects)
            _add_observed(eta, cells, family, observed)
    return model


def _row_columns(spec: ModelSpec, plan: GlmmPlan) -> np.ndarray:
    """The fixed-effect columns not absorbed by a centered factor's levels."""
    absorbed = {int(j) for h in plan.hierarchy.values() for j in h.columns}
    return np.array([j for j in range(len(spec.fixed_names)) if j not in absorbed], dtype=int)


def _linear_predictor(
    X: np.ndarray,
    codes: tuple[np.ndarray, ...],
    offset: np.ndarray,
    beta: TensorVariable,
    effects: list[TensorVariable | None],
) -> TensorVariable:
    """``X beta + offset + sum_f effect_f[codes_f]`` (an effect of None is absorbed in another)."""
    eta = (pt.dot(X, beta) if X.shape[1] else pt.zeros(X.shape[0])) + offset
    for effect, code in zip(effects, codes, strict=True):
        if effect is not None:
            eta = eta + effect[code]
    return eta


def _add_observed(eta: TensorVariable, cells: Cells, family: Family, name: str) -> None:
    """The observed variable, one entry per row (successes of trials, or counts)."""
    trials, successes = cells.row_trials, cells.row_successes
    if family.name == "poisson":
        pm.Poisson(name, mu=trials * pt.exp(eta), observed=successes, dims="obs")
    elif family.link == "logit":
        pm.Binomial(name, n=trials, logit_p=eta, observed=successes, dims="obs")
    else:
        log_p, _ = log_probabilities(eta, family.link)
        pm.Binomial(name, n=trials, p=pt.exp(log_p), observed=successes, dims="obs")


def _add_fixed_effects(
    spec: ModelSpec, priors: Mapping[str, Prior], plan: GlmmPlan
) -> TensorVariable:
    """The centered-design coefficients ``nu`` (whitened) and ``beta = to_user @ nu``."""
    makers = [priors[name].make for name in spec.fixed_names]
    if not makers:
        return pt.zeros((0,))

    def stacked(size: object) -> TensorVariable:
        return pt.stack([make() for make in makers])

    transform = Affine(plan.fixed_loc, plan.fixed_chol)
    nu = pm.CustomDist(
        FIXED_RV, dist=stacked, dims="fixed", transform=transform, initval=plan.fixed_loc
    )
    return pm.Deterministic("beta", pt.dot(plan.to_user, nu), dims="fixed")


def _add_all_group_effects(
    spec: ModelSpec,
    priors: Mapping[str, Prior],
    plan: GlmmPlan,
    beta: TensorVariable,
    collapsed: tuple[str, ...],
) -> list[TensorVariable | None]:
    """Every factor's effects as they enter the linear predictor, in ``spec.factors`` order.

    A factor with a :attr:`GlmmPlan.hierarchy` enters as its levels' whole
    linear predictor ``c``; a parent it absorbs then enters through it (None),
    its effects integrated out if ``collapsed`` names it.
    """
    made: dict[str, TensorVariable] = {}
    for factor in sorted(spec.factors, key=lambda f: f.name in plan.hierarchy):
        name = factor.name
        if name in collapsed:
            continue
        if name not in plan.hierarchy:
            made[name] = _add_group_effects(priors, plan, name)
            continue
        hierarchy = plan.hierarchy[name]
        fixed_part = _level_fixed_part(hierarchy, beta)
        if hierarchy.parent in collapsed:
            scale = plan.effect_scale[name]
            made[name] = add_collapsed_nest(priors, name, hierarchy, fixed_part, plan.start, scale)
        else:
            mean = fixed_part
            if hierarchy.parent is not None:
                mean = mean + made[str(hierarchy.parent)][hierarchy.parent_codes]
            made[name] = _add_centered_on(priors, plan, name, mean)
    absorbed = {h.parent for h in plan.hierarchy.values()}
    return [None if f.name in absorbed else made[f.name] for f in spec.factors]


def _level_fixed_part(hierarchy: Hierarchy, beta: TensorVariable) -> TensorVariable:
    """The fixed part of the levels' prior mean (the columns they absorb)."""
    if hierarchy.columns.size:
        return pt.dot(hierarchy.level_values, beta[hierarchy.columns])
    return pt.zeros(hierarchy.level_values.shape[0])


def _add_sd(priors: Mapping[str, Prior], plan: GlmmPlan, name: str) -> TensorVariable:
    """``sd_<factor>``, registered from its prior, starting at the plan's value."""
    term = sd_term(name)
    return pm.modelcontext(None).register_rv(priors[term].make(), term, initval=plan.start[term])


def _add_group_effects(priors: Mapping[str, Prior], plan: GlmmPlan, name: str) -> TensorVariable:
    """``sd_<factor>`` and the factor's effects, centered or non-centered."""
    sd = _add_sd(priors, plan, name)
    dim = level_dim(name)
    if plan.parameterization[name] == "centered":
        transform = Affine(plan.effect_loc[name], plan.effect_scale[name])
        return pm.Normal(name, 0.0, sd, dims=dim, transform=transform, initval=plan.start[name])
    if plan.parameterization[name] == "mixed":
        return pm.Deterministic(name, _mixed_effects(plan, name, sd), dims=dim)
    z_name = noncentered_name(name)
    z = pm.Normal(z_name, 0.0, 1.0, dims=dim, initval=plan.start[z_name])
    return pm.Deterministic(name, sd * z, dims=dim)


def _mixed_effects(plan: GlmmPlan, name: str, sd: TensorVariable) -> TensorVariable:
    """The effects of a mixed factor: its centered levels, then ``sd z``, put in level order."""
    centered = plan.centered_levels[name]
    others = np.setdiff1d(np.arange(len(plan.effect_loc[name])), centered)
    centered_name_, z_name = mixed_names(name)
    transform = Affine(plan.effect_loc[name][centered], plan.effect_scale[name][centered])
    start = plan.start[centered_name_]
    kept = pm.Normal(
        centered_name_, 0.0, sd, shape=len(centered), transform=transform, initval=start
    )
    z = pm.Normal(z_name, 0.0, 1.0, shape=len(others), initval=plan.start[z_name])
    order = np.argsort(np.concatenate([centered, others]))
    return pt.concatenate([kept, sd * z])[order]


def _add_centered_on(
    priors: Mapping[str, Prior], plan: GlmmPlan, name: str, mean: TensorVariable
) -> TensorVariable:
    """``c ~ Normal(mean, sd)``, standardized by its start and sqrt(condVar); ``b = c - mean``."""
    sd = _add_sd(priors, plan, name)
    dim = level_dim(name)
    total_name = centered_name(name)
    start = plan.start[total_name]
    transform = Affine(start, plan.effect_scale[name])
    total = pm.Normal(total_name, mean, sd, dims=dim, transform=transform, initval=start)
    pm.Deterministic(name, total - mean, dims=dim)
    return total
