"""Fit a linear mixed model: build the spec, then run the REML/ML pipeline on it."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from bayeshier.errors import FamilyWarning, ModelError
from bayeshier.reml._blas import blas_threads_for
from bayeshier.reml.covariance import theta_layout
from bayeshier.reml.crossprod import cross_products
from bayeshier.reml.estimates import estimates
from bayeshier.reml.factor import factorize, profiled_deviance
from bayeshier.reml.glmm.response import looks_like_glmm_response
from bayeshier.reml.optimize import optimize_theta, starting_theta
from bayeshier.reml.results import RemlFit, SingularFitWarning, fitted_values
from bayeshier.reml.saturated import check_residual_variance
from bayeshier.spec.model_spec import ModelSpec, build_spec

__all__ = ["SINGULAR_MESSAGE", "fit_reml", "fit_spec"]


#: What lme4 prints when a fit is singular (``isSingular``).
SINGULAR_MESSAGE = "boundary (singular) fit: see help('isSingular')"


def fit_reml(
    formula: str,
    data: pd.DataFrame | Any,
    *,
    reml: bool = True,
    weights: str | Any | None = None,
    offset: str | Any | None = None,
) -> RemlFit:
    """Fit a linear mixed model by REML (default) or maximum likelihood.

    Parameters
    ----------
    formula : str
        lme4 syntax: random intercepts ``"y ~ x + (1|g)"``, crossed
        ``(1|a) + (1|b)``, nested ``(1|a/b)`` or ``(1|a:b)``; random slopes
        ``(x|g)`` (correlated with the intercept), ``(0 + x|g)`` (slope only)
        and ``(x||g)`` (uncorrelated), several terms and factors at once.
    data : pandas.DataFrame or dask.dataframe.DataFrame
        The data. Rows with a missing value in a used column are dropped
        (lme4's ``na.omit``) and counted in ``n_dropped``. A Dask DataFrame
        is reduced to the same sufficient statistics where its partitions
        live (on the current Dask client or scheduler), and only those sums
        travel; the result equals the pandas one, except that ``fitted``
        and ``residuals`` are lazy Dask Series (see :mod:`bayeshier.spec.dask_rows`).
    reml : bool, default True
        ``False`` maximizes the likelihood instead (for comparing fixed
        effects by likelihood ratio).
    weights : str, array-like or None
        Prior weights, with lme4's meaning: row ``i`` has residual variance
        ``sigma^2 / w_i``. A column name (or an expression of columns such
        as ``"1/v"``), or one positive value per row of ``data``.
    offset : str, array-like or None
        A known part of the linear predictor, added to any ``offset()``
        terms of the formula; given like ``weights``. Fitted values and
        predictions include it.

    Returns
    -------
    RemlFit

    Warns
    -----
    FamilyWarning
        When the response holds only 0 and 1, or few non-negative whole
        numbers with zeros (counts): those call for
        ``bayeshier.fit_glmm(..., family="binomial" | "poisson")``.

    Notes
    -----
    The profiled criterion of Bates et al. (2015) is minimized over theta
    (lme4's layout: the lower triangles of the relative covariance factors,
    diagonal entries >= 0) by L-BFGS-B with an analytic gradient. Each
    evaluation is one blocked Cholesky: the largest grouping factor's block
    is block diagonal (one small ``k x k`` block per level), so with one
    factor an evaluation costs O(levels * (k + p)^2) whatever the number of
    rows. A zero standard deviation or a correlation of +-1 is a singular
    fit, flagged in ``is_singular`` and warned about with lme4's words
    (``boundary (singular) fit``), not an error.

    The formula is data, never code: it is parsed and checked against an
    allowlist before anything is evaluated (see :mod:`bayeshier.spec`).

    Examples
    --------
    >>> from bayeshier import datasets, fit_reml
    >>> fit = fit_reml("Reaction ~ Days + (1|Subject)", datasets.load("sleepstudy"))
    >>> round(fit.fixef["Days"], 4)
    10.4673

    """
    spec = build_spec(formula, data, lazy=True, weights=weights, offset=offset)
    if spec.y is not None and (message := looks_like_glmm_response(spec.y)) is not None:
        warnings.warn(message, FamilyWarning, stacklevel=2)
    fit = fit_spec(spec, reml=reml)
    if fit.is_singular:
        warnings.warn(SINGULAR_MESSAGE, SingularFitWarning, stacklevel=2)
    return fit


def fit_spec(spec: ModelSpec, *, reml: bool = True) -> RemlFit:
    """Fit an already built :class:`~bayeshier.spec.model_spec.ModelSpec` (see :func:`fit_reml`).

    A spec without rows (``build_spec(formula, dask_frame, lazy=True)``) is
    reduced to its sufficient statistics by its row source. Prior weights
    and offsets of the spec are honoured as in lme4.
    """
    if spec.response_kind != "numeric":
        raise ModelError(
            f"The response {spec.response!r} is a binomial response: fit it with "
            "bayeshier.fit_glmm(..., family='binomial'); fit_reml fits a numeric response."
        )
    layout = theta_layout(spec.factors)
    dense_size = sum(f.n_levels * f.n_columns for f in spec.factors[1:]) + spec.n_fixed + 1
    with blas_threads_for(dense_size):
        cp = cross_products(spec)
        check_residual_variance(cp, [factor.name for factor in spec.factors])
        start = starting_theta(cp, layout, reml)
        theta, summary = optimize_theta(cp, layout, reml, start)
        factor = factorize(cp, layout.relative_factors(theta))
        criterion = profiled_deviance(cp, factor, reml) - cp.log_weights
        est = estimates(cp, factor, reml)
    names = list(spec.fixed_names)
    ranef, condvar, condcov = {}, {}, {}
    for grouping, modes, covariances in zip(spec.factors, est.blups, est.condcovs, strict=True):
        index = pd.Index(grouping.levels, name=grouping.name)
        terms = list(grouping.terms)
        ranef[grouping.name] = pd.DataFrame(modes, index=index, columns=terms)
        variances = np.diagonal(covariances, axis1=1, axis2=2)
        condvar[grouping.name] = pd.DataFrame(variances, index=index, columns=terms)
        condcov[grouping.name] = covariances
    if spec.holds_rows:
        fitted = fitted_values(spec, est.beta, est.blups)
    else:
        fitted = spec.source.map_rows(spec, fitted_values, est.beta, est.blups, name="fitted")
    return RemlFit(
        spec=spec,
        reml=reml,
        fixef=pd.Series(est.beta, index=names, name="Estimate"),
        se=pd.Series(np.sqrt(np.diag(est.vcov)), index=names, name="Std. Error"),
        vcov=pd.DataFrame(est.vcov, index=names, columns=names),
        sigma=est.sigma,
        theta=theta,
        ranef=ranef,
        condvar=condvar,
        condcov=condcov,
        criterion=criterion,
        optimization=summary,
        fitted=fitted,
        layout=layout,
    )
