"""REML/BLUP estimates, their OLS and no-pooling counterparts and the posterior, side by side.

:func:`compare` gathers three tidy tables in a :class:`Comparison`:

``fixed``
    One row per fixed-effect term: ``ols``/``ols_se`` from ``lm(y ~ fixed
    part)`` (every row independent), ``reml``/``reml_se`` (GLS at the
    estimated variances), then the posterior ``post_mean``, ``post_sd``,
    ``ci_low``, ``ci_high``.
``groups``
    One row per level and random-effect term of each grouping factor (one
    block per factor and term; ``term`` is ``Intercept`` for a random
    intercept): ``n`` rows; ``no_pooling``, the level's own coefficient
    from ``lm(y ~ 0 + g + other fixed terms)`` (the factor as a fixed effect
    in level-means coding), or with random slopes the level's own least
    squares ``lm(y ~ 0 + g/(1 + x) + other fixed terms)``; ``blup``, fixed
    effect + BLUP (lme4's ``coef()``); ``cond_sd``, ``sqrt(condVar)``;
    ``kept``, ``lambda_j = sd_g^2 / (sd_g^2 + sigma^2 / n_j)``, the share of
    its own deviation from the fixed effect that the level's BLUP keeps (1:
    no pooling, 0: complete pooling; with slopes, where the weight is a
    matrix, ``1 - condVar_j / sd^2`` per term: the share of the prior
    variance the level's data remove, equal to ``lambda_j`` for a random
    intercept alone); ``pooling``, ``1 - kept``, the share pooled toward the
    fixed effect; and the posterior of ``beta[term] + effect`` (combined draw
    by draw, so on the same scale as ``blup``).
``variances``
    One row per random-effect term of each factor and one ``Residual`` row:
    the REML sd and the posterior mean, median and credible interval of
    ``sd_<factor>`` / ``sigma``; a factor with correlated terms adds one row
    per pair, whose ``term`` is ``corr(a, b)`` and whose ``reml_sd`` column
    holds the REML correlation (posterior: ``corr_<factor>``).

The credible intervals (``ci_low``, ``ci_high``) follow ArviZ 1.x's
convention, as ``az.summary`` prints them: ``arviz.rcParams["stats.ci_prob"]``
(0.89) and ``["stats.ci_kind"]`` (``"eti"``) unless ``compare`` is told
otherwise (:mod:`bayeshier.present.intervals`); the :class:`Comparison`
records both, every title says which (``"89% ETI"``), and the tables carry
them in ``attrs`` (``ci_prob``, ``ci_kind``).

The tables are assembled here; the ``ols`` and ``no_pooling`` columns come
from :mod:`bayeshier.present.baselines`, the posterior columns from
:mod:`bayeshier.present.posterior_summary`; a saved posterior is read (and
its REML fit rebuilt) by :mod:`bayeshier.present.saved`, and
:mod:`bayeshier.present.matching` refuses a posterior of another model;
:mod:`bayeshier.present.comparison_text` writes the text and HTML views
(``to_text``, ``to_html``), the one-line readings and
:meth:`Comparison.explain_ols_vs_gls`.

Several grouping factors (crossed or nested)
--------------------------------------------
Each factor's ``no_pooling`` is computed on its own, ``lm(y ~ 0 + g + other
fixed terms)`` with the *other random factors ignored*; ``kept`` uses the
factor's own ``sd_g`` and ``n_j`` and is the weight given the other factors'
BLUPs (see :mod:`bayeshier.present.shrinkage`); so with several factors
``blup - intercept`` is not ``kept * (no_pooling - intercept)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bayeshier._choices import Order
from bayeshier.errors import DataError
from bayeshier.present import comparison_text as views
from bayeshier.present.comparison_tables import (
    FIXED_COLUMNS,
    GROUP_COLUMNS,
    VARIANCE_COLUMNS,
    fixed_table,
    group_table,
    kept_shares,
    variance_table,
)
from bayeshier.present.glmm_comparison import GlmmComparison, compare_glmm
from bayeshier.present.intervals import CiKind, CredibleInterval, resolve_interval
from bayeshier.present.matching import check_same_model
from bayeshier.present.saved import read_posterior, refit
from bayeshier.present.shrinkage import population_intercept
from bayeshier.reml import RemlFit
from bayeshier.reml.glmm import GlmmFit

__all__ = [
    "FIXED_COLUMNS",
    "GROUP_COLUMNS",
    "VARIANCE_COLUMNS",
    "Comparison",
    "compare",
    "fixed_table",
    "group_table",
    "kept_shares",
    "variance_table",
]


# =================================================================== API
def compare(
    reml_fit: RemlFit | GlmmFit | None = None,
    idata: Any = None,
    *,
    ci_prob: float | None = None,
    ci_kind: CiKind | None = None,
    hdi_prob: float | None = None,
    scale: str = "link",
) -> Comparison | GlmmComparison:
    """Put the REML fit, its OLS / no-pooling counterparts and the posterior side by side.

    Given a :class:`~bayeshier.reml.glmm.GlmmFit` (:func:`bayeshier.fit_glmm`)
    it returns :func:`~bayeshier.present.glmm_comparison.compare_glmm`'s
    :class:`~bayeshier.present.glmm_comparison.GlmmComparison` instead: no-pooling
    glm | Laplace | posterior, the groups on the link scale or, with
    ``scale="response"``, as probabilities or rates.

    Parameters
    ----------
    reml_fit : RemlFit, optional
        From :func:`bayeshier.fit_reml` (or :func:`bayeshier.fit_glmm`).
        Omitted, it is rebuilt from ``idata`` (its ``constant_data`` group and
        ``attrs["formula"]``, refitted and checked against ``attrs["reml"]``;
        a GLMM's posterior is refitted by ``fit_glmm``): a posterior saved
        with ``to_netcdf`` / ``to_zarr`` and reopened with
        ``xarray.open_datatree`` is compared on its own.
    idata : xarray.DataTree, optional
        A posterior of the same model and rows (:meth:`bayeshier.Model.sample`,
        in memory or reopened): variables ``beta`` (dim ``fixed``), one per
        factor (dim ``<factor>_level``, and ``<factor>_term`` with random
        slopes), ``sd_<factor>``, ``corr_<factor>`` for correlated terms and
        ``sigma``. An InferenceData or a bare posterior ``xarray.Dataset``
        works too. Without it the posterior columns are absent.
    ci_prob : float, optional
        Probability of the credible intervals (default: ArviZ's
        ``rcParams["stats.ci_prob"]``, 0.89).
    ci_kind : {"eti", "hdi"}, optional
        Equal-tailed or highest-density intervals (default: ArviZ's
        ``rcParams["stats.ci_kind"]``, ``"eti"``).
    hdi_prob : float, optional
        The former argument, kept: ``hdi_prob=p`` is ``ci_prob=p, ci_kind="hdi"``.
    scale : {"link", "response"}
        A GLMM's ``groups`` scale (a Gaussian model's link is the identity:
        both are the same).

    Returns
    -------
    Comparison
        Tables ``fixed``, ``groups``, ``variances``; ``str()`` and the
        notebook view print them with a one-line reading under each.

    Raises
    ------
    ModelError
        The fit and the posterior are not of the same formula and rows (see
        :mod:`bayeshier.present.matching`), or, without a fit, the posterior
        cannot rebuild it (no ``constant_data``, or a refit that differs
        from ``attrs["reml"]``).
    DataError
        A bad ``ci_prob`` / ``ci_kind``, a container with no posterior, or a
        fit computed from a Dask DataFrame's sums.

    Examples
    --------
    >>> from bayeshier import datasets, fit_reml
    >>> cmp = compare(fit_reml("y ~ 1 + (1|g)", datasets.load("seed_model2")))
    >>> round(float(cmp.groups.set_index("level").loc["3", "no_pooling"]), 6)
    26.118189

    """
    interval = resolve_interval(ci_prob, ci_kind, hdi_prob)
    if scale not in ("link", "response"):
        raise DataError(f"scale must be 'link' or 'response', got {scale!r}.")
    saved = read_posterior(idata) if reml_fit is None else None
    if reml_fit is None:
        if saved is None:
            raise DataError(
                "compare() needs a REML fit, a posterior, or both: compare(fit), "
                "compare(fit, idata) or compare(idata=idata)."
            )
        reml_fit = refit(saved)
    if isinstance(reml_fit, GlmmFit):
        chosen = {"ci_prob": interval.prob, "ci_kind": interval.kind}
        return compare_glmm(reml_fit, idata, scale, **chosen)  # type: ignore[arg-type]
    saved = read_posterior(idata) if saved is None else saved
    _require_rows(reml_fit)
    posterior = None
    if saved is not None:
        check_same_model(reml_fit, saved)
        posterior = saved.posterior
    return Comparison(
        fixed=fixed_table(reml_fit, posterior, interval),
        groups=group_table(reml_fit, posterior, interval),
        variances=variance_table(reml_fit, posterior, interval),
        fit=reml_fit,
        ci_prob=interval.prob,
        ci_kind=interval.kind,
    )


def _require_rows(fit: RemlFit) -> None:
    if not fit.spec.holds_rows:
        raise DataError(
            "compare() needs the rows of the data (the no-pooling and OLS columns refit "
            "them), but this fit was computed from a Dask DataFrame's sums. Fit the same "
            "formula on a pandas sample (e.g. ddf.sample(frac=0.01).compute()) to compare."
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
    ci_prob : float
        Probability of the credible intervals ``ci_low`` to ``ci_high``.
    ci_kind : {"eti", "hdi"}
        Their kind: equal-tailed or highest-density.

    """

    fixed: pd.DataFrame
    groups: pd.DataFrame
    variances: pd.DataFrame
    fit: RemlFit = field(repr=False)
    ci_prob: float = 0.89
    ci_kind: CiKind = "eti"

    @property
    def interval(self) -> CredibleInterval:
        """The credible interval of the posterior columns (probability and kind)."""
        return CredibleInterval(self.ci_prob, self.ci_kind)

    @property
    def interval_label(self) -> str:
        """The interval as headers and legends name it: ``"89% ETI"``, ``"94% HDI"``."""
        return self.interval.label

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

        ``order="shrinkage"`` puts the most pooled level (smallest ``kept``)
        first, ``"size"`` the smallest group first, ``"level"`` keeps the
        factor's level order. ``term`` picks a random slope's rows (default
        the intercept, or the factor's first term if it has no intercept).
        """
        name = factor if factor is not None else self.fit.spec.factors[0].name
        terms = self.fit.spec.factor(name).terms  # raises a helpful error for unknown names
        term = term if term in terms else terms[0]
        block = self.groups[(self.groups["group"] == name) & (self.groups["term"] == term)]
        key = {"shrinkage": "kept", "size": "n", "level": None}[order]
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
            Order of the levels within each factor's block (``"shrinkage"``:
            the most pooled first).
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
