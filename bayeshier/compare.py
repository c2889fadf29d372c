"""REML/BLUP estimates, their OLS and no-pooling counterparts and the posterior, side by side.

:func:`compare` gathers three tidy tables in a :class:`Comparison`:

``fixed``
    One row per fixed-effect term: ``ols``/``ols_se`` from ``lm(y ~ fixed
    part)`` (every row independent), ``reml``/``reml_se`` (GLS at the
    estimated variances), then the posterior ``post_mean``, ``post_sd``,
    ``hdi_low``, ``hdi_high``.
``groups``
    One row per level of each grouping factor (one block per factor):
    ``n`` rows; ``no_pooling``, the level's own intercept from ``lm(y ~ 0 +
    g + other fixed terms)`` (the factor as a fixed effect in level-means
    coding); ``blup``, fixed intercept + BLUP (lme4's ``coef()``);
    ``cond_sd``, ``sqrt(condVar)``; ``shrinkage``, ``lambda_j = sd_g^2 /
    (sd_g^2 + sigma^2 / n_j)``; and the posterior of ``beta[Intercept] +
    effect`` (combined draw by draw, so on the same scale as ``blup``).
``variances``
    One row per grouping factor and one ``Residual`` row: the REML sd and
    the posterior mean, median and HDI of ``sd_<factor>`` / ``sigma``.

Several grouping factors (crossed or nested)
--------------------------------------------
Each factor's ``no_pooling`` is computed on its own, ``lm(y ~ 0 + g + other
fixed terms)`` with the *other random factors ignored*; ``shrinkage`` uses
the factor's own ``sd_g`` and ``n_j`` and is the weight given the other
factors' BLUPs (see :mod:`bayeshier.shrinkage`); so with several factors
``blup - intercept`` is not ``lambda_j * (no_pooling - intercept)``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Literal

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from bayeshier.errors import DataError
from bayeshier.reml import RemlFit
from bayeshier.shrinkage import factor_sd, population_intercept, weights
from bayeshier.spec import GroupingFactor, ModelSpec

__all__ = [
    "DEFAULT_HDI_PROB",
    "Comparison",
    "check_posterior",
    "compare",
    "explain_ols_vs_gls",
    "fixed_table",
    "group_table",
    "no_pooling",
    "no_pooling_formula",
    "ols",
    "variance_table",
    "within_slopes",
]

#: Probability of the highest-density intervals (the 94% of ArviZ 0.x; ArviZ 1.x's rcParam
#: ``stats.ci_prob`` defaults to 0.89).
DEFAULT_HDI_PROB = 0.94
SAMPLE_DIMS = ("chain", "draw")
POSTERIOR_COLUMNS = ["post_mean", "post_sd", "hdi_low", "hdi_high"]
FIXED_COLUMNS = ["term", "ols", "ols_se", "reml", "reml_se", *POSTERIOR_COLUMNS]
GROUP_COLUMNS = [
    "group",
    "level",
    "n",
    "no_pooling",
    "blup",
    "cond_sd",
    "shrinkage",
    *POSTERIOR_COLUMNS,
]
VARIANCE_COLUMNS = ["component", "reml_sd", "post_mean", "post_median", "hdi_low", "hdi_high"]
Order = Literal["shrinkage", "size", "level"]
#: OLS and GLS estimates closer than this many REML standard errors count as equal.
AGREE_IN_SE = 1e-6


# =================================================================== API
def compare(
    reml_fit: RemlFit, idata: Any = None, *, hdi_prob: float = DEFAULT_HDI_PROB
) -> Comparison:
    """Put the REML fit, its OLS / no-pooling counterparts and the posterior side by side.

    Parameters
    ----------
    reml_fit : RemlFit
        From :func:`bayeshier.fit_reml`.
    idata : xarray.DataTree, optional
        A posterior of the same model (:meth:`bayeshier.Model.sample`):
        variables ``beta`` (dim ``fixed``), one per factor (dim
        ``<factor>_level``), ``sd_<factor>`` and ``sigma``. An InferenceData
        or a bare posterior ``xarray.Dataset`` works too. Without it the
        posterior columns are absent.
    hdi_prob : float, default 0.94
        Probability mass of the highest-density intervals.

    Returns
    -------
    Comparison
        Tables ``fixed``, ``groups``, ``variances``; ``str()`` and the
        notebook view print them with a one-line reading under each.

    Raises
    ------
    DataError
        If the posterior lacks a variable or a level of the fit.

    Examples
    --------
    >>> from bayeshier import datasets, fit_reml
    >>> cmp = compare(fit_reml("y ~ 1 + (1|g)", datasets.load("seed_model2")))
    >>> round(float(cmp.groups.set_index("level").loc["3", "no_pooling"]), 6)
    26.118189

    """
    if not 0.0 < hdi_prob < 1.0:
        raise DataError(f"hdi_prob must be between 0 and 1, got {hdi_prob!r}.")
    posterior = _posterior_dataset(idata)
    if posterior is not None:
        check_posterior(reml_fit, posterior)
    return Comparison(
        fixed=fixed_table(reml_fit, posterior, hdi_prob),
        groups=group_table(reml_fit, posterior, hdi_prob),
        variances=variance_table(reml_fit, posterior, hdi_prob),
        fit=reml_fit,
        hdi_prob=hdi_prob,
    )


@dataclass(frozen=True, eq=False)
class Comparison:
    """REML, OLS / no-pooling and posterior estimates of one model, side by side.

    Attributes
    ----------
    fixed, groups, variances : pandas.DataFrame
        See :func:`compare` (posterior columns only when a posterior was given).
    fit : RemlFit
        The REML fit compared.
    hdi_prob : float
        Probability mass of the HDI columns.

    """

    fixed: pd.DataFrame
    groups: pd.DataFrame
    variances: pd.DataFrame
    fit: RemlFit = field(repr=False)
    hdi_prob: float = DEFAULT_HDI_PROB

    @property
    def has_posterior(self) -> bool:
        """Whether posterior columns are present."""
        return "post_mean" in self.fixed.columns

    @property
    def population(self) -> float:
        """The fixed intercept: the population mean the ``blup`` column shrinks toward."""
        return population_intercept(self.fit)

    def group_block(self, factor: str | None = None, order: Order = "level") -> pd.DataFrame:
        """Rows of ``groups`` for one factor (default: the first), ordered.

        ``order="shrinkage"`` puts the most shrunk level (smallest ``lambda``)
        first, ``"size"`` the smallest group first, ``"level"`` keeps the
        factor's level order.
        """
        name = factor if factor is not None else self.fit.spec.factors[0].name
        self.fit.spec.factor(name)  # raises a helpful error for unknown names
        block = self.groups[self.groups["group"] == name]
        key = {"shrinkage": "shrinkage", "size": "n", "level": None}[order]
        return block if key is None else block.sort_values(key, kind="stable")

    def readings(self) -> dict[str, str]:
        """One plain-language line per table (keys ``fixed``, each factor, ``variances``)."""
        lines = {"fixed": _fixed_reading(self)}
        for factor in self.fit.spec.factors:
            lines[factor.name] = _group_reading(self, factor.name)
        lines["variances"] = _variance_reading(self)
        return lines

    def explain_ols_vs_gls(self) -> str:
        """Why ``lm`` and ``lmer`` give different fixed effects, in this model's terms."""
        return explain_ols_vs_gls(self)

    def to_text(self, order: Order = "shrinkage", digits: int = 5) -> str:
        """The three tables as aligned text, each with its one-line reading.

        Parameters
        ----------
        order : {"shrinkage", "size", "level"}
            Order of the levels within each factor's block.
        digits : int
            Significant digits of the largest number in each column.

        """
        readings = self.readings()
        parts = [_header(self), ""]
        parts += _text_block(_fixed_title(self), self.fixed, readings["fixed"], digits, "row")
        for factor in self.fit.spec.factors:
            title = _group_title(self, factor, order)
            block = self.group_block(factor.name, order).drop(columns="group")
            parts += _text_block(title, block, readings[factor.name], digits)
        if len(self.fit.spec.factors) > 1:
            parts += [_several_factors_note(self), ""]
        parts += _text_block(_variance_title(self), self.variances, readings["variances"], digits)
        return "\n".join(parts).rstrip() + "\n"

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        readings = self.readings()
        parts = [f"<div class='bayeshier-compare'><p><b>{html.escape(_header(self))}</b></p>"]
        parts.append(_html_block(_fixed_title(self), self.fixed, readings["fixed"], "row"))
        for factor in self.fit.spec.factors:
            block = self.group_block(factor.name, "shrinkage").drop(columns="group")
            title = _group_title(self, factor, "shrinkage")
            parts.append(_html_block(title, block, readings[factor.name]))
        if len(self.fit.spec.factors) > 1:
            parts.append(f"<p><i>{html.escape(_several_factors_note(self))}</i></p>")
        parts.append(_html_block(_variance_title(self), self.variances, readings["variances"]))
        parts.append("</div>")
        return "\n".join(parts)


