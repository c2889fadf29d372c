"""The embedded REML/ML solver for linear mixed models (numpy/scipy, no R).

The pipeline is a chain of small pure steps, as in MixedModels.jl::

    spec -> cross_products -> optimize_theta(factorize -> profiled_deviance)
         -> estimates -> RemlFit
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayeshier._blas import blas_threads_for
from bayeshier.reml.crossprod import CrossProducts, cross_products
from bayeshier.reml.estimates import estimates
from bayeshier.reml.factor import factorize, profiled_deviance
from bayeshier.reml.optimize import OptimizationSummary, optimize_theta, starting_theta
from bayeshier.reml.results import RemlFit, UnseenLevelsWarning
from bayeshier.spec import ModelSpec, build_spec

__all__ = [
    "CrossProducts",
    "OptimizationSummary",
    "RemlFit",
    "UnseenLevelsWarning",
    "fit_reml",
    "fit_spec",
]


def fit_reml(formula: str, data: pd.DataFrame, *, reml: bool = True) -> RemlFit:
    """Fit a linear mixed model by REML (default) or maximum likelihood.

    Parameters
    ----------
    formula : str
        lme4 syntax with random intercepts: ``"y ~ x + (1|g)"``, crossed
        ``(1|a) + (1|b)``, nested ``(1|a/b)`` or ``(1|a:b)``.
    data : pandas.DataFrame
        The data. Rows with a missing value in a used column are dropped
        (lme4's ``na.omit``) and counted in ``n_dropped``.
    reml : bool, default True
        ``False`` maximises the likelihood instead (for comparing fixed
        effects by likelihood ratio).

    Returns
    -------
    RemlFit

    Notes
    -----
    The profiled criterion of Bates et al. (2015) is minimised over
    ``theta >= 0`` by L-BFGS-B. Each evaluation is one blocked Cholesky: the
    largest grouping factor's block is diagonal, so with one factor an
    evaluation costs O(levels * p^2) whatever the number of rows. A theta at
    0 is a singular fit, flagged in ``is_singular``, not an error.

    Examples
    --------
    >>> from bayeshier import datasets, fit_reml
    >>> fit = fit_reml("Reaction ~ Days + (1|Subject)", datasets.load("sleepstudy"))
    >>> round(fit.fixef["Days"], 4)
    10.4673

    """
    return fit_spec(build_spec(formula, data), reml=reml)


def fit_spec(spec: ModelSpec, *, reml: bool = True) -> RemlFit:
    """Fit an already built :class:`~bayeshier.spec.ModelSpec` (see :func:`fit_reml`)."""
    dense_size = sum(f.n_levels for f in spec.factors[1:]) + spec.n_fixed + 1
    with blas_threads_for(dense_size):
        cp = cross_products(spec)
        theta, summary = optimize_theta(cp, len(spec.factors), reml, starting_theta(cp, reml))
        factor = factorize(cp, theta)
        criterion = profiled_deviance(cp, factor, reml)
        est = estimates(cp, factor, reml)
    names = list(spec.fixed_names)
    fitted = spec.X @ est.beta
    ranef, condvar = {}, {}
    for grouping, modes, variances in zip(spec.factors, est.blups, est.condvars, strict=True):
        index = pd.Index(grouping.levels, name=grouping.name)
        ranef[grouping.name] = pd.DataFrame({"Intercept": modes}, index=index)
        condvar[grouping.name] = pd.DataFrame({"Intercept": variances}, index=index)
        fitted = fitted + modes[grouping.codes]
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
        criterion=criterion,
        optimization=summary,
        fitted=fitted,
    )
