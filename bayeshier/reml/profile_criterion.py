"""The ML deviance of a fitted model as a function of lme4's parameters, for profiling.

lme4's ``devfun2`` evaluates the deviance at given standard deviations,
correlations and sigma (the fixed effects at their conditional estimate):

    deviance(theta, sigma) = log|L_theta|^2 + r^2(theta) / sigma^2 + n log(2 pi sigma^2),

which, minimized over sigma, is the profiled deviance of Bates et al.
(2015). :class:`MLCriterion` evaluates it from the blocked factor as the
profiled deviance plus the exact correction for a sigma away from its
conditional optimum ``r^2 / n``, and holds a fixed effect at a given value
through the penalized residual sum of squares (see :mod:`bayeshier.reml.profile`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from scipy.optimize import minimize

from bayeshier.errors import ConvergenceWarning, ModelError, close_matches_hint
from bayeshier.reml.covariance import ThetaLayout
from bayeshier.reml.crossprod import CrossProducts
from bayeshier.reml.factor import BlockedFactor, factorize, profiled_deviance
from bayeshier.reml.refit import refit_spec, state_at
from bayeshier.reml.sdcor import sdcor_names, sdcor_to_theta, theta_to_sdcor

__all__ = [
    "MLCriterion",
    "VarianceFirst",
    "search_within",
    "select_parameters",
    "signed_root",
]

_OPTIONS = {"ftol": 1e-14, "gtol": 1e-9, "maxiter": 2000}
#: A profiled deviance this far (relative) below the ML fit's is reported.
_LOWER_DEVIANCE = 1e-6
#: Forward-difference step of a gradient entry the exact gradient does not give.
_FORWARD_STEP = 1e-7
_FAILURES = (np.linalg.LinAlgError, ValueError, ZeroDivisionError)
#: Smallest scale of a standard deviation in the search, relative to sigma.
_SD_FLOOR = 1e-2
#: lme4's first step of a profile away from the estimate: 1% of it, or 0.001 from 0.
_FIRST_STEP = 0.01
_FIRST_FROM_ZERO = 0.001


class VarianceFirst:
    """Parameters ordered as lme4's: ``n_variance`` bounded variance parameters, then fixed effects.

    A subclass gives ``optimum``, ``n_variance`` and ``variance_diagonal``
    (which variance parameters are standard deviations, ``>= 0``; the others
    are correlations, in ``[-1, 1]``).
    """

    optimum: np.ndarray
    n_variance: int
    variance_diagonal: np.ndarray

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the variance parameters (sd >= 0, -1 <= cor <= 1)."""
        diagonal = self.variance_diagonal
        return np.where(diagonal, 0.0, -1.0), np.where(diagonal, np.inf, 1.0)

    def limits(self, w: int) -> tuple[float, float]:
        """The range of parameter ``w`` (a fixed effect is unbounded)."""
        if w >= self.n_variance:
            return -np.inf, np.inf
        lower, upper = self.bounds()
        return float(lower[w]), float(upper[w])

    def first_value(self, w: int, delta: float) -> float:
        """lme4's first profiled value of parameter ``w``: 1.01 times it (0.001 from 0)."""
        estimate = self.optimum[w]
        return _FIRST_FROM_ZERO if estimate == 0 else estimate * (1.0 + _FIRST_STEP)


