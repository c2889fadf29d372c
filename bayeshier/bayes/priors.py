"""Priors of the Bayesian mixed model: data-scaled defaults and the user's overrides.

Default priors are weakly informative and scaled to the data, in the spirit
of rstanarm's autoscaling. With ``s_y`` the sd of the response, ``ybar`` its
mean and ``s_j`` the sd of fixed-effect column ``j`` (its root mean square
when constant):

* ``Intercept`` (at the predictors' means): ``Normal(ybar, 2.5 s_y)``;
* other fixed effect ``j``: ``Normal(0, 2.5 s_y / s_j)``;
* ``sigma`` and ``sd_<factor>``: ``Exponential(rate = 1 / s_y)``;
* ``sd_<factor>[<term>]`` (random slopes): ``Exponential(rate = s_x / s_y)``,
  ``s_x`` the sd of the term's column (1 for the intercept);
* ``corr_<factor>`` (correlated terms): ``LKJCorr(eta = 1)``.

The table with the reasons is in ``docs/design/bayes_priors.md``. Any of them
can be replaced per term (:func:`resolve_priors`) by a string or a PyMC
``.dist()``, read by :func:`bayeshier.bayes.prior_parse.parse_prior`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from bayeshier.bayes.moments import DataMoments, Moments, data_moments
from bayeshier.bayes.names import corr_name, has_correlation
from bayeshier.bayes.prior_parse import (
    Prior,
    PriorInput,
    exponential_prior,
    lkj_prior,
    normal_prior,
    parse_prior,
)
from bayeshier.errors import ModelError, close_matches_hint
from bayeshier.spec.model_spec import GroupingFactor, ModelSpec

__all__ = [
    "AUTOSCALE",
    "corr_term",
    "default_priors",
    "factor_sd_terms",
    "intercept_index",
    "prior_table",
    "random_column_scales",
    "resolve_priors",
    "sd_term",
]

#: Prior scale multiplier of rstanarm's autoscaled defaults.
AUTOSCALE = 2.5


def sd_term(factor_name: str, term: str | None = None) -> str:
    """Name of a group-level standard deviation: ``"sd_class"``, ``"sd_Subject[Days]"``.

    Without ``term``, the sd of a random intercept (the posterior variable
    ``sd_<factor>``); with it, the sd of one term of a factor with slopes
    (the entry ``sd_<factor>[<term>]`` of the posterior variable ``sd_<factor>``).
    """
    return f"sd_{factor_name}" if term is None else f"sd_{factor_name}[{term}]"


def factor_sd_terms(factor: GroupingFactor) -> list[str]:
    """Prior names of a factor's sds: ``["sd_g"]``, or one per term with slopes."""
    if factor.intercept_only:
        return [sd_term(factor.name)]
    return [sd_term(factor.name, term) for term in factor.terms]


def corr_term(factor_name: str) -> str:
    """Prior name of the correlation matrix of a factor's correlated terms (``"corr_Subject"``)."""
    return corr_name(factor_name)


def intercept_index(spec: ModelSpec) -> int | None:
    """Position of an all-ones ``Intercept`` column in ``spec.X``, or None.

    Without rows (a Dask DataFrame), the spec's ``Intercept`` column, which
    is all ones by construction.
    """
    if "Intercept" not in spec.fixed_names:
        return None
    j = spec.fixed_names.index("Intercept")
    return j if not spec.holds_rows or np.all(spec.X[:, j] == 1.0) else None


def default_priors(spec: ModelSpec, moments: DataMoments | None = None) -> dict[str, Prior]:
    """The autoscaled default prior of every term (see the module docstring).

    Parameters
    ----------
    spec : ModelSpec
        The model specification (response and fixed-effects design).
    moments : DataMoments, optional
        The columns' means and sds (:func:`bayeshier.bayes.moments.data_moments`),
        computed from ``spec`` when not given.

    Returns
    -------
    dict
        Term name -> :class:`Prior`, fixed effects first (in design order),
        then ``sigma``, then per grouping factor ``sd_<factor>`` (one
        ``sd_<factor>[<term>]`` per term with random slopes, then
        ``corr_<factor>`` if terms are correlated).

    """
    moments = data_moments(spec) if moments is None else moments
    y_sd = float(moments.y.sd[0])
    y_sd = y_sd if y_sd > 0 else 1.0
    y_mean = float(moments.y.mean[0])
    intercept = intercept_index(spec)
    x_scales = moments.X.scales(centered=intercept is not None)
    y = response_label(spec)
    priors: dict[str, Prior] = {}
    for j, name in enumerate(spec.fixed_names):
        if j == intercept:
            why = (
                f"autoscaled: Normal(mean({y}), {AUTOSCALE} sd({y})), "
                "intercept at the predictors' means"
            )
            priors[name] = normal_prior(name, y_mean, AUTOSCALE * y_sd, why)
            continue
        x_sd = float(x_scales[j])
        why = f"autoscaled: Normal(0, {AUTOSCALE} sd({y}) / sd({name}))"
        priors[name] = normal_prior(name, 0.0, AUTOSCALE * y_sd / x_sd, why)
    priors["sigma"] = exponential_prior(
        "sigma", 1.0 / y_sd, f"autoscaled: Exponential(1 / sd({y}))"
    )
    for factor, columns in zip(spec.factors, moments.random, strict=True):
        priors.update(_factor_priors(factor, random_column_scales(columns), y_sd, y))
    return priors


