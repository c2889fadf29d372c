"""Minimize a GLMM's deviance jointly over (theta, beta), as glmer's second stage does.

The deviance is unchanged when a column of a relative covariance factor
``T_f`` changes sign (``T_f T_f'`` stays the same), so the search can run
over unconstrained (theta, beta): a variance at 0 is then an ordinary
stationary point (the deviance is even in that theta), and at the end every
column with a negative diagonal entry is flipped into lme4's ``theta >= 0``.

The search is BFGS started with the inverse of the Hessian at the start
(central differences of the exact gradient of
:mod:`bayeshier.reml.glmm.laplace`): with that curvature the coupled
directions of theta and beta are taken in stride, and a handful of
iterations reach the optimum. The adaptive Gauss-Hermite deviance starts
at the Laplace optimum with the Laplace Hessian and uses central
differences of the deviance. A few Newton steps on the Hessian at the end
then place the optimum to about 1e-10, and that Hessian gives the
covariance of the fixed effects as glmer's ``vcov`` does: ``2
[H^-1]_beta,beta`` with ``H`` the Hessian of the deviance in (theta, beta).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from scipy.optimize import minimize

from bayeshier.reml.covariance import ThetaLayout
from bayeshier.reml.glmm.objective import Evaluation, Objective
from bayeshier.reml.glmm.pirls import Problem
from bayeshier.reml.optimize import OptimizationSummary

__all__ = ["SearchResult", "hessian_at", "search", "search_then_quadrature"]

#: BFGS stops when the largest gradient entry is below this (times sqrt of the deviance).
_GRADIENT_TOLERANCE = 1e-7
_MAX_ITERATIONS = 500
_NEWTON_STEPS = 4
_HESSIAN_STEP = 1e-4
_VALUE_STEP = 1e-6
_VALUE_HESSIAN_STEP = 1e-4


@dataclass(frozen=True, eq=False)
class SearchResult:
    """The optimum, the Hessian there and what the search did.

    Attributes
    ----------
    theta, beta : numpy.ndarray
        The optimum (theta in lme4's layout, diagonal entries >= 0).
    hessian : numpy.ndarray
        Hessian of the deviance in (theta, beta) (NaN where not computable).
    evaluation : Evaluation
        The deviance and modes at the optimum.
    summary : OptimizationSummary
        Start, end, evaluations, convergence.

    """

    theta: np.ndarray
    beta: np.ndarray
    hessian: np.ndarray
    evaluation: Evaluation
    summary: OptimizationSummary


def search(
    objective: Objective,
    theta0: np.ndarray,
    beta0: np.ndarray,
    hessian0: np.ndarray | None = None,
) -> SearchResult:
    """Minimize the deviance from (theta0, beta0).

    ``hessian0``, the Hessian in (theta, beta) at the start, is computed if
    not given (the AGQ search passes the Laplace one).
    """
    started = time.perf_counter()
    exact = objective.nagq == 1
    n = theta0.size
    point = np.concatenate([theta0, beta0])
    start_value = objective.value(theta0, beta0)
    if hessian0 is None:
        hessian0 = hessian_at(objective, point, exact, central=False)
    tolerance = _GRADIENT_TOLERANCE * np.sqrt(max(1.0, abs(start_value)))
    result = minimize(
        lambda x: _value_and_gradient(objective, x, exact),
        point,
        jac=True,
        method="BFGS",
        options={
            "gtol": tolerance,
            "norm": np.inf,
            "maxiter": _MAX_ITERATIONS,
            "hess_inv0": _safe_inverse(hessian0),
        },
    )
    point = _nonnegative_diagonal(objective, np.asarray(result.x, dtype=float))
    point, hessian, gradient = _polish(objective, point, exact)
    evaluation = objective.evaluate(point[:n], point[n:], gradient=exact)
    converged = bool(np.max(np.abs(gradient), initial=0.0) <= 100.0 * tolerance)
    summary = OptimizationSummary(
        method="BFGS (scipy) over (theta, beta) from the Hessian at the start, "
        + ("exact gradient" if exact else "central differences")
        + ", then Newton steps",
        theta_start=tuple(np.concatenate([theta0, beta0]).tolist()),
        theta_end=tuple(point.tolist()),
        criterion_start=float(start_value),
        criterion_end=float(evaluation.value),
        evaluations=objective.evaluations,
        converged=converged,
        message=str(result.message),
        seconds=time.perf_counter() - started,
    )
    return SearchResult(point[:n], point[n:], hessian, evaluation, summary)


def search_then_quadrature(
    problem: Problem, layout: ThetaLayout, nagq: int, theta0: np.ndarray, beta0: np.ndarray
) -> SearchResult:
    """The Laplace optimum from (theta0, beta0), then for ``nagq > 1`` the quadrature one from it.

    The quadrature search starts with the Laplace optimum's Hessian.
    """
    found = search(Objective(problem, layout, 1), theta0, beta0)
    if nagq > 1:
        found = search(Objective(problem, layout, nagq), found.theta, found.beta, found.hessian)
    return found


def _value_and_gradient(objective: Objective, x: np.ndarray, exact: bool):
    n = objective.layout.n_theta
    value = objective.evaluate(x[:n], x[n:], gradient=exact).value
    return value, _gradient_at(objective, x, exact)


def _safe_inverse(hessian: np.ndarray) -> np.ndarray:
    """The inverse of the Hessian with its eigenvalues made positive (identity if unusable)."""
    if not np.all(np.isfinite(hessian)):
        return np.eye(hessian.shape[0])
    values, vectors = np.linalg.eigh(0.5 * (hessian + hessian.T))
    largest = np.max(np.abs(values), initial=0.0)
    if largest == 0.0:
        return np.eye(hessian.shape[0])
    floored = np.maximum(np.abs(values), 1e-6 * largest)
    inverse = (vectors / floored) @ vectors.T
    return 0.5 * (inverse + inverse.T)


def _nonnegative_diagonal(objective: Objective, point: np.ndarray) -> np.ndarray:
    """Flip every column of ``T_f`` with a negative diagonal entry (``T_f T_f'`` is unchanged)."""
    layout = objective.layout
    n = layout.n_theta
    flipped = []
    for T in layout.relative_factors(point[:n]):
        signs = np.where(np.diag(T) < 0.0, -1.0, 1.0)
        flipped.append(T * signs[None, :])
    result = point.copy()
    result[:n] = layout.gather(flipped)
    return result


def _polish(objective: Objective, point: np.ndarray, exact: bool):
    """Newton steps on the Hessian at ``point``; returns the point, that Hessian, the gradient."""
    n = objective.layout.n_theta
    hessian = hessian_at(objective, point, exact)
    gradient = _gradient_at(objective, point, exact)
    if not np.all(np.isfinite(hessian)) or not np.all(np.isfinite(gradient)):
        return point, hessian, gradient
    try:
        cholesky = sla.cho_factor(hessian)
    except (np.linalg.LinAlgError, ValueError):
        return point, hessian, gradient
    value = objective.value(point[:n], point[n:])
    for _ in range(_NEWTON_STEPS):
        trial = _nonnegative_diagonal(objective, point - sla.cho_solve(cholesky, gradient))
        trial_value = objective.value(trial[:n], trial[n:])
        if trial_value > value + 1e-12 * max(1.0, abs(value)):
            break
        trial_gradient = _gradient_at(objective, trial, exact)
        if not np.max(np.abs(trial_gradient)) < np.max(np.abs(gradient)):
            break
        point, value, gradient = trial, trial_value, trial_gradient
    return point, hessian, gradient


def _gradient_at(objective: Objective, point: np.ndarray, exact: bool) -> np.ndarray:
    n = objective.layout.n_theta
    if exact:
        ev = objective.evaluate(point[:n], point[n:])
        gradient = np.concatenate([ev.grad_theta, ev.grad_beta])
        missing = np.flatnonzero(~np.isfinite(gradient))
    else:
        gradient = np.empty(point.size)
        missing = np.arange(point.size)
    for i in missing:
        step = _VALUE_STEP * max(1.0, abs(point[i]))
        upper, lower = point.copy(), point.copy()
        upper[i] += step
        lower[i] -= step
        gradient[i] = (
            objective.value(upper[:n], upper[n:]) - objective.value(lower[:n], lower[n:])
        ) / (2.0 * step)
    return gradient


def hessian_at(
    objective: Objective, point: np.ndarray, exact: bool, central: bool = True
) -> np.ndarray:
    """Hessian of the deviance in (theta, beta): differences of the gradient or of the values.

    With the exact gradient, ``central=False`` takes forward differences
    (half the evaluations, for a starting curvature).
    """
    size = point.size
    if not exact:
        steps = _VALUE_HESSIAN_STEP * np.maximum(np.abs(point), 1.0)
        return _value_hessian(objective, point, steps)
    steps = _HESSIAN_STEP * np.maximum(np.abs(point), 1e-1)
    centre = None if central else _gradient_at(objective, point, True)
    columns = []
    for i in range(size):
        upper = point.copy()
        upper[i] += steps[i]
        if central:
            lower = point.copy()
            lower[i] -= steps[i]
            difference = _gradient_at(objective, upper, True) - _gradient_at(objective, lower, True)
            columns.append(difference / (2.0 * steps[i]))
        else:
            columns.append((_gradient_at(objective, upper, True) - centre) / steps[i])
    hessian = np.column_stack(columns)
    return 0.5 * (hessian + hessian.T)


def _value_hessian(objective: Objective, point: np.ndarray, steps: np.ndarray) -> np.ndarray:
    n = objective.layout.n_theta

    def at(shift: np.ndarray) -> float:
        moved = point + shift
        return objective.value(moved[:n], moved[n:])

    size = point.size
    centre = at(np.zeros(size))
    hessian = np.empty((size, size))
    unit = np.eye(size) * steps
    for i in range(size):
        hessian[i, i] = (at(unit[i]) - 2.0 * centre + at(-unit[i])) / steps[i] ** 2
        for j in range(i):
            value = at(unit[i] + unit[j]) - at(unit[i] - unit[j])
            value -= at(unit[j] - unit[i]) - at(-unit[i] - unit[j])
            hessian[i, j] = hessian[j, i] = value / (4.0 * steps[i] * steps[j])
    return hessian
