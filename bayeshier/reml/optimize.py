"""Minimise the profiled criterion over theta >= 0."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from bayeshier.errors import ConvergenceWarning
from bayeshier.reml.crossprod import CrossProducts, single_factor_products
from bayeshier.reml.factor import factorize, profiled_deviance
from bayeshier.reml.gradient import criterion_gradient

__all__ = ["OptimizationSummary", "optimize_theta"]

#: Start of every theta, as in lme4 (sigma_f = sigma).
THETA_START = 1.0
_METHOD = "L-BFGS-B"
_OPTIONS = {"ftol": 1e-13, "gtol": 1e-8, "maxiter": 1000}
#: Below this theta^2 the analytic gradient (which divides by theta) gives way
#: to a forward difference of this step in theta^2.
_SMALL_SQUARE = 1e-8
#: L-BFGS-B restarts (fresh curvature memory) while the projected gradient
#: is larger than this, relative to the criterion (at least 1e4): the
#: criterion grows with the rows, and so does the rounding in its gradient.
_GRADIENT_TOLERANCE = 1e-8
_CRITERION_FLOOR = 1e4
_MAX_RESTARTS = 5


@dataclass(frozen=True)
class OptimizationSummary:
    """What the optimiser did: start, end, evaluations, convergence.

    Attributes
    ----------
    method : str
        The optimiser (scipy's bounded quasi-Newton L-BFGS-B over ``theta^2``
        with finite-difference gradients).
    theta_start, theta_end : tuple of float
        Starting and final relative standard deviations.
    criterion_start, criterion_end : float
        The objective at those points.
    evaluations : int
        Objective evaluations, gradients included.
    converged : bool
        Whether the optimiser met its convergence criterion.
    message : str
        The optimiser's own message.
    seconds : float
        Wall time of the optimisation.

    """

    method: str
    theta_start: tuple[float, ...]
    theta_end: tuple[float, ...]
    criterion_start: float
    criterion_end: float
    evaluations: int
    converged: bool
    message: str
    seconds: float


def starting_theta(cp: CrossProducts, reml: bool) -> np.ndarray:
    """Return where the search starts.

    For one factor, theta = 1 (lme4's start); otherwise each factor's
    optimum when it is the only factor.

    The single-factor fits cost little (their cross products are read off
    ``cp``, each evaluation is O(levels * p^2)) and put the start of a
    crossed or nested model close to its optimum, which saves most of the
    expensive evaluations of the dense block.
    """
    n_factors = 1 + len(cp.rest_sizes)
    if n_factors == 1:
        return np.array([THETA_START])
    return np.array(
        [
            optimize_theta(single_factor_products(cp, index), 1, reml)[0][0]
            for index in range(n_factors)
        ]
    )


def optimize_theta(
    cp: CrossProducts, n_theta: int, reml: bool, start: np.ndarray | None = None
) -> tuple[np.ndarray, OptimizationSummary]:
    """Find the theta >= 0 that minimises the REML criterion or the deviance.

    The search runs over the squares ``s = theta^2 >= 0`` with the analytic
    gradient of :mod:`bayeshier.reml.gradient`. The criterion is an even
    function of each theta, so its derivative in theta is 0 at theta = 0
    whatever the data: a gradient method working in theta would take every
    boundary point for a minimum. In ``s`` the one-sided derivative at 0 is
    informative, so a boundary optimum is accepted only when the criterion
    really rises away from it. L-BFGS-B is restarted from its end point while
    the projected gradient is not small (a projected step can leave it with a
    poor curvature model).

    ``start`` defaults to theta = 1 for every factor (lme4's start).
    Warns with :class:`~bayeshier.errors.ConvergenceWarning` if the optimiser
    stops without converging.
    """
    objective = _SquaredThetaObjective(cp, reml)
    start = np.full(n_theta, THETA_START) ** 2 if start is None else np.asarray(start) ** 2
    started = time.perf_counter()
    criterion_start = objective.value(start)
    squares = start
    for _ in range(_MAX_RESTARTS + 1):
        result = minimize(
            objective.value_and_gradient,
            squares,
            method=_METHOD,
            jac=True,
            bounds=[(0.0, None)] * n_theta,
            options=_OPTIONS,
        )
        squares = np.maximum(np.asarray(result.x, dtype=float), 0.0)
        value, gradient = objective.value_and_gradient(squares)
        tolerance = _GRADIENT_TOLERANCE * max(abs(value), _CRITERION_FLOOR)
        converged = bool(
            np.max(np.abs(_projected_gradient(squares, gradient)), initial=0.0) <= tolerance
        )
        if converged:
            break
    theta = np.sqrt(squares)
    summary = OptimizationSummary(
        method=f"{_METHOD} (scipy) over theta^2, analytic gradient",
        theta_start=tuple(np.sqrt(start).tolist()),
        theta_end=tuple(theta.tolist()),
        criterion_start=criterion_start,
        criterion_end=float(result.fun),
        evaluations=objective.evaluations,
        converged=converged,
        message=str(result.message),
        seconds=time.perf_counter() - started,
    )
    if not summary.converged:
        warnings.warn(
            f"The optimiser did not converge ({summary.message}) after {summary.evaluations} "
            f"evaluations; theta = {np.round(theta, 6).tolist()}. The estimates may be "
            "inaccurate: check the model (scaling of predictors, tiny groups).",
            ConvergenceWarning,
            stacklevel=3,
        )
    return theta, summary


class _SquaredThetaObjective:
    """The profiled criterion and its gradient as functions of ``s = theta^2``."""

    def __init__(self, cp: CrossProducts, reml: bool) -> None:
        self.cp = cp
        self.reml = reml
        self.evaluations = 0

    def value(self, squares: np.ndarray) -> float:
        self.evaluations += 1
        return profiled_deviance(self.cp, factorize(self.cp, np.sqrt(squares)), self.reml)

    def value_and_gradient(self, squares: np.ndarray) -> tuple[float, np.ndarray]:
        squares = np.maximum(squares, 0.0)
        theta = np.sqrt(squares)
        self.evaluations += 1
        factor = factorize(self.cp, theta)
        value = profiled_deviance(self.cp, factor, self.reml)
        small = squares < _SMALL_SQUARE
        gradient = np.zeros_like(squares)
        if not small.all():
            with np.errstate(divide="ignore", invalid="ignore"):
                gradient = criterion_gradient(self.cp, factor, self.reml) / (2.0 * theta)
        for i in np.flatnonzero(small):
            shifted = squares.copy()
            shifted[i] += _SMALL_SQUARE
            gradient[i] = (self.value(shifted) - value) / _SMALL_SQUARE
        return value, gradient


def _projected_gradient(squares: np.ndarray, gradient: np.ndarray) -> np.ndarray:
    """The gradient with components pushing into the bound ``s = 0`` removed."""
    return np.where((squares <= 0.0) & (gradient > 0.0), 0.0, gradient)
