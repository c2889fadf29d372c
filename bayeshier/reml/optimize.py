"""Minimise the profiled criterion over theta >= 0."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from bayeshier.errors import ConvergenceWarning
from bayeshier.reml.crossprod import CrossProducts
from bayeshier.reml.factor import factorize, profiled_deviance

__all__ = ["OptimizationSummary", "optimize_theta"]

#: Start of every theta, as in lme4 (sigma_f = sigma).
THETA_START = 1.0
_METHOD = "L-BFGS-B"
_OPTIONS = {"ftol": 1e-12, "gtol": 1e-6, "maxiter": 1000}
#: Relative step of the central-difference gradient.
_STEP = 1e-5


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


def optimize_theta(
    cp: CrossProducts, n_theta: int, reml: bool
) -> tuple[np.ndarray, OptimizationSummary]:
    """Find the theta >= 0 that minimises the REML criterion or the deviance.

    The search runs over the squares ``s = theta^2 >= 0``. The criterion is
    an even function of each theta, so its derivative in theta is 0 at
    theta = 0 whatever the data: a gradient method working in theta would
    take every boundary point for a minimum. In ``s`` the one-sided
    derivative at 0 is informative (``f''(0) / 2``), so a boundary optimum is
    accepted only when the criterion really rises away from it.

    Warns with :class:`~bayeshier.errors.ConvergenceWarning` if the optimiser
    stops without converging.
    """
    evaluations = 0

    def criterion(squares: np.ndarray) -> float:
        nonlocal evaluations
        evaluations += 1
        theta = np.sqrt(np.maximum(squares, 0.0))
        return profiled_deviance(cp, factorize(cp, theta), reml)

    def criterion_and_gradient(squares: np.ndarray) -> tuple[float, np.ndarray]:
        value = criterion(squares)
        return value, _finite_difference_gradient(criterion, squares, value)

    start = np.full(n_theta, THETA_START**2)
    started = time.perf_counter()
    criterion_start = criterion(start)
    result = minimize(
        criterion_and_gradient,
        start,
        method=_METHOD,
        jac=True,
        bounds=[(0.0, None)] * n_theta,
        options=_OPTIONS,
    )
    theta = np.sqrt(np.maximum(np.asarray(result.x, dtype=float), 0.0))
    summary = OptimizationSummary(
        method=f"{_METHOD} (scipy) over theta^2, finite-difference gradient",
        theta_start=tuple(np.sqrt(start).tolist()),
        theta_end=tuple(theta.tolist()),
        criterion_start=criterion_start,
        criterion_end=float(result.fun),
        evaluations=evaluations,
        converged=bool(result.success),
        message=str(result.message),
        seconds=time.perf_counter() - started,
    )
    if not summary.converged:
        warnings.warn(
            f"The optimiser did not converge ({summary.message}) after {evaluations} "
            f"evaluations; theta = {np.round(theta, 6).tolist()}. The estimates may be "
            "inaccurate: check the model (scaling of predictors, tiny groups).",
            ConvergenceWarning,
            stacklevel=3,
        )
    return theta, summary


def _finite_difference_gradient(criterion, squares: np.ndarray, value: float) -> np.ndarray:
    """Central differences inside the domain, forward differences next to the bound 0."""
    gradient = np.empty_like(squares)
    for i in range(squares.shape[0]):
        step = _STEP * max(1.0, abs(squares[i]))
        shift = np.zeros_like(squares)
        shift[i] = step
        if squares[i] > step:
            gradient[i] = (criterion(squares + shift) - criterion(squares - shift)) / (2.0 * step)
        else:
            gradient[i] = (criterion(squares + shift) - value) / step
    return gradient
