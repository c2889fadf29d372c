"""Minimise the profiled criterion over theta >= 0."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import ThreadpoolController

from bayeshier.errors import ConvergenceWarning
from bayeshier.reml.crossprod import CrossProducts
from bayeshier.reml.factor import factorize, profiled_deviance

__all__ = ["OptimizationSummary", "optimize_theta"]

#: Start of every theta, as in lme4 (sigma_f = sigma).
THETA_START = 1.0
_METHOD = "L-BFGS-B"
_OPTIONS = {"ftol": 1e-13, "gtol": 1e-7, "maxiter": 1000}
#: Below this size of the dense block, BLAS runs on one thread: waking a
#: second thread for tiny matrices costs milliseconds per optimiser iteration.
_SINGLE_THREAD_BELOW = 256
#: Relative step of the central-difference gradient.
_STEP = 1e-5


@dataclass(frozen=True)
class OptimizationSummary:
    """What the optimiser did: start, end, evaluations, convergence.

    Attributes
    ----------
    method : str
        The optimiser (scipy's bounded quasi-Newton L-BFGS-B with central
        finite-difference gradients; the criterion is even in each theta, so
        the central difference is exact in form at the bound theta = 0).
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

    Warns with :class:`~bayeshier.errors.ConvergenceWarning` if the optimiser
    stops without converging.
    """
    evaluations = 0

    def objective(theta: np.ndarray) -> float:
        nonlocal evaluations
        evaluations += 1
        return profiled_deviance(cp, factorize(cp, np.abs(theta)), reml)

    def objective_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return objective(theta), _central_gradient(objective, theta)

    start = np.full(n_theta, THETA_START)
    started = time.perf_counter()
    criterion_start = objective(start)
    threads = 1 if cp.rest.shape[0] < _SINGLE_THREAD_BELOW else None
    with _blas_controller().limit(limits=threads, user_api="blas"):
        result = minimize(
            objective_and_gradient,
            start,
            method=_METHOD,
            jac=True,
            bounds=[(0.0, None)] * n_theta,
            options=_OPTIONS,
        )
    theta = np.maximum(np.asarray(result.x, dtype=float), 0.0)
    summary = OptimizationSummary(
        method=f"{_METHOD} (scipy), central-difference gradient",
        theta_start=tuple(start.tolist()),
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


@cache
def _blas_controller() -> ThreadpoolController:
    """One controller per process: discovering the BLAS libraries is slow."""
    return ThreadpoolController()


def _central_gradient(objective, theta: np.ndarray) -> np.ndarray:
    """Central differences with a step relative to each theta."""
    gradient = np.empty_like(theta)
    for i in range(theta.shape[0]):
        step = _STEP * max(1.0, abs(theta[i]))
        shift = np.zeros_like(theta)
        shift[i] = step
        gradient[i] = (objective(theta + shift) - objective(theta - shift)) / (2.0 * step)
    return gradient
