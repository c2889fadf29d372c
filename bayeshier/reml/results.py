"""The result of a REML/ML fit: :class:`RemlFit`."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from bayeshier.reml.covariance import ThetaLayout
from bayeshier.reml.optimize import OptimizationSummary
from bayeshier.spec.model_spec import ModelSpec

__all__ = [
    "SINGULAR_TOLERANCE",
    "RemlFit",
    "UnseenLevelsWarning",
    "fitted_values",
    "residual_values",
]

#: lme4's ``isSingular`` tolerance on theta.
SINGULAR_TOLERANCE = 1e-4


class UnseenLevelsWarning(UserWarning):
    """New data hold levels the model was not fitted on (they get the population prediction)."""


@dataclass(frozen=True, eq=False)
class RemlFit:
    """A linear mixed model fitted by REML or maximum likelihood.

    The numbers match lme4's ``lmer`` (same criterion, same estimates); see
    :func:`bayeshier.fit_reml`.

    Attributes
    ----------
    spec : ModelSpec
        The specification that was fitted.
    reml : bool
        ``True`` for REML, ``False`` for maximum likelihood.
    fixef : pandas.Series
        Fixed effects by term name.
    se : pandas.Series
        Their standard errors.
    vcov : pandas.DataFrame
        Covariance matrix of the fixed effects.
    sigma : float
        Residual standard deviation.
    theta : numpy.ndarray
        The covariance parameters in lme4's layout (see :attr:`theta_names`):
        for a random intercept the relative standard deviation
        ``sigma_f / sigma``; in general the lower triangle, column by column,
        of the relative covariance factor ``T_f`` of every factor (largest
        factor first, as lme4), with ``Cov(b_fj) = sigma^2 T_f T_f'``.
    ranef : dict of str to pandas.DataFrame
        Conditional modes (BLUPs) per factor, indexed by level, one column per term.
    condvar : dict of str to pandas.DataFrame
        Their conditional variances (lme4's ``condVar`` diagonal), same layout.
    condcov : dict of str to numpy.ndarray
        Full conditional covariance matrix of every level's effects
        (levels x k x k, terms in the order of the ``ranef`` columns).
    criterion : float
        REML criterion (REML fits) or deviance (ML fits), as lme4's
        ``REMLcrit()`` / ``deviance()``.
    optimization : OptimizationSummary
        What the optimizer did.
    fitted : numpy.ndarray or dask.dataframe.Series
        Conditional fitted values ``X beta + Z b`` of the rows used; for a fit
        on a Dask DataFrame a lazy Dask Series indexed like the rows used
        (nothing is computed until asked, e.g. ``fit.fitted.compute()``).

    """

    spec: ModelSpec
    reml: bool
    fixef: pd.Series
    se: pd.Series
    vcov: pd.DataFrame
    sigma: float
    theta: np.ndarray
    ranef: dict[str, pd.DataFrame]
    condvar: dict[str, pd.DataFrame]
    condcov: dict[str, np.ndarray]
    criterion: float
    optimization: OptimizationSummary
    fitted: np.ndarray | Any = field(repr=False)
    layout: ThetaLayout = field(repr=False, default=None)

    @property
    def nobs(self) -> int:
        """Number of rows used."""
        return self.spec.nobs

    @property
    def n_dropped(self) -> int:
        """Rows dropped for missing values."""
        return self.spec.n_dropped

    @property
    def df(self) -> int:
        """Number of estimated parameters: fixed effects, thetas and sigma."""
        return self.spec.n_fixed + len(self.theta) + 1

    @property
    def loglik(self) -> float:
        """Log-likelihood (REML log-likelihood for REML fits, as lme4)."""
        return -0.5 * self.criterion

    @property
    def aic(self) -> float:
        """Akaike information criterion, ``criterion + 2 df``."""
        return self.criterion + 2.0 * self.df

    @property
    def bic(self) -> float:
        """Bayesian information criterion, ``criterion + df log(n)``."""
        return self.criterion + self.df * float(np.log(self.nobs))

    @property
    def is_singular(self) -> bool:
        """lme4's ``isSingular``: a diagonal theta is below 1e-4.

        That is a zero standard deviation, or a correlation of +-1 (the
        covariance matrix of the factor's effects has lost rank).
        """
        return bool(np.any(self.theta[self.layout.diagonal] < SINGULAR_TOLERANCE))

    @property
    def theta_names(self) -> list[str]:
        """lme4's names of theta, e.g. ``"Subject.(Intercept)"``, ``"Subject.Days.(Intercept)"``."""
        return list(self.layout.names)

    @cached_property
    def covariances(self) -> dict[str, pd.DataFrame]:
        """Covariance matrix of every factor's effects, ``sigma^2 T_f T_f'``, by term."""
        result = {}
        for factor, T in zip(
            self.spec.factors, self.layout.relative_factors(self.theta), strict=True
        ):
            terms = list(factor.terms)
            result[factor.name] = pd.DataFrame(self.sigma**2 * T @ T.T, index=terms, columns=terms)
        return result

    @property
    def residuals(self) -> np.ndarray | Any:
        """Conditional residuals ``y - X beta - Z b`` (a lazy Dask Series for Dask data)."""
        if self.spec.holds_rows:
            return self.spec.y - self.fitted
        blups = [self.ranef[f.name].to_numpy() for f in self.spec.factors]
        return self.spec.source.map_rows(
            self.spec, residual_values, self.fixef.to_numpy(), blups, name="residuals"
        )

    @cached_property
    def varcorr(self) -> pd.DataFrame:
        """Variance components, as lme4's ``VarCorr``.

        One row per random-effect term with its variance and standard
        deviation (``term2`` empty), then one row per correlated pair of
        terms with the correlation in ``sd_cor`` (``variance`` holds the
        covariance), and a ``Residual`` row. Columns ``group``, ``term1``,
        ``term2``, ``variance``, ``sd_cor``.
        """
        rows = []
        for factor in self.spec.factors:
            covariance = self.covariances[factor.name].to_numpy()
            rows.extend(_factor_rows(factor.name, factor.terms, factor.blocks, covariance))
        rows.append(_row("Residual", None, None, self.sigma**2, self.sigma))
        return pd.DataFrame(rows, columns=["group", "term1", "term2", "variance", "sd_cor"])

    def coef(self) -> dict[str, pd.DataFrame]:
        """Per-level coefficients, fixed effects plus BLUPs (lme4's ``coef()``)."""
        result = {}
        for name, modes in self.ranef.items():
            table = pd.DataFrame(
                np.tile(self.fixef.to_numpy(), (len(modes), 1)),
                index=modes.index,
                columns=self.fixef.index,
            )
            for term in modes.columns:
                table[term] = table[term] + modes[term] if term in table else modes[term]
            result[name] = table
        return result

    def predict(self, newdata: pd.DataFrame, include_random: bool = True) -> pd.Series:
        """Predict the mean response for new rows.

        Parameters
        ----------
        newdata : pandas.DataFrame
            Must hold the columns the formula uses (not the response).
        include_random : bool, default True
            Add each row's BLUPs. A level not seen in the fit (or missing)
            contributes 0: its prediction is the population-level one, and a
            :class:`UnseenLevelsWarning` says how many rows that concerns.

        Returns
        -------
        pandas.Series
            Predictions indexed like ``newdata``.

        """
        prediction = self.spec.fixed_design(newdata) @ self.fixef.to_numpy()
        if include_random:
            for factor in self.spec.factors:
                codes = factor.codes_for(newdata)
                effects = self.ranef[factor.name].to_numpy()[np.maximum(codes, 0)]
                seen = codes >= 0
                contribution = np.einsum("ik,ik->i", factor.design_for(newdata), effects)
                prediction = prediction + np.where(seen, contribution, 0.0)
                _warn_unseen(factor.name, seen)
        return pd.Series(prediction, index=newdata.index, name=self.spec.response)

    def summary(self) -> str:
        """Return the fit printed as lme4's ``summary()`` prints it."""
        from bayeshier.reml.summary import summary_text

        return summary_text(self)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from bayeshier.reml.summary import summary_html

        return summary_html(self)


def fitted_values(spec: ModelSpec, beta: np.ndarray, blups: list[np.ndarray]) -> np.ndarray:
    """Conditional fitted values ``X beta + Z b`` of the rows ``spec`` holds.

    ``blups`` holds the conditional modes of every factor (levels x k, spec order).
    """
    fitted = spec.X @ beta
    for factor, modes in zip(spec.factors, blups, strict=True):
        fitted = fitted + np.einsum("ik,ik->i", factor.columns(), modes[factor.codes])
    return fitted


def residual_values(spec: ModelSpec, beta: np.ndarray, blups: list[np.ndarray]) -> np.ndarray:
    """Conditional residuals ``y - X beta - Z b`` of the rows ``spec`` holds."""
    return spec.y - fitted_values(spec, beta, blups)


def _warn_unseen(name: str, seen: np.ndarray) -> None:
    if seen.all():
        return
    warnings.warn(
        f"{int((~seen).sum())} of {len(seen)} rows have a {name!r} level not seen in the fit "
        "(or missing): their prediction uses the population level (random effect 0).",
        UnseenLevelsWarning,
        stacklevel=3,
    )


def _row(group: str, term1: str | None, term2: str | None, variance: float, sd_cor: float) -> dict:
    return {"group": group, "term1": term1, "term2": term2, "variance": variance, "sd_cor": sd_cor}


def _factor_rows(
    name: str, terms: tuple[str, ...], blocks: tuple[int, ...], covariance: np.ndarray
) -> list[dict]:
    """``VarCorr`` rows of one factor: the sds, then the correlations within each block."""
    sds = np.sqrt(np.diag(covariance))
    rows = [_row(name, term, None, covariance[i, i], sds[i]) for i, term in enumerate(terms)]
    start = 0
    for size in blocks:
        for j in range(start, start + size):
            for i in range(j + 1, start + size):
                scale = sds[i] * sds[j]
                correlation = covariance[i, j] / scale if scale > 0 else np.nan
                rows.append(_row(name, terms[j], terms[i], covariance[i, j], correlation))
        start += size
    return rows
