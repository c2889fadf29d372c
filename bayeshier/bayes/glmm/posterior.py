"""From a GLMM's posterior draws to the DataTree :class:`GlmmModel` returns.

The observed data (successes or counts per row), the constant data (trials
and offset per row), the pointwise log-likelihood for ``az.loo`` and the
``attrs`` recording the Laplace fit, all computed with NumPy on the draws.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr
from scipy import special

from bayeshier.bayes.glmm.aggregate import Cells
from bayeshier.bayes.names import obs_labels
from bayeshier.bayes.posterior import reml_record
from bayeshier.reml.glmm import Family, GlmmFit
from bayeshier.spec.model_spec import ModelSpec

__all__ = [
    "cell_linear_predictor",
    "constant_data",
    "fit_record",
    "glmm_attrs",
    "observed_data",
    "pointwise_loglik",
]


def observed_data(spec: ModelSpec, cells: Cells, name: str) -> xr.Dataset:
    """Successes (binomial) or counts (Poisson) of every row, dimension ``obs``."""
    values = xr.DataArray(cells.row_successes, dims="obs", coords={"obs": obs_labels(spec)})
    return xr.Dataset({name: values})


def constant_data(spec: ModelSpec, cells: Cells) -> xr.Dataset:
    """Trials (or prior weights) and offset of every row, dimension ``obs``."""
    coords = {"obs": obs_labels(spec)}
    return xr.Dataset(
        {
            "trials": xr.DataArray(cells.row_trials, dims="obs", coords=coords),
            "offset": xr.DataArray(cells.offset[cells.row_cell], dims="obs", coords=coords),
        }
    )


def row_linear_predictor(spec: ModelSpec, cells: Cells, posterior: xr.Dataset) -> np.ndarray:
    """``X beta + b[codes] + offset`` per draw and row (chain x draw x rows)."""
    beta = posterior["beta"].transpose("chain", "draw", "fixed").to_numpy()
    shape = beta.shape[:2]
    flat = beta.reshape(-1, beta.shape[-1])  # one matrix product over every draw
    eta = flat @ np.asarray(spec.X, dtype=float).T
    eta += cells.offset[cells.row_cell]
    for factor in spec.factors:
        effects = posterior[factor.name].transpose("chain", "draw", ...).to_numpy()
        eta += effects.reshape(len(flat), -1)[:, np.asarray(factor.codes)]
    return eta.reshape(*shape, -1)


def cell_linear_predictor(
    cells: Cells, posterior: xr.Dataset, factor_names: list[str]
) -> np.ndarray:
    """``X beta + b[codes] + offset`` per draw and cell (draws x cells, chains flattened)."""
    beta = posterior["beta"].transpose("chain", "draw", "fixed").to_numpy()
    flat = beta.reshape(-1, beta.shape[-1])  # one matrix product over every draw
    eta = flat @ cells.X.T
    eta += cells.offset
    for name, codes in zip(factor_names, cells.codes, strict=True):
        effects = posterior[name].transpose("chain", "draw", ...).to_numpy()
        eta += effects.reshape(len(flat), -1)[:, codes]
    return eta


def _softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + e^x)``, stable, in fewer passes than ``np.logaddexp(0, x)``."""
    out = np.negative(np.abs(x))
    np.exp(out, out=out)
    np.log1p(out, out=out)
    out += np.maximum(x, 0.0)
    return out


def _cell_terms(eta: np.ndarray, family: Family) -> tuple[np.ndarray, np.ndarray]:
    """Per cell, what a success (count) and a failure (unit of exposure) add to the log density.

    Binomial: ``log mu`` and ``log(1 - mu)``; Poisson: ``eta`` and ``-exp(eta)``.
    """
    if family.name == "poisson":
        return eta, -np.exp(eta)
    if family.link == "logit":
        return -_softplus(-eta), -_softplus(eta)
    mu = np.clip(family.linkinv(eta.ravel()).reshape(eta.shape), 1e-300, 1 - 1e-16)
    return np.log(mu), np.log1p(-mu)


def _row_constants(k: np.ndarray, n: np.ndarray, family: Family) -> np.ndarray:
    """The parameter-free part of each row's log density (binomial coefficient, ``-log k!``)."""
    if family.name == "poisson":
        return special.xlogy(k, n) - special.gammaln(k + 1)
    return special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)


def pointwise_loglik(
    spec: ModelSpec, cells: Cells, family: Family, posterior: xr.Dataset, name: str
) -> xr.Dataset:
    """Log density of every row at every draw (the ``log_likelihood`` group).

    Binomial rows (``k`` successes of ``n``): ``k log mu + (n - k) log(1 - mu)``;
    Poisson rows with weight ``n``: ``k log(n mu) - n mu``; plus each row's
    constant, computed once. The rows of a cell share ``mu``: its logarithms
    are computed once per cell (:func:`cell_linear_predictor`), then spread
    to the rows.
    """
    eta = cell_linear_predictor(cells, posterior, [f.name for f in spec.factors])
    success, failure = _cell_terms(eta, family)
    k, n = cells.row_successes, cells.row_trials
    weight = n if family.name == "poisson" else n - k
    values = np.take(success, cells.row_cell, axis=1)
    values *= k
    values += np.take(failure, cells.row_cell, axis=1) * weight
    values += _row_constants(k, n, family)
    shape = (posterior.sizes["chain"], posterior.sizes["draw"], len(k))
    coords = {"chain": posterior["chain"], "draw": posterior["draw"], "obs": obs_labels(spec)}
    return xr.Dataset(
        {name: xr.DataArray(values.reshape(shape), dims=("chain", "draw", "obs"), coords=coords)}
    )


def fit_record(fit: GlmmFit) -> dict[str, Any]:
    """The Laplace fit as plain JSON-able data (``idata.attrs["reml"]``).

    The layout of :func:`bayeshier.bayes.posterior.reml_record` (``fixef``,
    ``se``, ``theta``, ``sd``, ``ranef`` = conditional modes, ...) plus
    ``condvar``, ``loglik``, ``family``, ``link`` and ``nagq``.
    """
    record = reml_record(fit, fit.spec)  # type: ignore[arg-type]  # GlmmFit has RemlFit's interface
    record["condvar"] = {
        name: frame.iloc[:, 0].astype(float).to_dict() for name, frame in fit.condvar.items()
    }
    record.update(
        loglik=float(fit.loglik), family=fit.family.name, link=fit.link, nagq=int(fit.nagq)
    )
    return record


def glmm_attrs(
    fit: GlmmFit, sampler: str, parameterization: dict[str, str], cells: Cells
) -> dict[str, str]:
    """The DataTree's ``attrs``: formula, family, sampler, parameterization, the fit (JSON)."""
    return {
        "formula": fit.formula,
        "family": fit.family.name,
        "link": fit.link,
        "sampler": sampler,
        "parameterization": json.dumps(parameterization),
        "likelihood": "aggregated",
        "n_cells": str(cells.n_cells),
        "reml": json.dumps(fit_record(fit)),
        "inference_library": "pymc" if sampler == "pymc" else "nutpie",
    }
