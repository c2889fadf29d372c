"""The public :class:`Model`: a Bayesian linear mixed model, the PyMC twin of a REML fit.

:class:`Model` takes the same formula and data as :func:`bayeshier.fit_reml`,
builds a PyMC model whose posterior sits next to the REML fit and samples it
efficiently (internal scale of the fixed effects, centered or non-centered
group effects chosen from the REML fit, the largest factor collapsed,
sufficient statistics, a start at REML). Its methods delegate to the other
modules of :mod:`bayeshier.bayes`; its prediction methods come from
:class:`~bayeshier.bayes.predictive.PredictiveMethods`.

How and why it samples as it does, and which module does what, is explained in
``docs/design/bayes_sampling.md``.
"""

from __future__ import annotations

import pickle
from abc import ABCMeta
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from bayeshier._choices import Density, Likelihood, Parameterization, Sampler
from bayeshier.bayes import assemble, budget, collapse, names, pymc_graph, sampling
from bayeshier.bayes.cell_sums import Cells, cell_statistics
from bayeshier.bayes.collapse import collapsed_factors
from bayeshier.bayes.fixed_scale import InternalDesign, internal_design
from bayeshier.bayes.glmm import twin
from bayeshier.bayes.moments import data_moments
from bayeshier.bayes.plan import (
    SamplingPlan,
    parse_likelihood,
    parse_parameterization,
    sampling_plan,
)
from bayeshier.bayes.predictive import PredictiveMethods, require_rows
from bayeshier.bayes.prior_parse import PriorInput
from bayeshier.bayes.priors import prior_table, resolve_priors
from bayeshier.reml import RemlFit, fit_spec
from bayeshier.spec.model_spec import ModelSpec, as_frame, build_spec

if TYPE_CHECKING:  # nutpie is optional, and heavy to import
    from nutpie.sample import CompiledModel

__all__ = ["Model"]


