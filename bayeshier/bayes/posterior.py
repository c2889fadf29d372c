"""From posterior draws to what :class:`bayeshier.Model` returns.

Post-processing of the sampler's DataTree (internal variables and text-valued
statistics dropped, the observed data, the pointwise log-likelihood for
``az.loo`` and the ``attrs`` recording the REML fit), and posterior
predictions for new rows. Everything here is NumPy on the draws: no PyMC
graph.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayeshier.bayes.cell_sums import LOG_2PI, row_weights
from bayeshier.bayes.names import corr_name, effect_dims, obs_labels, term_bis_dim, term_dim
from bayeshier.bayes.priors import sd_term
from bayeshier.errors import ModelError
from bayeshier.reml import RemlFit
from bayeshier.spec.model_spec import GroupingFactor, ModelSpec

__all__ = [
    "covariance_root",
    "linear_predictor",
    "new_rows_predictor",
    "numeric_statistics",
    "observed_data",
    "pointwise_loglik",
    "posterior_of",
    "posterior_predictive",
    "predictions",
    "predictions_group",
    "public_variables",
    "reml_record",
    "sampling_attrs",
]

_LOGLIK_CHUNK = 2_000_000


# ------------------------------------------------------------ the DataTree
def posterior_of(idata: xr.DataTree, needed: Iterable[str] = ()) -> xr.Dataset:
    """The ``posterior`` group of ``idata`` as a Dataset, checked to hold ``needed``.

    Raises
    ------
    ModelError
        ``idata`` has no posterior group, or its posterior lacks a needed variable.

    """
    if "posterior" not in idata.children:
        raise ModelError("idata has no posterior group: pass the result of the model's sample().")
    posterior = idata["posterior"].to_dataset()
    missing = [name for name in needed if name not in posterior.data_vars]
    if missing:
        raise ModelError(
            f"idata's posterior lacks {', '.join(map(repr, missing))}: pass the result of "
            "sample() of this model."
        )
    return posterior


def public_variables(dataset: xr.Dataset) -> xr.Dataset:
    """Drop internal variables and their coordinates (named with a leading underscore)."""
    hidden = [name for name in dataset.variables if str(name).startswith("_")]
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
    fit: RemlFit,
    likelihood: str,
) -> dict[str, str]:
    """The DataTree's ``attrs``: formula, sampler, parameterization, likelihood, REML fit (JSON).

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


def reml_record(fit: RemlFit, spec: ModelSpec) -> dict[str, Any]:
    """The REML fit as plain JSON-able data (stored in ``idata.attrs["reml"]``).

    ``sd`` maps ``sd_<factor>`` (random intercept) or ``sd_<factor>[<term>]``
    (random slopes) to the REML sd, ``corr`` maps ``corr_<factor>[<a>, <b>]``
    to the REML correlation of every correlated pair, and ``ranef`` holds
    the BLUPs: level -> value for a random intercept, term -> level -> value
    with random slopes.
    """
    sd: dict[str, float] = {}
    corr: dict[str, float] = {}
    ranef: dict[str, Any] = {}
    for factor in spec.factors:
        covariance = fit.covariances[factor.name].to_numpy(dtype=float)
        frame = fit.ranef[factor.name]
        if factor.intercept_only:
            sd[sd_term(factor.name)] = float(np.sqrt(covariance[0, 0]))
            ranef[factor.name] = frame["Intercept"].astype(float).to_dict()
            continue
        sds = np.sqrt(np.diag(covariance))
        for r, term in enumerate(factor.terms):
            sd[sd_term(factor.name, term)] = float(sds[r])
        corr.update(_correlations(factor, covariance, sds))
        ranef[factor.name] = {term: frame[term].astype(float).to_dict() for term in factor.terms}
    return {
        "fixef": {k: float(v) for k, v in fit.fixef.items()},
        "se": {k: float(v) for k, v in fit.se.items()},
        "sigma": float(fit.sigma),
        "theta": [float(t) for t in np.asarray(fit.theta)],
        "sd": sd,
        "corr": corr,
        "ranef": ranef,
        "is_singular": bool(fit.is_singular),
    }


def _correlations(
    factor: GroupingFactor, covariance: np.ndarray, sds: np.ndarray
) -> dict[str, float]:
    """``corr_<factor>[<a>, <b>]`` -> REML correlation, for each correlated pair of terms."""
    result, offset = {}, 0
    for size in factor.blocks:
        for j in range(offset, offset + size):
            for i in range(j + 1, offset + size):
                scale = sds[i] * sds[j]
                value = covariance[i, j] / scale if scale > 0 else float("nan")
                key = f"{corr_name(factor.name)}[{factor.terms[j]}, {factor.terms[i]}]"
                result[key] = float(value)
        offset += size
    return result


