"""Priors of the Bayesian mixed model: data-scaled defaults and user overrides.

Default priors are weakly informative and scaled to the data, in the spirit of
rstanarm's autoscaling (Gabry & Goodrich, "Prior distributions for rstanarm
models"). With ``s_y`` the standard deviation of the response, ``ybar`` its
mean and ``s_j`` the standard deviation of fixed-effect column ``j``:

==========================  =====================================  ==========================
term                        default prior                          note
==========================  =====================================  ==========================
``Intercept``               ``Normal(ybar, 2.5 s_y)``              on the intercept with the
                                                                   other predictors at their
                                                                   means (rstanarm's
                                                                   convention)
other fixed effect ``j``    ``Normal(0, 2.5 s_y / s_j)``           ``s_j`` replaced by the
                                                                   column's root mean square
                                                                   when it is constant
``sigma`` (residual sd)     ``Exponential(rate = 1 / s_y)``        prior mean ``s_y``
``sd_<factor>``             ``Exponential(rate = 1 / s_y)``        the group-level sd; its
                                                                   density is positive at 0,
                                                                   so singular fits are
                                                                   allowed
``sd_<factor>[<term>]``     ``Exponential(rate = s_x / s_y)``      a factor with random
                                                                   slopes: one sd per term,
                                                                   ``s_x`` the sd of the
                                                                   term's column (1 for the
                                                                   intercept), so the prior
                                                                   mean of a slope's sd is
                                                                   ``s_y / s_x``
``corr_<factor>``           ``LKJCorr(eta = 1)``                   correlated terms
                                                                   (``(x|g)``): uniform over
                                                                   correlation matrices; one
                                                                   per covariance block
==========================  =====================================  ==========================

Any of these can be replaced per term, by a PyMC distribution made with
``.dist()`` (``pm.StudentT.dist(nu=3, mu=0, sigma=5)``) or by a short string
(``"normal(0, 10)"``, ``"halfnormal(5)"``, ``"studentt(3, 0, 2.5)"``,
``"exponential(0.1)"``). Fixed effects need a prior on the whole real line;
standard deviations need one on the positive half-line; a correlation
matrix takes ``"lkj(eta)"`` (``"lkj(2)"``: ``eta > 1`` favors weaker
correlations). ``(x||g)`` has no correlation, so no ``corr_<factor>``.

Examples
--------
>>> from bayeshier.bayes.priors import parse_prior
>>> parse_prior("displ", "normal(0, 10)").parameters
'mu=0, sigma=10'

"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from bayeshier.bayes.moments import DataMoments, Moments, data_moments
from bayeshier.bayes.names import corr_name, has_correlation
from bayeshier.errors import ModelError, close_matches_hint
from bayeshier.spec.model_spec import GroupingFactor, ModelSpec

__all__ = [
    "DISTRIBUTIONS",
    "Prior",
    "corr_term",
    "default_priors",
    "factor_sd_terms",
    "intercept_index",
    "parse_prior",
    "prior_table",
    "random_column_scales",
    "resolve_priors",
    "sd_term",
]

#: Prior scale multiplier of rstanarm's autoscaled defaults.
AUTOSCALE = 2.5

PriorInput = str | TensorVariable


@dataclass(frozen=True)
class _Family:
    """A distribution family a prior string may name."""

    dist: type[pm.Distribution]
    params: tuple[str, ...]
    positive: tuple[str, ...]
    support: str  # "real", "positive" or "correlation"


#: Distribution names accepted in prior strings (lower case, no underscores).
DISTRIBUTIONS: dict[str, _Family] = {
    "normal": _Family(pm.Normal, ("mu", "sigma"), ("sigma",), "real"),
    "studentt": _Family(pm.StudentT, ("nu", "mu", "sigma"), ("nu", "sigma"), "real"),
    "cauchy": _Family(pm.Cauchy, ("alpha", "beta"), ("beta",), "real"),
    "laplace": _Family(pm.Laplace, ("mu", "b"), ("b",), "real"),
    "logistic": _Family(pm.Logistic, ("mu", "s"), ("s",), "real"),
    "halfnormal": _Family(pm.HalfNormal, ("sigma",), ("sigma",), "positive"),
    "halfcauchy": _Family(pm.HalfCauchy, ("beta",), ("beta",), "positive"),
    "halfstudentt": _Family(pm.HalfStudentT, ("nu", "sigma"), ("nu", "sigma"), "positive"),
    "exponential": _Family(pm.Exponential, ("lam",), ("lam",), "positive"),
    "gamma": _Family(pm.Gamma, ("alpha", "beta"), ("alpha", "beta"), "positive"),
    "inversegamma": _Family(pm.InverseGamma, ("alpha", "beta"), ("alpha", "beta"), "positive"),
    "lognormal": _Family(pm.LogNormal, ("mu", "sigma"), ("sigma",), "positive"),
    "weibull": _Family(pm.Weibull, ("alpha", "beta"), ("alpha", "beta"), "positive"),
    "lkj": _Family(pm.LKJCorr, ("eta",), ("eta",), "correlation"),
    "lkjcorr": _Family(pm.LKJCorr, ("eta",), ("eta",), "correlation"),
}

_SPEC_PATTERN = re.compile(r"^\s*([A-Za-z_][A-Za-z_0-9]*)\s*\((.*)\)\s*$")


@dataclass(frozen=True)
class Prior:
    """The prior of one term.

    Attributes
    ----------
    term : str
        ``"Intercept"``, a fixed-effect name, ``"sigma"``, ``"sd_<factor>"``,
        ``"sd_<factor>[<term>]"`` or ``"corr_<factor>"``.
    distribution : str
        Family name, e.g. ``"Normal"``.
    parameters : str
        Parameter values as text, e.g. ``"mu=0, sigma=10"``.
    why : str
        Where the prior comes from (the autoscaling rule, or the user).
    make : callable
        Returns a fresh, unnamed PyMC distribution variable (``.dist()``);
        for a correlation prior it takes the matrix size ``n``.

    """

    term: str
    distribution: str
    parameters: str
    why: str
    make: Callable[..., TensorVariable]


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

    Without rows (a Dask DataFrame), formulaic's ``Intercept`` column, which
    is all ones by construction.
    """
    if "Intercept" not in spec.fixed_names:
        return None
    j = spec.fixed_names.index("Intercept")
    return j if not spec.holds_rows or np.all(spec.X[:, j] == 1.0) else None