@dataclass(frozen=True, eq=False)
class MLCriterion(VarianceFirst):
    """The deviance of a model around its maximum-likelihood fit.

    Attributes
    ----------
    cp : CrossProducts
        Cross products of the model's data.
    layout : ThetaLayout
        Where theta sits in the relative covariance factors.
    names : list of str
        lme4's parameter names: standard deviations and correlations,
        ``sigma``, fixed effects.
    optimum : numpy.ndarray
        The ML estimates of those parameters.
    theta : numpy.ndarray
        The ML estimate of theta.
    ml_se : numpy.ndarray
        Standard errors of the fixed effects at the ML fit.
    deviance : float
        The minimum deviance, as :meth:`variance_deviance` evaluates it
        (without the constant ``-log|W|`` of prior weights).

    """

    cp: CrossProducts
    layout: ThetaLayout
    names: list[str]
    optimum: np.ndarray
    theta: np.ndarray
    ml_se: np.ndarray
    deviance: float

    @classmethod
    def from_fit(cls, fit) -> MLCriterion:
        """The criterion of ``fit``'s model, refitted by maximum likelihood if fitted by REML."""
        if fit.reml:
            ml = refit_spec(fit.spec, reml=False)
        else:
            ml = state_at(fit.spec, fit.theta, reml=False)
        est = ml.estimates
        variance = theta_to_sdcor(ml.layout, ml.theta, est.sigma)
        return cls(
            cp=ml.cp,
            layout=ml.layout,
            names=[*sdcor_names(fit.spec.factors, ml.layout), *fit.spec.fixed_names],
            optimum=np.concatenate([variance, est.beta]),
            theta=ml.theta,
            ml_se=np.sqrt(np.diag(est.vcov)),
            # the minimum as the profiles evaluate it (constants such as log|W| cancel in zeta)
            deviance=profiled_deviance(ml.cp, ml.factor, False),
        )

    @property
    def n_variance(self) -> int:
        """Number of variance parameters (sigma included)."""
        return self.layout.n_theta + 1

    @property
    def variance_diagonal(self) -> np.ndarray:
        """Which variance parameters are standard deviations (sigma is one)."""
        return np.append(self.layout.diagonal, True)

    @property
    def size(self) -> int:
        """Order of the dense part of the factor (for the BLAS thread count)."""
        return self.cp.rest.shape[0]

    def first_value(self, w: int, delta: float) -> float:
        """lme4's first profiled value: a fixed effect moved by ``delta`` standard errors.

        A variance parameter takes 1.01 times its estimate (:class:`VarianceFirst`).
        """
        if w >= self.n_variance:
            return self.optimum[w] + delta * self.ml_se[w - self.n_variance]
        return super().first_value(w, delta)

    def point(self, w: int, value: float, previous: np.ndarray) -> np.ndarray:
        """The profile at parameter ``w`` = ``value``: zeta, then every parameter."""
        if w < self.n_variance:
            return self.variance_point(w, value, previous)
        return self.fixed_point(w - self.n_variance, value)

    def variance_deviance(self, variance: np.ndarray) -> float:
        """The deviance at standard deviations, correlations and sigma ``variance``."""
        sigma = variance[-1]
        theta = sdcor_to_theta(self.layout, variance[:-1], sigma)
        factor = factorize(self.cp, self.layout.relative_factors(theta))
        r2 = factor.pwrss()
        n = self.cp.nobs
        correction = r2 / sigma**2 + n * np.log(sigma**2) - n - n * np.log(r2 / n)
        return profiled_deviance(self.cp, factor, False) + float(correction)

    def variance_point(self, w: int, value: float, previous: np.ndarray) -> np.ndarray:
        """The profile at variance parameter ``w`` = ``value``: zeta, then every parameter."""
        others = np.delete(np.arange(self.n_variance), w)
        lower, upper = self.bounds()
        lower[-1] = 1e-8 * self.optimum[self.n_variance - 1]
        squared = np.append(self.layout.diagonal, True)[others]
        floor = _SD_FLOOR * self.optimum[self.n_variance - 1]

        def deviance(free: np.ndarray) -> float:
            return self.variance_deviance(np.insert(free, w, value))

        start = np.clip(previous[others], lower[others], upper[others])
        if others.size:
            best, free = search_within(
                deviance, start, lower[others], upper[others], squared, floor
            )
        else:
            best, free = deviance(start), start
        variance = np.insert(free, w, value)
        theta = sdcor_to_theta(self.layout, variance[:-1], variance[-1])
        beta, _ = self.gls(factorize(self.cp, self.layout.relative_factors(theta)))
        zeta = signed_root(best, self.deviance, value - self.optimum[w])
        return np.concatenate([[zeta], variance, beta])

    def fixed_point(self, j: int, value: float) -> np.ndarray:
        """The profile at fixed effect ``j`` = ``value``: zeta, then every parameter."""

        def deviance(theta: np.ndarray) -> float:
            return self._fixed_deviance(theta, j, value)[0]

        diagonal = self.layout.diagonal
        lower = np.where(diagonal, 0.0, -np.inf)
        best, theta = search_within(
            deviance, self.theta, lower, np.full(lower.shape, np.inf), diagonal, 0.01
        )
        _, sigma, beta = self._fixed_deviance(theta, j, value)
        variance = theta_to_sdcor(self.layout, theta, sigma)
        zeta = signed_root(best, self.deviance, value - self.optimum[self.n_variance + j])
        return np.concatenate([[zeta], variance, beta])

    def gls(self, factor: BlockedFactor) -> tuple[np.ndarray, np.ndarray]:
        """Conditional estimate of beta at the factor's theta, and its covariance over sigma^2."""
        q, p = self.cp.q_rest, self.cp.n_fixed
        l_xx = factor.rest[q : q + p, q : q + p]
        work = sla.solve_triangular(l_xx, factor.rest[-1, q : q + p], lower=True, trans="T")
        r_inv = sla.solve_triangular(self.cp.R, np.eye(p))
        half = r_inv @ sla.solve_triangular(l_xx, np.eye(p), lower=True).T
        return r_inv @ (work + self.cp.ols), half @ half.T

    def _fixed_deviance(
        self, theta: np.ndarray, j: int, value: float
    ) -> tuple[float, float, np.ndarray]:
        """Deviance, sigma and beta at theta with fixed effect ``j`` held at ``value``."""
        factor = factorize(self.cp, self.layout.relative_factors(theta))
        beta, unscaled = self.gls(factor)
        r2 = factor.pwrss()
        shift = value - beta[j]
        r2_held = r2 + shift**2 / unscaled[j, j]
        n = self.cp.nobs
        deviance = profiled_deviance(self.cp, factor, False) + n * np.log(r2_held / r2)
        beta = beta + unscaled[:, j] / unscaled[j, j] * shift
        return float(deviance), float(np.sqrt(r2_held / n)), beta


