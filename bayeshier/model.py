"""The Bayesian mixed model: PyMC graph, efficient sampling, prediction.

:class:`Model` takes the same formula and data as :func:`bayeshier.fit_reml`
(it reuses :func:`bayeshier.spec.build_spec`, so it rejects the same input
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
    dimension ``<factor>_level`` with the level labels as coordinates.
``sd_<factor>``
    Standard deviation of the group effects of ``<factor>``.
``sigma``
    Residual standard deviation.

How it samples efficiently
--------------------------
* **Internal scale.** Non-intercept columns of ``X`` are centred, and the
  fixed effects are sampled in the coordinates ``z`` of an affine map
  ``nu = nu_hat + L z``, where ``nu`` are the coefficients of the centred
  design (the intercept at the predictors' means, then the slopes),
  ``nu_hat`` is the REML estimate and ``L L'`` its GLS covariance. The
  posterior of ``z`` is close to standard normal and uncorrelated whatever
  the scale or collinearity of the predictors (mpg's ``year`` = 1999/2008).
  ``beta`` is reported on the user's scale; the map is linear, so the priors
  hold exactly on ``beta`` (the Jacobian is constant).
* **Centred or non-centred per (other) grouping factor.** From the REML fit, the
  share of a group effect's prior variance that the data explain is
  ``lambda_f = mean_j(s^2 d_j / (1 + s^2 d_j))`` with ``d_j = 1/condVar_j -
  1/sd_f^2`` the data's precision about level ``j`` (``n_j / sigma^2`` for a
  single factor, so ``lambda`` is the shrinkage weight; lme4's condVar makes
  it account for crossed and nested factors too), evaluated at a low
  plausible sd ``s`` (see :func:`explained_share`), because the sd of a few
  groups is poorly known. With ``lambda_f >= 0.5`` the data dominate and the
  factor is centred (``b ~ Normal(0, sd_f)``, sampled in
  the standardised coordinates ``(b - BLUP) / sqrt(condVar)``); otherwise
  (and for singular fits) it is non-centred (``b = sd_f * z``,
  ``z ~ Normal(0, 1)``). ``parameterization=`` forces either, globally or per
  factor.
* **The largest factor is integrated out.** With ``parameterization="auto"``
  (for that factor), :meth:`Model.sample` samples the likelihood with the
  effects of the first (largest) grouping factor integrated out analytically
  (each level's rows are ``Normal(., sigma^2 I + sd^2 11')``), so NUTS never
  sees them, nor their funnel or their correlation with the intercept; after
  sampling, each draw's effects are drawn from their exact conditional
  posterior ``Normal(v_j s_j / sigma^2, v_j)`` (the BLUP formula at that
  draw). The result is a sample of the same joint posterior; these factors
  are reported as ``"marginalized"`` in :attr:`Model.parameterization`.
  Forcing ``"centered"`` or ``"noncentered"`` for it samples its effects.
* **Sufficient statistics.** :meth:`Model.sample` evaluates the likelihood
  from per-cell sums (a cell is a combination of levels of all grouping
  factors), so a gradient costs O(cells x p) rather than O(n x p); the log
  density equals that of :meth:`Model.build` exactly (``build("sufficient")``
  and ``build("marginal")`` give the sampled models).
* **Hierarchical centring of the intercept.** Of the centred factors, the
  one whose mean carries most of the intercept's uncertainty
  (largest ``sd_f^2 / G_f``) is sampled as group means ``a_j = alpha + b_j``
  (``alpha`` the intercept at the predictors' means), which removes the
  posterior correlation between the intercept and its effects. When that
  factor is nested in others (``cask`` in ``batch``), its means absorb their
  effects too: ``a_j ~ Normal(alpha + b_batch[parent(j)], sd_cask)``.
* **Mass matrix.** nutpie adapts a diagonal plus low-rank mass matrix
  (``adaptation="low_rank"``), which absorbs the remaining correlated
  directions (the means of crossed factors against the intercept).
* **Start near REML.** Chains start at the REML estimates and BLUPs, jittered
  by U(-1, 1) in the standardised coordinates.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import xarray as xr
from pymc.logprob.transforms import Transform
from pytensor.tensor.variable import TensorVariable

from bayeshier.errors import ModelError, close_matches_hint
from bayeshier.priors import PriorInput, intercept_index, prior_table, resolve_priors, sd_term
from bayeshier.spec import ModelSpec, build_spec, thin_r

__all__ = ["Model"]

_CHOICES = {
    "auto": "auto",
    "centered": "centered",
    "centred": "centered",
    "noncentered": "noncentered",
    "non-centered": "noncentered",
    "noncentred": "noncentered",
    "non-centred": "noncentered",
}
_SAMPLERS = ("nutpie", "pymc")
#: Centre a factor when the data explain at least this share of its prior variance.
CENTRED_THRESHOLD = 0.5
#: With at most this many levels a factor's sd is poorly determined (higher target_accept).
FEW_LEVELS = 10
#: nutpie's mass-matrix adaptation: diagonal plus a low-rank part learnt from the
#: draws and gradients, which captures the few strongly correlated directions a
#: mixed model keeps (intercept vs. crossed effects' means).
NUTPIE_ADAPTATION = "low_rank"
_LOG_2PI = float(np.log(2.0 * np.pi))
_FIXED_RV = "_fixed"
_LOGLIK_CHUNK = 2_000_000


class Affine(Transform):
    """``value = loc + scale @ z`` (``scale`` a lower-triangular matrix or a vector).

    The sampler sees ``z``; the log-Jacobian is the constant ``log|det scale|``,
    spread over the elements.
    """

    name = "affine"

    def __init__(self, loc: np.ndarray, scale: np.ndarray):
        self.loc = np.asarray(loc, dtype=float)
        self.scale = np.asarray(scale, dtype=float)
        self.matrix = self.scale.ndim == 2
        diag = np.diag(self.scale) if self.matrix else self.scale
        self.log_diag = np.log(np.abs(diag))

    def forward(self, value: TensorVariable, *inputs: Any) -> TensorVariable:
        """Constrained value -> sampler coordinates."""
        centred = value - self.loc
        if self.matrix:
            inverse = np.linalg.inv(self.scale)
            return pt.dot(centred, inverse.T)
        return centred / self.scale

    def backward(self, value: TensorVariable, *inputs: Any) -> TensorVariable:
        """Sampler coordinates -> constrained value."""
        if self.matrix:
            return self.loc + pt.dot(value, self.scale.T)
        return self.loc + value * self.scale

    def log_jac_det(self, value: TensorVariable, *inputs: Any) -> TensorVariable:
        """Constant log-Jacobian, one term per element."""
        return pt.zeros_like(value) + self.log_diag


@dataclass(frozen=True, eq=False)
class InternalDesign:
    """The fixed-effects design on the scale the sampler uses.

    Attributes
    ----------
    Xc : numpy.ndarray
        ``X`` with its non-intercept columns centred (when there is an intercept).
    to_user : numpy.ndarray
        ``beta = to_user @ nu`` maps centred-design coefficients to the user's.
    Q, R : numpy.ndarray
        Thin QR of ``Xc``.
    Qty : numpy.ndarray
        ``Q'y``.
    resid : numpy.ndarray
        OLS residual ``y - Q Q'y``.

    """

    Xc: np.ndarray
    to_user: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    Qty: np.ndarray
    resid: np.ndarray


@dataclass(frozen=True, eq=False)
class Cells:
    """Sufficient statistics per cell (one combination of levels of all factors).

    Attributes
    ----------
    codes : list of numpy.ndarray
        For each factor (spec order), the level of every cell.
    counts : numpy.ndarray
        Rows per cell.
    sum_q : numpy.ndarray
        Per-cell sums of the rows of ``Q`` (cells x p).
    sum_resid : numpy.ndarray
        Per-cell sums of the OLS residual.

    """

    codes: list[np.ndarray]
    counts: np.ndarray
    sum_q: np.ndarray
    sum_resid: np.ndarray


@dataclass(frozen=True, eq=False)
class SamplingPlan:
    """Parameterisation and starting point chosen from the REML fit.

    Attributes
    ----------
    parameterization : dict
        Factor name -> ``"centered"`` or ``"noncentered"``.
    absorbs : str or None
        The centred factor whose group means are sampled directly (they
        absorb the intercept: hierarchical centring), if any.
    parents : dict
        Factor name -> level of that factor for each level of ``absorbs``,
        for the factors ``absorbs`` is nested in (their effects are absorbed too).
    marginalized : str or None
        The factor whose effects :meth:`Model.sample` integrates out of the
        likelihood (and then draws exactly from their conditional posterior).
    explained : dict
        Factor name -> share of prior variance explained by the data (lambda_f).
    fixed_loc, fixed_chol : numpy.ndarray
        REML estimate of the centred-design coefficients and the Cholesky
        factor of their GLS covariance.
    effect_loc, effect_scale : dict
        Factor name -> BLUPs and ``sqrt(condVar)`` (used by centred factors).
    start : dict
        Variable name -> starting value (constrained scale).

    """

    parameterization: dict[str, str]
    absorbs: str | None
    parents: dict[str, np.ndarray]
    marginalized: str | None
    explained: dict[str, float]
    fixed_loc: np.ndarray
    fixed_chol: np.ndarray
    effect_loc: dict[str, np.ndarray]
    effect_scale: dict[str, np.ndarray]
    start: dict[str, np.ndarray]


class Model:
    """A Bayesian linear mixed model (random intercepts), fitted with PyMC.

    Parameters
    ----------
    formula : str
        lme4-style formula, e.g. ``"hwy ~ displ + year + (1|class)"``.
    data : pandas.DataFrame
        One row per observation; rows with missing values in used columns
        are dropped (as :func:`bayeshier.fit_reml` does).
    priors : dict, optional
        Term name -> prior, overriding the autoscaled defaults (see
        :mod:`bayeshier.priors`). Terms are the fixed-effect names, ``"sigma"``
        and ``"sd_<factor>"``; a prior is a string such as ``"normal(0, 10)"``
        or a PyMC ``.dist()``.
    parameterization : {"auto", "centered", "noncentered"} or dict
        How group effects are sampled; a dict maps factor names to a choice
        (factors left out use ``"auto"``). ``"auto"`` decides from the REML fit.

    Raises
    ------
    FormulaError, DataError, ModelError
        Bad formula or data (same errors as :func:`bayeshier.fit_reml`), a bad
        prior or an unknown parameterisation.

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
    ) -> None:
        self.spec: ModelSpec = build_spec(formula, data)
        _check_names(self.spec)
        self._choices = _parse_parameterization(parameterization, self.spec)
        self._priors = resolve_priors(self.spec, priors)
        self._compiled: Any = None

    # ----------------------------------------------------------------- views
    @property
    def priors(self) -> pd.DataFrame:
        """Every prior the model uses: columns term, distribution, parameters, why."""
        return prior_table(self._priors)

    @property
    def observed_name(self) -> str:
        """Name of the observed variable (the response if it is a plain name, else ``"y"``)."""
        name = self.spec.response
        taken = {"beta", "sigma"} | {f.name for f in self.spec.factors}
        return name if name.isidentifier() and name not in taken else "y"

    @cached_property
    def reml(self) -> Any:
        """The REML fit of the same specification (computed once, then cached)."""
        from bayeshier import reml

        return reml.fit_spec(self.spec, reml=True)

    @cached_property
    def design(self) -> InternalDesign:
        """The centred design and its QR (the sampler's internal scale)."""
        return internal_design(self.spec)

    @cached_property
    def plan(self) -> SamplingPlan:
        """Parameterisation and starting point, chosen from :attr:`reml`."""
        return sampling_plan(self.spec, self.design, self.reml, self._choices)

    @property
    def parameterization(self) -> dict[str, str]:
        """Factor name -> ``"marginalized"``, ``"centered"`` or ``"noncentered"`` in sampling."""
        choice = dict(self.plan.parameterization)
        if self.plan.marginalized is not None:
            choice[self.plan.marginalized] = "marginalized"
        return choice

    def coords(self) -> dict[str, list[str]]:
        """Named dimensions of the model and their coordinates."""
        coords: dict[str, list[str]] = {"fixed": list(self.spec.fixed_names)}
        for factor in self.spec.factors:
            coords[level_dim(factor.name)] = list(factor.levels)
        coords["obs"] = _obs_labels(self.spec)
        return coords

    # ----------------------------------------------------------------- graph
    def build(
        self, likelihood: Literal["pointwise", "sufficient", "marginal"] = "pointwise"
    ) -> pm.Model:
        """Build the PyMC model.

        Parameters
        ----------
        likelihood : {"pointwise", "sufficient", "marginal"}
            ``"pointwise"`` (default) has the observed variable (named after
            the response, dimension ``obs``) for prior and posterior predictive
            sampling; ``"sufficient"`` replaces it by an equal log density
            computed from per-cell sums (a ``pm.Potential``); ``"marginal"``
            also integrates the effects of :attr:`SamplingPlan.marginalized`
            out (they have no variable), which is what :meth:`sample` uses
            when a factor is marginalised.

        Returns
        -------
        pymc.Model

        """
        if likelihood not in ("pointwise", "sufficient", "marginal"):
            raise ModelError(
                f"likelihood must be 'pointwise', 'sufficient' or 'marginal', not {likelihood!r}."
            )
        collapsed = self.plan.marginalized if likelihood == "marginal" else None
        with pm.Model(coords=self.coords()) as model:
            fixed = self._add_fixed_effects()
            sigma = self._add_prior_rv("sigma")
            effects: dict[str, TensorVariable] = {}
            for factor in sorted(self.spec.factors, key=lambda f: f.name == self.plan.absorbs):
                if factor.name == collapsed:
                    effects[factor.name] = self._add_prior_rv(sd_term(factor.name))
                else:
                    effects[factor.name] = self._add_group_effects(factor, fixed, effects)
            ordered = [effects[factor.name] for factor in self.spec.factors]
            if likelihood == "pointwise":
                self._add_pointwise_likelihood(fixed, ordered, sigma)
            elif collapsed is None:
                self._add_sufficient_likelihood(fixed, ordered, sigma)
            else:
                loglik = marginal_loglik(self.design, self.cells, fixed, ordered, sigma)
                pm.Potential("_loglik", loglik)
        return model

    def _add_fixed_effects(self) -> TensorVariable:
        priors = [self._priors[name].make for name in self.spec.fixed_names]
        transform = Affine(self.plan.fixed_loc, self.plan.fixed_chol)

        def stacked(size: Any) -> TensorVariable:
            return pt.stack([make() for make in priors])

        if not priors:
            return pt.zeros((0,))
        nu = pm.CustomDist(
            _FIXED_RV, dist=stacked, dims="fixed", transform=transform, initval=self.plan.fixed_loc
        )
        pm.Deterministic("beta", pt.dot(self.design.to_user, nu), dims="fixed")
        return nu

    def _add_prior_rv(self, term: str) -> TensorVariable:
        model = pm.modelcontext(None)
        return model.register_rv(self._priors[term].make(), term, initval=self.plan.start[term])

    def _add_group_effects(
        self, factor: Any, fixed: TensorVariable, others: dict[str, TensorVariable]
    ) -> TensorVariable:
        sd = self._add_prior_rv(sd_term(factor.name))
        dim = level_dim(factor.name)
        loc, scale = self.plan.effect_loc[factor.name], self.plan.effect_scale[factor.name]
        if factor.name == self.plan.absorbs:
            centre = fixed[intercept_index(self.spec)]
            for parent, codes in self.plan.parents.items():
                centre = centre + others[parent][codes]
            transform = Affine(self.plan.start[f"_{factor.name}_mean"], scale)
            name = f"_{factor.name}_mean"
            start = self.plan.start[name]
            means = pm.Normal(name, centre, sd, dims=dim, transform=transform, initval=start)
            return pm.Deterministic(factor.name, means - centre, dims=dim)
        if self.plan.parameterization[factor.name] == "centered":
            start = self.plan.start[factor.name]
            transform = Affine(loc, scale)
            return pm.Normal(factor.name, 0.0, sd, dims=dim, transform=transform, initval=start)
        z = pm.Normal(
            f"_{factor.name}_z", 0.0, 1.0, dims=dim, initval=self.plan.start[f"_{factor.name}_z"]
        )
        return pm.Deterministic(factor.name, sd * z, dims=dim)

    def _add_pointwise_likelihood(
        self, fixed: TensorVariable, effects: list[TensorVariable], sigma: TensorVariable
    ) -> None:
        mu = pt.dot(self.design.Xc, fixed) if self.spec.n_fixed else pt.zeros(self.spec.nobs)
        for factor, effect in zip(self.spec.factors, effects, strict=True):
            mu = mu + effect[factor.codes]
        pm.Normal(self.observed_name, mu, sigma, observed=self.spec.y, dims="obs")

    def _add_sufficient_likelihood(
        self, fixed: TensorVariable, effects: list[TensorVariable], sigma: TensorVariable
    ) -> None:
        pm.Potential("_loglik", sufficient_loglik(self.design, self.cells, fixed, effects, sigma))

    @cached_property
    def cells(self) -> Cells:
        """Per-cell sufficient statistics of the likelihood."""
        return cell_statistics(self.spec, self.design)

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
        log_likelihood: bool = True,
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
            NUTS's target acceptance rate. Default: 0.9 when a grouping factor
            has at most 10 levels (its sd is poorly determined and the
            posterior more curved, so smaller steps avoid divergences), else 0.8.
        log_likelihood : bool
            Store the pointwise log-likelihood (needed by ``az.loo``); it holds
            ``chains x draws x n`` numbers, so turn it off for very large data.

        Returns
        -------
        xarray.DataTree
            Groups ``posterior`` (``beta``, group effects, ``sd_<factor>``,
            ``sigma``), ``sample_stats``, ``observed_data`` and
            ``log_likelihood``; ``attrs`` record the formula, the
            parameterisation, the sampler and the REML fit (``attrs["reml"]``,
            a JSON string).

        Raises
        ------
        ModelError
            Unknown sampler, nutpie not installed, or bad draws/tune/chains.

        """
        _check_sampling_args(draws, tune, chains, sampler)
        accept = self.default_target_accept() if target_accept is None else target_accept
        if not 0.0 < accept < 1.0:
            raise ModelError(f"target_accept must be between 0 and 1, got {accept!r}.")
        settings = {"draws": draws, "tune": tune, "chains": chains, "target_accept": accept}
        if sampler == "nutpie":
            raw = self._sample_nutpie(settings, random_seed, progressbar)
        else:
            raw = self._sample_pymc(settings, random_seed, progressbar)
        return self._finish(raw, sampler, log_likelihood, np.random.default_rng(random_seed))

    def _sampling_model(self) -> pm.Model:
        return self.build("marginal" if self.plan.marginalized else "sufficient")

    def _start(self) -> dict[str, np.ndarray]:
        start = dict(self.plan.start)
        name = self.plan.marginalized
        if name is not None:
            for key in (name, f"_{name}_z"):
                start.pop(key, None)
        return start

    def compile_nutpie(self) -> Any:
        """Compile (once) and return the nutpie model used by :meth:`sample`."""
        if self._compiled is None:
            import nutpie

            model = self._sampling_model()
            self._compiled = nutpie.compile_pymc_model(model, initial_points=self._start())
        return self._compiled

    def default_target_accept(self) -> float:
        """0.9 if a grouping factor has at most 10 levels, else 0.8."""
        few = min(f.n_levels for f in self.spec.factors) <= FEW_LEVELS
        return 0.9 if few else 0.8

    def _sample_nutpie(
        self, settings: dict[str, Any], seed: int | None, progressbar: bool
    ) -> xr.DataTree:
        import nutpie

        return nutpie.sample(
            self.compile_nutpie(),
            **settings,
            cores=min(settings["chains"], os.cpu_count() or 1),
            seed=seed,
            adaptation=NUTPIE_ADAPTATION,
            save_warmup=False,
            progress_bar=progressbar,
        )

    def _sample_pymc(
        self, settings: dict[str, Any], seed: int | None, progressbar: bool
    ) -> xr.DataTree:
        return pm.sample(
            **settings,
            cores=min(settings["chains"], os.cpu_count() or 1),
            random_seed=seed,
            progressbar=progressbar,
            initvals=self._start(),
            model=self._sampling_model(),
            nuts_sampler="pymc",
            compute_convergence_checks=False,
        )

    def _finish(
        self, raw: xr.DataTree, sampler: str, log_likelihood: bool, rng: np.random.Generator
    ) -> xr.DataTree:
        posterior = _public(raw["posterior"].to_dataset())
        if self.plan.marginalized is not None:
            posterior = self._add_marginalized_effects(posterior, rng)
        tree = xr.DataTree.from_dict(
            {
                "posterior": posterior,
                "sample_stats": _numeric(raw["sample_stats"].to_dataset()),
                "observed_data": self._observed_data(),
            }
        )
        if log_likelihood:
            tree["log_likelihood"] = xr.DataTree(self.pointwise_loglik(posterior))
        tree.attrs.update(self._attrs(sampler))
        return tree

    def _add_marginalized_effects(
        self, posterior: xr.Dataset, rng: np.random.Generator
    ) -> xr.Dataset:
        """Draw the integrated-out effects from their exact conditional posterior.

        Given the other parameters, ``b_j ~ Normal(v_j s_j / sigma^2, v_j)`` with
        ``v_j = 1 / (1 / sd^2 + n_j / sigma^2)`` and ``s_j`` the sum of the
        residuals ``y - X beta - (other effects)`` over level ``j``: each draw
        of the result is an exact draw from the joint posterior.
        """
        factor = self.spec.factor(self.plan.marginalized)
        residual = self.level_residual_sums(posterior, factor.name)
        sd = posterior[sd_term(factor.name)].to_numpy()[..., None]
        sigma2 = posterior["sigma"].to_numpy()[..., None] ** 2
        counts = factor.counts()
        variance = 1.0 / (1.0 / sd**2 + counts / sigma2)
        mean = variance * residual / sigma2
        draws = mean + np.sqrt(variance) * rng.standard_normal(mean.shape)
        dims = ("chain", "draw", level_dim(factor.name))
        effect = xr.DataArray(draws, dims=dims, coords={dims[2]: list(factor.levels)})
        return posterior.assign({factor.name: effect})

    def level_residual_sums(self, posterior: xr.Dataset, name: str) -> np.ndarray:
        """Per draw, sums over the levels of ``name`` of ``y - X beta - (other effects)``."""
        design, cells = self.design, self.cells
        position = [f.name for f in self.spec.factors].index(name)
        cell_sums = np.broadcast_to(cells.sum_resid, (*posterior["sigma"].shape, len(cells.counts)))
        if self.spec.n_fixed:
            nu = posterior["beta"].to_numpy() @ np.linalg.inv(design.to_user).T
            gamma = design.Qty - nu @ design.R.T
            cell_sums = cell_sums + gamma @ cells.sum_q.T
        for k, factor in enumerate(self.spec.factors):
            if k != position:
                effects = posterior[factor.name].to_numpy()[..., cells.codes[k]]
                cell_sums = cell_sums - cells.counts * effects
        n_levels = self.spec.factors[position].n_levels
        to_level = _aggregator(cells.codes[position], n_levels)
        flat = cell_sums.reshape(-1, cell_sums.shape[-1])
        return np.asarray(to_level.T @ flat.T).T.reshape(*cell_sums.shape[:-1], n_levels)

    def _observed_data(self) -> xr.Dataset:
        obs = xr.DataArray(self.spec.y, dims="obs", coords={"obs": _obs_labels(self.spec)})
        return xr.Dataset({self.observed_name: obs})

    def _attrs(self, sampler: str) -> dict[str, str]:
        return {
            "formula": self.spec.formula.text,
            "sampler": sampler,
            "parameterization": json.dumps(self.parameterization),
            "reml": json.dumps(reml_record(self.reml, self.spec)),
            "inference_library": "pymc" if sampler == "pymc" else "nutpie",
        }

    # ---------------------------------------------------------- predictions
    def linear_predictor(
        self, posterior: xr.Dataset, X: np.ndarray, codes: list[np.ndarray]
    ) -> np.ndarray:
        """Posterior draws of ``X beta + sum_f b_f[codes_f]`` (chain x draw x rows).

        A code of -1 contributes nothing (callers add new-level effects).
        """
        mu = np.einsum("cdp,np->cdn", posterior["beta"].to_numpy(), X) if X.shape[1] else 0.0
        mu = np.broadcast_to(mu, (*posterior["sigma"].shape, X.shape[0])).copy()
        for factor, code in zip(self.spec.factors, codes, strict=True):
            effects = posterior[factor.name].to_numpy()
            seen = code >= 0
            mu[..., seen] += effects[..., code[seen]]
        return mu

    def pointwise_loglik(self, posterior: xr.Dataset) -> xr.Dataset:
        """Pointwise log-likelihood of the observed rows (for ``az.loo``)."""
        sigma = posterior["sigma"].to_numpy()[..., None]
        codes = [f.codes for f in self.spec.factors]
        rows = max(1, _LOGLIK_CHUNK // max(1, sigma.size))
        parts = []
        for start in range(0, self.spec.nobs, rows):
            piece = slice(start, start + rows)
            mu = self.linear_predictor(posterior, self.spec.X[piece], [c[piece] for c in codes])
            z = (self.spec.y[piece] - mu) / sigma
            parts.append(-0.5 * (_LOG_2PI + z**2) - np.log(sigma))
        values = np.concatenate(parts, axis=-1)
        dims = ("chain", "draw", "obs")
        coords = {
            "chain": posterior["chain"],
            "draw": posterior["draw"],
            "obs": _obs_labels(self.spec),
        }
        return xr.Dataset({self.observed_name: xr.DataArray(values, dims=dims, coords=coords)})

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
            effect drawn from ``Normal(0, sd_f)`` per posterior draw (shared by
            all rows of that level); ``False`` predicts at the population level.
        random_seed : int, optional
            Seed of the residual noise and of the new-level effects.

        Returns
        -------
        xarray.DataTree
            Group ``predictions`` with ``mu`` (expected value) and the
            response (``mu`` plus residual noise), dims (chain, draw, obs),
            ``obs`` labelled by ``newdata.index``.

        """
        if "posterior" not in idata.children:
            raise ModelError("idata has no posterior group: pass the result of Model.sample().")
        posterior = idata["posterior"].to_dataset()
        rng = np.random.default_rng(random_seed)
        X = self.spec.fixed_design(newdata)
        codes = [np.full(len(newdata), -1) for _ in self.spec.factors]
        if include_random:
            codes = [factor.codes_for(newdata) for factor in self.spec.factors]
        mu = self.linear_predictor(posterior, X, codes)
        if include_random:
            mu += self._new_level_effects(newdata, posterior, codes, rng)
        sigma = posterior["sigma"].to_numpy()[..., None]
        draws = mu + sigma * rng.standard_normal(mu.shape)
        dims = ("chain", "draw", "obs")
        coords = {
            "chain": posterior["chain"],
            "draw": posterior["draw"],
            "obs": np.asarray(newdata.index),
        }
        data = {
            "mu": xr.DataArray(mu, dims=dims, coords=coords),
            self.observed_name: xr.DataArray(draws, dims=dims, coords=coords),
        }
        return xr.DataTree.from_dict({"predictions": xr.Dataset(data)})

    def _new_level_effects(
        self,
        newdata: pd.DataFrame,
        posterior: xr.Dataset,
        codes: list[np.ndarray],
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Effects of unseen levels: one Normal(0, sd_f) draw per level and posterior draw."""
        shape = (*posterior["sigma"].shape, len(newdata))
        extra = np.zeros(shape)
        for factor, code in zip(self.spec.factors, codes, strict=True):
            unseen = code < 0
            if not unseen.any():
                continue
            labels = factor_labels(newdata, factor.variables)[unseen]
            groups, inverse = np.unique(labels, return_inverse=True)
            sd = posterior[sd_term(factor.name)].to_numpy()[..., None]
            new = sd * rng.standard_normal((*sd.shape[:-1], len(groups)))
            extra[..., unseen] += new[..., inverse]
        return extra

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
        tree = pm.sample_prior_predictive(draws=draws, model=self.build(), random_seed=random_seed)
        tree["prior"] = xr.DataTree(_public(tree["prior"].to_dataset()))
        return tree

    def __repr__(self) -> str:
        factors = ", ".join(f"{f.name} ({f.n_levels} levels)" for f in self.spec.factors)
        return f"<bayeshier.Model {self.spec.formula.text!r}: {self.spec.nobs} rows; {factors}>"


# --------------------------------------------------------------- helpers
def level_dim(factor_name: str) -> str:
    """Name of the dimension holding the levels of ``factor_name``."""
    return f"{factor_name}_level"


def factor_labels(data: pd.DataFrame, variables: tuple[str, ...]) -> np.ndarray:
    """Level labels of a (possibly interaction) grouping factor for ``data``'s rows."""
    parts = [data[v].astype(object).map(str).to_numpy() for v in variables]
    labels = parts[0]
    for part in parts[1:]:
        labels = labels + ":" + part
    return labels.astype(str)


def _aggregator(codes: np.ndarray, n_levels: int) -> sp.csr_matrix:
    """Sparse (items x levels) indicator matrix: ``values @ A`` sums items by level."""
    ones = np.ones(len(codes))
    return sp.csr_matrix((ones, (np.arange(len(codes)), codes)), shape=(len(codes), n_levels))


def _obs_labels(spec: ModelSpec) -> list:
    index = spec.row_index
    return list(index) if index.is_unique else list(range(spec.nobs))


def _numeric(dataset: xr.Dataset) -> xr.Dataset:
    """Drop text-valued statistics (nutpie's divergence messages) so the tree saves to netCDF."""
    text = [name for name, value in dataset.data_vars.items() if value.dtype == object]
    return dataset.drop_vars(text)


def _public(dataset: xr.Dataset) -> xr.Dataset:
    """Drop internal variables (named with a leading underscore)."""
    hidden = [name for name in dataset.data_vars if str(name).startswith("_")]
    return dataset.drop_vars(hidden)


def _check_names(spec: ModelSpec) -> None:
    reserved = {"beta", "sigma", "obs", "fixed", "chain", "draw"}
    for factor in spec.factors:
        if factor.name in reserved or factor.name.startswith(("sd_", "_")):
            raise ModelError(
                f"The grouping factor {factor.name!r} clashes with a name bayeshier uses for "
                f"its parameters ({', '.join(sorted(reserved))}, sd_*): rename the column."
            )


def _parse_parameterization(choice: str | Mapping[str, str], spec: ModelSpec) -> dict[str, str]:
    names = [f.name for f in spec.factors]
    if isinstance(choice, str):
        return {name: _parse_choice(choice, name) for name in names}
    if not isinstance(choice, Mapping):
        raise ModelError(
            "parameterization must be 'auto', 'centered', 'noncentered' or a dict mapping "
            f"factor names to these; got {type(choice).__name__}."
        )
    for key in choice:
        if key not in names:
            raise ModelError(
                f"parameterization names a grouping factor {key!r} the model does not have."
                f"{close_matches_hint(str(key), names)} Factors: {', '.join(names)}."
            )
    return {name: _parse_choice(choice.get(name, "auto"), name) for name in names}


def _parse_choice(choice: Any, factor: str) -> str:
    key = str(choice).lower().replace("_", "") if isinstance(choice, str) else None
    if key not in _CHOICES:
        raise ModelError(
            f"Unknown parameterization {choice!r} for factor {factor!r}: use 'auto', "
            "'centered' or 'noncentered'."
        )
    return _CHOICES[key]


def _check_sampling_args(draws: int, tune: int, chains: int, sampler: str) -> None:
    for name, value, least in (("draws", draws, 1), ("tune", tune, 0), ("chains", chains, 1)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < least:
            raise ModelError(f"{name} must be an integer >= {least}, got {value!r}.")
    if sampler not in _SAMPLERS:
        raise ModelError(
            f"Unknown sampler {sampler!r}.{close_matches_hint(str(sampler), _SAMPLERS)} "
            f"Use one of: {', '.join(_SAMPLERS)}."
        )
    if sampler == "nutpie" and importlib.util.find_spec("nutpie") is None:
        raise ModelError(
            "sampler='nutpie' needs the package 'nutpie', which is not installed: "
            "run `pip install nutpie`, or pass sampler='pymc'."
        )


def internal_design(spec: ModelSpec) -> InternalDesign:
    """Centre the non-intercept columns of ``X`` and take the QR of the result.

    With an intercept at position ``i`` and column means ``m``, the centred
    design is ``Xc = X - 1 m'`` off column ``i``; its coefficients ``nu`` equal
    ``beta`` except ``nu_i = beta_i + m' beta`` (the intercept at the means), so
    ``beta = to_user @ nu`` with ``to_user`` the identity plus ``-m`` in row ``i``.
    """
    X = spec.X
    p = X.shape[1]
    to_user = np.eye(p)
    Xc = X.copy()
    i = intercept_index(spec)
    if i is not None:
        means = X.mean(axis=0)
        means[i] = 0.0
        Xc = X - means
        to_user[i] -= means
        to_user[i, i] = 1.0
    if p == 0:
        empty = np.zeros((spec.nobs, 0))
        return InternalDesign(Xc, to_user, empty, np.zeros((0, 0)), np.zeros(0), spec.y.copy())
    R = thin_r(Xc)
    Q = sla.solve_triangular(R, Xc.T, trans="T", check_finite=False).T
    Qty = Q.T @ spec.y
    return InternalDesign(Xc, to_user, Q, R, Qty, spec.y - Q @ Qty)


def cell_statistics(spec: ModelSpec, design: InternalDesign) -> Cells:
    """Group rows into cells (combinations of levels) and sum what the likelihood needs."""
    stacked = np.column_stack([f.codes for f in spec.factors])
    if stacked.shape[1] == 1:
        cell = stacked[:, 0]
        cell_codes = [np.arange(spec.factors[0].n_levels)]
        n_cells = spec.factors[0].n_levels
    else:
        unique, cell = np.unique(stacked, axis=0, return_inverse=True)
        cell = cell.ravel()
        cell_codes = [unique[:, k] for k in range(unique.shape[1])]
        n_cells = unique.shape[0]
    counts = np.bincount(cell, minlength=n_cells).astype(float)
    sum_resid = np.bincount(cell, weights=design.resid, minlength=n_cells)
    sum_q = (
        np.column_stack(
            [
                np.bincount(cell, weights=design.Q[:, j], minlength=n_cells)
                for j in range(design.Q.shape[1])
            ]
        )
        if design.Q.shape[1]
        else np.zeros((n_cells, 0))
    )
    return Cells(cell_codes, counts, sum_q, sum_resid)


def sufficient_loglik(
    design: InternalDesign,
    cells: Cells,
    fixed: TensorVariable,
    effects: list[TensorVariable],
    sigma: TensorVariable,
) -> TensorVariable:
    """Gaussian log-likelihood of all rows from per-cell sums.

    With ``gamma = Q'y - R nu`` and ``eta_c`` the summed group effects of cell ``c``,
    ``||y - Xc nu - Z b||^2 = e'e + gamma'gamma - 2 sum_c eta_c (S_e,c + S_Q,c' gamma)
    + sum_c n_c eta_c^2`` (``e`` the OLS residual, orthogonal to ``Q``).
    """
    n = float(cells.counts.sum())
    eta = sum(effect[code] for effect, code in zip(effects, cells.codes, strict=True))
    rss = float(design.resid @ design.resid) - 2.0 * pt.dot(eta, cells.sum_resid)
    rss = rss + pt.dot(cells.counts, eta**2)
    if design.Q.shape[1]:
        gamma = design.Qty - pt.dot(design.R, fixed)
        rss = rss + pt.dot(gamma, gamma) - 2.0 * pt.dot(eta, pt.dot(cells.sum_q, gamma))
    return -0.5 * n * _LOG_2PI - n * pt.log(sigma) - 0.5 * rss / sigma**2


def marginal_loglik(
    design: InternalDesign,
    cells: Cells,
    fixed: TensorVariable,
    effects: list[TensorVariable],
    sigma: TensorVariable,
) -> TensorVariable:
    """Log-likelihood with the first factor's effects integrated out, from per-cell sums.

    ``effects[0]`` is the first factor's sd ``tau``; the others are effects.
    With ``r`` the residual after the fixed and the other effects, level ``j``
    (``n_j`` rows, residual sum ``s_j``) contributes ``Normal(r_j | 0,
    sigma^2 I + tau^2 11')``:  ``-(n_j - 1) log sigma - log(sigma^2 + n_j tau^2) / 2
    - (r_j'r_j - tau^2 s_j^2 / (sigma^2 + n_j tau^2)) / (2 sigma^2)``.
    """
    tau, others = effects[0], effects[1:]
    n = float(cells.counts.sum())
    eta = sum(
        (effect[code] for effect, code in zip(others, cells.codes[1:], strict=True)),
        start=pt.zeros(len(cells.counts)),
    )
    cell_sums = cells.sum_resid - cells.counts * eta
    rss = float(design.resid @ design.resid) - 2.0 * pt.dot(eta, cells.sum_resid)
    rss = rss + pt.dot(cells.counts, eta**2)
    if design.Q.shape[1]:
        gamma = design.Qty - pt.dot(design.R, fixed)
        projected = pt.dot(cells.sum_q, gamma)
        rss = rss + pt.dot(gamma, gamma) - 2.0 * pt.dot(eta, projected)
        cell_sums = cell_sums + projected
    level_counts = np.bincount(cells.codes[0], weights=cells.counts)
    level_sums = _sum_by_level(cell_sums, cells.codes[0], len(level_counts))
    spread = sigma**2 + level_counts * tau**2
    quadratic = rss - pt.sum(tau**2 * level_sums**2 / spread)
    n_levels = float(len(level_counts))
    return (
        -0.5 * n * _LOG_2PI
        - (n - n_levels) * pt.log(sigma)
        - 0.5 * pt.sum(pt.log(spread))
        - 0.5 * quadratic / sigma**2
    )


def _sum_by_level(values: TensorVariable, codes: np.ndarray, n_levels: int) -> TensorVariable:
    if len(codes) == n_levels and np.array_equal(codes, np.arange(n_levels)):
        return values
    return pt.inc_subtensor(pt.zeros(n_levels)[codes], values)


def sampling_plan(
    spec: ModelSpec, design: InternalDesign, fit: Any, choices: dict[str, str]
) -> SamplingPlan:
    """Choose each factor's parameterisation and the starting point from a REML fit."""
    sigma = float(fit.sigma)
    sds = {
        f.name: float(t) * sigma for f, t in zip(spec.factors, np.asarray(fit.theta), strict=True)
    }
    explained, parameterization, loc, scale, start = {}, {}, {}, {}, {}
    for factor in spec.factors:
        name = factor.name
        blup = fit.ranef[name]["Intercept"].reindex(factor.levels).to_numpy(dtype=float)
        condvar = fit.condvar[name]["Intercept"].reindex(factor.levels).to_numpy(dtype=float)
        explained[name] = explained_share(sds[name], condvar)
        parameterization[name] = _decide(choices[name], explained[name])
        sd_start = max(sds[name], 0.1 * sigma, 1e-8)
        start[sd_term(name)] = np.asarray(sd_start)
        loc[name] = blup
        scale[name] = np.sqrt(np.maximum(condvar, (1e-3 * sd_start) ** 2))
        if parameterization[name] == "centered":
            start[name] = blup
        else:
            start[f"_{name}_z"] = blup / sd_start
    start["sigma"] = np.asarray(sigma)
    fixed_loc, fixed_chol = _fixed_start(spec, design, fit, sds)
    if spec.n_fixed:
        start[_FIXED_RV] = fixed_loc
    first = spec.factors[0].name
    marginalized = first if choices[first] == "auto" else None
    absorbs = _absorbing_factor(spec, parameterization, sds, exclude=marginalized)
    parents = nesting_parents(spec, absorbs) if absorbs is not None else {}
    parents.pop(marginalized, None)
    if absorbs is not None:
        mean = start.pop(absorbs) + fixed_loc[intercept_index(spec)]
        for parent, codes in parents.items():
            mean = mean + loc[parent][codes]
        start[f"_{absorbs}_mean"] = mean
    return SamplingPlan(
        parameterization,
        absorbs,
        parents,
        marginalized,
        explained,
        fixed_loc,
        fixed_chol,
        loc,
        scale,
        start,
    )


def nesting_parents(spec: ModelSpec, name: str) -> dict[str, np.ndarray]:
    """Factors that ``name`` is nested in, with the parent level of each of its levels.

    ``cask:batch`` is nested in ``batch``: every cask level lies in one batch.
    """
    child = spec.factor(name)
    parents = {}
    for other in spec.factors:
        if other.name == name:
            continue
        pairs = np.unique(np.column_stack([child.codes, other.codes]), axis=0)
        if len(pairs) == child.n_levels:
            codes = np.empty(child.n_levels, dtype=np.intp)
            codes[pairs[:, 0]] = pairs[:, 1]
            parents[other.name] = codes
    return parents


def _absorbing_factor(
    spec: ModelSpec,
    parameterization: dict[str, str],
    sds: dict[str, float],
    exclude: str | None = None,
) -> str | None:
    """The centred factor whose mean carries most of the intercept's uncertainty.

    Sampling its group means ``a_j = intercept + b_j`` instead of ``b_j``
    removes the posterior correlation between the intercept and the effects.
    """
    if intercept_index(spec) is None:
        return None
    centred = [
        f for f in spec.factors if parameterization[f.name] == "centered" and f.name != exclude
    ]
    if not centred:
        return None
    return max(centred, key=lambda f: sds[f.name] ** 2 / f.n_levels).name


def explained_share(sd: float, condvar: np.ndarray) -> float:
    """Share of the group effects' prior variance the data explain, at a low plausible sd.

    From lme4's conditional variances, the data's precision about level ``j``
    is ``d_j = 1 / condVar_j - 1 / sd^2`` (``n_j / sigma^2`` for a single
    factor). The sd of ``G`` group effects is known to a relative standard
    error of about ``1 / sqrt(2 (G - 1))``, so the share is evaluated two
    standard errors below the estimate, ``s = sd (1 - 2 / sqrt(2 (G - 1)))``:
    ``mean_j(s^2 d_j / (1 + s^2 d_j))``. A few groups, or a singular fit,
    therefore lean towards the non-centred form, which has no funnel near 0.
    """
    condvar = np.asarray(condvar, dtype=float)
    if sd <= 0 or condvar.size < 2 or not np.all(np.isfinite(condvar) & (condvar > 0)):
        return 0.0
    precision = np.maximum(1.0 / condvar - 1.0 / sd**2, 0.0)
    low = sd * max(0.0, 1.0 - 2.0 / np.sqrt(2.0 * (condvar.size - 1)))
    info = low**2 * precision
    return float(np.mean(info / (1.0 + info)))


def _decide(choice: str, explained: float) -> str:
    if choice != "auto":
        return choice
    return "centered" if explained >= CENTRED_THRESHOLD else "noncentered"


def _fixed_start(
    spec: ModelSpec, design: InternalDesign, fit: Any, sds: dict[str, float]
) -> tuple[np.ndarray, np.ndarray]:
    """REML coefficients of the centred design and the Cholesky factor of their GLS covariance."""
    beta = fit.fixef.reindex(list(spec.fixed_names)).to_numpy(dtype=float)
    nu = np.linalg.solve(design.to_user, beta) if spec.n_fixed else beta
    cov = gls_covariance(spec, design.Xc, float(fit.sigma), sds)
    return nu, np.linalg.cholesky(cov) if spec.n_fixed else np.zeros((0, 0))


def gls_covariance(
    spec: ModelSpec, X: np.ndarray, sigma: float, sds: Mapping[str, float]
) -> np.ndarray:
    """``Var(beta_hat) = sigma^2 (X'X - X'Z Lam (Lam Z'Z Lam + I)^-1 Lam Z'X)^-1`` at the REML sds.

    Written with ``Lam = diag(sd_f / sigma)`` so that a zero sd (singular fit) is harmless.
    """
    p = X.shape[1]
    if p == 0:
        return np.zeros((0, 0))
    blocks, offsets = [], [0]
    for factor in spec.factors:
        blocks.append(
            sp.csr_matrix(
                (np.ones(spec.nobs), (np.arange(spec.nobs), factor.codes)),
                shape=(spec.nobs, factor.n_levels),
            )
            * (sds[factor.name] / sigma)
        )
        offsets.append(offsets[-1] + factor.n_levels)
    ZL = sp.hstack(blocks).tocsc()
    M = (ZL.T @ ZL + sp.identity(offsets[-1])).tocsc()
    ZX = np.asarray(ZL.T @ X)
    solved = spla.splu(M).solve(ZX)
    precision = X.T @ X - ZX.T @ solved
    cov = sigma**2 * np.linalg.inv(precision)
    return 0.5 * (cov + cov.T)


def reml_record(fit: Any, spec: ModelSpec) -> dict[str, Any]:
    """The REML fit as plain JSON-able data (stored in ``idata.attrs["reml"]``)."""
    sigma = float(fit.sigma)
    return {
        "fixef": {k: float(v) for k, v in fit.fixef.items()},
        "se": {k: float(v) for k, v in fit.se.items()},
        "sigma": sigma,
        "theta": [float(t) for t in np.asarray(fit.theta)],
        "sd": {
            sd_term(f.name): float(t) * sigma
            for f, t in zip(spec.factors, np.asarray(fit.theta), strict=True)
        },
        "ranef": {
            name: frame["Intercept"].astype(float).to_dict() for name, frame in fit.ranef.items()
        },
        "is_singular": bool(fit.is_singular),
    }