# ------------------------------------------------------------- the draws
def linear_predictor(
    spec: ModelSpec,
    posterior: xr.Dataset,
    X: np.ndarray,
    codes: list[np.ndarray],
    designs: list[np.ndarray] | None = None,
) -> np.ndarray:
    """Posterior draws of ``X beta + sum_f z_f' b_f[codes_f]`` (chain x draw x rows).

    ``designs`` holds each factor's random-effect columns of the rows
    (:meth:`GroupingFactor.design_for <bayeshier.spec.model_spec.GroupingFactor.design_for>`);
    by default the fitted rows' own (then ``X`` must be the fitted rows).
    A code of -1 contributes nothing (callers add new-level effects).
    """
    designs = _default_designs(spec, X) if designs is None else designs
    mu = np.einsum("cdp,np->cdn", posterior["beta"].to_numpy(), X) if X.shape[1] else 0.0
    mu = np.broadcast_to(mu, (*_draw_shape(posterior), X.shape[0])).copy()
    for factor, code, columns in zip(spec.factors, codes, designs, strict=True):
        effects = _effects(posterior, factor)
        seen = code >= 0
        if factor.intercept_only:
            mu[..., seen] += effects[..., code[seen]]
        else:
            picked = effects[:, :, code[seen], :]
            mu[..., seen] += np.einsum("cdnk,nk->cdn", picked, columns[seen])
    return mu


def _default_designs(spec: ModelSpec, X: np.ndarray) -> list[np.ndarray]:
    """The fitted rows' random-effect columns, checked to match ``X``'s rows."""
    if not spec.intercepts_only and X.shape[0] != spec.nobs:
        raise ModelError(
            "The model has random slopes: pass designs= (each factor's random-effect columns "
            "of the rows, GroupingFactor.design_for(newdata)) to predict new rows."
        )
    return [factor.columns() for factor in spec.factors]


def _effects(posterior: xr.Dataset, factor: GroupingFactor) -> np.ndarray:
    """Draws of a factor's effects: chain x draw x level (x term with random slopes)."""
    return posterior[factor.name].transpose("chain", "draw", *effect_dims(factor)).to_numpy()