def response_label(spec: ModelSpec) -> str:
    """What the default priors are scaled by: ``y``, or ``y - offset`` with an offset."""
    return "y" if spec.offset is None else "y - offset"


def _factor_priors(
    factor: GroupingFactor, scales: np.ndarray, y_sd: float, y: str = "y"
) -> dict[str, Prior]:
    """Default priors of one factor's sds (and of its correlation, if any).

    ``scales`` are those of the factor's random-effect columns
    (:func:`random_column_scales`).
    """
    priors: dict[str, Prior] = {}
    for name, column, scale in zip(factor_sd_terms(factor), factor.terms, scales, strict=True):
        if column == "Intercept":
            why = f"autoscaled: Exponential(1 / sd({y})), group-level sd"
        else:
            why = (
                f"autoscaled: Exponential(sd({column}) / sd({y})), group-level sd of the "
                f"{column} effects"
            )
        priors[name] = exponential_prior(name, scale / y_sd, why)
    if has_correlation(factor):
        term = corr_term(factor.name)
        priors[term] = lkj_prior(term, 1.0, "default: LKJ(1), uniform over correlation matrices")
    return priors


def random_column_scales(columns: Moments | None) -> np.ndarray:
    """The scale ``s_x`` of each random-effect column of a factor (1 for the intercept).

    ``columns`` are the moments of the factor's random-effect columns (None
    for a random intercept alone, a column of ones). The column's sd, or its
    root mean square when it is constant (so 1 for the intercept), as for
    the fixed effects.
    """
    return np.ones(1) if columns is None else columns.scales(centered=True)


def resolve_priors(
    spec: ModelSpec,
    overrides: Mapping[str, PriorInput] | None,
    moments: DataMoments | None = None,
) -> dict[str, Prior]:
    """Defaults for ``spec`` with the user's ``overrides`` applied and checked.

    Parameters
    ----------
    spec : ModelSpec
        The model specification.
    overrides : mapping of str to str or TensorVariable, optional
        Term name -> prior. Keys are the names :func:`default_priors` uses
        (``"sd_Subject[Days]"``, ``"corr_Subject"``: ``"lkj(2)"``).
    moments : DataMoments, optional
        The columns' means and sds, computed from ``spec`` when not given.

    Returns
    -------
    dict of str to Prior

    Raises
    ------
    ModelError
        A key that is not a term of the model (with close matches), or a bad prior.

    """
    priors = default_priors(spec, moments)
    if overrides is None:
        return priors
    if not isinstance(overrides, Mapping):
        raise ModelError(
            "priors must be a dict mapping term names to priors, e.g. "
            "{'displ': 'normal(0, 5)', 'sd_class': 'halfnormal(5)'}."
        )
    correlations = {corr_term(f.name) for f in spec.factors}
    for term, prior in overrides.items():
        if term not in priors:
            raise ModelError(_unknown_term_message(spec, str(term), priors))
        if term in spec.fixed_names:
            support = "real"
        else:
            support = "correlation" if term in correlations else "positive"
        priors[term] = parse_prior(term, prior, support=support)
    return priors


def _unknown_term_message(spec: ModelSpec, term: str, priors: Mapping[str, Prior]) -> str:
    """Why ``term`` has no prior to set, and which names the model has."""
    for factor in spec.factors:
        if factor.intercept_only:
            continue
        terms = ", ".join(map(repr, factor_sd_terms(factor)))
        if term == sd_term(factor.name):
            return (
                f"The grouping factor {factor.name!r} has random slopes: set the sd of each "
                f"term, {terms}."
            )
        if term == corr_term(factor.name):
            return (
                f"The grouping factor {factor.name!r} has no correlated terms (as in "
                f"'(x||g)' or '(0 + x|g)'), so there is no correlation {term!r} to set a "
                f"prior for; its sds are {terms}."
            )
    return (
        f"There is no term {term!r} to set a prior for.{close_matches_hint(term, priors)} "
        f"The model's terms are: {', '.join(priors)}."
    )


def prior_table(priors: Mapping[str, Prior]) -> pd.DataFrame:
    """The priors as a DataFrame with columns term, distribution, parameters, why."""
    rows = [(p.term, p.distribution, p.parameters, p.why) for p in priors.values()]
    return pd.DataFrame(rows, columns=["term", "distribution", "parameters", "why"])
