"""REML/BLUP estimates, their OLS and no-pooling counterparts and the posterior, side by side.

:func:`compare` gathers three tidy tables in a :class:`Comparison`:

``fixed``
    One row per fixed-effect term: ``ols``/``ols_se`` from ``lm(y ~ fixed
    part)`` (every row independent), ``reml``/``reml_se`` (GLS at the
    estimated variances), then the posterior ``post_mean``, ``post_sd``,
    ``hdi_low``, ``hdi_high``.
``groups``
    One row per level and random-effect term of each grouping factor (one
    block per factor and term; ``term`` is ``Intercept`` for a random
    intercept): ``n`` rows; ``no_pooling``, the level's own coefficient
    from ``lm(y ~ 0 + g + other fixed terms)`` (the factor as a fixed effect
    in level-means coding), or with random slopes the level's own least
    squares ``lm(y ~ 0 + g/(1 + x) + other fixed terms)``; ``blup``, fixed
    effect + BLUP (lme4's ``coef()``); ``cond_sd``, ``sqrt(condVar)``;
    ``shrinkage``, ``lambda_j = sd_g^2 / (sd_g^2 + sigma^2 / n_j)`` (with
    slopes, where the weight is a matrix, ``1 - condVar_j / sd^2`` per term:
    the share of the prior variance the level's data remove, equal to
    ``lambda_j`` for a random intercept alone); and the posterior of
    ``beta[term] + effect`` (combined draw by draw, so on the same scale as
    ``blup``).
``variances``
    One row per random-effect term of each factor and one ``Residual`` row:
    the REML sd and the posterior mean, median and HDI of ``sd_<factor>`` /
    ``sigma``; a factor with correlated terms adds one row per pair, whose
    ``term`` is ``corr(a, b)`` and whose ``reml_sd`` column holds the REML
    correlation (posterior: ``corr_<factor>``).

The tables are assembled here; the ``ols`` and ``no_pooling`` columns come
from :mod:`bayeshier.present.baselines`, the posterior columns from
:mod:`bayeshier.present.posterior_summary`, and
:mod:`bayeshier.present.comparison_text` writes the text and HTML views
(``to_text``, ``to_html``), the one-line readings and
:meth:`Comparison.explain_ols_vs_gls`.

Several grouping factors (crossed or nested)
--------------------------------------------
Each factor's ``no_pooling`` is computed on its own, ``lm(y ~ 0 + g + other
fixed terms)`` with the *other random factors ignored*; ``shrinkage`` uses
the factor's own ``sd_g`` and ``n_j`` and is the weight given the other
factors' BLUPs (see :mod:`bayeshier.present.shrinkage`); so with several factors
``blup - intercept`` is not ``lambda_j * (no_pooling - intercept)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayeshier._choices import Order
from bayeshier.errors import DataError
from bayeshier.present import comparison_text as views
from bayeshier.present.baselines import no_pooling_coefficients, ols
from bayeshier.present.posterior_summary import (
    POSTERIOR_COLUMNS,
    check_posterior,
    level_draws,
    posterior_dataset,
    posterior_summary,
    posterior_variable,
    scalar_summary,
    select_draws,
)
from bayeshier.present.shrinkage import factor_sd, population_intercept, weights
from bayeshier.reml import RemlFit
from bayeshier.spec.model_spec import GroupingFactor

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "DEFAULT_HDI_PROB",
    "Comparison",
    "compare",
    "fixed_table",
    "group_table",
    "variance_table",
]

#: Probability of the highest-density intervals (the 94% of ArviZ 0.x; ArviZ 1.x's rcParam
#: ``stats.ci_prob`` defaults to 0.89).
DEFAULT_HDI_PROB = 0.94
FIXED_COLUMNS = ["term", "ols", "ols_se", "reml", "reml_se", *POSTERIOR_COLUMNS]
GROUP_COLUMNS = [
    "group",
    "level",
    "term",
    "n",
    "no_pooling",
    "blup",
    "cond_sd",
    "shrinkage",
    *POSTERIOR_COLUMNS,
]
VARIANCE_COLUMNS = [
    "component",
    "term",
    "reml_sd",
    "post_mean",
    "post_median",
    "hdi_low",
    "hdi_high",
]


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
        ``<factor>_level``, and ``<factor>_term`` with random slopes),
        ``sd_<factor>``, ``corr_<factor>`` for correlated terms and ``sigma``. An InferenceData
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
    if not reml_fit.spec.holds_rows:
        raise DataError(
            "compare() needs the rows of the data (the no-pooling and OLS columns refit "
            "them), but this fit was computed from a Dask DataFrame's sums. Fit the same "
            "formula on a pandas sample (e.g. ddf.sample(frac=0.01).compute()) to compare."
        )
    posterior = posterior_dataset(idata)
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

    def group_block(
        self, factor: str | None = None, order: Order = "level", term: str = "Intercept"
    ) -> pd.DataFrame:
        """Rows of ``groups`` for one factor (default: the first) and term, ordered.

        ``order="shrinkage"`` puts the most shrunk level (smallest ``lambda``)
        first, ``"size"`` the smallest group first, ``"level"`` keeps the
        factor's level order. ``term`` picks a random slope's rows (default
        the intercept, or the factor's first term if it has no intercept).
        """
        name = factor if factor is not None else self.fit.spec.factors[0].name
        terms = self.fit.spec.factor(name).terms  # raises a helpful error for unknown names
        term = term if term in terms else terms[0]
        block = self.groups[(self.groups["group"] == name) & (self.groups["term"] == term)]
        key = {"shrinkage": "shrinkage", "size": "n", "level": None}[order]
        return block if key is None else block.sort_values(key, kind="stable")

    def readings(self) -> dict[str, str]:
        """One plain-language line per table (keys ``fixed``, each factor, ``variances``)."""
        return views.readings(self)

    def explain_ols_vs_gls(self) -> str:
        """Why ``lm`` and ``lmer`` give different fixed effects, in this model's terms."""
        return views.explain_ols_vs_gls(self)

    def to_text(self, order: Order = "shrinkage", digits: int = 5) -> str:
        """The three tables as aligned text, each with its one-line reading.

        Parameters
        ----------
        order : {"shrinkage", "size", "level"}
            Order of the levels within each factor's block.
        digits : int
            Significant digits of the largest number in each column.

        """
        return views.comparison_text(self, order, digits)

    def to_html(self, order: Order = "shrinkage", digits: int = 5) -> str:
        """The three tables as HTML, each with its one-line reading; options as :meth:`to_text`.

        The notebook view is ``to_html()``; ``bayeshier run``'s report uses the
        model file's ``[output] order``.
        """
        return views.comparison_html(self, order, digits)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        return self.to_html()


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
    beta = posterior_variable(posterior, "beta")
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
    own = no_pooling_coefficients(fit.spec, factor.name)
    shrinkage = _shrinkage(fit, factor)
    blocks = []
    for column, term in enumerate(factor.terms):
        table = pd.DataFrame(
            {
                "group": factor.name,
                "level": list(factor.levels),
                "term": term,
                "n": counts,
                "no_pooling": own[term].to_numpy(),
                "blup": fit.fixef.get(term, 0.0) + fit.ranef[factor.name][term].to_numpy(),
                "cond_sd": np.sqrt(fit.condvar[factor.name][term].to_numpy()),
                "shrinkage": shrinkage[:, column],
            }
        )
        if posterior is not None:
            draws = level_draws(posterior, factor, term in fit.fixef.index, term)
            summary = posterior_summary(draws, hdi_prob)
            table = pd.concat([table, summary.reset_index(drop=True)], axis=1)
        blocks.append(table)
    return pd.concat(blocks, ignore_index=True)


def _shrinkage(fit: RemlFit, factor: GroupingFactor) -> np.ndarray:
    """``lambda_j`` per level and term (levels x k).

    For a random intercept ``sd^2 / (sd^2 + sigma^2 / n_j)``. With random
    slopes the weight is a matrix; each term gets ``1 - condVar_j / sd^2``,
    the share of the term's prior variance the level's data remove, which
    is ``lambda_j`` again for a random intercept alone.
    """
    if factor.intercept_only:
        return weights(factor_sd(fit, factor.name), fit.sigma, factor.counts())[:, None]
    prior = np.diag(fit.covariances[factor.name].to_numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        share = 1.0 - fit.condvar[factor.name].to_numpy() / prior
    return np.where(prior > 0, share, 0.0)


def variance_table(
    fit: RemlFit, posterior: xr.Dataset | None = None, hdi_prob: float = DEFAULT_HDI_PROB
) -> pd.DataFrame:
    """The ``variances`` table of :func:`compare`: sds and correlations, then ``Residual``."""
    rows = [row for factor in fit.spec.factors for row in _factor_variance_rows(fit, factor)]
    rows.append({"component": "Residual", "term": "", "reml_sd": fit.sigma, "draws": "sigma"})
    table = pd.DataFrame(rows)
    selections = table.pop("draws")
    if posterior is None:
        return table
    summaries = [
        scalar_summary(select_draws(posterior, selection), hdi_prob) for selection in selections
    ]
    return pd.concat([table, pd.DataFrame(summaries)], axis=1)


def _factor_variance_rows(fit: RemlFit, factor: GroupingFactor) -> list[dict]:
    """The sd of every term of ``factor`` and the correlation of every correlated pair.

    ``draws`` says where the posterior keeps each number: a variable name,
    or a name and the coordinates to select.
    """
    name = factor.name
    covariance = fit.covariances[name].to_numpy()
    sds = np.sqrt(np.diag(covariance))
    if factor.intercept_only:
        return [{"component": name, "term": "Intercept", "reml_sd": sds[0], "draws": f"sd_{name}"}]
    term_dim = f"{name}_term"
    rows = [
        {"component": name, "term": t, "reml_sd": sds[i], "draws": (f"sd_{name}", {term_dim: t})}
        for i, t in enumerate(factor.terms)
    ]
    start = 0
    for size in factor.blocks:
        for j in range(start, start + size):
            for i in range(j + 1, start + size):
                a, b = factor.terms[j], factor.terms[i]
                scale = sds[i] * sds[j]
                rows.append(
                    {
                        "component": name,
                        "term": f"corr({a}, {b})",
                        "reml_sd": covariance[i, j] / scale if scale > 0 else np.nan,
                        "draws": (f"corr_{name}", {term_dim: a, f"{term_dim}_bis": b}),
                    }
                )
        start += size
    return rows