def _row_chunks(spec: ModelSpec, posterior: xr.Dataset) -> list[slice]:
    """Slices of the rows such that a chunk's draws x rows stay near :data:`_LOGLIK_CHUNK`."""
    rows = max(1, _LOGLIK_CHUNK // max(1, posterior["sigma"].size))
    return [slice(start, start + rows) for start in range(0, spec.nobs, rows)]


def _fitted_means(spec: ModelSpec, posterior: xr.Dataset, piece: slice) -> np.ndarray:
    """Draws of the mean of the fitted rows ``piece``: linear predictor plus offset."""
    codes = [f.codes[piece] for f in spec.factors]
    designs = [f.columns()[piece] for f in spec.factors]
    mu = linear_predictor(spec, posterior, spec.X[piece], codes, designs)
    return mu if spec.offset is None else mu + spec.offset[piece]


def _residual_sds(spec: ModelSpec, posterior: xr.Dataset, piece: slice) -> np.ndarray:
    """Draws of the fitted rows' residual sds, ``sigma / sqrt(w_i)`` (chain x draw x rows)."""
    sigma = posterior["sigma"].to_numpy()[..., None]
    weights = row_weights(spec)
    return sigma if weights is None else sigma / np.sqrt(weights[piece])


def _row_dataset(
    spec: ModelSpec, posterior: xr.Dataset, values: np.ndarray, name: str
) -> xr.Dataset:
    """``values`` (chain x draw x rows) as variable ``name`` with dims (chain, draw, obs)."""
    coords = {"chain": posterior["chain"], "draw": posterior["draw"], "obs": obs_labels(spec)}
    data = xr.DataArray(values, dims=("chain", "draw", "obs"), coords=coords)
    return xr.Dataset({name: data})


def pointwise_loglik(spec: ModelSpec, posterior: xr.Dataset, name: str) -> xr.Dataset:
    """Pointwise log-likelihood of the observed rows (for ``az.loo``), as variable ``name``.

    Row ``i`` is ``Normal(mu_i + offset_i, sigma / sqrt(w_i))`` (prior weights
    ``w``, 1 without them), so its log density gains ``log(w_i) / 2``.
    """
    values = np.empty((*posterior["sigma"].shape, spec.nobs))
    for piece in _row_chunks(spec, posterior):
        sd = _residual_sds(spec, posterior, piece)
        z = (spec.y[piece] - _fitted_means(spec, posterior, piece)) / sd
        values[..., piece] = -0.5 * (LOG_2PI + z**2) - np.log(sd)
    return _row_dataset(spec, posterior, values, name)


def posterior_predictive(
    spec: ModelSpec, posterior: xr.Dataset, name: str, rng: np.random.Generator
) -> xr.Dataset:
    """One replicate of the observed rows per posterior draw, as variable ``name``.

    ``Normal(mu_i + offset_i, sigma / sqrt(w_i))`` with the fitted rows'
    group effects, dims (chain, draw, obs) like ``observed_data``.
    """
    values = np.empty((*posterior["sigma"].shape, spec.nobs))
    for piece in _row_chunks(spec, posterior):
        mu = _fitted_means(spec, posterior, piece)
        values[..., piece] = mu + _residual_sds(spec, posterior, piece) * rng.standard_normal(
            mu.shape
        )
    return _row_dataset(spec, posterior, values, name)


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
    mu = new_rows_predictor(spec, posterior, newdata, include_random, rng)
    sigma = posterior["sigma"].to_numpy()[..., None]
    draws = mu + sigma * rng.standard_normal(mu.shape)
    return predictions_group(posterior, newdata.index, {"mu": mu, name: draws})


def predictions_group(
    posterior: xr.Dataset, index: pd.Index, values: dict[str, np.ndarray]
) -> xr.DataTree:
    """The ``predictions`` group: each array (chain x draw x new rows) with ``obs`` = ``index``."""
    dims = ("chain", "draw", "obs")
    coords = {"chain": posterior["chain"], "draw": posterior["draw"], "obs": np.asarray(index)}
    data = {key: xr.DataArray(array, dims=dims, coords=coords) for key, array in values.items()}
    return xr.DataTree.from_dict({"predictions": xr.Dataset(data)})


def new_rows_predictor(
    spec: ModelSpec,
    posterior: xr.Dataset,
    newdata: pd.DataFrame,
    include_random: bool,
    rng: np.random.Generator,
    offset: np.ndarray | pd.Series | None = None,
) -> np.ndarray:
    """Posterior draws of new rows' ``X beta + offset`` plus, if ``include_random``, group effects.

    A level not seen in fitting gets an effect drawn from the factor's prior
    per posterior draw (chain x draw x rows). The offset is ``offset`` (one
    value per row) or else the model's own ``offset(...)`` terms and
    ``offset=`` column evaluated on ``newdata``
    (:meth:`ModelSpec.offset_for <bayeshier.spec.model_spec.ModelSpec.offset_for>`).
    """
    X = spec.fixed_design(newdata)
    codes = [np.full(len(newdata), -1) for _ in spec.factors]
    designs = [np.ones((len(newdata), f.n_columns)) for f in spec.factors]
    if include_random:
        codes = [factor.codes_for(newdata) for factor in spec.factors]
        designs = [factor.design_for(newdata) for factor in spec.factors]
    eta = linear_predictor(spec, posterior, X, codes, designs)
    if include_random:
        eta += _new_level_effects(spec, newdata, posterior, codes, designs, rng)
    whole_offset = spec.offset_for(newdata, offset)
    if whole_offset is not None:
        eta += whole_offset
    return eta


def _draw_shape(posterior: xr.Dataset) -> tuple[int, int]:
    """(chains, draws) of a posterior."""
    return posterior.sizes["chain"], posterior.sizes["draw"]


def _new_level_effects(
    spec: ModelSpec,
    newdata: pd.DataFrame,
    posterior: xr.Dataset,
    codes: list[np.ndarray],
    designs: list[np.ndarray],
    rng: np.random.Generator,
) -> np.ndarray:
    """Effects of unseen levels: one draw from the factor's prior per level and posterior draw.

    ``Normal(0, sd_f)`` for a random intercept; with random slopes
    ``MvNormal(0, Sigma_f)`` (``Sigma_f`` from ``sd_<factor>`` and
    ``corr_<factor>``), applied to the rows' random-effect columns.
    """
    shape = (*_draw_shape(posterior), len(newdata))
    extra = np.zeros(shape)
    for factor, code, columns in zip(spec.factors, codes, designs, strict=True):
        unseen = code < 0
        if not unseen.any():
            continue
        labels = factor.labels_for(newdata)[unseen]
        groups, inverse = np.unique(labels, return_inverse=True)
        if factor.intercept_only:
            sd = posterior[sd_term(factor.name)].to_numpy()[..., None]
            new = sd * rng.standard_normal((*sd.shape[:-1], len(groups)))
            extra[..., unseen] += new[..., inverse]
            continue
        root = covariance_root(posterior, factor)
        z = rng.standard_normal((*root.shape[:-2], len(groups), factor.n_columns))
        new = np.einsum("cdkl,cdgl->cdgk", root, z)
        extra[..., unseen] += np.einsum("cdnk,nk->cdn", new[:, :, inverse, :], columns[unseen])
    return extra


def covariance_root(posterior: xr.Dataset, factor: GroupingFactor) -> np.ndarray:
    """Per draw, ``diag(sd) R^(1/2)`` (chain x draw x k x k), whose square is ``Sigma_f``.

    The symmetric square root of the correlation ``R`` (identity when the
    terms are uncorrelated) is used, so a correlation of +-1 is harmless.
    """
    sd = posterior[sd_term(factor.name)].transpose("chain", "draw", term_dim(factor.name))
    sd = sd.to_numpy()
    name = corr_name(factor.name)
    if name in posterior.data_vars:
        dims = ("chain", "draw", term_dim(factor.name), term_bis_dim(factor.name))
        corr = posterior[name].transpose(*dims).to_numpy()
    else:
        corr = np.broadcast_to(np.eye(factor.n_columns), (*sd.shape, factor.n_columns))
    values, vectors = np.linalg.eigh(corr)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))[..., None, :]
    return sd[..., :, None] * root
