"""A GLMM's Laplace fit, its glm counterparts and the posterior, side by side.

:func:`compare_glmm` gathers three tables in a :class:`GlmmComparison`:

``fixed``
    One row per fixed effect (link scale): ``glm``/``glm_se`` from the glm of
    the fixed part alone (every row independent, complete pooling),
    ``laplace``/``laplace_se`` (glmer's estimates), then the posterior
    ``post_mean``, ``post_sd`` and the credible interval.
``groups``
    One row per level of each grouping factor: ``n`` rows, ``trials`` (or
    total weight) and ``events`` (successes or counts); ``own_glm``, the
    level's own estimate from the glm with the factor as a fixed effect in
    level-means coding plus the other fixed terms (no pooling; infinite when
    every trial of the level succeeded or failed); ``mode``, intercept +
    conditional mode (lme4's ``coef()``); ``cond_sd``, ``sqrt(condVar)``;
    and the posterior of intercept + effect (combined draw by draw).
    ``scale="response"`` maps every column through the inverse link
    (probabilities or rates at the reference levels of the other
    predictors): the posterior mean is then the mean of the mapped draws,
    while ``mode`` stays the mapped mode and ``cond_sd`` is mapped by the
    delta method. A conditional mode is not a mean, on either scale.
``variances``
    One row per factor: the Laplace sd and the posterior mean, median and
    interval of ``sd_<factor>``.

The credible interval ``ci_low`` to ``ci_high`` follows the library's
convention, as :func:`bayeshier.compare` does for a Gaussian model
(:mod:`bayeshier.present.intervals`: ArviZ 1.x's ``rcParams["stats.ci_prob"]``
and ``["stats.ci_kind"]``, an 89% ETI by default): every title says which
(``"89% ETI"``) and the tables carry it in ``attrs`` (``ci_prob``,
``ci_kind``). The posterior columns come from
:mod:`bayeshier.present.posterior_summary`, as the Gaussian tables' do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from bayeshier.errors import DataError
from bayeshier.present.intervals import CiKind, CredibleInterval, resolve_interval
from bayeshier.present.posterior_summary import level_draws, posterior_summary, scalar_summary
from bayeshier.present.saved import read_posterior
from bayeshier.reml.glmm import Family, GlmmFit
from bayeshier.reml.glmm.objective import glm_fit

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["GlmmComparison", "compare_glmm", "glm_fit"]

Scale = Literal["link", "response"]


@dataclass(frozen=True)
class GlmmComparison:
    """The tables of :func:`compare_glmm` and the interval and scale they use."""

    fixed: pd.DataFrame
    groups: pd.DataFrame
    variances: pd.DataFrame
    interval: CredibleInterval
    scale: str

    def __str__(self) -> str:
        parts = []
        for title, table in (
            ("Fixed effects (link scale)", self.fixed),
            (f"Groups ({self.scale} scale)", self.groups),
            ("Group-level sds (link scale)", self.variances),
        ):
            if "ci_low" in table:
                title += f"; posterior interval ci_low to ci_high: {self.interval.label}"
            parts.append(f"{title}\n")
            parts.append(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
            parts.append("\n\n")
        return "".join(parts).rstrip()


def compare_glmm(
    fit: GlmmFit,
    idata: Any = None,
    scale: Scale = "link",
    *,
    ci_prob: float | None = None,
    ci_kind: CiKind | None = None,
) -> GlmmComparison:
    """Put the Laplace fit, its glm counterparts and the posterior side by side.

    Parameters
    ----------
    fit : GlmmFit
        From :func:`bayeshier.fit_glmm`.
    idata : xarray.DataTree, optional
        A posterior of the same model (:meth:`GlmmModel.sample
        <bayeshier.bayes.glmm.GlmmModel.sample>`): ``beta``, one variable per
        factor (dim ``<factor>_level``), ``sd_<factor>``. Without it the
        posterior columns are absent.
    scale : {"link", "response"}
        Scale of the ``groups`` table: log-odds (log-rates), or probabilities (rates).
    ci_prob, ci_kind : optional
        The credible interval (default: ArviZ's rcParams, 0.89 and ``"eti"``).

    Returns
    -------
    GlmmComparison

    Raises
    ------
    DataError
        An unknown ``scale``, random slopes, or a posterior without the
        model's variables.

    """
    if scale not in ("link", "response"):
        raise DataError(f"scale must be 'link' or 'response', got {scale!r}.")
    for factor in fit.spec.factors:
        if not factor.intercept_only:
            raise DataError(
                f"compare_glmm handles random intercepts only; {factor.name!r} has slopes."
            )
    interval = resolve_interval(ci_prob, ci_kind)
    saved = read_posterior(idata)
    posterior = None if saved is None else saved.posterior
    if posterior is not None:
        _check_posterior(fit, posterior)
    return GlmmComparison(
        fixed=fixed_table(fit, posterior, interval),
        groups=group_table(fit, posterior, interval, scale),
        variances=variance_table(fit, posterior, interval),
        interval=interval,
        scale=scale,
    )


def _check_posterior(fit: GlmmFit, posterior: xr.Dataset) -> None:
    needed = ["beta"] + [v for f in fit.spec.factors for v in (f.name, f"sd_{f.name}")]
    missing = [name for name in needed if name not in posterior]
    if missing:
        raise DataError(
            f"The posterior has no {', '.join(missing)}: pass the DataTree returned by "
            "GlmmModel.sample() for the same formula."
        )
    fixed = [str(v) for v in posterior["beta"]["fixed"].values]
    if fixed != list(fit.spec.fixed_names):
        raise DataError(
            f"The posterior's fixed effects {fixed} are not the fit's "
            f"{list(fit.spec.fixed_names)}: compare a fit and a posterior of the same model."
        )


# ------------------------------------------------------------------ glm
# --------------------------------------------------------------- tables
def _with_posterior(
    table: pd.DataFrame, summary: pd.DataFrame, interval: CredibleInterval
) -> pd.DataFrame:
    """``table`` and its posterior columns side by side, the interval recorded in ``attrs``."""
    table = pd.concat([table.reset_index(drop=True), summary.reset_index(drop=True)], axis=1)
    table.attrs.update(ci_prob=interval.prob, ci_kind=interval.kind)
    return table


def fixed_table(
    fit: GlmmFit, posterior: xr.Dataset | None, interval: CredibleInterval
) -> pd.DataFrame:
    """The ``fixed`` table: glm (complete pooling) | Laplace | posterior, on the link scale."""
    X = np.asarray(fit.spec.X, dtype=float)
    glm, glm_se = glm_fit(X, fit.y, fit.weights, fit.offset, fit.family)
    table = pd.DataFrame(
        {
            "term": list(fit.spec.fixed_names),
            "glm": glm,
            "glm_se": glm_se,
            "laplace": fit.fixef.to_numpy(dtype=float),
            "laplace_se": fit.se.to_numpy(dtype=float),
        }
    )
    if posterior is None:
        return table
    draws = posterior["beta"].sel(fixed=list(fit.spec.fixed_names))
    return _with_posterior(table, posterior_summary(draws, interval), interval)


def _own_estimates(fit: GlmmFit, factor_index: int) -> np.ndarray:
    """Each level's own glm intercept (factor as fixed effect, other fixed terms kept)."""
    spec, family = fit.spec, fit.family
    factor = spec.factors[factor_index]
    codes = np.asarray(factor.codes)
    dummies = np.eye(factor.n_levels)[codes]
    X = np.asarray(spec.X, dtype=float)
    others = [j for j, name in enumerate(spec.fixed_names) if name != "Intercept"]
    design = np.hstack([dummies, X[:, others]])
    estimate, _ = glm_fit(design, fit.y, fit.weights, fit.offset, family)
    own = estimate[: factor.n_levels]
    events = np.bincount(codes, weights=fit.y * fit.weights, minlength=factor.n_levels)
    trials = np.bincount(codes, weights=fit.weights, minlength=factor.n_levels)
    own = np.where(events <= 0, -np.inf, own)
    if family.name == "binomial":
        own = np.where(events >= trials, np.inf, own)
    return own


def group_table(
    fit: GlmmFit, posterior: xr.Dataset | None, interval: CredibleInterval, scale: Scale
) -> pd.DataFrame:
    """The ``groups`` table: own glm | intercept + mode, cond. sd | posterior, per level."""
    intercept = float(fit.fixef.get("Intercept", 0.0))
    blocks = []
    for index, factor in enumerate(fit.spec.factors):
        codes = np.asarray(factor.codes)
        mode = intercept + fit.ranef[factor.name].iloc[:, 0].to_numpy(dtype=float)
        cond_sd = np.sqrt(fit.condvar[factor.name].iloc[:, 0].to_numpy(dtype=float))
        own = _own_estimates(fit, index)
        if scale == "response":
            slope = _linkinv_slope(fit.family, mode)
            own, mode, cond_sd = (
                _inverse(fit.family, own),
                _inverse(fit.family, mode),
                cond_sd * slope,
            )
        block = pd.DataFrame(
            {
                "factor": factor.name,
                "level": [str(level) for level in factor.levels],
                "n": np.bincount(codes, minlength=factor.n_levels),
                "trials": np.bincount(codes, weights=fit.weights, minlength=factor.n_levels),
                "events": np.bincount(
                    codes, weights=fit.y * fit.weights, minlength=factor.n_levels
                ),
                "own_glm": own,
                "mode": mode,
                "cond_sd": cond_sd,
            }
        )
        if posterior is not None:
            draws = _level_draws(fit, posterior, index, scale)
            block = _with_posterior(block, posterior_summary(draws, interval), interval)
        blocks.append(block)
    table = pd.concat(blocks, ignore_index=True)
    if posterior is not None:
        table.attrs.update(ci_prob=interval.prob, ci_kind=interval.kind)
    return table


def _inverse(family: Family, eta: np.ndarray) -> np.ndarray:
    """The inverse link, exact at +-infinity (a level's own estimate may be infinite)."""
    finite = np.where(np.isfinite(eta), eta, 0.0)
    values = family.linkinv(finite)
    high = np.inf if family.name == "poisson" else 1.0
    return np.where(np.isposinf(eta), high, np.where(np.isneginf(eta), 0.0, values))


def _linkinv_slope(family: Family, eta: np.ndarray) -> np.ndarray:
    """``dmu/deta`` at ``eta`` (for the delta-method conditional sd)."""
    step = 1e-6
    return (family.linkinv(eta + step) - family.linkinv(eta - step)) / (2 * step)


def _level_draws(fit: GlmmFit, posterior: xr.Dataset, index: int, scale: Scale) -> xr.DataArray:
    """Draws of intercept + effect per level (in the fit's level order), mapped to ``scale``."""
    factor = fit.spec.factors[index]
    draws = level_draws(posterior, factor, add_fixed="Intercept" in fit.spec.fixed_names)
    if scale == "response":
        draws = draws.copy(data=fit.family.linkinv(draws.to_numpy()))
    return draws


def variance_table(
    fit: GlmmFit, posterior: xr.Dataset | None, interval: CredibleInterval
) -> pd.DataFrame:
    """The ``variances`` table: Laplace sd | posterior of ``sd_<factor>``."""
    table = pd.DataFrame(
        {
            "factor": [factor.name for factor in fit.spec.factors],
            "term": "Intercept",
            "laplace_sd": [
                float(np.sqrt(fit.covariances[f.name].to_numpy()[0, 0])) for f in fit.spec.factors
            ],
        }
    )
    if posterior is None:
        return table
    summaries = [scalar_summary(posterior[f"sd_{f.name}"], interval) for f in fit.spec.factors]
    return _with_posterior(table, pd.DataFrame(summaries), interval)
