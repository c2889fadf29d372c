"""Build the PyMC model of a specification: priors, group effects and one of three likelihoods.

* ``"pointwise"``: the observed variable (for prior and posterior predictive
  sampling).
* ``"sufficient"``: an equal log density from per-cell sums
  (:func:`bayeshier.likelihood.sufficient_loglik`), as a ``pm.Potential``.
* ``"marginal"``: the same with the effects of
  :attr:`SamplingPlan.integrated <bayeshier.parameterization.SamplingPlan>`
  (the largest factor, and the factor it is nested in if any) integrated out
  (:func:`bayeshier.marginal.marginal_loglik`); they get no variable, only
  their sds.

The fixed effects are sampled on the internal scale
(:mod:`bayeshier.internal_scale`) and each factor's effects as the
:class:`~bayeshier.parameterization.SamplingPlan` says: centred, non-centred,
or as group means that absorb the intercept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import pymc as pm
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from bayeshier.errors import ModelError
from bayeshier.internal_scale import Affine, InternalDesign
from bayeshier.likelihood import Cells, sufficient_loglik
from bayeshier.marginal import marginal_loglik
from bayeshier.naming import (
    FIXED_RV,
    level_dim,
    means_name,
    model_coords,
    noncentred_name,
    observed_name,
)
from bayeshier.parameterization import SamplingPlan
from bayeshier.priors import Prior, intercept_index, sd_term
from bayeshier.spec import GroupingFactor, ModelSpec

__all__ = ["LIKELIHOODS", "Likelihood", "build_model", "check_likelihood"]

Likelihood = Literal["pointwise", "sufficient", "marginal"]
LIKELIHOODS = ("pointwise", "sufficient", "marginal")


def check_likelihood(likelihood: str) -> None:
    """Reject an unknown ``likelihood`` (see :data:`LIKELIHOODS`) with a :class:`ModelError`."""
    if likelihood not in LIKELIHOODS:
        raise ModelError(
            f"likelihood must be 'pointwise', 'sufficient' or 'marginal', not {likelihood!r}."
        )


def build_model(
    spec: ModelSpec,
    priors: Mapping[str, Prior],
    plan: SamplingPlan,
    design: InternalDesign,
    cells: Cells | None,
    likelihood: Likelihood = "pointwise",
) -> pm.Model:
    """Build the PyMC model.

    Parameters
    ----------
    spec : ModelSpec
        The model's specification.
    priors : dict
        Term name -> resolved prior (:func:`bayeshier.priors.resolve_priors`).
    plan : SamplingPlan
        Parameterisation and starting point.
    design : InternalDesign
        The centred design (the fixed effects' internal scale).
    cells : Cells or None
        Per-cell sums; needed by the ``"sufficient"`` and ``"marginal"`` likelihoods.
    likelihood : {"pointwise", "sufficient", "marginal"}
        Which likelihood the model gets (see the module docstring).

    Returns
    -------
    pymc.Model

    """
    check_likelihood(likelihood)
    collapsed = plan.integrated if likelihood == "marginal" else ()
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
        if likelihood == "pointwise":
            _add_pointwise_likelihood(spec, design, fixed, ordered, sigma)
        elif not collapsed:
            pm.Potential("_loglik", sufficient_loglik(design, cells, fixed, ordered, sigma))
        else:
            parent = _position(spec, plan.marginal_parent)
            loglik = marginal_loglik(design, cells, fixed, ordered, sigma, parent=parent)
            pm.Potential("_loglik", loglik)
    return model


def _position(spec: ModelSpec, name: str | None) -> int | None:
    """Index of factor ``name`` in ``spec.factors`` (None for None)."""
    return None if name is None else [f.name for f in spec.factors].index(name)


def _add_fixed_effects(
    spec: ModelSpec, priors: Mapping[str, Prior], plan: SamplingPlan, design: InternalDesign
) -> TensorVariable:
    """The centred-design coefficients (sampled on the internal scale) and ``beta``."""
    makers = [priors[name].make for name in spec.fixed_names]
    transform = Affine(plan.fixed_loc, plan.fixed_chol)

    def stacked(size: Any) -> TensorVariable:
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
    """A factor's sd and effects, parameterised as ``plan`` says."""
    sd = _add_prior_rv(priors, plan, sd_term(factor.name))
    dim = level_dim(factor.name)
    loc, scale = plan.effect_loc[factor.name], plan.effect_scale[factor.name]
    if factor.name == plan.absorbs:
        centre = fixed[intercept_index(spec)]
        for parent, codes in plan.parents.items():
            centre = centre + others[parent][codes]
        name = means_name(factor.name)
        start = plan.start[name]
        transform = Affine(start, scale)
        means = pm.Normal(name, centre, sd, dims=dim, transform=transform, initval=start)
        return pm.Deterministic(factor.name, means - centre, dims=dim)
    if plan.parameterization[factor.name] == "centered":
        start = plan.start[factor.name]
        transform = Affine(loc, scale)
        return pm.Normal(factor.name, 0.0, sd, dims=dim, transform=transform, initval=start)
    name = noncentred_name(factor.name)
    z = pm.Normal(name, 0.0, 1.0, dims=dim, initval=plan.start[name])
    return pm.Deterministic(factor.name, sd * z, dims=dim)


def _add_pointwise_likelihood(
    spec: ModelSpec,
    design: InternalDesign,
    fixed: TensorVariable,
    effects: list[TensorVariable],
    sigma: TensorVariable,
) -> None:
    """The observed variable, one row per observation (dimension ``obs``)."""
    mu = pt.dot(design.Xc, fixed) if spec.n_fixed else pt.zeros(spec.nobs)
    for factor, effect in zip(spec.factors, effects, strict=True):
        mu = mu + effect[factor.codes]
    pm.Normal(observed_name(spec), mu, sigma, observed=spec.y, dims="obs")
