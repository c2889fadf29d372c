"""The result of a GLMM fit: :class:`GlmmFit`, with :class:`~bayeshier.reml.RemlFit`'s interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from bayeshier.errors import DataError
from bayeshier.reml.covariance import ThetaLayout
from bayeshier.reml.glmm.families import Family
from bayeshier.reml.optimize import OptimizationSummary
from bayeshier.reml.results import FitMeasures, RemlFit, _factor_rows
from bayeshier.spec.model_spec import ModelSpec, as_frame

__all__ = ["GlmmFit"]

ResidualType = Literal["pearson", "deviance", "response"]


@dataclass(frozen=True, eq=False)
class GlmmFit(FitMeasures):
    """A generalized linear mixed model fitted by maximum likelihood (Laplace or AGQ).

    The numbers match lme4's ``glmer`` (same deviance, same optimum, the
    covariance of the fixed effects from the Hessian of the deviance in
    (theta, beta)); see :func:`bayeshier.fit_glmm`. The attributes and
    methods are those of :class:`~bayeshier.reml.RemlFit`; there is no
    residual variance (``sigma`` is 1, as for glmer's binomial and Poisson
    families).

    Attributes
    ----------
    spec : ModelSpec
        The specification of the right side (its response is a placeholder:
        see :attr:`response`).
    family : Family
        Distribution and link.
    nagq : int
        Quadrature points per level (1: Laplace approximation).
    response : str
        The left side of the formula as written.
    formula : str
        The formula as given.
    fixef, se : pandas.Series
        Fixed effects and their standard errors.
    vcov : pandas.DataFrame
        Covariance matrix of the fixed effects (glmer's ``vcov``).
    theta : numpy.ndarray
        Covariance parameters in lme4's layout (:attr:`theta_names`); with
        no residual variance, ``T_f T_f'`` is the covariance of the effects.
    ranef : dict of str to pandas.DataFrame
        Conditional modes ``b = Lambda u~`` per factor (levels x terms).
    condvar : dict of str to pandas.DataFrame
        Their conditional variances: the diagonal of the inverse Hessian of
        the penalized deviance at the modes (glmer's ``condVar``).
    condcov : dict of str to numpy.ndarray
        Full conditional covariance of every level's effects (levels x k x k).
    deviance : float
        ``-2 log L`` at the optimum (what glmer's ``logLik`` reports, times
        -2). For ``nagq > 1`` it is glmer's quadrature deviance, which leaves
        out the saturated model's log-likelihood (see
        :mod:`bayeshier.reml.glmm.agq`).
    conditional_deviance : float
        Sum of the squared deviance residuals at the modes: what glmer's
        ``deviance()`` returns for a GLMM (not ``-2 logLik``).
    optimization : OptimizationSummary
        What the optimizer did (``theta_*`` hold theta then beta).
    fitted : numpy.ndarray
        Conditional means on the response scale (probabilities, rates).
    linear_predictor : numpy.ndarray
        ``X beta + Z b + offset`` of every row.
    y, weights, offset : numpy.ndarray
        The response (proportion or count), trials / prior weights and offset
        of the rows used.

    """

    spec: ModelSpec
    family: Family
    nagq: int
    response: str
    formula: str
    fixef: pd.Series
    se: pd.Series
    vcov: pd.DataFrame
    theta: np.ndarray
    ranef: dict[str, pd.DataFrame]
    condvar: dict[str, pd.DataFrame]
    condcov: dict[str, np.ndarray]
    deviance: float
    conditional_deviance: float
    optimization: OptimizationSummary
    fitted: np.ndarray = field(repr=False)
    linear_predictor: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    offset: np.ndarray = field(repr=False)
    layout: ThetaLayout = field(repr=False, default=None)

    sigma = 1.0

    @property
    def link(self) -> str:
        """The link function (``"logit"``, ``"probit"``, ``"cloglog"``, ``"log"``)."""
        return self.family.link

    @property
    def df(self) -> int:
        """Number of estimated parameters: fixed effects and thetas."""
        return self.spec.n_fixed + len(self.theta)

    @property
    def _minus_two_loglik(self) -> float:
        return self.deviance

    @cached_property
    def covariances(self) -> dict[str, pd.DataFrame]:
        """Covariance matrix ``T_f T_f'`` of every factor's effects, by term."""
        result = {}
        for factor, T in zip(
            self.spec.factors, self.layout.relative_factors(self.theta), strict=True
        ):
            terms = list(factor.terms)
            result[factor.name] = pd.DataFrame(T @ T.T, index=terms, columns=terms)
        return result

    @cached_property
    def varcorr(self) -> pd.DataFrame:
        """Variance components as glmer's ``VarCorr`` (no ``Residual`` row).

        Columns ``group``, ``term1``, ``term2``, ``variance``, ``sd_cor``, as
        :attr:`bayeshier.reml.RemlFit.varcorr`.
        """
        rows = []
        for factor in self.spec.factors:
            covariance = self.covariances[factor.name].to_numpy()
            rows.extend(_factor_rows(factor.name, factor.terms, factor.blocks, covariance))
        return pd.DataFrame(rows, columns=["group", "term1", "term2", "variance", "sd_cor"])

    def residuals(self, type: ResidualType = "pearson") -> np.ndarray:
        """Residuals of the rows used: ``"pearson"`` (glmer's default), or ``"deviance"``.

        ``"response"`` gives ``y - mu`` (on the proportion scale for the binomial).
        """
        mu = self.fitted
        if type == "response":
            return self.y - mu
        if type == "pearson":
            return self.family.pearson_residuals(mu, self.y, self.weights)
        if type == "deviance":
            squared = self.family.deviance_residuals(mu, self.y, self.weights)
            return np.sign(self.y - mu) * np.sqrt(np.maximum(squared, 0.0))
        raise DataError(f"Unknown residual type {type!r}: use 'pearson', 'deviance' or 'response'.")

    def coef(self) -> dict[str, pd.DataFrame]:
        """Per-level coefficients, fixed effects plus conditional modes (lme4's ``coef()``)."""
        return RemlFit.coef(self)  # type: ignore[arg-type]

    def predict(
        self,
        newdata: pd.DataFrame,
        type: Literal["link", "response"] = "response",
        include_random: bool = True,
        offset: np.ndarray | pd.Series | None = None,
    ) -> pd.Series:
        """Predict new rows on the link or the response scale.

        Parameters
        ----------
        newdata : pandas.DataFrame
            Must hold the columns of the right side of the formula (and of
            its ``offset(...)`` terms).
        type : {"response", "link"}
            Means (probabilities, rates) or the linear predictor.
        include_random : bool, default True
            Add each row's conditional modes; a level not seen in the fit
            gets the population value (random effect 0) and an
            :class:`~bayeshier.reml.UnseenLevelsWarning`.
        offset : array-like, optional
            The whole offset of every new row, replacing the model's
            ``offset(...)`` terms and ``offset=`` column (needed when the
            fit was given ``offset=`` as values).

        Returns
        -------
        pandas.Series
            Predictions indexed like ``newdata``.

        """
        if type not in ("link", "response"):
            raise DataError(f"Unknown prediction type {type!r}: use 'response' or 'link'.")
        newdata = as_frame(newdata, "new data")
        eta = self.spec.fixed_design(newdata) @ self.fixef.to_numpy()
        if include_random:
            eta = eta + self._random_part(newdata)
        new_offset = self.spec.offset_for(newdata, offset)
        if new_offset is not None:
            eta = eta + new_offset
        values = eta if type == "link" else self.family.linkinv(eta)
        return pd.Series(values, index=newdata.index, name=self.response)

    def profile(self, parm: str | list[str] | None = None) -> Any:
        """Likelihood profiles of the parameters, as lme4's ``profile`` of a ``glmer`` fit.

        For each parameter held at a value, the deviance is minimized over
        all the others (fixed effects included);
        :mod:`bayeshier.reml.glmm.profile_criterion`. Returns a
        :class:`~bayeshier.reml.profile.Profile`.
        """
        from bayeshier.reml.glmm.profile_criterion import GlmmCriterion
        from bayeshier.reml.profile import profile_criterion

        return profile_criterion(GlmmCriterion.from_fit(self), parm)

    def bootstrap(
        self,
        nsim: int = 500,
        *,
        random_seed: int | np.random.Generator | None = None,
        progress: bool = True,
    ) -> pd.DataFrame:
        """Parametric bootstrap, as lme4's ``bootMer``: ``nsim`` refits to simulated responses.

        One row per replicate, one column per parameter; see
        :func:`bayeshier.reml.glmm.bootstrap.glmm_bootstrap`.
        """
        from bayeshier.reml.glmm.bootstrap import glmm_bootstrap

        return glmm_bootstrap(self, nsim, random_seed=random_seed, progress=progress)

    def summary(self) -> str:
        """Return the fit printed as glmer's ``summary()`` prints it."""
        from bayeshier.reml.glmm.summary import summary_text

        return summary_text(self)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from bayeshier.reml.glmm.summary import summary_html

        return summary_html(self)