class Model(PredictiveMethods, metaclass=ABCMeta):
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
    family : {None, "gaussian", "binomial", "poisson"}
        None or ``"gaussian"``: this model. ``"binomial"`` or ``"poisson"``
        returns the GLMM twin, a :class:`~bayeshier.bayes.glmm.GlmmModel`
        (its options: ``link``, ``weights``, ``offset``, ``priors``,
        ``parameterization``, ``fit``, ``nagq``), the Bayesian counterpart
        of :func:`bayeshier.fit_glmm`.
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

    weights : str, array-like, optional
        lme4's prior weights, as :func:`bayeshier.fit_reml` takes them: a
        column name, an expression of columns (``"1/v"``) or one positive
        value per row of ``data``. Row ``i`` is then ``Normal(mu_i, sigma /
        sqrt(w_i))`` in every density (pointwise, sufficient, collapsed), the
        posterior predictive and the log-likelihood.
    offset : str, array-like, optional
        A known term added to the linear predictor (row ``i`` is
        ``Normal(mu_i + offset_i, .)``), given like ``weights``; it adds to
        any ``offset(expr)`` terms of the formula. The default priors are
        scaled by ``y - offset``.

    Raises
    ------
    FormulaError, DataError, ModelError
        Bad formula or data (same errors as :func:`bayeshier.fit_reml`), a non-numeric
        response (fit it with :func:`bayeshier.fit_glmm` or ``family=``), a bad
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

    def __new__(cls, *args: object, family: object = None, **options: object) -> Model:
        """The Gaussian model, or for a binomial or Poisson ``family`` its GLMM twin.

        The twin is registered as a virtual subclass: ``isinstance(twin, Model)`` holds.
        """
        if cls is Model and not twin.is_gaussian(family):
            return twin.glmm_twin(*args, family=family, **options)  # type: ignore[arg-type,return-value]
        return super().__new__(cls)

    def __init__(
        self,
        formula: str,
        data: pd.DataFrame,
        *,
        family: str | None = None,
        priors: Mapping[str, PriorInput] | None = None,
        parameterization: Parameterization | Mapping[str, Parameterization] = "auto",
        likelihood: Likelihood = "auto",
        weights: object = None,
        offset: object = None,
    ) -> None:
        data = as_frame(data)  # a dict, polars or pyarrow frame becomes pandas (Dask stays lazy)
        self.spec: ModelSpec = build_spec(formula, data, lazy=True, weights=weights, offset=offset)
        self.spec.require_numeric_response("bayeshier.Model")
        #: The data frame the model was built from (for ``constant_data``).
        self.data = data if isinstance(data, pd.DataFrame) else None
        names.check_factor_names(self.spec)
        self._choices = parse_parameterization(parameterization, self.spec)
        self._likelihood = parse_likelihood(likelihood)
        self._collapsed = collapsed_factors(self.spec, self._choices, self._likelihood)
        self._moments = data_moments(self.spec)
        self._prior_input = dict(priors) if priors is not None else None
        self._priors = resolve_priors(self.spec, priors, self._moments)
        self._compiled: CompiledModel | None = None

    # ----------------------------------------------------------------- views
    @property
    def priors(self) -> pd.DataFrame:
        """Every prior the model uses: columns term, distribution, parameters, why."""
        return prior_table(self._priors)

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
        two. The collapsed factors are those reported as ``"collapsed"`` in
        :attr:`parameterization`.
        """
        return "collapsed" if self._collapsed[0] is not None else "full"

    @property
    def parameterization(self) -> dict[str, str]:
        """Factor name -> ``"collapsed"``, ``"centered"`` or ``"noncentered"`` in sampling.

        ``"collapsed"``: the factor's effects are integrated out of the sampled
        likelihood analytically, then drawn from their exact conditional posterior.
        """
        choice = dict(self.plan.parameterization)
        for name in self.plan.collapsed:
            choice[name] = "collapsed"
        return choice

    def coords(self) -> dict[str, list[str]]:
        """Named dimensions of the model and their coordinates."""
        return names.model_coords(self.spec)

    # ----------------------------------------------------------------- graph
    def build(self, density: Density = "pointwise") -> pm.Model:
        """Build the PyMC model.

        Parameters
        ----------
        density : {"pointwise", "sufficient", "collapsed"}
            How the model computes the log density of the data.
            ``"pointwise"`` (default) has the observed variable (named after
            the response, dimension ``obs``) for prior and posterior predictive
            sampling; ``"sufficient"`` replaces it by an equal log density
            computed from per-cell sums (a ``pm.Potential``); ``"collapsed"``
            also integrates the effects of
            :attr:`SamplingPlan.collapsed <bayeshier.bayes.plan.SamplingPlan>`
            out (they have no variable), which is what :meth:`sample` uses
            when a factor is collapsed.

        Returns
        -------
        pymc.Model

        Raises
        ------
        ModelError
            An unknown ``density``, or ``"pointwise"`` for a Dask DataFrame.

        """
        pymc_graph.check_density(density)
        if density == "pointwise":
            require_rows(self.spec, 'build("pointwise")', 'build("sufficient")')
        cells = None if density == "pointwise" else self.cells
        return pymc_graph.build_model(
            self.spec, self._priors, self.plan, self.design, cells, density
        )

    # -------------------------------------------------------------- sampling
    def sample(
        self,
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 4,
        random_seed: int | None = None,
        sampler: Sampler = "nutpie",
        progressbar: bool = True,
        *,
        target_accept: float | None = None,
        log_likelihood: bool | str | None = None,
        memory_budget: int = budget.MEMORY_BUDGET,
    ) -> xr.DataTree:
        """Sample the posterior with NUTS.

        Parameters
        ----------
        draws, tune, chains : int
            Kept draws per chain, tuning steps per chain, number of chains.
        random_seed : int, optional
            Seed of the sampler (and of the draws of collapsed effects).
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
        log_likelihood : {None, True, "pointwise", "group", False}
            The log-likelihood to store (``az.loo`` reads it). ``True`` or
            ``"pointwise"``: one value per row (``chains x draws x rows``
            numbers); ``"group"``: one per level of the largest grouping
            factor, its effects integrated out (leave-one-group-out LOO);
            ``False``: none. Default (None): pointwise when it fits
            ``memory_budget``, else per group when that fits, else none; an
            automatic choice other than pointwise is said in one
            :class:`~bayeshier.bayes.budget.MemoryBudgetWarning` (and in
            ``attrs["log_likelihood_note"]``). Which one is stored is
            ``attrs["log_likelihood"]``.
        memory_budget : int
            Bytes the automatically chosen log-likelihood may take (default
            512 MiB).

        Returns
        -------
        xarray.DataTree
            Groups ``posterior`` (``beta``, group effects, ``sd_<factor>``,
            ``sigma``), ``sample_stats``, ``observed_data``,
            ``constant_data`` (the data columns, from which
            ``bayeshier.compare(idata=...)`` refits REML; both only with the
            rows in memory) and ``log_likelihood`` (unless none is stored);
            ``attrs`` record the formula, the parameterization, the
            likelihood used (``attrs["likelihood"]``, ``"collapsed"`` or
            ``"full"``), the sampler, the REML fit (``attrs["reml"]``, a JSON
            string) and the log-likelihood stored.

            **Ctrl-C** stops the sampler and returns the draws completed so
            far, cut to the chains and draws that every kept chain completed
            (no NaN rows), with ``attrs["interrupted"] = "true"`` (a string:
            netCDF cannot store a boolean) and ``attrs["interruption"]``
            saying how far the run got; :func:`bayeshier.diagnose` warns of it
            first. Interrupted before the first kept draw, it raises
            ``KeyboardInterrupt``.

        Raises
        ------
        ModelError
            Unknown sampler, nutpie not installed, draws/tune/chains/seed out
            of range, ``log_likelihood=True`` for a Dask DataFrame, or a
            request whose draws would not fit in memory (with the estimate).

        """
        sampling.check_sampling_args(draws, tune, chains, sampler, random_seed)
        if budget.parse_log_likelihood(log_likelihood) == "pointwise":
            require_rows(self.spec, "log_likelihood=True", "log_likelihood='group'")
        choice = budget.plan_storage(
            self.spec, (draws, tune, chains), self.plan.collapsed, log_likelihood, memory_budget
        )
        sampling.check_sampling_limits(draws, tune, chains)
        accept = sampling.target_accept_for(self.spec, target_accept)
        settings = sampling.NutsSettings(
            draws=draws, tune=tune, chains=chains, target_accept=accept
        )
        if sampler == "nutpie":
            raw = sampling.run_nutpie(self.compile_nutpie(), settings, random_seed, progressbar)
        else:
            start = sampling.start_point(self.plan)
            model = self._sampling_model()
            raw = sampling.run_pymc(model, start, settings, random_seed, progressbar)
        rng = np.random.default_rng(random_seed)
        return assemble.assemble(self, raw, sampler, choice, (draws, chains), rng)

    def _sampling_model(self) -> pm.Model:
        """The model NUTS samples: the collapsed density when a factor is collapsed."""
        return self.build("collapsed" if self.plan.collapsed else "sufficient")

    def compile_nutpie(self) -> CompiledModel:
        """Compile (once) and return the nutpie model used by :meth:`sample`."""
        if self._compiled is None:
            model = self._sampling_model()
            self._compiled = sampling.compile_nutpie(model, sampling.start_point(self.plan))
        return self._compiled

    def default_target_accept(self) -> float:
        """0.98 with correlated random slopes, 0.95 with a factor of at most 10 levels, else 0.8."""
        return sampling.default_target_accept(self.spec)

    def _add_collapsed_effects(self, posterior: xr.Dataset, rng: np.random.Generator) -> xr.Dataset:
        """Draw the collapsed effects from their exact conditional posterior.

        See :func:`bayeshier.bayes.collapse.draw_collapsed_effects`.
        """
        return collapse.draw_collapsed_effects(
            self.spec, self.design, self.cells, self.plan.collapsed, posterior, rng
        )

    def level_residual_sums(
        self, posterior: xr.Dataset, name: str, without: tuple[str, ...] = ()
    ) -> np.ndarray:
        """Per draw, sums over the levels of ``name`` of ``y - offset - X beta - (other effects)``.

        The effects of the factors in ``without`` are left out too; with prior
        weights ``w`` the sums are ``sum w_i r_i``.
        """
        return collapse.level_residual_sums(
            self.spec, self.design, self.cells, posterior, name, without
        )

    def __getstate__(self) -> dict[str, object]:
        """Pickle all but the compiled nutpie model and the priors (rebuilt when unpickled).

        Raises
        ------
        TypeError
            A prior object that does not pickle: says what to save instead.

        """
        state = dict(self.__dict__, _compiled=None, _priors=None)
        try:
            pickle.dumps(self._prior_input)
        except Exception as error:
            raise TypeError(
                "This Model cannot be pickled: one of its priors is an object that does not "
                "pickle. Give the priors as strings (e.g. 'normal(0, 10)'), or save the "
                "formula, the data and the priors and rebuild the Model from them."
            ) from error
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        """Restore a pickled model, rebuilding its priors."""
        self.__dict__.update(state)
        self._priors = resolve_priors(self.spec, self._prior_input, self._moments)

    def __repr__(self) -> str:
        factors = ", ".join(f"{f.name} ({f.n_levels} levels)" for f in self.spec.factors)
        return f"<bayeshier.Model {self.spec.formula.text!r}: {self.spec.nobs} rows; {factors}>"


twin.register_twin(Model)
