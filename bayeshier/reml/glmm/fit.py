"""Fit a generalized linear mixed model: read the response, then search (theta, beta)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from bayeshier.errors import ConvergenceWarning
from bayeshier.reml._blas import blas_threads_for
from bayeshier.reml.covariance import ThetaLayout, theta_layout
from bayeshier.reml.factor import conditional_blocks
from bayeshier.reml.glmm.agq import check_agq
from bayeshier.reml.glmm.families import Family, make_family
from bayeshier.reml.glmm.objective import glm_start
from bayeshier.reml.glmm.pirls import Problem
from bayeshier.reml.glmm.response import GlmmData, glmm_data
from bayeshier.reml.glmm.results import GlmmFit
from bayeshier.reml.glmm.search import SearchResult, search_then_quadrature

__all__ = ["fit_glmm"]


def fit_glmm(
    formula: str,
    data: pd.DataFrame,
    family: str | Family = "binomial",
    *,
    link: str | None = None,
    nagq: int = 1,
    weights: str | np.ndarray | pd.Series | None = None,
    offset: str | np.ndarray | pd.Series | None = None,
) -> GlmmFit:
    """Fit a generalized linear mixed model by maximum likelihood, as lme4's ``glmer``.

    Parameters
    ----------
    formula : str
        lme4 syntax. The left side is a column or ``cbind(successes,
        failures)`` (binomial). A binomial response column may hold 0/1,
        booleans, a two-level factor (the second level, in R's order, is the
        success) or proportions with ``weights=`` trials. The right side
        takes what :func:`bayeshier.fit_reml` takes, plus ``offset(column)``
        and ``offset(log(column))`` terms.
    data : pandas.DataFrame
        The data (also a dict of columns, or any frame with ``to_pandas()``
        or the dataframe interchange protocol, as :func:`bayeshier.fit_reml`);
        rows with a missing value in a used column are dropped.
    family : {"binomial", "poisson"} or Family
        The response distribution.
    link : str, optional
        ``"logit"`` (default), ``"probit"`` or ``"cloglog"`` for the
        binomial; ``"log"`` for the Poisson.
    nagq : int, default 1
        Quadrature points per level: 1 is the Laplace approximation; more
        (up to 25) is adaptive Gauss-Hermite quadrature, for a single
        grouping factor with one random-effect column (as glmer).
    weights : str or array-like, optional
        Prior weights (a column name or one value per row): for the binomial
        with a proportion response, the numbers of trials.
    offset : str or array-like, optional
        An offset on the linear-predictor scale (a column name or one value
        per row), added to any ``offset(...)`` terms, e.g. ``np.log(exposure)``.

    Returns
    -------
    GlmmFit

    Raises
    ------
    FormulaError, DataError, ModelError
        Naming the term, rows or value at fault.

    Notes
    -----
    For given ``theta`` and ``beta``, PIRLS finds the conditional modes of the
    spherical random effects in the blocked layout of the REML solver
    (largest factor block diagonal, the others dense). The Laplace deviance
    is minimized over ``(theta, beta)`` jointly (glmer's second stage) by
    BFGS with its exact gradient, started from the Hessian at glmer's
    start (theta = 1, beta of the GLM without random effects), then
    polished by Newton steps; AGQ starts from the Laplace optimum.

    Examples
    --------
    >>> import pandas as pd
    >>> from bayeshier import fit_glmm
    >>> data = pd.DataFrame({"s": [2, 3, 4, 0, 3, 1, 1, 2, 8, 2, 0, 2],
    ...                      "f": [12, 9, 5, 5, 19, 17, 15, 20, 26, 14, 4, 14],
    ...                      "g": list("aaabbbcccddd")})
    >>> fit = fit_glmm("cbind(s, f) ~ 1 + (1|g)", data, "binomial")
    >>> round(float(fit.fixef["Intercept"]), 3)
    -1.743

    """
    chosen = make_family(family, link)
    prepared = glmm_data(formula, data, chosen, weights=weights, offset=offset)
    spec = prepared.spec
    check_agq(spec, nagq)
    problem = _problem(prepared, chosen)
    layout = theta_layout(spec.factors)
    with blas_threads_for(problem.dense_order):
        found = search_then_quadrature(problem, layout, nagq, layout.start(), glm_start(problem))
    if not found.summary.converged:
        warnings.warn(
            f"The optimizer stopped with a gradient that is not small after "
            f"{found.summary.evaluations} evaluations ({found.summary.message}); "
            f"theta = {np.round(found.theta, 6).tolist()}. Check the scaling of the predictors "
            "and for complete separation.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return _result(formula, prepared, problem, layout, found, nagq)


def _problem(prepared: GlmmData, family: Family) -> Problem:
    return Problem.of(prepared.spec, family, prepared.y, prepared.n, prepared.offset)


def _fixed_covariance(hessian: np.ndarray, n_theta: int) -> np.ndarray:
    """Glmer's ``vcov``: ``2 [H^-1]_beta,beta``, else ``2 H_beta,beta^-1`` (theta held fixed)."""
    if np.all(np.isfinite(hessian)):
        try:
            full = 2.0 * np.linalg.inv(hessian)[n_theta:, n_theta:]
            if np.all(np.linalg.eigvalsh(full) > 0):
                return 0.5 * (full + full.T)
        except np.linalg.LinAlgError:
            pass
    block = hessian[n_theta:, n_theta:]
    return 2.0 * np.linalg.inv(0.5 * (block + block.T))


def _result(
    formula: str,
    prepared: GlmmData,
    problem: Problem,
    layout: ThetaLayout,
    found: SearchResult,
    nagq: int,
) -> GlmmFit:
    spec = prepared.spec
    mode = found.evaluation.mode
    relative = layout.relative_factors(found.theta)
    names = list(spec.fixed_names)
    vcov = _fixed_covariance(found.hessian, layout.n_theta)
    ranef, condvar, condcov = {}, {}, {}
    blocks = conditional_blocks(mode.cp, mode.factor)
    for grouping, T, u, inverse in zip(spec.factors, relative, mode.modes, blocks, strict=True):
        index = pd.Index(grouping.levels, name=grouping.name)
        terms = list(grouping.terms)
        ranef[grouping.name] = pd.DataFrame(u.reshape(-1, T.shape[0]) @ T.T, index, terms)
        covariances = T @ inverse @ T.T
        condvar[grouping.name] = pd.DataFrame(
            np.diagonal(covariances, axis1=1, axis2=2), index, terms
        )
        condcov[grouping.name] = covariances
    mu = mode.terms.mu
    family = problem.family
    return GlmmFit(
        spec=spec,
        family=family,
        nagq=nagq,
        response=prepared.response,
        formula=formula,
        fixef=pd.Series(found.beta, index=names, name="Estimate"),
        se=pd.Series(np.sqrt(np.diag(vcov)), index=names, name="Std. Error"),
        vcov=pd.DataFrame(vcov, index=names, columns=names),
        theta=found.theta,
        ranef=ranef,
        condvar=condvar,
        condcov=condcov,
        deviance=float(found.evaluation.value),
        conditional_deviance=float(np.sum(family.deviance_residuals(mu, problem.y, problem.n))),
        optimization=found.summary,
        fitted=mu,
        linear_predictor=mode.eta,
        y=problem.y,
        weights=problem.n,
        offset=problem.offset,
        layout=layout,
    )
