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

Only the numbers are computed here; :mod:`bayeshier.present.comparison_text` writes
the text and HTML views (``to_text``, ``to_html``), the one-line readings and
:func:`explain_ols_vs_gls`.

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
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from bayeshier.errors import DataError
from bayeshier.present.shrinkage import factor_sd, population_intercept, weights
from bayeshier.reml import RemlFit
from bayeshier.spec.model_spec import GroupingFactor, ModelSpec

__all__ = [
    "DEFAULT_HDI_PROB",
    "Comparison",
    "check_posterior",
    "compare",
    "explain_ols_vs_gls",
    "fixed_table",
    "group_table",
    "no_pooling",
    "no_pooling_coefficients",
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
Order = Literal["shrinkage", "size", "level"]


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
        from bayeshier.present.comparison_text import readings

        return readings(self)

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
        from bayeshier.present.comparison_text import comparison_text

        return comparison_text(self, order, digits)

    def to_html(self, order: Order = "shrinkage", digits: int = 5) -> str:
        """The three tables as HTML, each with its one-line reading; options as :meth:`to_text`.

        The notebook view is ``to_html()``; ``bayeshier run``'s report uses the
        model file's ``[output] order``.
        """
        from bayeshier.present.comparison_text import comparison_html

        return comparison_html(self, order, digits)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        return self.to_html()


def explain_ols_vs_gls(cmp: Comparison) -> str:
    """Why ``lm`` and ``lmer`` differ; see :func:`bayeshier.present.comparison_text.explain_ols_vs_gls`."""
    from bayeshier.present.comparison_text import explain_ols_vs_gls as explain

    return explain(cmp)


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
    ignored. With random slopes see :func:`no_pooling_coefficients`.

    Returns
    -------
    pandas.Series
        Indexed by level.

    """
    return no_pooling_coefficients(spec, factor).iloc[:, 0]


def no_pooling_coefficients(spec: ModelSpec, factor: str) -> pd.DataFrame:
    """Each level's own coefficients of the factor's random-effect columns.

    The least-squares fit with one coefficient per level and random-effect
    column (``lm(y ~ 0 + g/(1 + x) + other fixed terms)`` for ``(x|g)``) and
    common slopes for the other fixed terms (:func:`within_slopes`): the
    common slopes come from the rows with each level's own fit projected
    out (Frisch-Waugh-Lovell), then each level's coefficients from its own
    rows. A level whose columns are collinear within it (e.g. one value of
    ``x``) gets NaN. Other grouping factors are ignored.

    Returns
    -------
    pandas.DataFrame
        Levels x terms (the factor's ``terms``).

    """
    grouping = spec.factor(factor)
    fit = _within_fit(spec, grouping)
    index = pd.Index(grouping.levels, name=grouping.name)
    return pd.DataFrame(fit.coefficients, index=index, columns=list(grouping.terms))


def within_slopes(spec: ModelSpec, factor: str) -> pd.Series:
    """Slopes of the other fixed terms with ``factor`` as a fixed effect.

    By the Frisch-Waugh-Lovell theorem these are the slopes of
    ``lm(y ~ 0 + g + other fixed terms)``: regress group-demeaned ``y`` on the
    group-demeaned columns (with random slopes, the residuals of each
    level's own fit on its random-effect columns). A column constant within
    every level (aliased with the factor) gets slope 0 where R would report NA.

    Returns
    -------
    pandas.Series
        Indexed by term (empty for an intercept-only model).

    """
    grouping = spec.factor(factor)
    names = [spec.fixed_names[j] for j in _other_columns(spec, grouping)]
    return pd.Series(_within_fit(spec, grouping).slopes, index=pd.Index(names, dtype=object))


@dataclass(frozen=True)
class _WithinFit:
    coefficients: np.ndarray  # levels x k
    slopes: np.ndarray  # other fixed columns


def _within_fit(spec: ModelSpec, grouping: GroupingFactor) -> _WithinFit:
    """Per-level coefficients of the random-effect columns and common other slopes."""
    Z = grouping.columns()
    others = _other_columns(spec, grouping)
    projector = _level_projector(grouping, Z)
    y_within = spec.y - _project(grouping, Z, projector, spec.y)
    slopes = np.zeros(len(others))
    if others:
        X = spec.X[:, others]
        X_within = X - _project(grouping, Z, projector, X)
        slopes = np.linalg.lstsq(X_within, y_within, rcond=1e-10)[0]
        residual = spec.y - X @ slopes
    else:
        residual = spec.y
    coefficients = np.einsum("jrs,js->jr", projector, _level_cross(grouping, Z, residual))
    coefficients[~_estimable(grouping, Z)] = np.nan
    return _WithinFit(coefficients, slopes)


def _other_columns(spec: ModelSpec, grouping: GroupingFactor) -> list[int]:
    """Fixed-effect columns that are not among the factor's random-effect columns."""
    return [j for j, name in enumerate(spec.fixed_names) if name not in grouping.terms]


def _level_cross(grouping: GroupingFactor, Z: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``Z_j' v`` per level (levels x k, or levels x k x m for a matrix ``v``)."""
    n = grouping.n_levels
    columns = values if values.ndim == 2 else values[:, None]
    sums = np.stack(
        [
            np.column_stack(
                [
                    np.bincount(grouping.codes, weights=Z[:, r] * columns[:, m], minlength=n)
                    for m in range(columns.shape[1])
                ]
            )
            for r in range(Z.shape[1])
        ],
        axis=1,
    )
    return sums if values.ndim == 2 else sums[:, :, 0]


def _level_projector(grouping: GroupingFactor, Z: np.ndarray) -> np.ndarray:
    """``(Z_j'Z_j)^+`` per level (pseudo-inverse, so collinear levels do no harm)."""
    return np.linalg.pinv(_level_cross(grouping, Z, Z), hermitian=True)


def _project(
    grouping: GroupingFactor, Z: np.ndarray, projector: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """Each row's fitted value from its own level's least squares on ``Z``."""
    coefficients = projector @ _level_cross(grouping, Z, values).reshape(
        grouping.n_levels, Z.shape[1], -1
    )
    fitted = np.einsum("ir,irm->im", Z, coefficients[grouping.codes])
    return fitted if values.ndim == 2 else fitted[:, 0]


def _estimable(grouping: GroupingFactor, Z: np.ndarray) -> np.ndarray:
    """Levels whose own random-effect columns have full rank."""
    ranks = np.linalg.matrix_rank(_level_cross(grouping, Z, Z), hermitian=True)
    return ranks == Z.shape[1]


def no_pooling_formula(spec: ModelSpec, factor: str) -> str:
    """The ``lm`` formula behind the ``no_pooling`` column of ``factor``."""
    grouping = spec.factor(factor)
    own = factor
    if not grouping.intercept_only:
        slopes = [t for t in grouping.terms if t != "Intercept"]
        intercept = "1" if "Intercept" in grouping.terms else "0"
        own = f"{factor}/({' + '.join([intercept, *slopes])})"
    terms = [own, *(spec.fixed_names[j] for j in _other_columns(spec, grouping))]
    return f"lm({spec.response} ~ 0 + {' + '.join(terms)})"


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


def level_draws(
    posterior: xr.Dataset, factor: GroupingFactor, add_fixed: bool, term: str = "Intercept"
) -> xr.DataArray:
    """Draws of ``beta[term] + b_j[term]`` per level of ``factor`` (``b_j`` alone if not fixed).

    Returns
    -------
    xarray.DataArray
        Dims chain, draw and ``<factor>_level``, in the factor's level order.

    """
    effects = _variable(posterior, factor.name)
    dim = f"{factor.name}_level"
    if dim not in effects.dims:
        raise DataError(f"Posterior variable {factor.name!r} has no dimension {dim!r}.")
    term_dim = f"{factor.name}_term"
    if term_dim in effects.dims:
        effects = effects.sel({term_dim: term}, drop=True)
    elif not factor.intercept_only:
        raise DataError(
            f"Posterior variable {factor.name!r} has no dimension {term_dim!r} for the "
            f"random slopes ({', '.join(factor.terms)})."
        )
    labels = [str(v) for v in effects[dim].to_numpy()]
    missing = [level for level in factor.levels if level not in labels]
    if missing:
        raise DataError(
            f"The posterior of {factor.name!r} lacks level(s) {', '.join(missing[:5])} of the "
            "REML fit: are the fit and the posterior from the same model and data?"
        )
    effects = effects.assign_coords({dim: labels}).sel({dim: list(factor.levels)})
    if add_fixed:
        effects = effects + _variable(posterior, "beta").sel(fixed=term, drop=True)
    return effects


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
        _scalar_summary(_select(posterior, selection), hdi_prob) for selection in selections
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


def _select(posterior: xr.Dataset, selection: str | tuple[str, dict]) -> xr.DataArray:
    if isinstance(selection, str):
        return _variable(posterior, selection)
    name, coords = selection
    return _variable(posterior, name).sel(coords, drop=True)


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
    correlated = [f.name for f in fit.spec.factors if any(size > 1 for size in f.blocks)]
    needed = [
        "beta",
        *factors,
        *(f"sd_{name}" for name in factors),
        *(f"corr_{name}" for name in correlated),
        "sigma",
    ]
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
    import arviz as az  # only with a posterior: importing ArviZ takes a second or more

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