def signed_root(deviance: float, minimum: float, offset: float) -> float:
    """zeta: the signed square root of ``deviance - minimum`` (sign of ``offset``).

    A deviance below the fit's minimum is reported (the fit may not be at its
    optimum) and counts as zero.
    """
    difference = deviance - minimum
    if difference < -_LOWER_DEVIANCE * max(1.0, abs(minimum)):
        warnings.warn(
            f"Profiling found a deviance {-difference:.3g} below the fit's: the fit may "
            "not be at the optimum (check its optimization summary).",
            ConvergenceWarning,
            stacklevel=5,
        )
    return float(np.sign(offset) * np.sqrt(max(0.0, difference)))


def select_parameters(
    names: Sequence[str], n_variance: int, parm: str | Sequence[str] | None
) -> list[int]:
    """Positions of the parameters ``parm`` names (lme4's ``which``), in lme4's order.

    ``"theta_"`` selects the variance parameters, ``"beta_"`` the fixed
    effects; lme4's ``"(Intercept)"`` is bayeshier's ``"Intercept"``.
    """
    if parm is None:
        return list(range(len(names)))
    requested = [parm] if isinstance(parm, str) else list(parm)
    chosen: set[int] = set()
    for name in requested:
        if name == "(Intercept)" and "Intercept" in names:  # lme4's spelling
            name = "Intercept"
        if name == "theta_":
            chosen.update(range(n_variance))
        elif name == "beta_":
            chosen.update(range(n_variance, len(names)))
        elif name in names:
            chosen.add(list(names).index(name))
        else:
            raise ModelError(
                f"The model has no parameter {name!r}.{close_matches_hint(name, names)} Its "
                f"parameters are: {', '.join(names)} (or 'theta_' / 'beta_' for all of a kind)."
            )
    return sorted(chosen)


