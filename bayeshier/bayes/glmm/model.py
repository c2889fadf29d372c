"""The public :class:`GlmmModel`: a Bayesian GLMM, the PyMC twin of a :func:`fit_glmm` fit.

It takes what :func:`bayeshier.fit_glmm` takes, aggregates rows that share
their linear predictor into binomial or Poisson cells
(:mod:`~bayeshier.bayes.glmm.aggregate`), puts priors on the link scale
(:mod:`~bayeshier.bayes.glmm.priors`), chooses each factor's
parameterization from the Laplace fit (:mod:`~bayeshier.bayes.glmm.plan`) and
samples with nutpie from the glmer-style estimates.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from bayeshier._choices import Parameterization, Sampler
from bayeshier.bayes import budget, interrupt, names, sampling
from bayeshier.bayes import posterior as post
from bayeshier.bayes.assemble import storage_attrs
from bayeshier.bayes.budget import LogLikelihoodChoice
from bayeshier.bayes.glmm import posterior as glmm_post
from bayeshier.bayes.glmm.aggregate import Cells, aggregate_rows
from bayeshier.bayes.glmm.centering import FEW_CENTERED_LEVELS
from bayeshier.bayes.glmm.graph import GlmmDensity, build_glmm_model
from bayeshier.bayes.glmm.nested import draw_collapsed_parents
from bayeshier.bayes.glmm.plan import GlmmPlan, glmm_plan
from bayeshier.bayes.glmm.predictive import GlmmPredictiveMethods, plan_glmm_storage
from bayeshier.bayes.glmm.priors import LINK_SCALE, glmm_priors
from bayeshier.bayes.plan import parse_parameterization
from bayeshier.bayes.prior_parse import PriorInput
from bayeshier.bayes.priors import prior_table
from bayeshier.errors import ModelError
from bayeshier.reml.glmm import Family, GlmmFit, fit_glmm, make_family
from bayeshier.reml.glmm.response import glmm_data
from bayeshier.spec.model_spec import as_frame

if TYPE_CHECKING:  # nutpie is optional, and heavy to import
    from nutpie.sample import CompiledModel

__all__ = ["GlmmModel", "glmm_adaptation"]


class GlmmModel(GlmmPredictiveMethods):
    """A Bayesian generalized linear mixed model (Bernoulli, binomial, Poisson), with PyMC.

    Parameters
    ----------
    formula : str
        lme4 syntax, as for :func:`bayeshier.fit_glmm` (``cbind(s, f) ~ ...``,
        ``offset(log(exposure))`` terms). Random intercepts only.
    data : pandas.DataFrame
        One row per observation.
    family : {"binomial", "poisson"} or Family
        The response distribution (a 0/1 response is binomial).
    link : str, optional
        ``"logit"`` (default), ``"probit"``, ``"cloglog"``; ``"log"`` for the Poisson.
    weights, offset : str or array-like, optional
        Trials of a proportion response (or prior weights), and an offset on
        the link scale, as for :func:`bayeshier.fit_glmm`.
    priors : dict, optional
        Term name (fixed-effect names, ``"sd_<factor>"``) -> prior string or
        PyMC ``.dist()``, overriding the link-scale defaults.
    parameterization : {"auto", "centered", "noncentered"} or dict
        How group effects are sampled; ``"auto"`` decides from the Laplace fit.
    fit : GlmmFit, optional
        The Laplace fit of the same model, if already computed (else fitted on first use).
    nagq : int, default 1
        Quadrature points of the fit that sets the start and the parameterization.
    likelihood : {"auto", "full"}
        ``"auto"`` integrates out the effects of a factor that a nested factor
        is centred on (locations of broods; drawn after sampling, exact:
        :mod:`~bayeshier.bayes.glmm.nested`); ``"full"`` samples every effect.

    Raises
    ------
    FormulaError, DataError, ModelError
        As :func:`bayeshier.fit_glmm`; also random slopes (not supported yet),
        a bad prior or parameterization.

    """

    def __init__(
        self,
        formula: str,
        data: pd.DataFrame,
        family: str | Family = "binomial",
        *,
        link: str | None = None,
        weights: str | np.ndarray | pd.Series | None = None,
        offset: str | np.ndarray | pd.Series | None = None,
        priors: Mapping[str, PriorInput] | None = None,
        parameterization: Parameterization | Mapping[str, Parameterization] = "auto",
        fit: GlmmFit | None = None,
        nagq: int = 1,
        likelihood: Literal["auto", "full"] = "auto",
    ) -> None:
        self.formula = formula
        self.family = make_family(family, link)
        data = as_frame(data)  # a dict, polars or pyarrow frame becomes pandas
        prepared = glmm_data(formula, data, self.family, weights=weights, offset=offset)
        self.spec = prepared.spec
        self.response = prepared.response
        _check_supported(self.spec)
        names.check_factor_names(self.spec)
        self._choices = parse_parameterization(parameterization, self.spec)
        if likelihood not in ("auto", "full"):
            raise ModelError(
                f"likelihood={likelihood!r}: a {self.family.name} model takes 'auto' (integrate "
                "out the effects of a factor a nested one is centred on) or 'full' (sample "
                "every effect); the effects of the data's own factors integrate out of a "
                "normal likelihood only."
            )
        self._collapse = likelihood == "auto"
        self.cells: Cells = aggregate_rows(self.spec, prepared.y, prepared.n, prepared.offset)
        X = np.asarray(self.spec.X, dtype=float)
        self._priors = glmm_priors(self.spec, X, self.cells, self.family, priors)
        self.data = data
        self._fit_args = (formula, data, self.family, nagq, weights, offset)
        if fit is not None:
            self.__dict__["fit"] = fit
        self._compiled: CompiledModel | None = None

    # ----------------------------------------------------------------- views
    @cached_property
    def fit(self) -> GlmmFit:
        """The Laplace (or AGQ) fit of the same model (computed once, then cached)."""
        formula, data, family, nagq, weights, offset = self._fit_args
        return fit_glmm(formula, data, family, nagq=nagq, weights=weights, offset=offset)

    @property
    def reml(self) -> GlmmFit:
        """The Laplace fit (:attr:`fit`), under the name :class:`bayeshier.Model` gives its fit."""
        return self.fit

    @property
    def priors(self) -> pd.DataFrame:
        """Every prior the model uses: columns term, distribution, parameters, why."""
        return prior_table(self._priors)

    def describe(self) -> str:
        """The model in words: family, data size after aggregation, priors with their reasons."""
        lines = [
            f"{self.family.name} GLMM ({self.family.link} link): {self.formula}",
            f"{self.cells.n_rows} rows aggregated into {self.cells.n_cells} cells "
            "(rows sharing fixed-effect row, offset and group levels; exact)",
            "Priors:",
        ]
        for row in self.priors.itertuples():
            lines.append(f"  {row.term}: {row.distribution}({row.parameters})  [{row.why}]")
        return "\n".join(lines)

    @cached_property
    def plan(self) -> GlmmPlan:
        """Parameterization and starting point, chosen from :attr:`fit`."""
        unit = LINK_SCALE[self.family.link]
        return glmm_plan(self.fit, unit, dict(self._choices), self._collapse)

    @property
    def parameterization(self) -> dict[str, str]:
        """Factor -> ``"centered"``, ``"noncentered"``, ``"mixed"`` or ``"collapsed"``."""
        return self.plan.parameterization | {name: "collapsed" for name in self.plan.collapsed}

    @property
    def observed_name(self) -> str:
        """Name of the observed variable: the response if a plain name, else ``"y"``."""
        taken = {"beta", "trials", "offset"} | {f.name for f in self.spec.factors}
        name = self.response
        return name if name.isidentifier() and name not in taken else "y"

    def coords(self) -> dict[str, list[str]]:
        """Named dimensions of the model and their coordinates."""
        return names.model_coords(self.spec)

    # ----------------------------------------------------------------- graph
    def build(self, density: GlmmDensity = "aggregated") -> pm.Model:
        """Build the PyMC model (``"aggregated"``: what :meth:`sample` uses; ``"pointwise"``)."""
        return build_glmm_model(
            self.spec,
            self.family,
            self._priors,
            self.plan,
            self.cells,
            density,
            self.observed_name,
        )

    def compile_nutpie(self) -> CompiledModel:
        """Compile (once) and return the nutpie model used by :meth:`sample`."""
        if self._compiled is None:
            model = self.build()
            self._compiled = sampling.compile_nutpie(model, sampled_start(model, self.plan))
        return self._compiled

    def default_target_accept(self) -> float:
        """0.99 with a factor of at most 10 levels; 0.95 with 2+ sampled factors; 0.9 or 0.8.

        Few levels: the sd's posterior reaches into the neck near 0 (seed_binary,
        5 groups, centered: 0 to 2 divergences per 4,000 draws at 0.95 over six
        seeds, none at 0.99). Several factors: their sds trade off (grouseticks,
        broods nested in locations, every effect sampled: 50 to 115 divergences
        per 4,000 draws at 0.8 whichever the parameterization, none at 0.95); a
        collapsed factor does not count (grouseticks with the locations
        integrated out: none at 0.8 over seeds 2 to 9). 0.9 with a centered
        factor of at most :data:`FEW_CENTERED_LEVELS` levels (cbpp, 15 herds:
        divergences in 2 of 12 seeds at 0.8, none at 0.9, for 3% more steps).
        """
        factors = self.spec.factors
        if any(f.n_levels <= sampling.FEW_LEVELS for f in factors):
            return 0.99
        if len(factors) - len(self.plan.collapsed) > 1:
            return 0.95
        centered = [f for f in factors if self.plan.parameterization[f.name] == "centered"]
        return 0.9 if any(f.n_levels <= FEW_CENTERED_LEVELS for f in centered) else 0.8

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
        """Sample the posterior with NUTS, chains starting at the glmer-style estimates.

        Parameters
        ----------
        draws, tune, chains : int
            Kept draws per chain, tuning steps per chain, number of chains.
        random_seed : int, optional
            Seed of the sampler.
        sampler : {"nutpie", "pymc"}
            ``"nutpie"`` (default, compiled once per model) or PyMC's own NUTS.
        progressbar : bool
            Show the sampler's progress bar.
        target_accept : float, optional
            NUTS's target acceptance (default :meth:`default_target_accept`).
        log_likelihood : {None, True, "pointwise", False}
            Store the pointwise log-likelihood (for ``az.loo``). Default
            (None): when it fits ``memory_budget``, else not, said in a
            :class:`~bayeshier.bayes.budget.MemoryBudgetWarning`.
        memory_budget : int
            Bytes the automatically chosen log-likelihood may take (512 MiB).

        Returns
        -------
        xarray.DataTree
            Groups ``posterior`` (``beta``, group effects ``<factor>`` with dim
            ``<factor>_level``, ``sd_<factor>``), ``sample_stats``,
            ``observed_data`` (successes or counts per row), ``constant_data``
            (``trials``, ``offset``) and ``log_likelihood``; ``attrs`` record
            the formula, family, link, sampler, parameterization, the
            log-likelihood stored and the Laplace fit (``attrs["reml"]``,
            JSON, modes and ``condvar`` included). **Ctrl-C** returns the
            draws completed so far, marked ``attrs["interrupted"] = "true"``,
            as :meth:`bayeshier.Model.sample` does.

        Raises
        ------
        ModelError
            Bad arguments, or a sample that would not fit in memory.

        """
        sampling.check_sampling_args(draws, tune, chains, sampler, random_seed)
        choice = plan_glmm_storage(self.spec, (draws, tune, chains), log_likelihood, memory_budget)
        sampling.check_sampling_limits(draws, tune, chains)
        accept = self.default_target_accept() if target_accept is None else target_accept
        if not 0.0 < accept < 1.0:
            raise ModelError(f"target_accept must be between 0 and 1, got {accept!r}.")
        settings = sampling.NutsSettings(
            draws=draws, tune=tune, chains=chains, target_accept=accept
        )
        if sampler == "nutpie":
            compiled = self.compile_nutpie()
            adaptation = glmm_adaptation(int(compiled.n_dim))
            raw = sampling.run_nutpie(compiled, settings, random_seed, progressbar, adaptation)
        else:
            model = self.build()
            start = sampled_start(model, self.plan)
            raw = sampling.run_pymc(model, start, settings, random_seed, progressbar)
        rng = np.random.default_rng(random_seed)
        return self._finish(raw, sampler, choice, (draws, chains), rng)

    def _finish(
        self,
        raw: xr.DataTree,
        sampler: str,
        choice: LogLikelihoodChoice,
        requested: tuple[int, int],
        rng: np.random.Generator,
    ) -> xr.DataTree:
        stats = post.numeric_statistics(raw["sample_stats"].to_dataset())
        posterior, stats, interruption = interrupt.trim_to_completed(
            raw["posterior"].to_dataset(), stats, *requested
        )
        levels = {f.name: list(f.levels) for f in self.spec.factors}
        posterior = draw_collapsed_parents(
            posterior, self.plan.hierarchy, self.plan.collapsed, levels, rng
        )
        posterior = post.public_variables(posterior)
        groups = {
            "posterior": posterior,
            "sample_stats": stats,
            "observed_data": glmm_post.observed_data(self.spec, self.cells, self.observed_name),
            "constant_data": glmm_post.constant_data(self.spec, self.cells, self.data),
        }
        if choice.kind == "pointwise":
            groups["log_likelihood"] = glmm_post.pointwise_loglik(
                self.spec, self.cells, self.family, posterior, self.observed_name
            )
        tree = xr.DataTree.from_dict(groups)
        tree.attrs.update(
            glmm_post.glmm_attrs(self.fit, sampler, self.parameterization, self.cells)
        )
        tree.attrs.update(storage_attrs(choice, interruption))
        return tree

    def __repr__(self) -> str:
        factors = ", ".join(f"{f.name} ({f.n_levels} levels)" for f in self.spec.factors)
        return (
            f"<bayeshier GlmmModel {self.formula!r}, {self.family.name} ({self.family.link}): "
            f"{self.spec.nobs} rows in {self.cells.n_cells} cells; {factors}>"
        )


#: Above this many sampled parameters the GLMM uses nutpie's diagonal mass matrix: on
#: contraception (108 parameters) the low-rank one took 8.8 s for the same ESS that the
#: diagonal one reaches in 1.5 to 2.4 s; on cbpp (20) low rank gives 1.3x the ESS/s.
GLMM_LOW_RANK_MAX_DIM = 50


def glmm_adaptation(n_dim: int) -> str:
    """The mass-matrix adaptation: low rank up to :data:`GLMM_LOW_RANK_MAX_DIM` parameters."""
    return sampling.NUTPIE_ADAPTATION if n_dim <= GLMM_LOW_RANK_MAX_DIM else "diag"


def sampled_start(model: pm.Model, plan: GlmmPlan) -> dict[str, np.ndarray]:
    """The plan's starting point for the variables ``model`` samples (not the collapsed ones)."""
    sampled = {rv.name for rv in model.free_RVs}
    return {name: value for name, value in plan.start.items() if name in sampled}


def _check_supported(spec: object) -> None:
    """Random intercepts only (slopes are not sampled by the GLMM twin yet)."""
    for factor in spec.factors:  # type: ignore[attr-defined]
        if not factor.intercept_only:
            raise ModelError(
                f"The Bayesian GLMM samples random intercepts only; the factor "
                f"{factor.name!r} has random slopes ({', '.join(factor.terms)}). Fit it with "
                "bayeshier.fit_glmm, or drop the slopes: '(1|" + factor.name + ")'."
            )
