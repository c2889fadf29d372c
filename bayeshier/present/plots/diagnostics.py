"""ArviZ 1.x diagnostic plots of a bayeshier posterior, with titles that say what to look for.

Thin wrappers over ``arviz.plot_trace_dist``, ``plot_rank``, ``plot_energy``,
``plot_pair`` and ``plot_ppc_dist`` that pick the model's parameters
(:func:`model_var_names`) and return a matplotlib figure; re-exported by
:mod:`bayeshier.plots`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import arviz as az
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from bayeshier.bayes.diagnostics import free_correlations
from bayeshier.errors import DataError

__all__ = ["energy", "model_var_names", "pair_variances", "ppc", "rank", "trace"]


def _tree(idata: Any) -> xr.DataTree:
    if isinstance(idata, xr.DataTree):
        return idata
    raise DataError(
        f"Expected the xarray.DataTree returned by Model.sample(), got {type(idata).__name__}."
    )


def _free_tree(idata: Any) -> xr.DataTree:
    """``idata`` with each ``corr_<factor>`` matrix reduced to its correlated pairs.

    The diagonal (always 1) and the mirrored upper triangle are not parameters
    (and a density of a constant cannot be drawn); see
    :func:`bayeshier.bayes.diagnostics.free_correlations`.
    """
    tree = _tree(idata)
    posterior = tree["posterior"].to_dataset()
    if not any(str(name).startswith("corr_") for name in posterior.data_vars):
        return tree
    tree = tree.copy()
    tree["posterior"] = xr.DataTree(free_correlations(posterior))
    return tree


def model_var_names(idata: Any, *, groups: bool = False) -> list[str]:
    """Names of the model's parameters present in the posterior.

    ``beta``, then (with ``groups=True``) the group effects, then every
    ``sd_<factor>`` (and ``corr_<factor>`` with correlated random slopes)
    and ``sigma``.
    """
    names = [str(v) for v in _tree(idata)["posterior"].data_vars]
    sds = [n for n in names if n.startswith(("sd_", "corr_"))]
    effects = [n for n in names if n not in {"beta", "sigma", *sds}] if groups else []
    ordered = [*(["beta"] if "beta" in names else []), *effects, *sds]
    return ordered + (["sigma"] if "sigma" in names else [])


def _figure_of(collection: Any, title: str) -> Figure:
    """The collection's figure, laid out without overlaps and titled."""
    fig = collection.viz["figure"].item()
    fig.set_layout_engine("constrained")
    fig.suptitle(title)
    return fig


def trace(idata: Any, var_names: Sequence[str] | None = None, **kwargs: Any) -> Figure:
    """Marginal densities and traces per chain (``arviz.plot_trace_dist``), one row per scalar.

    Parameters
    ----------
    idata : xarray.DataTree
        From :meth:`bayeshier.Model.sample`.
    var_names : sequence of str, optional
        Default: ``beta``, ``sd_<factor>`` and ``sigma`` (group effects left out).
    **kwargs
        Passed to :func:`arviz.plot_trace_dist` (default ``compact=False``:
        fixed effects on different scales get their own rows).

    Returns
    -------
    matplotlib.figure.Figure

    """
    names = list(var_names) if var_names is not None else model_var_names(idata)
    kwargs.setdefault("compact", False)
    collection = az.plot_trace_dist(
        _free_tree(idata), var_names=names, backend="matplotlib", **kwargs
    )
    return _figure_of(
        collection, "Posterior densities (left) and traces (right), one line per chain"
    )


def rank(idata: Any, var_names: Sequence[str] | None = None, **kwargs: Any) -> Figure:
    """Rank ECDF differences per chain (``arviz.plot_rank``): chains that mix stay in the band.

    Parameters
    ----------
    idata : xarray.DataTree
        From :meth:`bayeshier.Model.sample`.
    var_names : sequence of str, optional
        Default: ``beta``, ``sd_<factor>`` and ``sigma``.
    **kwargs
        Passed to :func:`arviz.plot_rank`.

    Returns
    -------
    matplotlib.figure.Figure

    """
    names = list(var_names) if var_names is not None else model_var_names(idata)
    collection = az.plot_rank(_free_tree(idata), var_names=names, backend="matplotlib", **kwargs)
    return _figure_of(collection, "Rank plots: each chain's ranks should look uniform")


