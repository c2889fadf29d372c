"""From the sampler's raw trace to the DataTree that :meth:`bayeshier.Model.sample` returns.

:func:`assemble` cuts an interrupted trace to its completed draws
(:mod:`bayeshier.bayes.interrupt`), draws the collapsed effects, adds
``observed_data`` and ``constant_data`` (:mod:`bayeshier.bayes.data_groups`),
the log-likelihood chosen within the memory budget
(:mod:`bayeshier.bayes.budget`: pointwise, per group or none) and the
``attrs`` (formula, sampler, parameterization, likelihood, REML fit,
``log_likelihood`` and, for an interrupted run, ``interrupted``).
:func:`posterior_predictive_group` is :meth:`bayeshier.Model.sample_posterior_predictive`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd
import xarray as xr

from bayeshier.bayes import collapse, data_groups, interrupt
from bayeshier.bayes import posterior as post
from bayeshier.bayes.budget import LogLikelihoodChoice, require_memory
from bayeshier.bayes.group_loglik import group_loglik, group_moments

if TYPE_CHECKING:
    from bayeshier.bayes.cell_sums import Cells
    from bayeshier.bayes.fixed_scale import InternalDesign
    from bayeshier.bayes.plan import SamplingPlan
    from bayeshier.reml import RemlFit
    from bayeshier.spec.model_spec import ModelSpec

__all__ = [
    "LOG_LIKELIHOOD_ATTR",
    "SampledModel",
    "assemble",
    "posterior_predictive_group",
    "storage_attrs",
]

#: ``attrs`` key saying which log-likelihood is stored: ``"pointwise"``, ``"group"`` or ``"none"``.
LOG_LIKELIHOOD_ATTR = "log_likelihood"


class SampledModel(Protocol):
    """What :func:`assemble` reads of a :class:`bayeshier.Model`."""

    spec: ModelSpec
    data: pd.DataFrame | None

    @property
    def plan(self) -> SamplingPlan: ...  # noqa: D102

    @property
    def design(self) -> InternalDesign: ...  # noqa: D102

    @property
    def cells(self) -> Cells: ...  # noqa: D102

    @property
    def reml(self) -> RemlFit: ...  # noqa: D102

    @property
    def parameterization(self) -> dict[str, str]: ...  # noqa: D102

    @property
    def likelihood(self) -> str: ...  # noqa: D102

    @property
    def observed_name(self) -> str: ...  # noqa: D102


def assemble(
    model: SampledModel,
    raw: xr.DataTree,
    sampler: str,
    choice: LogLikelihoodChoice,
    requested: tuple[int, int],
    rng: np.random.Generator,
) -> xr.DataTree:
    """The DataTree of a sample (see :meth:`bayeshier.Model.sample`).

    ``requested`` is ``(draws, chains)`` as asked for: a trace with fewer
    completed draws (Ctrl-C) is cut to them and marked interrupted.

    Raises
    ------
    KeyboardInterrupt
        The run was interrupted before any draw was completed.

    """
    spec = model.spec
    posterior = post.public_variables(raw["posterior"].to_dataset())
    stats = post.numeric_statistics(raw["sample_stats"].to_dataset())
    posterior, stats, interruption = interrupt.trim_to_completed(posterior, stats, *requested)
    if model.plan.collapsed:
        posterior = collapse.draw_collapsed_effects(
            spec, model.design, model.cells, model.plan.collapsed, posterior, rng
        )
    groups = {"posterior": posterior, "sample_stats": stats}
    if spec.holds_rows:
        groups["observed_data"] = post.observed_data(spec, model.observed_name)
        constant = None if model.data is None else data_groups.constant_data(spec, model.data)
        if constant is not None:
            groups["constant_data"] = constant
    tree = xr.DataTree.from_dict(groups)
    loglik = _log_likelihood(model, posterior, choice.kind)
    if loglik is not None:
        tree["log_likelihood"] = xr.DataTree(loglik)
    tree.attrs.update(
        post.sampling_attrs(spec, sampler, model.parameterization, model.reml, model.likelihood)
    )
    tree.attrs.update(data_groups.row_argument_attrs(spec))
    tree.attrs.update(storage_attrs(choice, interruption))
    return tree


def storage_attrs(
    choice: LogLikelihoodChoice, interruption: interrupt.Interruption | None
) -> dict[str, str]:
    """``attrs`` saying which log-likelihood is stored (and why), and whether the run was cut."""
    attrs = {LOG_LIKELIHOOD_ATTR: choice.kind}
    if choice.message:
        attrs["log_likelihood_note"] = choice.message
    return attrs | interrupt.interruption_attrs(interruption)


def _log_likelihood(model: SampledModel, posterior: xr.Dataset, kind: str) -> xr.Dataset | None:
    """The ``log_likelihood`` group of ``kind`` (``"pointwise"``, ``"group"``), or None."""
    if kind == "pointwise":
        return post.pointwise_loglik(model.spec, posterior, model.observed_name)
    if kind == "group":
        moments = group_moments(model.spec, model.design)
        return group_loglik(model.spec, model.design, moments, posterior, model.observed_name)
    return None


def posterior_predictive_group(
    model: SampledModel, idata: xr.DataTree, rng: np.random.Generator
) -> xr.Dataset:
    """One replicate of the observed rows per posterior draw, laid out like ``observed_data``.

    Raises
    ------
    ModelError
        ``idata`` has no posterior, its posterior lacks a variable of the model,
        or the replicates would not fit in memory.

    """
    posterior = post.posterior_of(idata, ["beta", "sigma", *(f.name for f in model.spec.factors)])
    size = posterior["sigma"].size * model.spec.nobs * 8
    require_memory(
        size,
        f"The posterior predictive of {model.spec.nobs:,} rows x {posterior['sigma'].size:,} draws",
        "Thin the draws first: idata.isel(draw=slice(None, None, 10)).",
    )
    return post.posterior_predictive(model.spec, posterior, model.observed_name, rng)
