"""Likelihood profiles of a linear mixed model, as lme4's ``profile.merMod`` computes them.

Every parameter is profiled on the deviance (``-2 log L``) of the model
fitted by maximum likelihood: a REML fit is refitted by ML first, exactly
as lme4's ``profile`` does (its ``devfun2`` calls ``refitML``). The
parameters are lme4's: the random effects' standard deviations and
correlations (:mod:`bayeshier.reml.sdcor`), ``sigma``, then the fixed
effects. For a value ``x`` of parameter ``w`` the other parameters are
optimized, and the profile is the signed square root

    zeta(x) = sign(x - x_hat) sqrt(deviance(x) - deviance_min).

The values of ``x`` are chosen as lme4 chooses them: from the estimate,
steps of ``delta = cutoff / 8`` in zeta (``cutoff = sqrt(qchisq(0.99,
n_parameters))``), predicted by linear extrapolation of the last two
points, each step at most 10 times the previous one, in both directions
until ``|zeta| > cutoff`` or a bound (sd 0, correlation +-1) is reached.
:meth:`Profile.confint` interpolates as lme4's ``confint.thpr`` does
(:mod:`bayeshier.reml.splines`).

The variance parameters are profiled by a bounded quasi-Newton search over
the others (scipy's L-BFGS-B with central-difference gradients, standard
deviations and sigma searched as squares so that a zero standard deviation
is not a stationary point); the fixed effects by the same search over
theta, with the fixed effect held at ``b`` entering the penalized residual
sum of squares exactly: ``r^2(theta) + (b - beta_hat_j(theta))^2 / V_jj(theta)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
from scipy import stats

from bayeshier.reml._blas import blas_threads_for
from bayeshier.reml.profile_criterion import MLCriterion, select_parameters
from bayeshier.reml.splines import back_spline

__all__ = ["Criterion", "Profile", "ProfileWarning", "profile_criterion", "profile_fit"]

_ALPHA_MAX = 0.01
_DELTA_CUTOFF = 1 / 8
_MAX_POINTS = 100
_MAX_MULTIPLIER = 10.0
_MIN_STEP = 1e-6
_NON_MONOTONE_TOLERANCE = 1e-2


class Criterion(Protocol):
    """What the profile walker needs of a model's deviance."""

    names: list[str]
    optimum: np.ndarray

    @property
    def n_variance(self) -> int:
        """Number of variance parameters (they come first in ``names``)."""

    @property
    def size(self) -> int:
        """Order of the dense part of the factor (for the BLAS thread count)."""

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the variance parameters."""

    def limits(self, w: int) -> tuple[float, float]:
        """The range of parameter ``w``."""

    def first_value(self, w: int, delta: float) -> float:
        """The first value profiled away from the estimate (``delta``: the zeta step)."""

    def point(self, w: int, value: float, previous: np.ndarray) -> np.ndarray:
        """The profile at parameter ``w`` = ``value`` (zeta, then every parameter)."""


class ProfileWarning(UserWarning):
    """A profile was not monotone or could not be interpolated (as lme4's warnings)."""


@dataclass(frozen=True, eq=False)
class Profile:
    """The likelihood profiles of a fit's parameters (lme4's ``thpr`` object).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per profiled point: ``parameter`` (the one held fixed),
        ``zeta`` (the signed square-root deviance difference) and the value
        of every parameter at that point, in lme4's names.
    estimates : pandas.Series
        The maximum-likelihood estimates the profiles start from.
    lower, upper : pandas.Series
        Bounds of the profiled parameters (a standard deviation cannot be
        negative, a correlation lies in ``[-1, 1]``), by parameter.

    """

    table: pd.DataFrame
    estimates: pd.Series
    lower: pd.Series
    upper: pd.Series

    @property
    def parameters(self) -> list[str]:
        """The profiled parameters, in lme4's order."""
        return list(dict.fromkeys(self.table["parameter"]))

    def confint(self, level: float = 0.95) -> pd.DataFrame:
        """Profile confidence intervals: where ``zeta`` crosses the normal quantiles.

        The profile of each parameter is interpolated by a natural cubic
        spline and inverted (lme4's ``interpSpline`` / ``backSpline``);
        where that fails (too few points, not monotone) by linear
        interpolation, with a :class:`ProfileWarning`. An end the profile
        does not reach (a standard deviation whose profile meets 0 before
        ``zeta`` does the quantile) is the parameter's bound.
        """
        quantiles = stats.norm.ppf([(1 - level) / 2, (1 + level) / 2])
        rows = [self._interval(name, quantiles) for name in self.parameters]
        return pd.DataFrame(rows, index=self.parameters, columns=["lower", "upper"])

    def _interval(self, name: str, quantiles: np.ndarray) -> np.ndarray:
        points = self.table.loc[self.table["parameter"] == name, [name, "zeta"]].dropna()
        points = points.drop_duplicates(subset=name).sort_values(name)
        x, zeta = points[name].to_numpy(), points["zeta"].to_numpy()
        try:
            interval = back_spline(x, zeta)(quantiles)
        except ValueError:
            interval = _linear_fallback(name, x, zeta, quantiles)
            if interval is None:
                return np.full(2, np.nan)
        bounds = np.array([self.lower.get(name, np.nan), self.upper.get(name, np.nan)])
        return np.where(np.isnan(interval), bounds, interval)


def profile_fit(fit, parm: str | Sequence[str] | None = None) -> Profile:
    """Profile the deviance of ``fit`` over its parameters (lme4's ``profile``).

    Parameters
    ----------
    fit : RemlFit
        A REML fit is refitted by maximum likelihood first (as lme4 does).
    parm : str or sequence of str, optional
        Parameters to profile, in lme4's names (``"sd_(Intercept)|Subject"``,
        ``"sigma"``, ``"Days"``), or ``"theta_"`` (all variance parameters)
        or ``"beta_"`` (all fixed effects). Default: all.

    Returns
    -------
    Profile

    """
    return profile_criterion(MLCriterion.from_fit(fit), parm)


def profile_criterion(criterion: Criterion, parm: str | Sequence[str] | None = None) -> Profile:
    """Profile a model's deviance, ``criterion``, over the parameters ``parm`` (default all).

    ``criterion`` is a linear model's ML deviance
    (:class:`~bayeshier.reml.profile_criterion.MLCriterion`) or a GLMM's
    (:class:`~bayeshier.reml.glmm.profile_criterion.GlmmCriterion`).
    """
    which = select_parameters(criterion.names, criterion.n_variance, parm)
    cutoff = float(np.sqrt(stats.chi2.ppf(1 - _ALPHA_MAX, len(criterion.names))))
    walker = _Walker(criterion, cutoff, cutoff * _DELTA_CUTOFF)
    tables = []
    for w in which:
        with blas_threads_for(criterion.size):
            rows = walker.profile(w)
        table = pd.DataFrame(rows, columns=["zeta", *criterion.names])
        table.insert(0, "parameter", criterion.names[w])
        tables.append(table.sort_values(criterion.names[w], kind="stable"))
    lower, upper = criterion.bounds()
    variance = criterion.names[: criterion.n_variance]
    return Profile(
        table=pd.concat(tables, ignore_index=True),
        estimates=pd.Series(criterion.optimum, index=criterion.names, name="estimate"),
        lower=pd.Series(lower, index=variance, name="lower"),
        upper=pd.Series(upper, index=variance, name="upper"),
    )


class _Walker:
    """Walks each parameter's profile away from the optimum (lme4's ``fillmat``).

    The criterion (:class:`~bayeshier.reml.profile_criterion.MLCriterion` or
    :class:`~bayeshier.reml.glmm.profile_criterion.GlmmCriterion`) says where
    a profile starts (``first_value``), its range (``limits``) and the
    profile at a value (``point``).
    """

    def __init__(self, criterion: Criterion, cutoff: float, delta: float) -> None:
        self.criterion = criterion
        self.cutoff = cutoff
        self.delta = delta

    def profile(self, w: int) -> list[np.ndarray]:
        """The profile of parameter ``w``: rows of zeta and every parameter, both ways."""
        criterion = self.criterion
        lower, upper = criterion.limits(w)

        def zeta_at(x: float, previous: np.ndarray) -> np.ndarray:
            return criterion.point(w, x, previous)

        return self._both_ways(w, criterion.first_value(w, self.delta), zeta_at, lower, upper)

    def _both_ways(
        self,
        w: int,
        shifted: float,
        zeta_at: Callable[[float, np.ndarray], np.ndarray],
        lower: float,
        upper: float,
    ) -> list[np.ndarray]:
        optimum = np.append(0.0, self.criterion.optimum)
        first = zeta_at(shifted, optimum[1:])
        rows = self._walk([optimum, first], w, zeta_at, lower, upper)
        if self.criterion.optimum[w] > lower:
            rows += self._walk([first, optimum], w, zeta_at, lower, upper)[2:]
        return rows

    def _walk(
        self,
        rows: list[np.ndarray],
        w: int,
        zeta_at: Callable[[float, np.ndarray], np.ndarray],
        lower: float,
        upper: float,
    ) -> list[np.ndarray]:
        column = w + 1
        while len(rows) < _MAX_POINTS and lower < rows[-1][column] < upper:
            if abs(rows[-1][0]) > self.cutoff:
                break
            x = _next_value(rows[-2], rows[-1], column, self.delta, lower, upper)
            rows.append(zeta_at(x, rows[-1][1:]))
            if np.isnan(rows[-1][0]):
                name = self.criterion.names[w]
                warnings.warn(
                    f"The deviance could not be evaluated at {name} = {x:.6g}: the profile of "
                    f"{name!r} stops there.",
                    ProfileWarning,
                    stacklevel=6,
                )
                break
        return rows


def _next_value(
    before: np.ndarray, last: np.ndarray, column: int, delta: float, lower: float, upper: float
) -> float:
    """The next value to profile: a step of ``delta`` in zeta by linear extrapolation."""
    step_x = last[column] - before[column]
    step_zeta = last[0] - before[0]
    if not np.isfinite(step_zeta) or step_zeta == 0:
        step = _MIN_STEP
    else:
        step = delta * step_x / step_zeta
        if step < 0:
            step = _MIN_STEP
        else:
            step = min(step, abs(_MAX_MULTIPLIER * step_x))
    return float(min(upper, max(lower, last[column] + np.sign(step_x) * step)))


def _linear_fallback(
    name: str, x: np.ndarray, zeta: np.ndarray, quantiles: np.ndarray
) -> np.ndarray | None:
    """lme4's fallback when the spline cannot be inverted: linear interpolation, or nothing."""
    if zeta.size == 0:
        warnings.warn(f"bad profile for {name!r}", ProfileWarning, stacklevel=4)
        return None
    if zeta.size > 1 and np.all(np.diff(zeta) < -_NON_MONOTONE_TOLERANCE):
        warnings.warn(f"non-monotonic profile for {name!r}", ProfileWarning, stacklevel=4)
        return None
    warnings.warn(
        f"bad spline fit for {name!r}: falling back to linear interpolation",
        ProfileWarning,
        stacklevel=4,
    )
    order = np.argsort(zeta, kind="stable")
    inside = (quantiles >= zeta.min()) & (quantiles <= zeta.max())
    return np.where(inside, np.interp(quantiles, zeta[order], x[order]), np.nan)