# ========================================================== OLS and lm
def ols(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Least squares: coefficients, their standard errors and the residual sd (as R's ``lm``).

    Parameters
    ----------
    X : numpy.ndarray
        Design (n x p) of full column rank.
    y : numpy.ndarray
        Response.

    Returns
    -------
    coef, se : numpy.ndarray
    sigma : float
        ``sqrt(RSS / (n - p))``.

    """
    Q, R = np.linalg.qr(X)
    coef = np.linalg.solve(R, Q.T @ y)
    residual = y - X @ coef
    dof = X.shape[0] - X.shape[1]
    sigma = float(np.sqrt(residual @ residual / dof))
    R_inv = np.linalg.inv(R)
    se = sigma * np.sqrt(np.sum(R_inv**2, axis=1))
    return coef, se, sigma


def no_pooling(spec: ModelSpec, factor: str) -> pd.Series:
    """Each level's own intercept: ``lm(y ~ 0 + g + other fixed terms)``, level-means coding.

    The level intercepts are ``mean_j(y) - mean_j(x) . slopes`` with the
    within-group slopes of :func:`within_slopes`. Other grouping factors are
    ignored.

    Returns
    -------
    pandas.Series
        Indexed by level.

    """
    grouping = spec.factor(factor)
    others = _non_intercept_columns(spec)
    means = _level_means(grouping, spec.y)
    if others:
        means = means - _level_means(grouping, spec.X[:, others]) @ within_slopes(spec, factor)
    return pd.Series(means, index=pd.Index(grouping.levels, name=grouping.name))


def within_slopes(spec: ModelSpec, factor: str) -> pd.Series:
    """Slopes of the non-intercept fixed terms with ``factor`` as a fixed effect.

    By the Frisch-Waugh-Lovell theorem these are the slopes of
    ``lm(y ~ 0 + g + other fixed terms)``: regress group-demeaned ``y`` on the
    group-demeaned columns. A column constant within every level (aliased
    with the factor) gets slope 0 where R would report NA.

    Returns
    -------
    pandas.Series
        Indexed by term (empty for an intercept-only model).

    """
    grouping = spec.factor(factor)
    others = _non_intercept_columns(spec)
    names = [spec.fixed_names[j] for j in others]
    if not others:
        return pd.Series([], index=pd.Index(names, dtype=object), dtype=float)
    X = spec.X[:, others]
    y_within = spec.y - _level_means(grouping, spec.y)[grouping.codes]
    X_within = X - _level_means(grouping, X)[grouping.codes]
    slopes = np.linalg.lstsq(X_within, y_within, rcond=1e-10)[0]
    return pd.Series(slopes, index=names)


def _non_intercept_columns(spec: ModelSpec) -> list[int]:
    return [j for j, name in enumerate(spec.fixed_names) if name != "Intercept"]


def no_pooling_formula(spec: ModelSpec, factor: str) -> str:
    """The ``lm`` formula behind the ``no_pooling`` column of ``factor``."""
    terms = [factor, *(spec.fixed_names[j] for j in _non_intercept_columns(spec))]
    return f"lm({spec.response} ~ 0 + {' + '.join(terms)})"


def _level_means(grouping: GroupingFactor, values: np.ndarray) -> np.ndarray:
    counts = grouping.counts().astype(float)
    if values.ndim == 1:
        return np.bincount(grouping.codes, weights=values, minlength=len(counts)) / counts
    columns = [_level_means(grouping, values[:, j]) for j in range(values.shape[1])]
    return np.column_stack(columns)


# ============================================================ the tables
def fixed_table(
    fit: RemlFit, posterior: xr.Dataset | None = None, hdi_prob: float = DEFAULT_HDI_PROB
) -> pd.DataFrame:
    """The ``fixed`` table of :func:`compare`."""
    coef, se, _ = ols(fit.spec.X, fit.spec.y)
    table = pd.DataFrame(
        {
            "term": list(fit.fixef.index),
            "ols": coef,
            "ols_se": se,
            "reml": fit.fixef.to_numpy(),
            "reml_se": fit.se.to_numpy(),
        }
    )
    if posterior is None:
        return table
    beta = _variable(posterior, "beta")
    terms = list(fit.fixef.index)
    draws = beta.sel(fixed=terms) if "fixed" in beta.dims else beta
    summary = posterior_summary(draws, hdi_prob)
    return pd.concat([table, summary.reset_index(drop=True)], axis=1)


def group_table(
    fit: RemlFit, posterior: xr.Dataset | None = None, hdi_prob: float = DEFAULT_HDI_PROB
) -> pd.DataFrame:
    """The ``groups`` table of :func:`compare`: one block per grouping factor."""
    blocks = [_group_block(fit, f, posterior, hdi_prob) for f in fit.spec.factors]
    return pd.concat(blocks, ignore_index=True)


def _group_block(
    fit: RemlFit, factor: GroupingFactor, posterior: xr.Dataset | None, hdi_prob: float
) -> pd.DataFrame:
    counts = factor.counts()
    center = population_intercept(fit)
    table = pd.DataFrame(
        {
            "group": factor.name,
            "level": list(factor.levels),
            "n": counts,
            "no_pooling": no_pooling(fit.spec, factor.name).to_numpy(),
            "blup": center + fit.ranef[factor.name]["Intercept"].to_numpy(),
            "cond_sd": np.sqrt(fit.condvar[factor.name]["Intercept"].to_numpy()),
            "shrinkage": weights(factor_sd(fit, factor.name), fit.sigma, counts),
        }
    )
    if posterior is None:
        return table
    draws = level_draws(posterior, factor, "Intercept" in fit.fixef.index)
    summary = posterior_summary(draws, hdi_prob)
    return pd.concat([table, summary.reset_index(drop=True)], axis=1)


def level_draws(posterior: xr.Dataset, factor: GroupingFactor, intercept: bool) -> xr.DataArray:
    """Draws of ``beta[Intercept] + b_j`` per level of ``factor`` (``b_j`` alone without one).

    Returns
    -------
    xarray.DataArray
        Dims chain, draw and ``<factor>_level``, in the factor's level order.

    """
    effects = _variable(posterior, factor.name)
    dim = f"{factor.name}_level"
    if dim not in effects.dims:
        raise DataError(f"Posterior variable {factor.name!r} has no dimension {dim!r}.")
    labels = [str(v) for v in effects[dim].to_numpy()]
    missing = [level for level in factor.levels if level not in labels]
    if missing:
        raise DataError(
            f"The posterior of {factor.name!r} lacks level(s) {', '.join(missing[:5])} of the "
            "REML fit: are the fit and the posterior from the same model and data?"
        )
    effects = effects.assign_coords({dim: labels}).sel({dim: list(factor.levels)})
    if intercept:
        effects = effects + _variable(posterior, "beta").sel(fixed="Intercept", drop=True)
    return effects


def variance_table(
    fit: RemlFit, posterior: xr.Dataset | None = None, hdi_prob: float = DEFAULT_HDI_PROB
) -> pd.DataFrame:
    """The ``variances`` table of :func:`compare`: sds of each factor, then ``Residual``."""
    names = [f.name for f in fit.spec.factors]
    table = pd.DataFrame(
        {
            "component": [*names, "Residual"],
            "reml_sd": [*(factor_sd(fit, n) for n in names), fit.sigma],
        }
    )
    if posterior is None:
        return table
    variables = [f"sd_{n}" for n in names] + ["sigma"]
    rows = [_scalar_summary(_variable(posterior, v), hdi_prob) for v in variables]
    return pd.concat([table, pd.DataFrame(rows)], axis=1)


# ============================================================ posterior
def _posterior_dataset(idata: Any) -> xr.Dataset | None:
    """The posterior group of a DataTree / InferenceData, a Dataset as is, or None."""
    if idata is None or isinstance(idata, xr.Dataset):
        return idata
    if isinstance(idata, xr.DataTree):
        if "posterior" not in idata.children:
            raise DataError("idata has no posterior group: pass the result of Model.sample().")
        return idata["posterior"].to_dataset()
    posterior = getattr(idata, "posterior", None)
    if posterior is None:
        raise DataError(
            f"Cannot read a posterior from a {type(idata).__name__}: pass the DataTree "
            "returned by Model.sample()."
        )
    return posterior.to_dataset() if hasattr(posterior, "to_dataset") else posterior


def check_posterior(fit: RemlFit, posterior: xr.Dataset) -> None:
    """Raise :class:`DataError` unless ``posterior`` has the variables and terms of ``fit``."""
    factors = [f.name for f in fit.spec.factors]
    needed = ["beta", *factors, *(f"sd_{name}" for name in factors), "sigma"]
    missing = [name for name in needed if name not in posterior.data_vars]
    if missing:
        known = ", ".join(map(str, posterior.data_vars))
        raise DataError(
            f"The posterior lacks variable(s) {', '.join(map(repr, missing))} (it has: {known}). "
            f"Was it sampled by bayeshier.Model for {fit.spec.formula.text!r}?"
        )
    terms = (
        [str(t) for t in posterior["beta"]["fixed"].to_numpy()]
        if "fixed" in posterior["beta"].dims
        else []
    )
    absent = [t for t in fit.fixef.index if t not in terms]
    if absent:
        raise DataError(
            f"The posterior's beta lacks the term(s) {', '.join(map(repr, absent))} of the "
            f"REML fit (it has: {', '.join(terms)})."
        )


def _variable(posterior: xr.Dataset, name: str) -> xr.DataArray:
    if name not in posterior.data_vars:
        known = ", ".join(map(str, posterior.data_vars))
        raise DataError(
            f"The posterior has no variable {name!r} (it has: {known}). Was it sampled by "
            "bayeshier.Model for the same formula?"
        )
    return posterior[name]


def posterior_summary(draws: xr.DataArray, hdi_prob: float) -> pd.DataFrame:
    """Mean, sd and HDI over chain and draw of every entry of ``draws``.

    Returns
    -------
    pandas.DataFrame
        Columns ``post_mean``, ``post_sd``, ``hdi_low``, ``hdi_high``; one row
        per entry along the one remaining dimension (one row if none).

    """
    sample_dims = [d for d in SAMPLE_DIMS if d in draws.dims]
    interval = az.hdi(draws, prob=hdi_prob, dim=sample_dims)
    return pd.DataFrame(
        {
            "post_mean": np.atleast_1d(draws.mean(sample_dims).to_numpy()),
            "post_sd": np.atleast_1d(draws.std(sample_dims, ddof=1).to_numpy()),
            "hdi_low": np.atleast_1d(interval.sel(ci_bound="lower").to_numpy()),
            "hdi_high": np.atleast_1d(interval.sel(ci_bound="upper").to_numpy()),
        }
    )


def _scalar_summary(draws: xr.DataArray, hdi_prob: float) -> dict[str, float]:
    summary = posterior_summary(draws, hdi_prob).iloc[0]
    sample_dims = [d for d in SAMPLE_DIMS if d in draws.dims]
    return {
        "post_mean": float(summary["post_mean"]),
        "post_median": float(draws.median(sample_dims)),
        "hdi_low": float(summary["hdi_low"]),
        "hdi_high": float(summary["hdi_high"]),
    }


# ===================================================== OLS vs GLS in words
def explain_ols_vs_gls(cmp: Comparison) -> str:
    """Why ``lm`` (OLS) and ``lmer`` (REML/GLS) give different fixed effects, for this model.

    Parameters
    ----------
    cmp : Comparison
        From :func:`compare`.

    Returns
    -------
    str
        A few sentences naming the terms, the grouping factor(s) and the size
        of the differences (in REML standard errors).

    """
    fit = cmp.fit
    spec = fit.spec
    response = spec.response
    fixed_part = spec.formula.fixed_formula
    factors = [f.name for f in spec.factors]
    lines = [
        f"OLS (lm({fixed_part})) treats all {spec.nobs} rows as independent. The mixed "
        f"model says rows sharing a level of {_join(factors)} share that level's effect, "
        f"so their {response} values are correlated: {_correlation_phrase(fit)}",
        "GLS (what lmer's REML fit reports) weights the rows by that correlation: a group "
        "of correlated rows counts for less than as many independent rows, and a term's "
        "effect is learnt more from differences within groups, less from differences "
        "between group means (which the group effects also explain).",
    ]
    lines += _difference_sentences(cmp)
    lines.append(
        "Neither is a mistake in the arithmetic: they answer with different assumptions "
        "about the rows, and with grouped data OLS's standard errors are the ones to distrust."
    )
    return "\n".join(lines)


def _correlation_phrase(fit: RemlFit) -> str:
    parts = []
    for factor in fit.spec.factors:
        sd = factor_sd(fit, factor.name)
        share = sd**2 / (sd**2 + fit.sigma**2)
        parts.append(
            f"within a {factor.name} the correlation is {share:.2f} (sd {sd:.3g} of {factor.name} "
            f"effects against a residual sd {fit.sigma:.3g})"
        )
    return "; ".join(parts) + "."


def _difference_sentences(cmp: Comparison) -> list[str]:
    table = cmp.fixed.set_index("term")
    slopes = [t for t in table.index if t != "Intercept"] or list(table.index)
    sentences = [_term_sentence(term, table.loc[term]) for term in slopes]
    if len(slopes) > 1:
        gaps = (table.loc[slopes, "reml"] - table.loc[slopes, "ols"]).abs() / table.loc[
            slopes, "reml_se"
        ]
        sentences.append(f"The largest change, in standard errors, is in {gaps.idxmax()}.")
    if len(cmp.fit.spec.factors) == 1 and "Intercept" not in slopes:
        sentences.append(_within_sentence(cmp, table, slopes))
    return sentences


def _term_sentence(term: str, row: pd.Series) -> str:
    difference = row["reml"] - row["ols"]
    if abs(difference) < AGREE_IN_SE * row["reml_se"]:
        change = "the same estimate (the groups are balanced for it)"
    else:
        change = (
            f"a difference of {difference:+.3g} = {abs(difference) / row['reml_se']:.2g} "
            "GLS standard errors"
        )
    return (
        f"{term}: OLS {row['ols']:.4g} (se {row['ols_se']:.3g}) vs GLS {row['reml']:.4g} "
        f"(se {row['reml_se']:.3g}): {change}."
    )


def _within_sentence(cmp: Comparison, table: pd.DataFrame, slopes: list[str]) -> str:
    factor = cmp.fit.spec.factors[0].name
    within = within_slopes(cmp.fit.spec, factor)
    values = ", ".join(f"{t} {within[t]:.4g}" for t in slopes)
    closer = [
        t
        for t in slopes
        if abs(table.loc[t, "reml"] - within[t]) < abs(table.loc[t, "reml"] - table.loc[t, "ols"])
    ]
    lam = cmp.group_block(factor)["shrinkage"]
    verdict = (
        f"GLS is closer to the within-{factor} estimate for {_join(closer, 'and')}"
        if closer
        else "GLS stays closer to OLS for every term"
    )
    return (
        f"For comparison, the within-{factor} estimates ({factor} as a fixed effect, "
        f"{no_pooling_formula(cmp.fit.spec, factor)}) are {values}. GLS compromises between "
        f"them and OLS and moves toward them as lambda grows (here {lam.min():.2f} to "
        f"{lam.max():.2f}): {verdict}."
    )


def _join(names: list[str], conjunction: str = "or") -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + f" {conjunction} " + names[-1]


# ============================================================= readings
def _fixed_reading(cmp: Comparison) -> str:
    table = cmp.fixed.set_index("term")
    gaps = ((table["reml"] - table["ols"]) / table["reml_se"]).abs()
    term = str(gaps.idxmax())
    row = table.loc[term]
    if gaps[term] < AGREE_IN_SE:
        text = (
            f"OLS and REML (GLS) estimates agree (balanced groups); the REML se of {term} is "
            f"{row['reml_se'] / row['ols_se']:.3g} times OLS's, which ignores the correlation "
            "within groups."
        )
    else:
        text = (
            f"OLS and REML (GLS) differ most for {term}: {row['ols']:.4g} vs {row['reml']:.4g} "
            f"({gaps[term]:.2g} REML se); explain_ols_vs_gls() says why."
        )
    if cmp.has_posterior:
        z = ((table["post_mean"] - table["reml"]) / table["post_sd"]).abs()
        text += f" Posterior means are within {z.max():.2g} posterior sd of REML."
    return text


def _group_reading(cmp: Comparison, name: str) -> str:
    block = cmp.group_block(name, "shrinkage")
    sd = factor_sd(cmp.fit, name)
    if sd == 0.0:
        return (
            f"sd of {name} is 0 (singular fit): lambda = 0, every BLUP equals the population "
            f"mean {cmp.population:.4g} (complete pooling); no_pooling keeps each level's own."
        )
    low, high = block.iloc[0], block.iloc[-1]
    if np.isclose(low["shrinkage"], high["shrinkage"], rtol=1e-12):
        text = (
            f"Every level has n = {low['n']} rows, so every BLUP keeps the same share "
            f"lambda = {low['shrinkage']:.3f} of its level's own deviation from "
            f"{cmp.population:.4g}."
        )
    else:
        text = (
            f"lambda runs from {low['shrinkage']:.3f} ({low['level']}, n = {low['n']}) to "
            f"{high['shrinkage']:.3f} ({high['level']}, n = {high['n']}): the smaller the "
            f"level, the more its BLUP is pulled toward {cmp.population:.4g}."
        )
    if cmp.has_posterior:
        moved = (block["post_mean"] - block["blup"]).abs().max()
        text += f" Posterior means are within {moved:.3g} of the BLUPs."
    return text


def _variance_reading(cmp: Comparison) -> str:
    table = cmp.variances.set_index("component")
    sigma = table.loc["Residual", "reml_sd"]
    parts = [
        f"{c} sd / residual sd = {table.loc[c, 'reml_sd'] / sigma:.3g}"
        for c in table.index
        if c != "Residual"
    ]
    text = "REML: " + "; ".join(parts) + "."
    if cmp.has_posterior:
        first = str(table.index[0])
        row = table.loc[first]
        text += (
            f" The posterior of sd_{first} (median {row['post_median']:.3g}, "
            f"HDI {row['hdi_low']:.3g} to {row['hdi_high']:.3g}) shows how well the data pin it."
        )
    return text


def _header(cmp: Comparison) -> str:
    method = "REML" if cmp.fit.reml else "ML"
    source = f"posterior with {cmp.hdi_prob:.0%} HDI" if cmp.has_posterior else "no posterior"
    return f"{cmp.fit.spec.formula.text}: {cmp.fit.nobs} rows; {method} vs OLS vs {source}"


def _fixed_title(cmp: Comparison) -> str:
    return f"Fixed effects (ols: lm({cmp.fit.spec.formula.fixed_formula}); reml: GLS)"


def _group_title(cmp: Comparison, factor: GroupingFactor, order: Order) -> str:
    by = {"shrinkage": "most shrunk first", "size": "smallest first", "level": "level order"}
    return (
        f"Group intercepts: {factor.name} ({factor.n_levels} levels, {by[order]}); "
        f"no_pooling: {no_pooling_formula(cmp.fit.spec, factor.name)}; blup: intercept + BLUP"
    )


def _variance_title(cmp: Comparison) -> str:
    return "Standard deviations of the random effects and of the residual"


def _several_factors_note(cmp: Comparison) -> str:
    return (
        "Several grouping factors: each factor's no_pooling ignores the other random factors; "
        "its shrinkage lambda_j = sd^2/(sd^2 + sigma^2/n_j) is the weight given the other "
        "factors' BLUPs."
    )


# ============================================================ formatting
def _decimals(values: pd.Series, digits: int) -> int:
    finite = np.abs(values.to_numpy(dtype=float))
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if finite.size == 0:
        return 1
    magnitude = int(np.floor(np.log10(finite.max())))
    return int(np.clip(digits - 1 - magnitude, 1, 6))


def format_table(
    table: pd.DataFrame, digits: int = 5, by: Literal["column", "row"] = "column"
) -> pd.DataFrame:
    """Every cell as a string, floats with a shared number of decimals.

    Parameters
    ----------
    table : pandas.DataFrame
        The table to format.
    digits : int
        Significant digits of the largest number sharing the decimals.
    by : {"column", "row"}
        Share the decimals down each column (numbers on one scale, e.g. the
        levels of a factor) or along each row (terms on different scales).

    """
    floats = [c for c in table.columns if pd.api.types.is_float_dtype(table[c])]
    formatted = table.astype(object).map(str)
    if by == "column":
        places = {c: pd.Series(_decimals(table[c], digits), index=table.index) for c in floats}
    else:
        row_places = table[floats].apply(lambda r: _decimals(r, digits), axis=1)
        places = {c: row_places for c in floats}
    for column in floats:
        formatted[column] = [
            "" if pd.isna(v) else f"{v:.{p}f}"
            for v, p in zip(table[column], places[column], strict=True)
        ]
    return formatted


def _text_block(
    title: str, table: pd.DataFrame, reading: str, digits: int, by: str = "column"
) -> list[str]:
    cells = format_table(table, digits, by)
    numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in table.columns]
    widths = [
        max(len(str(c)), *(len(v) for v in cells[c])) if len(cells) else len(str(c))
        for c in cells.columns
    ]

    def line(values: list[str]) -> str:
        padded = [
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(padded).rstrip()

    rows = [line([str(c) for c in table.columns])]
    rows += [line(list(r)) for r in cells.itertuples(index=False)]
    return [title, *rows, f"-> {reading}", ""]


def _html_block(title: str, table: pd.DataFrame, reading: str, by: str = "column") -> str:
    cells = format_table(table, by=by)
    numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in table.columns]
    style = [
        "text-align:right;font-variant-numeric:tabular-nums" if n else "text-align:left"
        for n in numeric
    ]
    head = "".join(
        f"<th style='{s}'>{html.escape(str(c))}</th>"
        for c, s in zip(table.columns, style, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td style='{s}'>{html.escape(v)}</td>" for v, s in zip(r, style, strict=True))
        + "</tr>"
        for r in cells.itertuples(index=False)
    )
    return (
        f"<p style='margin-bottom:2px'>{html.escape(title)}</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        f"<p style='margin-top:2px'><i>{html.escape(reading)}</i></p>"
    )
