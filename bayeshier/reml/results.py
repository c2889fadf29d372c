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
from bayeshier.spec.model_spec import ModelSpec, as_frame

__all__ = [
    "SINGULAR_TOLERANCE",
    "RemlFit",
    "SingularFitWarning",
    "UnseenLevelsWarning",
    "fitted_values",
    "residual_values",
]

#: lme4's ``isSingular`` tolerance on theta.
SINGULAR_TOLERANCE = 1e-4


class SingularFitWarning(UserWarning):
    """lme4's ``boundary (singular) fit``: a variance at 0 or a correlation at +-1."""


class UnseenLevelsWarning(UserWarning):
    """New data hold levels the model was not fitted on (they get the population prediction)."""


class FitMeasures:
    """What a REML and a GLMM fit compute alike from their rows, theta and -2 log-likelihood.

    A subclass has ``spec``, ``theta``, ``layout`` and ``df``, and gives
    ``_minus_two_loglik``: the REML criterion or deviance of a linear mixed
    model (lme4's ``REMLcrit()``/``deviance()``), the Laplace or quadrature
    deviance of a GLMM (glmer's).
    """

    spec: ModelSpec
    theta: np.ndarray
    layout: ThetaLayout
    ranef: dict[str, pd.DataFrame]
    df: int

    @property
    def _minus_two_loglik(self) -> float:
        raise NotImplementedError

    @property
    def nobs(self) -> int:
        """Number of rows used."""
        return self.spec.nobs

    @property
    def n_dropped(self) -> int:
        """Rows dropped for missing values."""
        return self.spec.n_dropped

    @property
    def loglik(self) -> float:
        """Log-likelihood (the REML log-likelihood for a REML fit, as lme4)."""
        return -0.5 * self._minus_two_loglik

    @property
    def aic(self) -> float:
        """Akaike information criterion, ``-2 loglik + 2 df``."""
        return self._minus_two_loglik + 2.0 * self.df

    @property
    def bic(self) -> float:
        """Bayesian information criterion, ``-2 loglik + df log(n)``."""
        return self._minus_two_loglik + self.df * float(np.log(self.nobs))

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

    def confint(
        self,
        parm: str | list[str] | None = None,
        level: float = 0.95,
        method: str = "profile",
        *,
        nsim: int = 500,
        random_seed: int | np.random.Generator | None = None,
        progress: bool = True,
    ) -> pd.DataFrame:
        """Confidence intervals for the parameters, as lme4's ``confint``.

        ``method``: ``"profile"`` (likelihood profile of the deviance: a REML
        fit refitted by ML, a GLMM's Laplace or quadrature deviance, as
        lme4), ``"wald"`` (``estimate +- z se``, NaN for the variance
        parameters) or ``"boot"`` (parametric bootstrap percentiles of
        ``nsim`` refits, reproducible with ``random_seed``). ``parm``: lme4's
        names (``"sd_(Intercept)|Subject"``, ``"sigma"`` of a linear model,
        ``"Days"``, ``"theta_"``, ``"beta_"``); default all. Returns columns
        ``lower`` and ``upper``. See :mod:`bayeshier.reml.confint`.
        """
        from bayeshier.reml.confint import confint

        return confint(
            self, parm, level, method, nsim=nsim, random_seed=random_seed, progress=progress
        )

    def _random_part(self, newdata: pd.DataFrame) -> np.ndarray:
        """``z'b`` of every new row; unseen levels contribute 0 (with a warning)."""
        total = np.zeros(len(newdata))
        for factor in self.spec.factors:
            codes = factor.codes_for(newdata)
            effects = self.ranef[factor.name].to_numpy()[np.maximum(codes, 0)]
            seen = codes >= 0
            contribution = np.einsum("ik,ik->i", factor.design_for(newdata), effects)
            total += np.where(seen, contribution, 0.0)
            _warn_unseen(factor.name, seen)
        return total


