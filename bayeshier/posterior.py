"""From posterior draws to what :class:`bayeshier.Model` returns.

Post-processing of the sampler's DataTree (internal variables and text-valued
statistics dropped, the observed data, the pointwise log-likelihood for
``az.loo`` and the ``attrs`` recording the REML fit), and posterior
predictions for new rows. Everything here is NumPy on the draws: no PyMC
graph.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayeshier.likelihood import LOG_2PI
from bayeshier.naming import obs_labels
from bayeshier.priors import sd_term
from bayeshier.spec import ModelSpec

__all__ = [
    "linear_predictor",
    "numeric_statistics",
    "observed_data",
    "pointwise_loglik",
    "predictions",
    "public_variables",
    "reml_record",
    "sampling_attrs",
]

_LOGLIK_CHUNK = 2_000_000


# ------------------------------------------------------------ the DataTree
def public_variables(dataset: xr.Dataset) -> xr.Dataset:
    """Drop internal variables (named with a leading underscore)."""
    hidden = [name for name in dataset.data_vars if str(name).startswith("_")]
    return dataset.drop_vars(hidden)


def numeric_statistics(dataset: xr.Dataset) -> xr.Dataset:
    """Drop text-valued statistics (nutpie's divergence messages) so the tree saves to netCDF."""
    text = [name for name, value in dataset.data_vars.items() if value.dtype == object]
    return dataset.drop_vars(text)


def observed_data(spec: ModelSpec, name: str) -> xr.Dataset:
    """The response as the ``observed_data`` group (variable ``name``, dimension ``obs``)."""
    obs = xr.DataArray(spec.y, dims="obs", coords={"obs": obs_labels(spec)})
    return xr.Dataset({name: obs})


def sampling_attrs(
    spec: ModelSpec,
    sampler: str,
    parameterization: dict[str, str],
    fit: Any,
    likelihood: str,
) -> dict[str, str]:
    """The DataTree's ``attrs``: formula, sampler, parameterisation, likelihood, REML fit (JSON).

    ``likelihood`` is ``"collapsed"`` or ``"full"`` (see ``Model.likelihood``).
    """
    return {
        "formula": spec.formula.text,
        "sampler": sampler,
        "parameterization": json.dumps(parameterization),
        "likelihood": likelihood,
        "reml": json.dumps(reml_record(fit, spec)),
        "inference_library": "pymc" if sampler == "pymc" else "nutpie",
    }


def reml_record(fit: Any, spec: ModelSpec) -> dict[str, Any]:
    """The REML fit as plain JSON-able data (stored in ``idata.attrs["reml"]``)."""
    sigma = float(fit.sigma)
    return {
        "fixef": {k: float(v) for k, v in fit.fixef.items()},
        "se": {k: float(v) for k, v in fit.se.items()},
        "sigma": sigma,
        "theta": [float(t) for t in np.asarray(fit.theta)],
        "sd": {
            sd_term(f.name): float(t) * sigma
            for f, t in zip(spec.factors, np.asarray(fit.theta), strict=True)
        },
        "ranef": {
            name: frame["Intercept"].astype(float).to_dict() for name, frame in fit.ranef.items()
        },
        "is_singular": bool(fit.is_singular),
    }


# ------------------------------------------------------------- the draws
def linear_predictor(
    spec: ModelSpec, posterior: xr.Dataset, X: np.ndarray, codes: list[np.ndarray]
) -> np.ndarray:
    """Posterior draws of ``X beta + sum_f b_f[codes_f]`` (chain x draw x rows).

    A code of -1 contributes nothing (callers add new-level effects).
    """
    mu = np.einsum("cdp,np->cdn", posterior["beta"].to_numpy(), X) if X.shape[1] else 0.0
    mu = np.broadcast_to(mu, (*posterior["sigma"].shape, X.shape[0])).copy()
    for factor, code in zip(spec.factors, codes, strict=True):
        effects = posterior[factor.name].to_numpy()
        seen = code >= 0
        mu[..., seen] += effects[..., code[seen]]
    return mu


def pointwise_loglik(spec: ModelSpec, posterior: xr.Dataset, name: str) -> xr.Dataset:
    """Pointwise log-likelihood of the observed rows (for ``az.loo``), as variable ``name``."""
    sigma = posterior["sigma"].to_numpy()[..., None]
    codes = [f.codes for f in spec.factors]
    rows = max(1, _LOGLIK_CHUNK // max(1, sigma.size))
    parts = []
    for start in range(0, spec.nobs, rows):
        piece = slice(start, start + rows)
        mu = linear_predictor(spec, posterior, spec.X[piece], [c[piece] for c in codes])
        z = (spec.y[piece] - mu) / sigma
        parts.append(-0.5 * (LOG_2PI + z**2) - np.log(sigma))
    values = np.concatenate(parts, axis=-1)
    dims = ("chain", "draw", "obs")
    coords = {
        "chain": posterior["chain"],
        "draw": posterior["draw"],
        "obs": obs_labels(spec),
    }
    return xr.Dataset({name: xr.DataArray(values, dims=dims, coords=coords)})


def predictions(
    spec: ModelSpec,
    posterior: xr.Dataset,
    newdata: pd.DataFrame,
    include_random: bool,
    rng: np.random.Generator,
    name: str,
) -> xr.DataTree:
    """Posterior predictive draws for ``newdata`` (see :meth:`bayeshier.Model.predict`).

    Returns
    -------
    xarray.DataTree
        Group ``predictions`` with ``mu`` and the response ``name`` (``mu``
        plus residual noise), dims (chain, draw, obs).

    """
    X = spec.fixed_design(newdata)
    codes = [np.full(len(newdata), -1) for _ in spec.factors]
    if include_random:
        codes = [factor.codes_for(newdata) for factor in spec.factors]
    mu = linear_predictor(spec, posterior, X, codes)
    if include_random:
        mu += _new_level_effects(spec, newdata, posterior, codes, rng)
    sigma = posterior["sigma"].to_numpy()[..., None]
    draws = mu + sigma * rng.standard_normal(mu.shape)
    dims = ("chain", "draw", "obs")
    coords = {
        "chain": posterior["chain"],
        "draw": posterior["draw"],
        "obs": np.asarray(newdata.index),
    }
    data = {
        "mu": xr.DataArray(mu, dims=dims, coords=coords),
        name: xr.DataArray(draws, dims=dims, coords=coords),
    }
    return xr.DataTree.from_dict({"predictions": xr.Dataset(data)})


def _new_level_effects(
    spec: ModelSpec,
    newdata: pd.DataFrame,
    posterior: xr.Dataset,
    codes: list[np.ndarray],
    rng: np.random.Generator,
) -> np.ndarray:
    """Effects of unseen levels: one Normal(0, sd_f) draw per level and posterior draw."""
    shape = (*posterior["sigma"].shape, len(newdata))
    extra = np.zeros(shape)
    for factor, code in zip(spec.factors, codes, strict=True):
        unseen = code < 0
        if not unseen.any():
            continue
        labels = factor.labels_for(newdata)[unseen]
        groups, inverse = np.unique(labels, return_inverse=True)
        sd = posterior[sd_term(factor.name)].to_numpy()[..., None]
        new = sd * rng.standard_normal((*sd.shape[:-1], len(groups)))
        extra[..., unseen] += new[..., inverse]
    return extra