def parse_prior(term: str, prior: PriorInput, *, support: str = "real") -> Prior:
    """Turn a user's prior (string or PyMC ``.dist()``) into a checked :class:`Prior`.

    Parameters
    ----------
    term : str
        The term the prior is for (used in error messages).
    prior : str or TensorVariable
        ``"normal(0, 10)"``, ``"halfnormal(sigma=5)"`` or ``pm.Normal.dist(0, 10)``.
    support : {"real", "positive", "correlation"}
        The support the term needs (``"correlation"``: a correlation matrix,
        which takes ``"lkj(eta)"`` only).

    Returns
    -------
    Prior

    Raises
    ------
    ModelError
        Unknown distribution, wrong number of parameters, an impossible value
        (e.g. a negative scale) or the wrong support; the message names the term.

    """
    if isinstance(prior, str):
        return _parse_prior_string(term, prior, support)
    if support == "correlation":
        raise ModelError(
            f"The prior for {term!r} (a correlation matrix) must be a string 'lkj(eta)', "
            f"e.g. 'lkj(2)'; got {type(prior).__name__}."
        )
    if isinstance(prior, TensorVariable) and prior.owner is not None:
        return _wrap_pymc_prior(term, prior, support)
    raise ModelError(
        f"The prior for {term!r} must be a string such as 'normal(0, 10)' or a PyMC "
        f"distribution made with .dist(), e.g. pm.Normal.dist(0, 10); got {type(prior).__name__}."
    )


def _parse_prior_string(term: str, text: str, support: str) -> Prior:
    match = _SPEC_PATTERN.match(text)
    if match is None:
        raise ModelError(
            f"Cannot read the prior {text!r} for {term!r}: write it as 'name(parameters)', "
            "e.g. 'normal(0, 10)' or 'halfnormal(5)'."
        )
    name = match.group(1).lower().replace("_", "")
    if name not in DISTRIBUTIONS:
        raise ModelError(
            f"Unknown prior distribution {match.group(1)!r} for {term!r}."
            f"{close_matches_hint(name, DISTRIBUTIONS)} Known: {', '.join(DISTRIBUTIONS)}."
        )
    family = DISTRIBUTIONS[name]
    values = _parse_arguments(term, text, match.group(2), family)
    _check_values(term, text, family, values)
    _check_support(term, text, family.support, support)
    params = dict(values)
    if family.support == "correlation":
        return _lkj(term, params["eta"], "set by the user")
    dist_name = family.dist.__name__
    return Prior(
        term=term,
        distribution=dist_name,
        parameters=_format_params(params),
        why="set by the user",
        make=lambda: family.dist.dist(**params),
    )


