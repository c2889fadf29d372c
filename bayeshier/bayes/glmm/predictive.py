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
<bayeshier.bayes.glmm.GlmmModel.sample_posterior_predictive>` stores it;
:func:`glmm_predictions` draws new rows' linear predictors, means and
responses (:meth:`GlmmModel.predict <bayeshier.bayes.glmm.GlmmModel.predict>`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from bayeshier.bayes import budget, sampling
from bayeshier.bayes import posterior as post
from bayeshier.bayes.glmm import posterior as glmm_post
from bayeshier.bayes.glmm.aggregate import Cells
from bayeshier.bayes.glmm.posterior import row_linear_predictor
from bayeshier.bayes.names import obs_labels
from bayeshier.bayes.posterior import new_rows_predictor, predictions_group
from bayeshier.errors import DataError, ModelError
from bayeshier.reml.glmm import Family
from bayeshier.spec.model_spec import ModelSpec, as_frame

__all__ = [
    "GlmmPredictiveMethods",
    "glmm_predictions",
    "plan_glmm_storage",
    "posterior_predictive",
]


def _check_request(log_likelihood: object, memory_budget: object) -> tuple[str | None, int]:
    """The requested log-likelihood (None: automatic) and the budget; bad ones are refused."""
    requested = budget.parse_log_likelihood(log_likelihood)
    if requested == "group":
        raise ModelError(
            "log_likelihood='group' integrates normal group effects out of a normal "
            "likelihood, which a binomial or Poisson GLMM cannot do exactly: pass True "
            "(one value per row, for az.loo) or False."
        )
    return requested, budget.check_budget(memory_budget)


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
    values = _replicates(family, eta, cells.row_trials, rng)
    coords = {"chain": posterior["chain"], "draw": posterior["draw"], "obs": obs_labels(spec)}
    array = xr.DataArray(values, dims=("chain", "draw", "obs"), coords=coords)
    return xr.Dataset({name: array})


def _replicates(
    family: Family, eta: np.ndarray, trials: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """``Binomial(trials, mu)`` or ``Poisson(trials * mu)`` at linear predictors ``eta``."""
    if family.name == "poisson":
        return rng.poisson(trials * np.exp(eta))
    whole = np.round(trials)
    if not np.allclose(trials, whole) or np.any(whole < 0):
        raise ModelError(
            "Binomial replicates need whole, non-negative numbers of trials; these rows have "
            "weights= (or trials=) that are not (proportions with fractional weights)."
        )
    return rng.binomial(whole.astype(np.int64), np.clip(_mean(family, eta), 0.0, 1.0))


def _mean(family: Family, eta: np.ndarray) -> np.ndarray:
    """The inverse link of ``eta``, any shape."""
    return family.linkinv(eta.ravel()).reshape(eta.shape)


def glmm_predictions(
    spec: ModelSpec,
    family: Family,
    posterior: xr.Dataset,
    newdata: pd.DataFrame,
    include_random: bool,
    offset: np.ndarray | pd.Series | None,
    trials: np.ndarray,
    rng: np.random.Generator,
    name: str,
) -> xr.DataTree:
    """Posterior draws for new rows (see :meth:`GlmmModel.predict`).

    ``offset`` is every new row's whole offset (None: the model's own
    offset terms, if any, evaluated on ``newdata``); ``trials``
    each row's trials (binomial) or exposure weight (Poisson).

    Returns
    -------
    xarray.DataTree
        Group ``predictions`` with ``eta`` (linear predictor), ``mu`` (the
        probability, or the Poisson mean with the offset) and the response
        ``name`` (successes of ``trials``, or counts), dims (chain, draw, obs).

    """
    eta = new_rows_predictor(spec, posterior, newdata, include_random, rng, offset)
    values = {"eta": eta, "mu": _mean(family, eta), name: _replicates(family, eta, trials, rng)}
    return predictions_group(posterior, newdata.index, values)


class GlmmPredictiveMethods:
    """Replicates of the data and predictions of new rows (a mixin of ``GlmmModel``).

    Attributes
    ----------
    spec, cells, family, observed_name
        The model's specification, aggregated data, family and observed name.
    build : callable
        ``build(density="pointwise")``: the PyMC model with every effect.

    """

    spec: ModelSpec
    cells: Cells
    family: Family
    observed_name: str
    build: Callable[..., pm.Model]

    def predict(
        self,
        newdata: pd.DataFrame,
        idata: xr.DataTree,
        include_random: bool = True,
        *,
        trials: float | np.ndarray | pd.Series = 1,
        offset: np.ndarray | pd.Series | None = None,
        random_seed: int | None = None,
    ) -> xr.DataTree:
        """Posterior draws for new rows: linear predictor, mean and a replicate of the response.

        Parameters
        ----------
        newdata : pandas.DataFrame
            Rows with the predictor columns (and grouping columns when
            ``include_random``, and the columns of ``offset(...)`` terms).
        idata : xarray.DataTree
            The result of :meth:`sample`.
        include_random : bool
            Add the group effects. A level not seen in fitting gets an effect
            drawn from ``Normal(0, sd_f)`` per posterior draw, shared by all
            rows of that level; ``False`` predicts at the population level.
        trials : number, array-like or str, default 1
            Trials of each new row (binomial: 1 is a 0/1 outcome), or the
            name of a column of ``newdata`` holding them; for a Poisson
            model, each row's weight (exposure outside the offset).
        offset : array-like, optional
            Every new row's whole offset, replacing the model's ``offset(...)``
            terms and ``offset=`` column (needed when the fit was given
            ``offset=`` as values).
        random_seed : int, optional
            Seed of the new-level effects and of the replicates.

        Returns
        -------
        xarray.DataTree
            Group ``predictions`` with ``eta`` (link scale), ``mu`` (the
            probability, or the Poisson mean) and the response (successes of
            ``trials``, or counts), dims (chain, draw, obs), ``obs`` labeled by
            ``newdata.index``.

        Raises
        ------
        ModelError
            ``idata`` without this model's posterior, or ``trials`` that are
            not whole numbers (binomial).
        DataError
            ``newdata`` without a needed column, ``trials`` or ``offset``
            without one value per row.

        """
        sampling.check_sampling_args(1, 0, 1, "pymc", random_seed)
        posterior = self._checked_posterior(idata)
        newdata = as_frame(newdata, "new data")
        counts = _new_trials(trials, newdata)
        rng = np.random.default_rng(random_seed)
        return glmm_predictions(
            self.spec,
            self.family,
            posterior,
            newdata,
            include_random,
            offset,
            counts,
            rng,
            self.observed_name,
        )

    def _checked_posterior(self, idata: xr.DataTree) -> xr.Dataset:
        """``idata``'s posterior, checked to hold this model's variables."""
        return post.posterior_of(idata, ["beta", *(f.name for f in self.spec.factors)])

    def sample_posterior_predictive(
        self, idata: xr.DataTree, random_seed: int | None = None
    ) -> xr.DataTree:
        """Add a ``posterior_predictive`` group: one replicate of the data per posterior draw.

        Each row's replicate is ``Binomial(trials, mu)`` (``Poisson(mu)`` for
        counts) at that draw's fixed and group effects, under
        ``observed_data``'s name with dims (chain, draw, obs), so
        ``az.plot_ppc_dist(idata)`` works on the result.

        Raises
        ------
        ModelError
            ``idata`` without this model's posterior, a bad seed, or replicates
            that would not fit in memory.

        """
        sampling.check_sampling_args(1, 0, 1, "pymc", random_seed)
        posterior = self._checked_posterior(idata)
        rng = np.random.default_rng(random_seed)
        replicates = posterior_predictive(
            self.spec, self.cells, self.family, posterior, self.observed_name, rng
        )
        idata["posterior_predictive"] = xr.DataTree(replicates)
        if "observed_data" not in idata.children:
            observed = glmm_post.observed_data(self.spec, self.cells, self.observed_name)
            idata["observed_data"] = xr.DataTree(observed)
        return idata

    def sample_prior_predictive(
        self, draws: int = 500, random_seed: int | None = None
    ) -> xr.DataTree:
        """Draw from the prior and the prior predictive (groups ``prior``, ``prior_predictive``)."""
        tree = pm.sample_prior_predictive(
            draws=draws, model=self.build("pointwise"), random_seed=random_seed
        )
        tree["prior"] = xr.DataTree(post.public_variables(tree["prior"].to_dataset()))
        return tree


def _new_trials(trials: float | np.ndarray | pd.Series | str, newdata: pd.DataFrame) -> np.ndarray:
    """``predict(trials=)`` as one number per new row (a column name is looked up).

    Raises
    ------
    DataError
        An unknown column, values that are not numbers, or not one value per row.

    """
    if isinstance(trials, str):
        if trials not in newdata.columns:
            raise DataError(
                f"trials={trials!r} is not a column of the new data (columns: "
                f"{', '.join(map(str, newdata.columns))}): give a column name, a number or "
                "one number per row."
            )
        trials = newdata[trials]
    try:
        values = np.asarray(trials, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"trials must be numbers, got {trials!r}.") from None
    if values.ndim > 1 or (values.ndim == 1 and values.shape[0] != len(newdata)):
        raise DataError(
            f"trials has {values.size} values for {len(newdata)} new rows: give one number "
            "or one per row."
        )
    return np.broadcast_to(values, (len(newdata),))
