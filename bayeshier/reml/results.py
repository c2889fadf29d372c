"""The result of a REML/ML fit: :class:`RemlFit`."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from bayeshier.reml.optimize import OptimizationSummary
from bayeshier.spec import ModelSpec

__all__ = ["SINGULAR_TOLERANCE", "RemlFit", "UnseenLevelsWarning"]

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
        Relative standard deviations ``sigma_f / sigma``, in factor order
        (largest factor first, as lme4).
    ranef : dict of str to pandas.DataFrame
        Conditional modes (BLUPs) per factor, indexed by level, one column per term.
    condvar : dict of str to pandas.DataFrame
        Their conditional variances (lme4's ``condVar``), same layout.
    criterion : float
        REML criterion (REML fits) or deviance (ML fits), as lme4's
        ``REMLcrit()`` / ``deviance()``.
    optimization : OptimizationSummary
        What the optimiser did.
    fitted : numpy.ndarray
        Conditional fitted values ``X beta + Z b`` of the rows used.

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
    criterion: float
    optimization: OptimizationSummary
    fitted: np.ndarray = field(repr=False)

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
        """lme4's ``isSingular``: some theta (a standard deviation) is below 1e-4."""
        return bool(np.any(self.theta < SINGULAR_TOLERANCE))

    @property
    def theta_names(self) -> list[str]:
        """lme4's names of theta, e.g. ``"Subject.(Intercept)"``."""
        return [f"{f.name}.(Intercept)" for f in self.spec.factors]

    @property
    def residuals(self) -> np.ndarray:
        """Conditional residuals ``y - X beta - Z b``."""
        return self.spec.y - self.fitted

    @cached_property
    def varcorr(self) -> pd.DataFrame:
        """Variance components: one row per random-effect sd and a ``Residual`` row.

        Columns ``group``, ``term1``, ``term2``, ``variance``, ``sd_cor``
        (standard deviation; later, correlations in rows with ``term2`` set).
        """
        rows = [
            {
                "group": factor.name,
                "term1": term,
                "term2": None,
                "variance": (theta * self.sigma) ** 2,
                "sd_cor": theta * self.sigma,
            }
            for factor, theta in zip(self.spec.factors, self.theta, strict=True)
            for term in factor.terms
        ]
        rows.append(
            {
                "group": "Residual",
                "term1": None,
                "term2": None,
                "variance": self.sigma**2,
                "sd_cor": self.sigma,
            }
        )
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
                effects = self.ranef[factor.name]["Intercept"].to_numpy()
                seen = codes >= 0
                prediction = prediction + np.where(seen, effects[np.maximum(codes, 0)], 0.0)
                _warn_unseen(factor.name, seen)
        return pd.Series(prediction, index=newdata.index, name=self.spec.response)

    def summary(self) -> str:
        """Return the fit printed as lme4's ``summary()`` prints it."""
        from bayeshier.reml.report import summary_text

        return summary_text(self)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from bayeshier.reml.report import summary_html

        return summary_html(self)


def _warn_unseen(name: str, seen: np.ndarray) -> None:
    if seen.all():
        return
    warnings.warn(
        f"{int((~seen).sum())} of {len(seen)} rows have a {name!r} level not seen in the fit "
        "(or missing): their prediction uses the population level (random effect 0).",
        UnseenLevelsWarning,
        stacklevel=3,
    )
