"""What a GLMM sample stores, and its replicates of the data.

:func:`plan_glmm_storage` is :func:`bayeshier.bayes.budget.plan_storage` for
a GLMM: the same footprint estimate and memory check, but only two
log-likelihoods to choose from, one value per row or none (the per-group
one of the Gaussian model integrates normal effects out exactly, which a
binomial or Poisson likelihood does not allow). With ``log_likelihood=None``
the pointwise one is stored when it fits the memory budget; otherwise none,
said in one :class:`~bayeshier.bayes.budget.MemoryBudgetWarning`.

:func:`posterior_predictive` draws one replicate of the observed successes
(counts) of every row per posterior draw, as
:meth:`GlmmModel.sample_posterior_predictive
<bayeshier.bayes.glmm.GlmmModel.sample_posterior_predictive>` stores it.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from bayeshier.bayes import budget
from bayeshier.bayes.glmm.aggregate import Cells
from bayeshier.bayes.glmm.posterior import row_linear_predictor
from bayeshier.bayes.names import obs_labels
from bayeshier.errors import ModelError
from bayeshier.reml.glmm import Family
from bayeshier.spec.model_spec import ModelSpec

__all__ = ["plan_glmm_storage", "posterior_predictive"]


def _check_request(log_likelihood: object, memory_budget: object) -> tuple[str | None, int]:
    """The requested log-likelihood (None: automatic) and the budget; bad ones are refused."""
    requested = budget.parse_log_likelihood(log_likelihood)
    if requested == "group":
        raise ModelError(
            "log_likelihood='group' integrates normal group effects out of a normal "
            "likelihood, which a binomial or Poisson GLMM cannot do exactly: pass True "
            "(one value per row, for az.loo) or False."
        )
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, int) or memory_budget <= 0:
        raise ModelError(
            f"memory_budget must be a positive integer number of bytes (default "
            f"{budget.MEMORY_BUDGET:,}, 512 MiB), got {memory_budget!r}."
        )
    return requested, memory_budget


def plan_glmm_storage(
    spec: ModelSpec,
    sizes: tuple[int, int, int],
    log_likelihood: object,
    memory_budget: object = budget.MEMORY_BUDGET,
) -> budget.LogLikelihoodChoice:
    """Choose ``"pointwise"`` or ``"none"`` and check that the sample fits in memory.

    Parameters
    ----------
    spec : ModelSpec
        The model's specification.
    sizes : tuple of int
        ``(draws, tune, chains)``.
    log_likelihood : None, bool or str
        ``sample(log_likelihood=)``: None (automatic), True / ``"pointwise"``, False.
    memory_budget : int
        Bytes the pointwise log-likelihood may take when chosen automatically.

    Raises
    ------
    ModelError
        ``"group"``, a bad value or budget, or a sample that would not fit in memory.

    """
    requested, limit = _check_request(log_likelihood, memory_budget)
    footprint = budget.estimate_footprint(spec, *sizes)
    if requested is not None:
        choice = budget.LogLikelihoodChoice(requested)  # type: ignore[arg-type]
    elif footprint.pointwise <= limit:
        choice = budget.LogLikelihoodChoice("pointwise")
    else:
        choice = budget.LogLikelihoodChoice(
            "none",
            f"Stored no log-likelihood: the pointwise one ({footprint.shape} x "
            f"{spec.nobs:,} rows) would take {budget.gib(footprint.pointwise)}, over the "
            f"memory budget of {budget.gib(limit)}. Pass log_likelihood=True to "
            f"store it anyway, or a larger memory_budget=.",
        )
    loglik = footprint.log_likelihood(choice.kind)
    total = footprint.posterior + footprint.sampler + loglik + 2 * footprint.observed
    stored = "the pointwise" if choice.kind == "pointwise" else "no"
    what = f"Sampling {footprint.shape} with {stored} log-likelihood"
    budget.check_fits_in_memory(total, footprint, what, loglik)
    if choice.message:
        warnings.warn(choice.message, budget.MemoryBudgetWarning, stacklevel=3)
    return choice


def posterior_predictive(
    spec: ModelSpec,
    cells: Cells,
    family: Family,
    posterior: xr.Dataset,
    name: str,
    rng: np.random.Generator,
) -> xr.Dataset:
    """One replicate of every row's successes (counts) per posterior draw, dims (chain, draw, obs).

    Binomial rows draw ``Binomial(trials, mu)``, Poisson rows
    ``Poisson(weight * mu)``, ``mu`` the inverse link of the row's linear
    predictor with its groups' effects (and offset) at that draw.

    Raises
    ------
    ModelError
        Binomial rows whose trials are not whole numbers (proportions with
        non-integer ``weights=``), or replicates that would not fit in memory.

    """
    n_draws = posterior.sizes["chain"] * posterior.sizes["draw"]
    budget.require_memory(
        3 * n_draws * spec.nobs * 8,
        f"The posterior predictive of {spec.nobs:,} rows x {n_draws:,} draws",
        "Thin the draws first: idata.isel(draw=slice(None, None, 10)).",
    )
    eta = row_linear_predictor(spec, cells, posterior)
    trials = cells.row_trials
    if family.name == "poisson":
        values = rng.poisson(trials * np.exp(eta))
    else:
        whole = np.round(trials)
        if not np.allclose(trials, whole):
            raise ModelError(
                "The posterior predictive of a binomial model needs whole numbers of trials; "
                "these rows have weights= that are not (proportions with fractional weights)."
            )
        mu = family.linkinv(eta.ravel()).reshape(eta.shape)
        values = rng.binomial(whole.astype(np.int64), np.clip(mu, 0.0, 1.0))
    coords = {"chain": posterior["chain"], "draw": posterior["draw"], "obs": obs_labels(spec)}
    array = xr.DataArray(values, dims=("chain", "draw", "obs"), coords=coords)
    return xr.Dataset({name: array})
