"""Reading a posterior for :func:`bayeshier.compare`: the draws of each table cell, summarised.

The posterior is the one :meth:`bayeshier.Model.sample` returns (an
``xarray.DataTree``, possibly saved and reopened; an InferenceData or a bare
posterior ``xarray.Dataset`` works too). :func:`posterior_dataset` takes its
posterior group (see :mod:`bayeshier.present.saved`; whether it belongs to
the fit is :mod:`bayeshier.present.matching`'s question),
:func:`level_draws` and :func:`select_draws` pick the draws behind a row, and
:func:`posterior_summary` / :func:`scalar_summary` reduce them to the
posterior columns: mean, sd or median, and the credible interval
``ci_low``/``ci_high`` of a :class:`~bayeshier.present.intervals.CredibleInterval`
(ArviZ's ETI or HDI).

xarray and ArviZ are imported only when a posterior is read, so that
``import bayeshier`` loads neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayeshier.errors import DataError
from bayeshier.present.saved import read_posterior

if TYPE_CHECKING:
    import xarray as xr

    from bayeshier.present.intervals import CredibleInterval
    from bayeshier.spec.model_spec import GroupingFactor

__all__ = [
    "POSTERIOR_COLUMNS",
    "SAMPLE_DIMS",
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
POSTERIOR_COLUMNS = ["post_mean", "post_sd", "ci_low", "ci_high"]


def posterior_dataset(idata: Any) -> xr.Dataset | None:
    """The posterior group of a DataTree / InferenceData, a Dataset as is, or None.

    Text coordinates come back as Python ``str`` whichever way the DataTree
    was saved and reopened (see :func:`bayeshier.present.saved.read_posterior`).
    """
    saved = read_posterior(idata)
    return None if saved is None else saved.posterior


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


def posterior_summary(draws: xr.DataArray, interval: CredibleInterval) -> pd.DataFrame:
    """Mean, sd and credible interval over chain and draw of every entry of ``draws``.

    Parameters
    ----------
    draws : xarray.DataArray
        Posterior draws (dims ``chain``, ``draw`` and at most one other).
    interval : CredibleInterval
        The interval's probability and kind (ETI or HDI, computed by ArviZ).

    Returns
    -------
    pandas.DataFrame
        Columns ``post_mean``, ``post_sd``, ``ci_low``, ``ci_high``; one row
        per entry along the one remaining dimension (one row if none).

    """
    sample_dims = [d for d in SAMPLE_DIMS if d in draws.dims]
    bounds = interval.bounds(draws, sample_dims)
    return pd.DataFrame(
        {
            "post_mean": np.atleast_1d(draws.mean(sample_dims).to_numpy()),
            "post_sd": np.atleast_1d(draws.std(sample_dims, ddof=1).to_numpy()),
            "ci_low": np.atleast_1d(bounds.sel(ci_bound="lower").to_numpy()),
            "ci_high": np.atleast_1d(bounds.sel(ci_bound="upper").to_numpy()),
        }
    )


def scalar_summary(draws: xr.DataArray, interval: CredibleInterval) -> dict[str, float]:
    """Mean, median and credible interval of one scalar's draws (a ``variances`` row)."""
    summary = posterior_summary(draws, interval).iloc[0]
    sample_dims = [d for d in SAMPLE_DIMS if d in draws.dims]
    return {
        "post_mean": float(summary["post_mean"]),
        "post_median": float(draws.median(sample_dims)),
        "ci_low": float(summary["ci_low"]),
        "ci_high": float(summary["ci_high"]),
    }
