"""Synthetic posteriors shaped like ``Model.sample()``'s, for tests that need no sampler.

:func:`synthetic_posterior` builds the groups and ``attrs`` the real DataTree
has (``posterior``, ``sample_stats``, ``observed_data``,
``posterior_predictive``; ``attrs`` from :func:`bayeshier.bayes.posterior.sampling_attrs`)
and, given the data, the ``constant_data`` group that
:func:`bayeshier.compare` reads to rebuild the REML fit (:func:`constant_data`
is the reference for what ``bayeshier.bayes`` writes there).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr

from bayeshier.bayes.names import obs_labels, observed_name
from bayeshier.bayes.posterior import sampling_attrs
from bayeshier.reml import RemlFit
from bayeshier.spec.model_spec import ModelSpec
from bayeshier.spec.tree import deparse

CHAINS, DRAWS = 2, 400
SHAPE = (CHAINS, DRAWS)


def synthetic_posterior(
    fit: RemlFit, seed: int = 0, data: pd.DataFrame | None = None
) -> xr.DataTree:
    """A DataTree shaped like Model.sample()'s, with draws centered on the REML fit.

    With ``data`` (the frame ``fit`` was fitted on) it holds ``constant_data`` too.
    """
    rng = np.random.default_rng(seed)
    posterior = _posterior(fit, rng)
    obs = {"obs": obs_labels(fit.spec)}
    name = observed_name(fit.spec)
    replicated = np.asarray(fit.fitted) + fit.sigma * rng.standard_normal((*SHAPE, fit.nobs))
    groups = {
        "posterior": xr.Dataset(posterior),
        "sample_stats": xr.Dataset(
            {
                "energy": (("chain", "draw"), rng.standard_normal(SHAPE)),
                "diverging": (("chain", "draw"), np.zeros(SHAPE, dtype=bool)),
            }
        ),
        "observed_data": xr.Dataset({name: xr.DataArray(fit.spec.y, dims="obs", coords=obs)}),
        "posterior_predictive": xr.Dataset(
            {name: xr.DataArray(replicated, dims=("chain", "draw", "obs"), coords=obs)}
        ),
    }
    if data is not None:
        groups["constant_data"] = constant_data(fit.spec, data)
    tree = xr.DataTree.from_dict(groups)
    choices = {factor.name: "centered" for factor in fit.spec.factors}
    tree.attrs.update(sampling_attrs(fit.spec, "nutpie", choices, fit, "full"))
    tree.attrs.update(row_argument_attrs(fit.spec))
    return tree


def row_argument_attrs(spec: ModelSpec) -> dict[str, str]:
    """Root ``attrs`` ``weights`` / ``offset``: the text of ``weights=`` / ``offset=`` given
    as a column name or an expression (given as values, they are ``constant_data``
    variables instead)."""
    recipe = spec.recipe
    nodes = {key: getattr(recipe, key, None) for key in ("weights", "offset")}
    return {key: deparse(node) for key, node in nodes.items() if node is not None}


def _posterior(fit: RemlFit, rng: np.random.Generator) -> dict[str, xr.DataArray]:
    """``beta``, ``sigma`` and per factor its effects, ``sd_<factor>`` (and ``corr_<factor>``)."""
    terms = list(fit.fixef.index)
    posterior = {
        "beta": xr.DataArray(
            fit.fixef.to_numpy() + fit.se.to_numpy() * rng.standard_normal((*SHAPE, len(terms))),
            dims=("chain", "draw", "fixed"),
            coords={"fixed": terms},
        ),
        "sigma": xr.DataArray(fit.sigma * np.exp(0.05 * rng.standard_normal(SHAPE)),
                              dims=("chain", "draw")),
    }  # fmt: skip
    for factor in fit.spec.factors:
        posterior.update(_factor_draws(fit, factor.name, rng))
    return posterior


def _factor_draws(fit: RemlFit, name: str, rng: np.random.Generator) -> dict[str, xr.DataArray]:
    factor = fit.spec.factor(name)
    modes = fit.ranef[name].to_numpy()  # levels x terms
    sds = np.sqrt(fit.condvar[name].to_numpy())
    effects = modes + sds * rng.standard_normal((*SHAPE, *modes.shape))
    level_dim, term_dim = f"{name}_level", f"{name}_term"
    sd = np.maximum(np.sqrt(np.diag(fit.covariances[name].to_numpy())), 0.1)
    sd_draws = sd * np.exp(0.3 * rng.standard_normal((*SHAPE, len(sd))))
    if factor.intercept_only:
        return {
            name: xr.DataArray(effects[..., 0], dims=("chain", "draw", level_dim),
                               coords={level_dim: list(factor.levels)}),
            f"sd_{name}": xr.DataArray(sd_draws[..., 0], dims=("chain", "draw")),
        }  # fmt: skip
    terms = list(factor.terms)
    draws = {
        name: xr.DataArray(effects, dims=("chain", "draw", level_dim, term_dim),
                           coords={level_dim: list(factor.levels), term_dim: terms}),
        f"sd_{name}": xr.DataArray(sd_draws, dims=("chain", "draw", term_dim),
                                   coords={term_dim: terms}),
    }  # fmt: skip
    if any(size > 1 for size in factor.blocks):
        corr = np.broadcast_to(np.eye(len(terms)), (*SHAPE, len(terms), len(terms)))
        draws[f"corr_{name}"] = xr.DataArray(
            corr.copy(),
            dims=("chain", "draw", term_dim, f"{term_dim}_bis"),
            coords={term_dim: terms, f"{term_dim}_bis": terms},
        )
    return draws


def constant_data(spec: ModelSpec, data: pd.DataFrame) -> xr.Dataset:
    """The ``constant_data`` group: the model's data columns over its rows (reference version).

    One variable per column the formula uses (``spec.columns``), dims
    ``obs`` with the coordinates of ``observed_data``, holding the rows the
    model used. Numeric columns keep their values; a categorical or text
    column is written as text, its level order in ``attrs["factor_levels"]``
    (JSON ``{column: [levels]}``). ``weights=`` / ``offset=`` given as values
    are the variables ``(weights)`` / ``(offset)``; given as a column name or
    an expression, their columns are among ``spec.columns`` and their text
    goes to the DataTree's root ``attrs`` (:func:`row_argument_attrs`).
    """
    frame = data.loc[:, list(spec.columns)]
    frame = frame[frame.notna().all(axis=1).to_numpy()]  # the rows build_spec keeps
    if len(frame) != spec.nobs:  # a transform (e.g. log of a negative) dropped more
        frame = data.loc[spec.row_index, list(spec.columns)]
    variables, levels = {}, {}
    for column in spec.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            levels[column] = [str(level) for level in values.cat.categories]
            values = values.astype(str)
        elif not pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            values = values.astype(str)
            levels[column] = sorted(set(values))
        array = values.to_numpy(dtype=object if column in levels else None)
        variables[column] = xr.DataArray(array, dims="obs", coords={"obs": obs_labels(spec)})
    recipe = spec.recipe
    if getattr(recipe, "weights_array", None) is not None:  # weights= given as values
        variables["(weights)"] = xr.DataArray(spec.weights, dims="obs")
    if getattr(recipe, "offset_array", None) is not None:  # offset= given as values
        values = recipe.offset_array.reindex(spec.row_index).to_numpy(dtype=float)
        variables["(offset)"] = xr.DataArray(values, dims="obs")
    return xr.Dataset(variables, attrs={"factor_levels": json.dumps(levels)})


def slope_posterior(seed: int = 0) -> xr.DataTree:
    """Random draws shaped like a (Days|Subject) posterior: corr_Subject's diagonal is 1."""
    rng = np.random.default_rng(seed)
    chains, draws, terms = 2, 100, ["Intercept", "Days"]
    rho = rng.uniform(-0.5, 0.5, (chains, draws))
    corr = np.ones((chains, draws, 2, 2))
    corr[..., 0, 1] = corr[..., 1, 0] = rho
    dims = ("chain", "draw")
    posterior = xr.Dataset(
        {
            "beta": ((*dims, "fixed"), rng.normal(size=(chains, draws, 2))),
            "sd_Subject": ((*dims, "Subject_term"), rng.gamma(5.0, size=(chains, draws, 2))),
            "corr_Subject": ((*dims, "Subject_term", "Subject_term_bis"), corr),
            "sigma": (dims, rng.gamma(5.0, size=(chains, draws))),
        },
        coords={"fixed": terms, "Subject_term": terms, "Subject_term_bis": terms},
    )
    return xr.DataTree.from_dict({"posterior": posterior})
