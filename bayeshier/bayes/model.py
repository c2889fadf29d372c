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

import warnings
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from bayeshier._choices import Density, Likelihood, Parameterization, Sampler
from bayeshier.bayes import collapse, names, pymc_graph, sampling
from bayeshier.bayes import posterior as post
from bayeshier.bayes.cell_sums import Cells, cell_statistics
from bayeshier.bayes.collapse import collapsed_factors
from bayeshier.bayes.fixed_scale import InternalDesign, internal_design
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
from bayeshier.spec.model_spec import ModelSpec, build_spec

if TYPE_CHECKING:  # nutpie is optional, and heavy to import
    from nutpie.sample import CompiledModel

__all__ = ["Model"]


class Model(PredictiveMethods):
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
        parameterization: Parameterization | Mapping[str, Parameterization] = "auto",
        likelihood: Likelihood = "auto",
    ) -> None:
        self.spec: ModelSpec = build_spec(formula, data, lazy=True)
        names.check_factor_names(self.spec)
        self._choices = parse_parameterization(parameterization, self.spec)
        self._likelihood = parse_likelihood(likelihood)
        self._collapsed = collapsed_factors(self.spec, self._choices, self._likelihood)
        self._moments = data_moments(self.spec)
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
        log_likelihood: bool | None = None,
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
            require_rows(self.spec, "log_likelihood=True", "log_likelihood=False")
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
        return self._finish(raw, sampler, log_likelihood, np.random.default_rng(random_seed))

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

    def _finish(
        self, raw: xr.DataTree, sampler: str, log_likelihood: bool, rng: np.random.Generator
    ) -> xr.DataTree:
        posterior = post.public_variables(raw["posterior"].to_dataset())
        if self.plan.collapsed:
            posterior = self._add_collapsed_effects(posterior, rng)
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
        """Per draw, sums over the levels of ``name`` of ``y - X beta - (other effects)``.

        The effects of the factors in ``without`` are left out too.
        """
        return collapse.level_residual_sums(
            self.spec, self.design, self.cells, posterior, name, without
        )

    # ------------------------------------------------------- prior predictive
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

    def __repr__(self) -> str:
        factors = ", ".join(f"{f.name} ({f.n_levels} levels)" for f in self.spec.factors)
        return f"<bayeshier.Model {self.spec.formula.text!r}: {self.spec.nobs} rows; {factors}>"
