"""Likelihood-ratio tests between nested mixed models (lme4's ``anova.merMod``)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from bayeshier.errors import ModelError
from bayeshier.reml.fit import fit_spec

__all__ = ["MLRefitWarning", "anova"]

#: lme4's message when REML fits are refitted.
REFIT_NOTE = "refitting model(s) with ML (instead of REML)"
COLUMNS = ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "p"]


class MLRefitWarning(UserWarning):
    """REML fits were refitted by maximum likelihood before comparing them."""


def anova(*fits, model_names: Sequence[str] | None = None, refit: bool = True) -> pd.DataFrame:
    """Compare mixed models fitted to the same rows by likelihood-ratio tests.

    The models are ordered by their number of parameters and each is
    tested against the one before it: ``Chisq = 2 (logLik_i - logLik_{i-1})``
    (0 if negative) on ``Df = npar_i - npar_{i-1}`` degrees of freedom,
    ``p`` its upper chi-square tail (NaN when ``Df`` is 0). The chi-square
    reference distribution is approximate, and conservative when the
    larger model adds a variance that may be 0 (a parameter on its bound).

    Parameters
    ----------
    *fits : RemlFit or GlmmFit
        Two or more fits of the same response on the same rows, with the
        same family, usually nested (the test is only valid for nested
        models). GLMM fits (:func:`bayeshier.fit_glmm`) are maximum
        likelihood fits already (Laplace or adaptive Gauss-Hermite).
    model_names : sequence of str, optional
        Row labels, one per fit in the order given; default ``model1``,
        ``model2``, ...
    refit : bool, default True
        Refit REML fits by maximum likelihood first (REML likelihoods of
        models with different fixed effects are not comparable), with an
        :class:`MLRefitWarning`, as lme4 says "refitting model(s) with ML
        (instead of REML)". ``False`` compares the criteria as fitted.

    Returns
    -------
    pandas.DataFrame
        lme4's table: ``npar``, ``AIC``, ``BIC``, ``logLik``, ``deviance``,
        ``Chisq``, ``Df``, ``p``, one row per model. ``attrs`` holds the
        models' formulas (``formulas``) and the refit note (``note``).

    Raises
    ------
    ModelError
        Fewer than two fits, or fits on different rows, responses or
        families (the message names both models).

    Examples
    --------
    >>> from bayeshier import anova, datasets, fit_reml
    >>> data = datasets.load("sleepstudy")
    >>> fit0 = fit_reml("Reaction ~ Days + (1|Subject)", data)
    >>> fit1 = fit_reml("Reaction ~ Days + (Days|Subject)", data)
    >>> table = anova(fit0, fit1, refit=False)
    >>> int(table["Df"].iloc[1])
    2

    """
    names = _model_names(fits, model_names)
    _check_same_rows(fits, names)
    note = None
    if refit and any(getattr(fit, "reml", False) for fit in fits):
        note = REFIT_NOTE
        warnings.warn(REFIT_NOTE, MLRefitWarning, stacklevel=2)
        fits = tuple(_refit_ml(fit) for fit in fits)
    elif any(getattr(fit, "reml", False) for fit in fits) and not all(
        getattr(fit, "reml", False) for fit in fits
    ):
        warnings.warn("some models fit with REML = True, some not", UserWarning, stacklevel=2)
    table = _table(fits, names)
    table.attrs = {
        "formulas": {name: _formula(fit) for name, fit in zip(names, fits, strict=True)},
        "note": note,
    }
    return table


def _table(fits: Sequence, names: list[str]) -> pd.DataFrame:
    npar = np.array([fit.df for fit in fits], dtype=float)
    order = np.argsort(npar, kind="stable")
    loglik = np.array([fit.loglik for fit in fits], dtype=float)[order]
    npar = npar[order]
    chisq = np.concatenate([[np.nan], 2.0 * np.maximum(0.0, np.diff(loglik))])
    df = np.concatenate([[np.nan], np.diff(npar)])
    with np.errstate(invalid="ignore"):
        p = np.where(df == 0, np.nan, stats.chi2.sf(chisq, np.where(df == 0, 1.0, df)))
    table = pd.DataFrame(
        {
            "npar": npar.astype(int),
            "AIC": [fits[i].aic for i in order],
            "BIC": [fits[i].bic for i in order],
            "logLik": loglik,
            "deviance": -2.0 * loglik,
            "Chisq": chisq,
            "Df": df,
            "p": p,
        },
        index=pd.Index([names[i] for i in order], name="model"),
    )
    return table[COLUMNS]


def _model_names(fits: Sequence, model_names: Sequence[str] | None) -> list[str]:
    if len(fits) < 2:
        raise ModelError(
            f"anova compares two or more fits, got {len(fits)}: pass e.g. "
            "anova(fit_without_term, fit_with_term)."
        )
    for position, fit in enumerate(fits, start=1):
        if not all(hasattr(fit, attribute) for attribute in ("loglik", "df", "nobs", "spec")):
            raise ModelError(
                f"Argument {position} of anova is a {type(fit).__name__}, not a fitted model "
                "(e.g. from bayeshier.fit_reml)."
            )
    if model_names is None:
        return [f"model{i}" for i in range(1, len(fits) + 1)]
    names = [str(name) for name in model_names]
    if len(names) != len(fits) or len(set(names)) != len(names):
        raise ModelError(
            f"model_names must hold {len(fits)} distinct names, one per fit; got {names!r}."
        )
    return names


def _check_same_rows(fits: Sequence, names: list[str]) -> None:
    """Every fit must use the rows and the response of the first (as lme4 checks ``nobs``)."""
    first = fits[0]
    for name, fit in zip(names[1:], fits[1:], strict=True):
        reason = _row_difference(first, fit)
        if reason:
            raise ModelError(
                f"{names[0]} ({_formula(first)}) and {name} ({_formula(fit)}) were not fitted "
                f"to the same rows: {reason}. A likelihood-ratio test needs the same data: fit "
                "both models to the same DataFrame, with the rows missing in either dropped first."
            )


def _row_difference(a, b) -> str | None:
    if _family(a) != _family(b):
        return f"the response distributions differ ({_family(a)} against {_family(b)})"
    if a.nobs != b.nobs:
        return f"{a.nobs} rows against {b.nobs}"
    rows_a, rows_b = a.spec.row_index, b.spec.row_index
    if rows_a is not None and rows_b is not None and not rows_a.equals(rows_b):
        return "the same number of rows, but different ones (their index labels differ)"
    if a.spec.y is not None and b.spec.y is not None and not np.array_equal(a.spec.y, b.spec.y):
        return f"the responses differ ({a.spec.response!r} against {b.spec.response!r})"
    return None


def _family(fit) -> str:
    """``gaussian`` for a linear mixed model, else the GLMM's family and link."""
    family = getattr(fit, "family", None)
    return "gaussian" if family is None else f"{family.name} ({family.link})"


def _refit_ml(fit):
    return fit_spec(fit.spec, reml=False) if getattr(fit, "reml", False) else fit


def _formula(fit) -> str:
    return fit.spec.formula.text
