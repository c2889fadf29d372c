"""The prediction methods of :class:`bayeshier.Model`, from its posterior draws.

:class:`PredictiveMethods` is mixed into :class:`bayeshier.bayes.model.Model`:
its methods need only the model's specification ``spec`` (and ``build``
for the prior predictive) and delegate the arithmetic to
:mod:`bayeshier.bayes.posterior` (NumPy on the draws, no PyMC graph).
:func:`require_rows` is the check of everything that needs the rows
themselves, which a model on a Dask DataFrame does not hold.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from bayeshier.bayes import assemble, names, sampling
from bayeshier.bayes import posterior as post
from bayeshier.errors import ModelError
from bayeshier.spec.model_spec import ModelSpec

__all__ = ["PredictiveMethods", "require_rows"]


def require_rows(spec: ModelSpec, what: str, instead: str | None = None) -> None:
    """Raise a ModelError naming ``what`` when the data are a Dask DataFrame.

    ``instead`` names an alternative that works on sums only, if there is one.
    """
    if spec.holds_rows:
        return
    alternative = f"Use {instead}, or pass" if instead else "Pass"
    raise ModelError(
        f"{what} needs the rows in memory, but this model reads its Dask DataFrame "
        f"through sums only. {alternative} the rows as a pandas DataFrame: data.compute() "
        "if they fit in memory, else a sample such as "
        "data.sample(frac=0.01, random_state=0).compute()."
    )


class PredictiveMethods:
    """Predictions and the pointwise log-likelihood of a model (a mixin of ``Model``).

    Attributes
    ----------
    spec : ModelSpec
        The model's specification (set by the class that mixes this in).
    build : callable
        ``build(density="pointwise")``: the PyMC model (a method of the class
        that mixes this in).

    """

    spec: ModelSpec
    build: Callable[..., pm.Model]

    @property
    def observed_name(self) -> str:
        """Name of the observed variable (the response if it is a plain name, else ``"y"``)."""
        return names.observed_name(self.spec)

    def linear_predictor(
        self,
        posterior: xr.Dataset,
        X: np.ndarray,
        codes: list[np.ndarray],
        designs: list[np.ndarray] | None = None,
    ) -> np.ndarray:
        """Posterior draws of ``X beta + sum_f z_f' b_f[codes_f]`` (chain x draw x rows).

        ``designs`` are the factors' random-effect columns of the rows
        (``factor.design_for(newdata)``); by default the fitted rows' own.
        A code of -1 contributes nothing (callers add new-level effects).
        """
        return post.linear_predictor(self.spec, posterior, X, codes, designs)

    def pointwise_loglik(self, posterior: xr.Dataset) -> xr.Dataset:
        """Pointwise log-likelihood of the observed rows (for ``az.loo``)."""
        require_rows(self.spec, "pointwise_loglik()")
        return post.pointwise_loglik(self.spec, posterior, self.observed_name)

    def predict(
        self,
        newdata: pd.DataFrame,
        idata: xr.DataTree,
        include_random: bool = True,
        *,
        random_seed: int | None = None,
    ) -> xr.DataTree:
        """Posterior predictive draws for new rows.

        Parameters
        ----------
        newdata : pandas.DataFrame
            Rows with the predictor columns (and grouping columns when
            ``include_random``, and the columns of ``offset(...)`` terms,
            which are added to ``mu`` as :meth:`RemlFit.predict` adds them).
        idata : xarray.DataTree
            The result of :meth:`Model.sample <bayeshier.bayes.model.Model.sample>`.
        include_random : bool
            Add the group effects. A level not seen in fitting gets a new
            effect drawn from ``Normal(0, sd_f)`` (with random slopes
            ``MvNormal(0, Sigma_f)``) per posterior draw, shared by all rows
            of that level; ``False`` predicts at the population level.
        random_seed : int, optional
            Seed of the residual noise and of the new-level effects.

        Returns
        -------
        xarray.DataTree
            Group ``predictions`` with ``mu`` (expected value) and the
            response (``mu`` plus residual noise), dims (chain, draw, obs),
            ``obs`` labeled by ``newdata.index``.

        Raises
        ------
        ModelError
            ``idata`` has no ``posterior`` group.

        """
        posterior = post.posterior_of(idata)
        rng = np.random.default_rng(random_seed)
        return post.predictions(
            self.spec, posterior, newdata, include_random, rng, self.observed_name
        )

    def sample_prior_predictive(
        self, draws: int = 500, random_seed: int | None = None
    ) -> xr.DataTree:
        """Draw from the prior and the prior predictive distribution.

        Returns
        -------
        xarray.DataTree
            Groups ``prior`` (``beta``, group effects, ``sd_<factor>``,
            ``sigma``), ``prior_predictive`` and ``observed_data``.

        """
        require_rows(self.spec, "sample_prior_predictive()")
        model = self.build()
        with warnings.catch_warnings():
            # the centered effects of correlated random slopes are drawn by a NumPy function
            warnings.filterwarnings("ignore", message="Numba will use object mode")
            tree = pm.sample_prior_predictive(draws=draws, model=model, random_seed=random_seed)
        tree["prior"] = xr.DataTree(post.public_variables(tree["prior"].to_dataset()))
        return tree

    def sample_posterior_predictive(
        self, idata: xr.DataTree, random_seed: int | None = None
    ) -> xr.DataTree:
        """Add a ``posterior_predictive`` group: one replicate of the data per posterior draw.

        Each draw's replicate of row ``i`` is ``Normal(mu_i, sigma)``, ``mu_i``
        the row's fitted mean with its group's effects. The group holds the
        response under ``observed_data``'s name with dims (chain, draw, obs),
        ArviZ's layout, so ``az.plot_ppc_dist(idata)`` and ``az.loo_pit(idata)``
        work on the result.

        Parameters
        ----------
        idata : xarray.DataTree
            The result of :meth:`sample`; it is changed in place and returned.
        random_seed : int, optional
            Seed of the replicates' noise.

        Returns
        -------
        xarray.DataTree
            ``idata`` with ``posterior_predictive`` (and ``observed_data``).

        Raises
        ------
        ModelError
            A Dask DataFrame, ``idata`` without this model's posterior, a bad
            seed, or replicates that would not fit in memory.

        """
        require_rows(self.spec, "sample_posterior_predictive()")
        sampling.check_sampling_args(1, 0, 1, "pymc", random_seed)
        rng = np.random.default_rng(random_seed)
        group = assemble.posterior_predictive_group(self, idata, rng)
        idata["posterior_predictive"] = xr.DataTree(group)
        if "observed_data" not in idata.children:
            idata["observed_data"] = xr.DataTree(post.observed_data(self.spec, self.observed_name))
        return idata