def _parse_arguments(term: str, text: str, body: str, family: _Family) -> dict[str, float]:
    pieces = [piece.strip() for piece in body.split(",")] if body.strip() else []
    values: dict[str, float] = {}
    for position, piece in enumerate(pieces):
        key, _, raw = piece.rpartition("=")
        key = key.strip() or (family.params[position] if position < len(family.params) else "")
        if key not in family.params:
            raise ModelError(
                f"The prior {text!r} for {term!r} has an unexpected parameter {piece!r}: "
                f"{family.dist.__name__} takes ({', '.join(family.params)})."
            )
        try:
            values[key] = float(raw)
        except ValueError:
            raise ModelError(
                f"The prior {text!r} for {term!r}: parameter {key!r} must be a number, got {raw!r}."
            ) from None
    missing = [p for p in family.params if p not in values]
    if missing:
        raise ModelError(
            f"The prior {text!r} for {term!r} is missing {', '.join(map(repr, missing))}: "
            f"{family.dist.__name__} takes ({', '.join(family.params)})."
        )
    return values


def _check_values(term: str, text: str, family: _Family, values: dict[str, float]) -> None:
    for key, value in values.items():
        if not math.isfinite(value):
            raise ModelError(f"The prior {text!r} for {term!r} has a non-finite {key}={value}.")
        if key in family.positive and value <= 0:
            raise ModelError(
                f"The prior {text!r} for {term!r} is impossible: {key} must be positive, "
                f"got {value:g}."
            )


def _check_support(term: str, text: str, has: str, needs: str) -> None:
    if has == needs:
        return
    if needs == "correlation":
        raise ModelError(
            f"The prior {text!r} for {term!r} is not a prior for a correlation matrix: use "
            "'lkj(eta)', e.g. 'lkj(1)' (uniform over correlations) or 'lkj(2)' (favors "
            "weaker correlations)."
        )
    if has == "correlation":
        raise ModelError(
            f"The prior {text!r} for {term!r} is a prior for a correlation matrix "
            "(corr_<factor>), not for a single parameter: use e.g. 'normal(0, 10)' for a "
            "fixed effect or 'halfnormal(5)' for a standard deviation."
        )
    if needs == "real":
        raise ModelError(
            f"The prior {text!r} for {term!r} only allows positive values, but a fixed "
            "effect can take any real value: use e.g. 'normal(0, 10)' or 'studentt(3, 0, 5)'."
        )
    raise ModelError(
        f"The prior {text!r} for {term!r} allows negative values, but a standard deviation "
        "is positive: use e.g. 'halfnormal(5)', 'exponential(0.2)' or 'halfstudentt(3, 5)'."
    )


def _wrap_pymc_prior(term: str, dist: TensorVariable, support: str) -> Prior:
    """Check a user's ``pm.X.dist(...)`` and describe it."""
    op = dist.owner.op
    name = getattr(op, "name", None) or type(op).__name__
    if dist.ndim != 0:
        raise ModelError(
            f"The prior for {term!r} must be a scalar distribution, got shape ndim={dist.ndim}."
        )
    _check_pymc_logp(term, name, dist, support)
    params = _pymc_params(dist)
    return Prior(
        term=term,
        distribution=str(name).replace("_rv", "").replace("RV", ""),
        parameters=params,
        why="set by the user (PyMC distribution)",
        make=lambda: dist.owner.clone().default_output(),
    )


