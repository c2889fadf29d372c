"""Priors as objects: what a :class:`Prior` is, and how the user's input becomes one.

A user's prior is a short string (``"normal(0, 10)"``, ``"halfnormal(5)"``,
``"studentt(3, 0, 2.5)"``, ``"lkj(2)"`` for a correlation matrix) or a PyMC
distribution made with ``.dist()``. :func:`parse_prior` reads it, checks its
parameters and that its support fits the term (the whole real line for a fixed
effect, the positive half-line for a standard deviation, a correlation matrix
for ``corr_<factor>``) and describes it for the priors table. The defaults and
their resolution against the model's terms are :mod:`bayeshier.bayes.priors`.

Examples
--------
>>> from bayeshier.bayes.prior_parse import parse_prior
>>> parse_prior("displ", "normal(0, 10)").parameters
'mu=0, sigma=10'

"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from bayeshier.errors import ModelError, close_matches_hint

__all__ = [
    "DISTRIBUTIONS",
    "Prior",
    "PriorInput",
    "exponential_prior",
    "format_parameters",
    "lkj_prior",
    "normal_prior",
    "parse_prior",
    "round_parameter",
]

#: What a user may pass as a prior: a string such as ``"normal(0, 10)"`` or a ``.dist()``.
PriorInput = str | TensorVariable


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
        return lkj_prior(term, params["eta"], "set by the user")
    dist_name = family.dist.__name__
    return Prior(
        term=term,
        distribution=dist_name,
        parameters=format_parameters(params),
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


# ------------------------------------------------------- prior constructors
def format_parameters(params: Mapping[str, float]) -> str:
    """Parameter values as the priors table shows them: ``"mu=0, sigma=10"``."""
    return ", ".join(f"{key}={value:g}" for key, value in params.items())


def normal_prior(term: str, mu: float, sigma: float, why: str) -> Prior:
    """``Normal(mu, sigma)`` for ``term``, its parameters rounded (:func:`round_parameter`)."""
    params = {"mu": round_parameter(mu), "sigma": round_parameter(sigma)}
    return Prior(term, "Normal", format_parameters(params), why, lambda: pm.Normal.dist(**params))


def exponential_prior(term: str, rate: float, why: str) -> Prior:
    """``Exponential(lam=rate)`` for ``term``, its rate rounded (:func:`round_parameter`)."""
    params = {"lam": round_parameter(rate)}
    return Prior(
        term, "Exponential", format_parameters(params), why, lambda: pm.Exponential.dist(**params)
    )


def lkj_prior(term: str, eta: float, why: str) -> Prior:
    """``LKJCorr(eta)`` for a correlation matrix; its ``make`` takes the matrix size ``n``."""
    eta = round_parameter(eta)

    def make(n: int) -> TensorVariable:
        return pm.LKJCorr.dist(n=n, eta=eta)

    return Prior(term, "LKJCorr", format_parameters({"eta": eta}), why, make)


def round_parameter(value: float) -> float:
    """Four significant digits: what the table shows is what the model uses."""
    return float(f"{value:.4g}")
