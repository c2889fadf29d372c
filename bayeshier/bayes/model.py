"""The Bayesian mixed model: PyMC graph, efficient sampling, prediction.

:class:`Model` takes the same formula and data as :func:`bayeshier.fit_reml`
(it reuses :func:`bayeshier.spec.model_spec.build_spec`, so it rejects the same input
with the same errors) and builds a PyMC model whose posterior sits next to
the REML fit.

Posterior variables (what ``az.summary(idata)`` shows)
-----------------------------------------------------
``beta``
    Fixed effects on the user's scale, dimension ``fixed`` whose coordinates
    are the term names (``beta[Intercept]``, ``beta[displ]``,
    ``beta[class[T.suv]]``).
``<factor>``
    Group effects (deviations from the population intercept) of each
    grouping factor, named after it (``class``, ``Subject``, ``cask:batch``),
    dimension ``<factor>_level`` with the level labels as coordinates. With
    random slopes (``(Days|Subject)``) the effects are deviations from the
    fixed effects of every term (like lme4's ``ranef``), dims
    (``<factor>_level``, ``<factor>_term``), the terms' names
    (``Intercept``, ``Days``) as coordinates.
``sd_<factor>``
    Standard deviation of the group effects of ``<factor>``; with random
    slopes one per term, dim ``<factor>_term``.
``corr_<factor>``
    With correlated random slopes (``(x|g)``, not ``(x||g)``): the
    correlation matrix of the terms, dims (``<factor>_term``,
    ``<factor>_term_bis``), with an LKJ prior (``eta = 1`` by default).
``sigma``
    Residual standard deviation.

How it samples efficiently
--------------------------
* **Internal scale.** Non-intercept columns of ``X`` are centered, and the
  fixed effects are sampled in the coordinates ``z`` of an affine map
  ``nu = nu_hat + L z``, where ``nu`` are the coefficients of the centered
  design (the intercept at the predictors' means, then the slopes),
  ``nu_hat`` is the REML estimate and ``L L'`` its GLS covariance. The
  posterior of ``z`` is close to standard normal and uncorrelated whatever
  the scale or collinearity of the predictors (mpg's ``year`` = 1999/2008).
  ``beta`` is reported on the user's scale; the map is linear, so the priors
  hold exactly on ``beta`` (the Jacobian is constant).
* **Centered or non-centered per (other) grouping factor.** From the REML fit, the
  share of a group effect's prior variance that the data explain is
  ``lambda_f = mean_j(s^2 d_j / (1 + s^2 d_j))`` with ``d_j = 1/condVar_j -
  1/sd_f^2`` the data's precision about level ``j`` (``n_j / sigma^2`` for a
  single factor, so ``lambda`` is the shrinkage weight; lme4's condVar makes
  it account for crossed and nested factors too), evaluated at a low
  plausible sd ``s`` (see
  :func:`bayeshier.bayes.plan.explained_share`), because the sd of a few
  groups is poorly known. With ``lambda_f >= 0.5`` the data dominate and the
  factor is centered (``b ~ Normal(0, sd_f)``, sampled in
  the standardized coordinates ``(b - BLUP) / sqrt(condVar)``); otherwise
  (and for singular fits) it is non-centered (``b = sd_f * z``,
  ``z ~ Normal(0, 1)``). ``parameterization=`` forces either, globally or per
  factor. A factor with random slopes is decided the same way from its
  covariance and its levels' conditional covariances
  (:func:`bayeshier.bayes.plan.explained_share_matrix`): centered,
  ``b_j ~ MvNormal(0, Sigma)`` sampled in the coordinates ``C_j^-1 (b_j -
  BLUP_j)`` (``C_j`` the Cholesky factor of level ``j``'s conditional
  covariance); non-centered, ``b_j = diag(sd) L z_j`` with ``L`` the
  Cholesky factor of the correlation matrix (LKJ prior).
* **The largest factor is integrated out** (``likelihood="collapsed"``, which
  ``likelihood="auto"`` picks whenever it can). With ``parameterization="auto"``
  (for that factor), :meth:`Model.sample` samples the likelihood with the
  effects of the first (largest) grouping factor integrated out analytically
  (each level's rows are ``Normal(., sigma^2 I + sd^2 11')``), so NUTS never
  sees them, nor their funnel or their correlation with the intercept; after
  sampling, each draw's effects are drawn from their exact conditional
  posterior ``Normal(v_j s_j / sigma^2, v_j)`` (the BLUP formula at that
  draw). The result is a sample of the same joint posterior; these factors
  are reported as ``"marginalized"`` in :attr:`Model.parameterization`, and
  :attr:`Model.likelihood` is ``"collapsed"``. Forcing ``"centered"`` or
  ``"noncentered"`` for it, or ``likelihood="full"``, samples its effects
  (:attr:`Model.likelihood` is then ``"full"``). Either way the DataTree has
  the same variables. Only random intercepts are integrated out: when the
  largest factor has random slopes its effects are sampled (centered or
  non-centered as above, ``b_j ~ MvNormal(0, Sigma)`` or ``b_j = L z_j``) and
  :attr:`Model.likelihood` is ``"full"``.
* **A nested pair is integrated out together.** When the largest factor is
  nested in another that is ``"auto"`` (``cask:batch`` in ``batch``), the
  parent's effects are integrated out too: the rows of parent level ``p``
  are ``Normal(., sigma^2 I + sd_cask^2 Z_c Z_c' + sd_batch^2 11')``, whose
  inverse and determinant are closed-form per parent level (Sherman-Morrison
  on each child level's block, then a rank-one update). NUTS then samples
  only the fixed effects and the sds, so the poorly determined sd of a few
  parent levels no longer mixes through a funnel. After sampling, each draw's
  parent effects are drawn from their exact conditional (child effects still
  integrated out), then the child's given them; both factors are reported as
  ``"marginalized"`` (see :mod:`bayeshier.bayes.collapse`).
* **Sufficient statistics.** :meth:`Model.sample` evaluates the likelihood
  from per-cell sums (a cell is a combination of levels of all grouping
  factors), so a gradient costs O(cells x p) rather than O(n x p); the log
  density equals that of :meth:`Model.build` exactly (``build("sufficient")``
  and ``build("marginal")`` give the sampled models).
* **Hierarchical centering of the intercept.** Of the centered factors, the
  one whose mean carries most of the intercept's uncertainty
  (largest ``sd_f^2 / G_f``) is sampled as group means ``a_j = alpha + b_j``
  (``alpha`` the intercept at the predictors' means), which removes the
  posterior correlation between the intercept and its effects. When that
  factor is nested in others (``cask`` in ``batch``), its means absorb their
  effects too: ``a_j ~ Normal(alpha + b_batch[parent(j)], sd_cask)``. With
  random slopes the means also absorb the fixed slopes of the same columns
  (``(Days|Subject)``: ``a_j = (beta_0 + b_j0, beta_Days + b_j1)``, see
  :func:`bayeshier.bayes.plan.absorbing_map`).
* **Mass matrix.** nutpie adapts a diagonal plus low-rank mass matrix
  (``adaptation="low_rank"``), which absorbs the remaining correlated
  directions (the means of crossed factors against the intercept); above
  120 sampled parameters (many groups with sampled effects, e.g. random
  slopes on 100 groups) a diagonal one, as the low-rank adaptation then
  costs far more time than it saves (:func:`bayeshier.bayes.sampling.adaptation_for`).
* **Start near REML.** Chains start at the REML estimates and BLUPs, jittered
  by U(-1, 1) in the standardized coordinates.

Where the code lives
--------------------
This module holds the public :class:`Model`, whose methods delegate to:

* :mod:`bayeshier.bayes.names`: variable and dimension names shared by graph and DataTree;
* :mod:`bayeshier.bayes.fixed_scale`: centering and whitening of the fixed effects;
* :mod:`bayeshier.bayes.plan`: the per-factor choice and the start (a ``SamplingPlan``);
* :mod:`bayeshier.bayes.cell_sums`: per-cell sufficient statistics and the likelihood from them;
* :mod:`bayeshier.bayes.collapse`: the integrated-out factor and its draws after sampling;
* :mod:`bayeshier.bayes.pymc_graph`: the ``pm.Model`` variants;
* :mod:`bayeshier.bayes.sampling`: argument checks, defaults and the nutpie / PyMC runs;
* :mod:`bayeshier.bayes.posterior`: DataTree post-processing and predictions.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from bayeshier.bayes import collapse, names, pymc_graph, sampling
from bayeshier.bayes import posterior as post
from bayeshier.bayes.cell_sums import Cells, cell_statistics
from bayeshier.bayes.fixed_scale import InternalDesign, internal_design
from bayeshier.bayes.moments import data_moments
from bayeshier.bayes.plan import (
    SamplingPlan,
    integrated_factors,
    parse_likelihood,
    parse_parameterization,
    sampling_plan,
)
from bayeshier.bayes.priors import PriorInput, prior_table, resolve_priors
from bayeshier.errors import ModelError
from bayeshier.reml import RemlFit, fit_spec
from bayeshier.spec.model_spec import ModelSpec, build_spec

__all__ = ["Model"]


class Model:
    """A Bayesian linear mixed model (random intercepts and slopes), fitted with PyMC.

    Parameters
    ----------
    formula : str
        lme4-style formula, e.g. ``"hwy ~ displ + year + (1|class)"``.
    data : pandas.DataFrame or dask.dataframe.DataFrame
        One row per observation; rows with missing values in used columns
        are dropped (as :func:`bayeshier.fit_reml` does). A Dask DataFrame
        stays where it is: the model reads only sums over its partitions
        (levels, fixed-effects sums, the columns' moments for the priors,
        REML's and the likelihood's per-cell sums; one pass each), and
        samples from them exactly as from a pandas DataFrame. What needs the
        rows themselves is then unavailable and says so: the pointwise
        log-likelihood and ``observed_data`` (not stored by :meth:`sample`),
        :meth:`build` with ``"pointwise"``, :meth:`sample_prior_predictive`.
    priors : dict, optional
        Term name -> prior, overriding the autoscaled defaults (see
        :mod:`bayeshier.bayes.priors`). Terms are the fixed-effect names, ``"sigma"``
        and ``"sd_<factor>"`` (with random slopes ``"sd_<factor>[<term>]"``
        per term and ``"corr_<factor>"`` for the correlation); a prior is a
        string such as ``"normal(0, 10)"``, ``"lkj(2)"`` or a PyMC ``.dist()``.
    parameterization : {"auto", "centered", "noncentered"} or dict
        How group effects are sampled; a dict maps factor names to a choice
        (factors left out use ``"auto"``). ``"auto"`` decides from the REML fit.
    likelihood : {"auto", "full", "collapsed"}
        How :meth:`sample` treats the group effects in the likelihood.
        ``"collapsed"`` integrates the effects of the largest grouping factor
        out of the Gaussian likelihood analytically (NUTS does not sample
        them; each draw's effects are then drawn from
        their exact conditional posterior, so the DataTree has the same
        variables as with ``"full"``); when that factor is nested in another
        (``(1|batch/cask)``), the parent's effects are integrated out with it
        unless its parameterization is forced. Other (crossed) factors are
        always sampled. ``"full"`` samples every group effect. ``"auto"``
        (default) is ``"collapsed"`` unless ``parameterization`` forces the
        largest factor or it has random slopes, then ``"full"``. Which one is used is
        :attr:`likelihood` (and ``idata.attrs["likelihood"]``).

    Raises
    ------
    FormulaError, DataError, ModelError
        Bad formula or data (same errors as :func:`bayeshier.fit_reml`), a bad
        prior, an unknown parameterization or likelihood, or
        ``likelihood="collapsed"`` with the largest factor's parameterization
        forced or with random slopes on it.

    Examples
    --------
    >>> import bayeshier
    >>> m = bayeshier.Model("Reaction ~ Days + (1|Subject)", bayeshier.datasets.load("sleepstudy"))
    >>> m.priors["term"].tolist()
    ['Intercept', 'Days', 'sigma', 'sd_Subject']

    """

    def __init__(
        self,
        formula: str,
        data: pd.DataFrame,
        *,
        priors: Mapping[str, PriorInput] | None = None,
        parameterization: str | Mapping[str, str] = "auto",
        likelihood: Literal["auto", "full", "collapsed"] = "auto",
    ) -> None:
        self.spec: ModelSpec = build_spec(formula, data, lazy=True)
        names.check_factor_names(self.spec)
        self._choices = parse_parameterization(parameterization, self.spec)
        self._likelihood = parse_likelihood(likelihood)
        self._integrated = integrated_factors(self.spec, self._choices, self._likelihood)
        self._moments = data_moments(self.spec)
        self._priors = resolve_priors(self.spec, priors, self._moments)
        self._compiled: Any = None

    # ----------------------------------------------------------------- views
    @property
    def priors(self) -> pd.DataFrame:
        """Every prior the model uses: columns term, distribution, parameters, why."""
        return prior_table(self._priors)

    @property
    def observed_name(self) -> str:
        """Name of the observed variable (the response if it is a plain name, else ``"y"``)."""
        return names.observed_name(self.spec)

    @cached_property
    def reml(self) -> RemlFit:
        """The REML fit of the same specification (computed once, then cached)."""
        return fit_spec(self.spec, reml=True)

    @cached_property
    def design(self) -> InternalDesign:
        """The centered design and its QR (the sampler's internal scale)."""
        return internal_design(self.spec, self._moments)

    @cached_property
    def plan(self) -> SamplingPlan:
        """Parameterization and starting point, chosen from :attr:`reml`."""
        return sampling_plan(self.spec, self.design, self.reml, self._choices, self._likelihood)

    @cached_property
    def cells(self) -> Cells:
        """Per-cell sufficient statistics of the likelihood."""
        return cell_statistics(self.spec, self.design)

    @property
    def likelihood(self) -> Literal["full", "collapsed"]:
        """``"collapsed"`` if :meth:`sample` integrates group effects out, else ``"full"``.

        The resolution of ``Model(likelihood=)``: ``"auto"`` becomes one of the
        two. The integrated-out factors are those reported as
        ``"marginalized"`` in :attr:`parameterization`.
        """
        return "collapsed" if self._integrated[0] is not None else "full"

    @property
    def parameterization(self) -> dict[str, str]:
        """Factor name -> ``"marginalized"``, ``"centered"`` or ``"noncentered"`` in sampling."""
        choice = dict(self.plan.parameterization)
        for name in self.plan.integrated:
            choice[name] = "marginalized"
        return choice

    def coords(self) -> dict[str, list[str]]:
        """Named dimensions of the model and their coordinates."""
        return names.model_coords(self.spec)

    # ----------------------------------------------------------------- graph
    def build(self, likelihood: pymc_graph.Likelihood = "pointwise") -> pm.Model:
        """Build the PyMC model.

        Parameters
        ----------
        likelihood : {"pointwise", "sufficient", "marginal"}
            ``"pointwise"`` (default) has the observed variable (named after
            the response, dimension ``obs``) for prior and posterior predictive
            sampling; ``"sufficient"`` replaces it by an equal log density
            computed from per-cell sums (a ``pm.Potential``); ``"marginal"``
            also integrates the effects of
            :attr:`SamplingPlan.integrated <bayeshier.bayes.plan.SamplingPlan>`
            out (they have no variable), which is what :meth:`sample` uses
            when a factor is marginalized.

        Returns
        -------
        pymc.Model

        """
        pymc_graph.check_likelihood(likelihood)
        if likelihood == "pointwise":
            self._require_rows('build("pointwise")', 'build("sufficient")')
        cells = None if likelihood == "pointwise" else self.cells
        return pymc_graph.build_model(self.spec, self._priors, self.plan, self.design, cells, likelihood)

    # -------------------------------------------------------------- sampling
    def sample(
        self,
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 4,
        random_seed: int | None = None,
        sampler: Literal["nutpie", "pymc"] = "nutpie",
        progressbar: bool = True,
        *,
        target_accept: float | None = None,
        log_likelihood: bool | None = None,
    ) -> xr.DataTree:
        """Sample the posterior with NUTS.

        Parameters
        ----------
        draws, tune, chains : int
            Kept draws per chain, tuning steps per chain, number of chains.
        random_seed : int, optional
            Seed of the sampler (and of the draws of integrated-out effects).
        sampler : {"nutpie", "pymc"}
            ``"nutpie"`` (default) compiles the model once per :class:`Model`
            (later calls reuse it); ``"pymc"`` uses PyMC's own NUTS.
        progressbar : bool
            Show the sampler's progress bar.
        target_accept : float, optional
            NUTS's target acceptance rate. Default: 0.98 with correlated
            random slopes (the posterior of a correlation reaches towards
            +-1, where the effects' prior is strongly curved), else 0.95 when
            a grouping factor has at most 10 levels (its sd is poorly
            determined and the posterior more curved, so smaller steps avoid
            divergences), else 0.8 (see :func:`bayeshier.bayes.sampling.default_target_accept`).
        log_likelihood : bool, optional
            Store the pointwise log-likelihood (needed by ``az.loo``); it holds
            ``chains x draws x n`` numbers, so turn it off for very large data.
            Default: stored when the rows are in memory, not for a Dask
            DataFrame (where ``True`` is an error).

        Returns
        -------
        xarray.DataTree
            Groups ``posterior`` (``beta``, group effects, ``sd_<factor>``,
            ``sigma``), ``sample_stats``, ``observed_data`` and
            ``log_likelihood`` (these two only with the rows in memory);
            ``attrs`` record the formula, the parameterization, the
            likelihood used (``attrs["likelihood"]``, ``"collapsed"`` or
            ``"full"``), the sampler and the REML fit
            (``attrs["reml"]``, a JSON string).

        Raises
        ------
        ModelError
            Unknown sampler, nutpie not installed, bad draws/tune/chains, or
            ``log_likelihood=True`` for a Dask DataFrame.

        """
        sampling.check_sampling_args(draws, tune, chains, sampler)
        if log_likelihood is None:
            log_likelihood = self.spec.holds_rows
        elif log_likelihood:
            self._require_rows("log_likelihood=True", "log_likelihood=False")
        accept = sampling.target_accept_for(self.spec, target_accept)
        settings = {"draws": draws, "tune": tune, "chains": chains, "target_accept": accept}
        if sampler == "nutpie":
            raw = sampling.run_nutpie(self.compile_nutpie(), settings, random_seed, progressbar)
        else:
            start = sampling.start_point(self.plan)
            model = self._sampling_model()
            raw = sampling.run_pymc(model, start, settings, random_seed, progressbar)
        return self._finish(raw, sampler, log_likelihood, np.random.default_rng(random_seed))

    def _sampling_model(self) -> pm.Model:
        """The model NUTS samples: the marginal likelihood when a factor is integrated out."""
        return self.build("marginal" if self.plan.integrated else "sufficient")

    def compile_nutpie(self) -> Any:
        """Compile (once) and return the nutpie model used by :meth:`sample`."""
        if self._compiled is None:
            model = self._sampling_model()
            self._compiled = sampling.compile_nutpie(model, sampling.start_point(self.plan))
        return self._compiled

    def default_target_accept(self) -> float:
        """0.98 with correlated random slopes, 0.95 with a factor of at most 10 levels, else 0.8."""
        return sampling.default_target_accept(self.spec)

    def _finish(
        self, raw: xr.DataTree, sampler: str, log_likelihood: bool, rng: np.random.Generator
    ) -> xr.DataTree:
        posterior = post.public_variables(raw["posterior"].to_dataset())
        if self.plan.integrated:
            posterior = self._add_marginalized_effects(posterior, rng)
        groups = {
            "posterior": posterior,
            "sample_stats": post.numeric_statistics(raw["sample_stats"].to_dataset()),
        }
        if self.spec.holds_rows:
            groups["observed_data"] = post.observed_data(self.spec, self.observed_name)
        tree = xr.DataTree.from_dict(groups)
        if log_likelihood:
            tree["log_likelihood"] = xr.DataTree(self.pointwise_loglik(posterior))
        tree.attrs.update(
            post.sampling_attrs(
                self.spec, sampler, self.parameterization, self.reml, self.likelihood
            )
        )
        return tree

    def _add_marginalized_effects(
        self, posterior: xr.Dataset, rng: np.random.Generator
    ) -> xr.Dataset:
        """Draw the integrated-out effects from their exact conditional posterior.

        See :func:`bayeshier.bayes.collapse.draw_integrated_effects`.
        """
        names = self.plan.integrated
        return collapse.draw_integrated_effects(
            self.spec, self.design, self.cells, names, posterior, rng
        )

    def level_residual_sums(
        self, posterior: xr.Dataset, name: str, without: tuple[str, ...] = ()
    ) -> np.ndarray:
        """Per draw, sums over the levels of ``name`` of ``y - X beta - (other effects)``.

        The effects of the factors in ``without`` are left out too.
        """
        return collapse.level_residual_sums(
            self.spec, self.design, self.cells, posterior, name, without
        )

    # ---------------------------------------------------------- predictions
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
        self._require_rows("pointwise_loglik()")
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
            ``include_random``).
        idata : xarray.DataTree
            The result of :meth:`sample`.
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

        """
        if "posterior" not in idata.children:
            raise ModelError("idata has no posterior group: pass the result of Model.sample().")
        posterior = idata["posterior"].to_dataset()
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
        self._require_rows("sample_prior_predictive()")
        model = self.build()
        with warnings.catch_warnings():
            # the centered effects of correlated random slopes are drawn by a NumPy function
            warnings.filterwarnings("ignore", message="Numba will use object mode")
            tree = pm.sample_prior_predictive(draws=draws, model=model, random_seed=random_seed)
        tree["prior"] = xr.DataTree(post.public_variables(tree["prior"].to_dataset()))
        return tree

    def _require_rows(self, what: str, instead: str | None = None) -> None:
        """Raise a ModelError naming ``what`` when the data are a Dask DataFrame."""
        if self.spec.holds_rows:
            return
        alternative = f"Use {instead}, or pass" if instead else "Pass"
        raise ModelError(
            f"{what} needs the rows in memory, but this model reads its Dask DataFrame "
            f"through sums only. {alternative} the rows as a pandas DataFrame: data.compute() "
            "if they fit in memory, else a sample such as "
            "data.sample(frac=0.01, random_state=0).compute()."
        )

    def __repr__(self) -> str:
        factors = ", ".join(f"{f.name} ({f.n_levels} levels)" for f in self.spec.factors)
        return f"<bayeshier.Model {self.spec.formula.text!r}: {self.spec.nobs} rows; {factors}>"