def _check_pymc_logp(term: str, name: str, dist: TensorVariable, support: str) -> None:
    value = pt.dscalar("value")
    try:
        logp_fn = pm.compile([value], pm.logp(dist, value))
        at_one, at_minus_one = float(logp_fn(1.0)), float(logp_fn(-1.0))
        at_small = float(logp_fn(1e-3))
    except Exception as error:  # ParameterValueError, NotImplementedError, ...
        raise ModelError(
            f"The PyMC prior {name!r} for {term!r} cannot be evaluated ({error}); "
            "check its parameters (scales must be positive)."
        ) from None
    if not np.isfinite([at_one, at_minus_one, at_small]).any():
        raise ModelError(
            f"The PyMC prior {name!r} for {term!r} is impossible: its density is zero "
            "everywhere; check its parameters (scales must be positive)."
        )
    if support == "real" and not (np.isfinite(at_one) and np.isfinite(at_minus_one)):
        raise ModelError(
            f"The PyMC prior {name!r} for {term!r} does not cover the whole real line, "
            "but a fixed effect can take any real value: use e.g. pm.Normal.dist(0, 10)."
        )
    if support == "positive" and (np.isfinite(at_minus_one) or not np.isfinite(at_small)):
        raise ModelError(
            f"The PyMC prior {name!r} for {term!r} must live on the positive half-line, "
            "as a standard deviation does: use e.g. pm.HalfNormal.dist(5)."
        )


def _pymc_params(dist: TensorVariable) -> str:
    try:
        params = dist.owner.op.dist_params(dist.owner)
        return ", ".join(f"{np.asarray(p.eval()).item():g}" for p in params)
    except Exception:  # a symbolic or custom distribution: no simple parameters
        return "(custom)"


def _format_params(params: Mapping[str, float]) -> str:
    return ", ".join(f"{key}={value:g}" for key, value in params.items())


def _normal(term: str, mu: float, sigma: float, why: str) -> Prior:
    params = {"mu": _round(mu), "sigma": _round(sigma)}
    return Prior(term, "Normal", _format_params(params), why, lambda: pm.Normal.dist(**params))


def _exponential(term: str, rate: float, why: str) -> Prior:
    params = {"lam": _round(rate)}
    return Prior(
        term, "Exponential", _format_params(params), why, lambda: pm.Exponential.dist(**params)
    )


def _lkj(term: str, eta: float, why: str) -> Prior:
    eta = _round(eta)

    def make(n: int) -> TensorVariable:
        return pm.LKJCorr.dist(n=n, eta=eta)

    return Prior(term, "LKJCorr", _format_params({"eta": eta}), why, make)


def _round(value: float) -> float:
    """Four significant digits: what the table shows is what the model uses."""
    return float(f"{value:.4g}")


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
    priors: dict[str, Prior] = {}
    for j, name in enumerate(spec.fixed_names):
        if j == intercept:
            why = (
                f"autoscaled: Normal(mean(y), {AUTOSCALE} sd(y)), "
                "intercept at the predictors' means"
            )
            priors[name] = _normal(name, y_mean, AUTOSCALE * y_sd, why)
            continue
        x_sd = float(x_scales[j])
        why = f"autoscaled: Normal(0, {AUTOSCALE} sd(y) / sd({name}))"
        priors[name] = _normal(name, 0.0, AUTOSCALE * y_sd / x_sd, why)
    priors["sigma"] = _exponential("sigma", 1.0 / y_sd, "autoscaled: Exponential(1 / sd(y))")
    for factor, columns in zip(spec.factors, moments.random, strict=True):
        priors.update(_factor_priors(factor, random_column_scales(columns), y_sd))
    return priors


def _factor_priors(factor: GroupingFactor, scales: np.ndarray, y_sd: float) -> dict[str, Prior]:
    """Default priors of one factor's sds (and of its correlation, if any).

    ``scales`` are those of the factor's random-effect columns
    (:func:`random_column_scales`).
    """
    priors: dict[str, Prior] = {}
    for name, column, scale in zip(factor_sd_terms(factor), factor.terms, scales, strict=True):
        if column == "Intercept":
            why = "autoscaled: Exponential(1 / sd(y)), group-level sd"
        else:
            why = (
                f"autoscaled: Exponential(sd({column}) / sd(y)), group-level sd of the "
                f"{column} effects"
            )
        priors[name] = _exponential(name, scale / y_sd, why)
    if has_correlation(factor):
        term = corr_term(factor.name)
        priors[term] = _lkj(term, 1.0, "default: LKJ(1), uniform over correlation matrices")
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