@dataclass(frozen=True, eq=False)
class RemlFit(FitMeasures):
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
    def df(self) -> int:
        """Number of estimated parameters: fixed effects, thetas and sigma."""
        return self.spec.n_fixed + len(self.theta) + 1

    @property
    def _minus_two_loglik(self) -> float:
        return self.criterion

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

    def predict(
        self,
        newdata: pd.DataFrame | Any,
        include_random: bool = True,
        *,
        interval: str | None = None,
        level: float = 0.95,
    ) -> pd.Series | pd.DataFrame:
        """Predict the mean response for new rows, optionally with intervals.

        Parameters
        ----------
        newdata : pandas.DataFrame, dict or frame
            Must hold the columns the formula uses (not the response); a
            dict of columns or a polars/pyarrow frame is converted first.
            A fixed-effect level not seen in the fit raises a
            :class:`~bayeshier.errors.DataError` naming the term and level.
        include_random : bool, default True
            Add each row's BLUPs. A level not seen in the fit (or missing)
            contributes 0: its prediction is the population-level one, and a
            :class:`UnseenLevelsWarning` says how many rows that concerns.
        interval : {None, "confidence", "prediction"}, default None
            Intervals for ``x'beta + z'b`` or for a new observation, from
            the exact prediction error variance at the estimated variances
            (normal quantiles); see :mod:`bayeshier.reml.prediction`.
        level : float, default 0.95
            Coverage of the intervals.

        Returns
        -------
        pandas.Series or pandas.DataFrame
            Predictions indexed like ``newdata``; with ``interval``, a
            DataFrame with columns ``fit``, ``lower`` and ``upper``.

        """
        newdata = as_frame(newdata, "new data")
        prediction = self.spec.fixed_design(newdata) @ self.fixef.to_numpy()
        offset = self.spec.offset_for(newdata)
        if offset is not None:  # offset() terms (and offset= given as a column) included, as lme4
            prediction = prediction + offset
        if include_random:
            prediction = prediction + self._random_part(newdata)
        series = pd.Series(prediction, index=newdata.index, name=self.spec.response)
        if interval is None:
            return series
        from bayeshier.reml.prediction import prediction_intervals

        return prediction_intervals(
            self, newdata, series, include_random=include_random, interval=interval, level=level
        )

    def bootstrap(
        self,
        nsim: int = 500,
        *,
        random_seed: int | np.random.Generator | None = None,
        progress: bool = True,
    ) -> pd.DataFrame:
        """Parametric bootstrap, as lme4's ``bootMer``: ``nsim`` refits to simulated responses.

        One row per replicate, one column per parameter; see
        :func:`bayeshier.reml.bootstrap.parametric_bootstrap`.
        """
        from bayeshier.reml.bootstrap import parametric_bootstrap

        return parametric_bootstrap(self, nsim, random_seed=random_seed, progress=progress)

    def profile(self, parm: str | list[str] | None = None) -> Any:
        """Likelihood profiles of the parameters, as lme4's ``profile`` (ML deviance).

        Returns a :class:`~bayeshier.reml.profile.Profile` (its ``table``
        holds zeta and every parameter along each profile; its ``confint``
        gives the profile intervals). See :mod:`bayeshier.reml.profile`.
        """
        from bayeshier.reml.profile import profile_fit

        return profile_fit(self, parm)

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
    """Conditional fitted values ``X beta + Z b`` (+ the offset) of the rows ``spec`` holds.

    ``blups`` holds the conditional modes of every factor (levels x k, spec order).
    """
    fitted = spec.X @ beta
    if spec.offset is not None:
        fitted = fitted + spec.offset
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
    """``VarCorr`` rows of one factor, block by block: its sds, then its correlations.

    As lme4, the second and later blocks of a factor are named ``g.1``, ``g.2``...
    (``(Days||Subject)`` gives ``Subject`` and ``Subject.1``).
    """
    sds = np.sqrt(np.diag(covariance))
    rows = []
    start = 0
    for block, size in enumerate(blocks):
        group = name if block == 0 else f"{name}.{block}"
        span = range(start, start + size)
        rows += [_row(group, terms[i], None, covariance[i, i], sds[i]) for i in span]
        for j in span:
            for i in range(j + 1, start + size):
                scale = sds[i] * sds[j]
                correlation = covariance[i, j] / scale if scale > 0 else np.nan
                rows.append(_row(group, terms[j], terms[i], covariance[i, j], correlation))
        start += size
    return rows