def search_within(
    fun: Callable[[np.ndarray], float],
    start: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    squared: np.ndarray,
    floor: float,
    value_and_gradient: Callable[[np.ndarray], tuple[float, np.ndarray]] | None = None,
) -> tuple[float, np.ndarray]:
    """Minimize ``fun`` within bounds; the ``squared`` entries (>= 0) are searched as squares.

    Every coordinate is scaled by its start (at least ``floor``, or 1 for a
    bounded correlation), so that the gradient is of comparable size in all.
    With ``value_and_gradient`` (``fun`` and its exact gradient at once) the
    search uses that gradient, by forward differences where it is not finite
    or a squared entry sits at 0; without, central differences.
    """
    coordinates = _Coordinates.around(start, upper, squared, floor)
    bounds = [
        (lo if np.isfinite(lo) else None, hi if np.isfinite(hi) else None)
        for lo, hi in zip(coordinates.point(lower), coordinates.point(upper), strict=True)
    ]

    def objective(point: np.ndarray) -> float:
        try:
            value = fun(coordinates.value(point))
        except _FAILURES:
            return np.inf
        return value if np.isfinite(value) else np.inf

    exact = value_and_gradient is not None
    result = minimize(
        _with_gradient(coordinates, objective, value_and_gradient) if exact else objective,
        coordinates.point(start),
        method="L-BFGS-B",
        jac=True if exact else "3-point",
        bounds=bounds,
        options=_OPTIONS,
    )
    return float(result.fun), coordinates.value(np.asarray(result.x, dtype=float))


@dataclass(frozen=True, eq=False)
class _Coordinates:
    """The search's coordinates: each value over its scale, the ``squared`` ones as squares."""

    scale: np.ndarray
    squared: np.ndarray

    @classmethod
    def around(
        cls, start: np.ndarray, upper: np.ndarray, squared: np.ndarray, floor: float
    ) -> _Coordinates:
        scale = np.where(squared, np.maximum(start, floor) ** 2, np.maximum(np.abs(start), floor))
        return cls(np.where(np.isfinite(upper) & ~squared, 1.0, scale), squared)

    def value(self, point: np.ndarray) -> np.ndarray:
        raw = point * self.scale
        return np.where(self.squared, np.sqrt(np.maximum(raw, 0.0)), raw)

    def point(self, value: np.ndarray) -> np.ndarray:
        return np.where(self.squared, value**2, value) / self.scale

    def slope(self, value: np.ndarray) -> np.ndarray:
        """``d value / d point`` (a squared entry at 0 has none: NaN)."""
        positive = np.where(self.squared & (value > 0.0), value, np.nan)
        return np.where(self.squared, self.scale / (2.0 * positive), self.scale)


def _with_gradient(
    coordinates: _Coordinates,
    objective: Callable[[np.ndarray], float],
    value_and_gradient: Callable[[np.ndarray], tuple[float, np.ndarray]],
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """The search's value and gradient from the exact gradient in the values.

    Entries the chain rule cannot give (not finite, or a squared entry at 0)
    are forward differences of ``objective``.
    """

    def value_and_slope(point: np.ndarray) -> tuple[float, np.ndarray]:
        values = coordinates.value(point)
        try:
            value, gradient = value_and_gradient(values)
        except _FAILURES:
            return np.inf, np.zeros_like(point)
        if not np.isfinite(value):
            return np.inf, np.zeros_like(point)
        slope = np.asarray(gradient, dtype=float) * coordinates.slope(values)
        for i in np.flatnonzero(~np.isfinite(slope)):
            moved = point.copy()
            moved[i] += _FORWARD_STEP * max(1.0, abs(point[i]))
            slope[i] = (objective(moved) - value) / (moved[i] - point[i])
        return float(value), slope

    return value_and_slope