def energy(idata: Any, **kwargs: Any) -> Figure:
    """Marginal and transition energy with BFMI per chain (``arviz.plot_energy``).

    Parameters
    ----------
    idata : xarray.DataTree
        Needs ``sample_stats`` with ``energy``.
    **kwargs
        Passed to :func:`arviz.plot_energy`.

    Returns
    -------
    matplotlib.figure.Figure

    """
    collection = az.plot_energy(_tree(idata), backend="matplotlib", **kwargs)
    return _figure_of(collection, "Energy: similar marginal and transition densities, BFMI > 0.3")


def pair_variances(idata: Any, **kwargs: Any) -> Figure:
    """Pair plot of the standard deviations ``sd_<factor>`` and ``sigma`` (``arviz.plot_pair``).

    Funnels or ridges show variance components the data cannot tell apart.

    Parameters
    ----------
    idata : xarray.DataTree
        From :meth:`bayeshier.Model.sample`.
    **kwargs
        Passed to :func:`arviz.plot_pair`.

    Returns
    -------
    matplotlib.figure.Figure

    """
    names = [n for n in model_var_names(idata) if n != "beta"]
    collection = az.plot_pair(_free_tree(idata), var_names=names, backend="matplotlib", **kwargs)
    return _figure_of(collection, "Variance components: group sds and residual sd")


def ppc(
    idata: Any, model: Any = None, *, num_samples: int = 50, seed: int | None = None, **kwargs: Any
) -> Figure:
    """Posterior predictive check: observed density against replicated ones (``plot_ppc_dist``).

    Parameters
    ----------
    idata : xarray.DataTree
        Needs ``observed_data`` and either a ``posterior_predictive`` group
        or ``model`` to draw one.
    model : bayeshier.Model, optional
        Used to draw in-sample replicates ``X beta + Z b + sigma * e`` from
        the posterior when ``idata`` has no ``posterior_predictive`` group.
    num_samples : int
        Replicated data sets drawn.
    seed : int, optional
        Seed of the replicates drawn with ``model``.
    **kwargs
        Passed to :func:`arviz.plot_ppc_dist`.

    Returns
    -------
    matplotlib.figure.Figure

    """
    tree = _tree(idata)
    if "posterior_predictive" not in tree.children:
        if model is None:
            raise DataError(
                "idata has no posterior_predictive group: pass model= (the bayeshier.Model "
                "that sampled it) to draw in-sample replicates."
            )
        tree = tree.copy()
        tree["posterior_predictive"] = xr.DataTree(_replicates(model, tree, seed))
    collection = az.plot_ppc_dist(tree, num_samples=num_samples, backend="matplotlib", **kwargs)
    title = f"Observed data (black) against {num_samples} posterior predictive replicates"
    return _figure_of(collection, title)


def _replicates(model: Any, tree: xr.DataTree, seed: int | None) -> xr.Dataset:
    """In-sample posterior predictive draws named like the observed variable."""
    posterior = tree["posterior"].to_dataset()
    spec = model.spec
    mu = model.linear_predictor(posterior, spec.X, [f.codes for f in spec.factors])
    sigma = posterior["sigma"].to_numpy()[..., None]
    draws = mu + sigma * np.random.default_rng(seed).standard_normal(mu.shape)
    observed = tree["observed_data"].to_dataset()
    name = next(iter(observed.data_vars))
    dims = ("chain", "draw", *observed[name].dims)
    coords = {"chain": posterior["chain"], "draw": posterior["draw"], **observed[name].coords}
    return xr.Dataset({name: xr.DataArray(draws, dims=dims, coords=coords)})
