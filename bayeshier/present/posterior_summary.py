"""Reading a posterior for :func:`bayeshier.compare`: the draws of each table cell, summarised.

The posterior is the one :meth:`bayeshier.Model.sample` returns (an
``xarray.DataTree``; an InferenceData or a bare posterior ``xarray.Dataset``
works too). :func:`posterior_dataset` takes its posterior group,
:func:`check_posterior` refuses the posterior of another model,
:func:`level_draws` and :func:`select_draws` pick the draws behind a row, and
:func:`posterior_summary` / :func:`scalar_summary` reduce them to the
posterior columns (mean, sd or median, HDI).

xarray and ArviZ are imported only when a posterior is read, so that
``import bayeshier`` loads neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayeshier.errors import DataError

if TYPE_CHECKING:
    import xarray as xr

    from bayeshier.reml import RemlFit
    from bayeshier.spec.model_spec import GroupingFactor

__all__ = [
    "POSTERIOR_COLUMNS",
    "SAMPLE_DIMS",
    "check_posterior",
    "level_draws",
    "posterior_dataset",
    "posterior_summary",
    "posterior_variable",
    "scalar_summary",
    "select_draws",
]

#: The dimensions a posterior's draws run along.
SAMPLE_DIMS = ("chain", "draw")
#: The columns of :func:`posterior_summary`.
POSTERIOR_COLUMNS = ["post_mean", "post_sd", "hdi_low", "hdi_high"]


def posterior_dataset(idata: Any) -> xr.Dataset | None:
    """The posterior group of a DataTree / InferenceData, a Dataset as is, or None."""
    if idata is None:
        return None
    import xarray as xr  # only with a posterior: ``import bayeshier`` does not load xarray

    if isinstance(idata, xr.Dataset):
        return idata
    if isinstance(idata, xr.DataTree):
        if "posterior" not in idata.children:
            raise DataError("idata has no posterior group: pass the result of Model.sample().")
        return idata["posterior"].to_dataset()
    posterior = getattr(idata, "posterior", None)
    if posterior is None:
        raise DataError(
            f"Cannot read a posterior from a {type(idata).__name__}: pass the DataTree "
            "returned by Model.sample()."
        )
    return posterior.to_dataset() if hasattr(posterior, "to_dataset") else posterior


def check_posterior(fit: RemlFit, posterior: xr.Dataset) -> None:
    """Raise :class:`DataError` unless ``posterior`` has the variables and terms of ``fit``."""
    factors = [f.name for f in fit.spec.factors]
    correlated = [f.name for f in fit.spec.factors if any(size > 1 for size in f.blocks)]
    needed = [
        "beta",
        *factors,
        *(f"sd_{name}" for name in factors),
        *(f"corr_{name}" for name in correlated),
        "sigma",
    ]
    missing = [name for name in needed if name not in posterior.data_vars]
    if missing:
        known = ", ".join(map(str, posterior.data_vars))
        raise DataError(
            f"The posterior lacks variable(s) {', '.join(map(repr, missing))} (it has: {known}). "
            f"Was it sampled by bayeshier.Model for {fit.spec.formula.text!r}?"
        )
    terms = (
        [str(t) for t in posterior["beta"]["fixed"].to_numpy()]
        if "fixed" in posterior["beta"].dims
        else []
    )
    absent = [t for t in fit.fixef.index if t not in terms]
    if absent:
        raise DataError(
            f"The posterior's beta lacks the term(s) {', '.join(map(repr, absent))} of the "
            f"REML fit (it has: {', '.join(terms)})."
        )


def level_draws(
    posterior: xr.Dataset, factor: GroupingFactor, add_fixed: bool, term: str = "Intercept"
) -> xr.DataArray:
    """Draws of ``beta[term] + b_j[term]`` per level of ``factor`` (``b_j`` alone if not fixed).

    Returns
    -------
    xarray.DataArray
        Dims chain, draw and ``<factor>_level``, in the factor's level order.

    """
    effects = posterior_variable(posterior, factor.name)
    dim = f"{factor.name}_level"
    if dim not in effects.dims:
        raise DataError(f"Posterior variable {factor.name!r} has no dimension {dim!r}.")
    term_dim = f"{factor.name}_term"
    if term_dim in effects.dims:
        effects = effects.sel({term_dim: term}, drop=True)
    elif not factor.intercept_only:
        raise DataError(
            f"Posterior variable {factor.name!r} has no dimension {term_dim!r} for the "
            f"random slopes ({', '.join(factor.terms)})."
        )
    labels = [str(v) for v in effects[dim].to_numpy()]
    missing = [level for level in factor.levels if level not in labels]
    if missing:
        raise DataError(
            f"The posterior of {factor.name!r} lacks level(s) {', '.join(missing[:5])} of the "
            "REML fit: are the fit and the posterior from the same model and data?"
        )
    effects = effects.assign_coords({dim: labels}).sel({dim: list(factor.levels)})
    if add_fixed:
        effects = effects + posterior_variable(posterior, "beta").sel(fixed=term, drop=True)
    return effects


def posterior_variable(posterior: xr.Dataset, name: str) -> xr.DataArray:
    """The variable ``name`` of ``posterior`` (a :class:`DataError` naming the others if absent)."""
    if name not in posterior.data_vars:
        known = ", ".join(map(str, posterior.data_vars))
        raise DataError(
            f"The posterior has no variable {name!r} (it has: {known}). Was it sampled by "
            "bayeshier.Model for the same formula?"
        )
    return posterior[name]


def select_draws(posterior: xr.Dataset, selection: str | tuple[str, dict]) -> xr.DataArray:
    """The draws of a variable (``selection``: its name) or of one entry (name, coordinates)."""
    if isinstance(selection, str):
        return posterior_variable(posterior, selection)
    name, coords = selection
    return posterior_variable(posterior, name).sel(coords, drop=True)


def posterior_summary(draws: xr.DataArray, hdi_prob: float) -> pd.DataFrame:
    """Mean, sd and HDI over chain and draw of every entry of ``draws``.

    Returns
    -------
    pandas.DataFrame
        Columns ``post_mean``, ``post_sd``, ``hdi_low``, ``hdi_high``; one row
        per entry along the one remaining dimension (one row if none).

    """
    import arviz as az  # only with a posterior: importing ArviZ takes a second or more

    sample_dims = [d for d in SAMPLE_DIMS if d in draws.dims]
    interval = az.hdi(draws, prob=hdi_prob, dim=sample_dims)
    return pd.DataFrame(
        {
            "post_mean": np.atleast_1d(draws.mean(sample_dims).to_numpy()),
            "post_sd": np.atleast_1d(draws.std(sample_dims, ddof=1).to_numpy()),
            "hdi_low": np.atleast_1d(interval.sel(ci_bound="lower").to_numpy()),
            "hdi_high": np.atleast_1d(interval.sel(ci_bound="upper").to_numpy()),
        }
    )


def scalar_summary(draws: xr.DataArray, hdi_prob: float) -> dict[str, float]:
    """Mean, median and HDI of the draws of one scalar (a row of the ``variances`` table)."""
    summary = posterior_summary(draws, hdi_prob).iloc[0]
    sample_dims = [d for d in SAMPLE_DIMS if d in draws.dims]
    return {
        "post_mean": float(summary["post_mean"]),
        "post_median": float(draws.median(sample_dims)),
        "hdi_low": float(summary["hdi_low"]),
        "hdi_high": float(summary["hdi_high"]),
    }
