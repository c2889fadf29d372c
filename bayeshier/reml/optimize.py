"""Minimize the profiled criterion over theta (diagonal entries >= 0)."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from scipy.optimize import minimize

from bayeshier.errors import ConvergenceWarning, PrecisionWarning
from bayeshier.reml.covariance import ThetaLayout
from bayeshier.reml.crossprod import CrossProducts, single_factor_products
from bayeshier.reml.factor import factorize, profiled_deviance
from bayeshier.reml.gradient import criterion_gradient
from bayeshier.reml.saturated import ROUNDING_TOLERANCE, rounding_excess

__all__ = ["OptimizationSummary", "optimize_theta"]

_METHOD = "L-BFGS-B"
_OPTIONS = {"ftol": 1e-13, "gtol": 1e-8, "maxiter": 1000}
#: Below this theta^2 the analytic gradient (which divides by theta) gives way
#: to a forward difference of this step in theta^2.
_SMALL_SQUARE = 1e-8
#: Relative step of the central difference for an off-diagonal theta of a
#: singular relative covariance factor.
_CENTRAL_STEP = 1e-6
#: L-BFGS-B restarts (fresh curvature memory) while the projected gradient
#: is larger than this, relative to the criterion (at least 1e4): the
#: criterion grows with the rows, and so does the rounding in its gradient.
_GRADIENT_TOLERANCE = 1e-8
_CRITERION_FLOOR = 1e4
_MAX_RESTARTS = 5
#: A polishing step may raise the criterion by this much (relative), or by ten times
#: its rounding error where an extreme variance ratio makes that larger.
_RISE_TOLERANCE = 1e-11
#: Newton steps on the analytic gradient after L-BFGS-B (see ``_polish``),
#: and the relative step of the forward differences giving their Hessian.
_POLISH_STEPS = 3
_HESSIAN_STEP = 1e-4


@dataclass(frozen=True)
class OptimizationSummary:
    """What the optimizer did: start, end, evaluations, convergence.

    Attributes
    ----------
    method : str
        The optimizer (scipy's bounded quasi-Newton L-BFGS-B over ``theta^2``
        for the diagonal entries and theta for the others, analytic gradient).
    theta_start, theta_end : tuple of float
        Starting and final relative standard deviations.
    criterion_start, criterion_end : float
        The objective at those points.
    evaluations : int
        Objective evaluations, gradients included.
    converged : bool
        Whether the optimizer met its convergence criterion.
    message : str
        The optimizer's own message.
    seconds : float
        Wall time of the optimization.

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


def starting_theta(cp: CrossProducts, layout: ThetaLayout, reml: bool) -> np.ndarray:
    """Return where the search starts.

    For one factor, ``T = I`` (lme4's start); otherwise each factor's
    optimum when it is the only factor.

    The single-factor fits cost little (their cross products are read off
    ``cp``, each evaluation is O(levels * p^2)) and put the start of a
    crossed or nested model close to its optimum, which saves most of the
    expensive evaluations of the dense block.
    """
    n_factors = len(layout.sizes)
    if n_factors == 1:
        return layout.start()
    theta = np.empty(layout.n_theta)
    for index in range(n_factors):
        single = layout.single_factor(index)
        products = single_factor_products(cp, index)
        optimum, _ = optimize_theta(products, single, reml, quiet=True)
        theta[layout.factor_positions(index)] = optimum
    return theta


def optimize_theta(
    cp: CrossProducts,
    layout: ThetaLayout,
    reml: bool,
    start: np.ndarray | None = None,
    *,
    quiet: bool = False,
) -> tuple[np.ndarray, OptimizationSummary]:
    """Find the theta that minimizes the REML criterion or the deviance.

    The search runs over the squares ``s = theta^2 >= 0`` of the diagonal
    entries of the relative covariance factors (the off-diagonal entries are
    free), with the analytic gradient of :mod:`bayeshier.reml.gradient`. For
    a random intercept the criterion is an even function of theta, so its
    derivative in theta is 0 at theta = 0 whatever the data: a gradient
    method working in theta would take every boundary point for a minimum.
    In ``s`` the one-sided derivative at 0 is informative, so a boundary
    optimum is accepted only when the criterion really rises away from it.
    L-BFGS-B is restarted from its end point while the projected gradient is
    not small (a projected step can leave it with a poor curvature model).

    Each restart searches in units of its starting point (see
    :func:`_search_scale`), so that a group sd a million times the residual
    sd is found as reliably as one of the same size.

    ``start`` defaults to lme4's (``T = I``). Unless ``quiet``, warns with
    :class:`~bayeshier.errors.PrecisionWarning` when the optimum lies where
    the criterion's rounding error exceeds what double precision resolves
    (see :mod:`bayeshier.reml.saturated`), else with
    :class:`~bayeshier.errors.ConvergenceWarning` if the optimizer stopped
    without converging.
    """
    objective = _Objective(cp, layout, reml)
    start = layout.start() if start is None else np.asarray(start, dtype=float)
    started = time.perf_counter()
    point = objective.to_search(start)
    criterion_start = objective.value(point)
    bounds = [(0.0, None) if diagonal else (None, None) for diagonal in layout.diagonal]
    for _ in range(_MAX_RESTARTS + 1):
        scale = _search_scale(point)
        result = minimize(
            objective.scaled,
            point / scale,
            args=(scale,),
            method=_METHOD,
            jac=True,
            bounds=bounds,
            options=_OPTIONS,
        )
        point = objective.clip(np.asarray(result.x, dtype=float) * scale)
        value, gradient = objective.value_and_gradient(point)
        converged = objective.converged(point, value, gradient)
        if converged:
            break
    point, value, gradient = _polish(objective, point, value, gradient)
    converged = objective.converged(point, value, gradient)
    theta = objective.to_theta(point)
    summary = OptimizationSummary(
        method=f"{_METHOD} (scipy) over theta^2 (diagonal) and theta, analytic gradient",
        theta_start=tuple(start.tolist()),
        theta_end=tuple(theta.tolist()),
        criterion_start=criterion_start,
        criterion_end=float(value),
        evaluations=objective.evaluations,
        converged=converged,
        message=str(result.message),
        seconds=time.perf_counter() - started,
    )
    if not quiet:
        _warn_if_unreliable(cp, layout, theta, summary)
    return theta, summary


def _warn_if_unreliable(
    cp: CrossProducts, layout: ThetaLayout, theta: np.ndarray, summary: OptimizationSummary
) -> None:
    """Say why the optimum cannot be trusted: rounding beyond resolution, or no convergence."""
    excess = rounding_excess(cp, layout.relative_factors(theta))
    if excess > ROUNDING_TOLERANCE:
        ratio = float(np.max(np.abs(theta)))
        warnings.warn(
            f"A group sd is about {ratio:.3g} times the residual sd: at this variance ratio "
            f"the REML criterion carries a relative rounding error of about {excess:.1g}, "
            "more than double precision can resolve, so the residual sd and the criterion "
            "may be inaccurate (the group sds and fixed effects are less affected). The data "
            "barely vary within groups: check the response, or model the group means.",
            PrecisionWarning,
            stacklevel=4,
        )
    elif not summary.converged:
        warnings.warn(
            f"The optimizer did not converge ({summary.message}) after {summary.evaluations} "
            f"evaluations; theta = {np.round(theta, 6).tolist()}. The estimates may be "
            "inaccurate: check the model (scaling of predictors, tiny groups).",
            ConvergenceWarning,
            stacklevel=4,
        )


class _Objective:
    """The profiled criterion and its gradient in the search coordinates.

    The search coordinates are ``theta^2`` for the diagonal entries of the
    relative covariance factors and theta itself for the others.
    """

    def __init__(self, cp: CrossProducts, layout: ThetaLayout, reml: bool) -> None:
        self.cp = cp
        self.layout = layout
        self.reml = reml
        self.evaluations = 0

    def to_search(self, theta: np.ndarray) -> np.ndarray:
        return np.where(self.layout.diagonal, theta**2, theta)

    def to_theta(self, point: np.ndarray) -> np.ndarray:
        return np.where(self.layout.diagonal, np.sqrt(np.maximum(point, 0.0)), point)

    def clip(self, point: np.ndarray) -> np.ndarray:
        return np.where(self.layout.diagonal, np.maximum(point, 0.0), point)

    def factor_at(self, point: np.ndarray):
        return factorize(self.cp, self.layout.relative_factors(self.to_theta(point)))

    def value(self, point: np.ndarray) -> float:
        self.evaluations += 1
        return profiled_deviance(self.cp, self.factor_at(point), self.reml)

    def converged(self, point: np.ndarray, value: float, gradient: np.ndarray) -> bool:
        """Whether the projected gradient, in units of the point, is within the rounding.

        The tolerance is relative to the criterion (at least
        ``_CRITERION_FLOOR``), and widened to the criterion's own rounding error
        where an extreme variance ratio makes that larger (see
        :func:`~bayeshier.reml.saturated.rounding_excess`).
        """
        relative = max(_GRADIENT_TOLERANCE, 10.0 * self.rounding(point))
        tolerance = relative * max(abs(value), _CRITERION_FLOOR)
        projected = _projected_gradient(point, gradient, self.layout.diagonal)
        return bool(np.max(np.abs(projected * _search_scale(point)), initial=0.0) <= tolerance)

    def rounding(self, point: np.ndarray) -> float:
        """Relative rounding error of the criterion at ``point`` beyond double precision's."""
        return rounding_excess(self.cp, self.layout.relative_factors(self.to_theta(point)))

    def scaled(self, scaled_point: np.ndarray, scale: np.ndarray) -> tuple[float, np.ndarray]:
        """Value and gradient in the coordinates ``point / scale`` (see :func:`_search_scale`)."""
        value, gradient = self.value_and_gradient(scaled_point * scale)
        return value, gradient * scale

    def value_and_gradient(self, point: np.ndarray) -> tuple[float, np.ndarray]:
        point = self.clip(point)
        theta = self.to_theta(point)
        diagonal = self.layout.diagonal
        self.evaluations += 1
        factor = self.factor_at(point)
        value = profiled_deviance(self.cp, factor, self.reml)
        small = diagonal & (point < _SMALL_SQUARE)
        gradient = np.full(point.shape, np.nan)
        if not small.all():
            with np.errstate(divide="ignore", invalid="ignore"):
                in_theta = criterion_gradient(self.cp, factor, self.reml, self.layout)
                gradient = np.where(diagonal, in_theta / (2.0 * theta), in_theta)
        for i in np.flatnonzero(small | ~np.isfinite(gradient)):
            gradient[i] = self._difference(point, value, i, bool(small[i]))
        return value, gradient

    def _difference(self, point: np.ndarray, value: float, i: int, at_bound: bool) -> float:
        """Forward difference at the bound ``s = 0``, central elsewhere."""
        shifted = point.copy()
        if at_bound:
            shifted[i] += _SMALL_SQUARE
            return (self.value(shifted) - value) / _SMALL_SQUARE
        step = _CENTRAL_STEP * max(1.0, abs(point[i]))
        shifted[i] = point[i] + step
        upper = self.value(shifted)
        shifted[i] = point[i] - step
        if self.layout.diagonal[i]:
            shifted[i] = max(shifted[i], 0.0)
        lower = self.value(shifted)
        return (upper - lower) / (point[i] + step - shifted[i])


def _polish(
    objective: _Objective, point: np.ndarray, value: float, gradient: np.ndarray
) -> tuple[np.ndarray, float, np.ndarray]:
    """Newton steps on the analytic gradient from where L-BFGS-B stopped.

    L-BFGS-B stops once the criterion no longer falls measurably, which
    places a flat optimum (the variance of a handful of groups) only to about
    the square root of the rounding error, 1e-7 in theta: where exactly then
    depends on the last bits of the sums, e.g. on the order in which the
    partitions of a Dask DataFrame were added. The gradient stays accurate
    down to the rounding error, so a few Newton steps on it (Hessian from
    forward differences of the gradient, computed once) find the optimum to
    about 1e-12 and fits of the same data agree to far more digits than
    anyone reads. Entries at or next to the bound ``theta^2 = 0`` stay where
    they are; a step is kept only if it shrinks the gradient without raising
    the criterion beyond its rounding error (which an extreme variance ratio
    makes larger than 1e-11: seen 5e-10 at a ratio of 580, where the step to
    the optimum "rose" by 2e-11 relative and was refused).
    """
    free = np.flatnonzero(~(objective.layout.diagonal & (point < _SMALL_SQUARE)))
    if free.size == 0 or not np.all(np.isfinite(gradient[free])):
        return point, value, gradient
    hessian = _gradient_jacobian(objective, point, gradient, free)
    try:
        cholesky = sla.cho_factor(hessian)
    except (np.linalg.LinAlgError, ValueError):  # not positive definite: no Newton step
        return point, value, gradient
    for _ in range(_POLISH_STEPS):
        size = np.max(np.abs(gradient[free]))
        trial = point.copy()
        trial[free] -= sla.cho_solve(cholesky, gradient[free])
        if size == 0.0 or np.any(objective.layout.diagonal & (trial < _SMALL_SQUARE)):
            break
        trial_value, trial_gradient = objective.value_and_gradient(trial)
        # a rise within the criterion's own rounding error is no rise
        noise = max(_RISE_TOLERANCE, 10.0 * objective.rounding(point))
        rises = trial_value > value + noise * max(1.0, abs(value))
        if rises or not np.max(np.abs(trial_gradient[free])) < size:
            break
        point, value, gradient = trial, trial_value, trial_gradient
    return point, value, gradient


def _gradient_jacobian(
    objective: _Objective, point: np.ndarray, gradient: np.ndarray, free: np.ndarray
) -> np.ndarray:
    """Symmetrised forward-difference Jacobian of the gradient over the ``free`` entries."""
    hessian = np.empty((free.size, free.size))
    for column, i in enumerate(free):
        step = _HESSIAN_STEP * max(abs(point[i]), 1e-2)
        shifted = point.copy()
        shifted[i] += step
        shifted_gradient = objective.value_and_gradient(shifted)[1]
        hessian[:, column] = (shifted_gradient[free] - gradient[free]) / step
    return 0.5 * (hessian + hessian.T)


def _search_scale(point: np.ndarray) -> np.ndarray:
    """Units of the search coordinates: their own size where it exceeds 1, else 1.

    A group sd a million times the residual sd puts ``theta^2`` near 1e12,
    where the criterion's derivative in ``theta^2`` is about 1e-12: L-BFGS-B
    and the convergence test would take any such point for an optimum. In
    units of the current point the derivative is of the order of the number
    of levels again, so each restart searches on a well-scaled problem.
    """
    return np.maximum(np.abs(point), 1.0)


def _projected_gradient(
    point: np.ndarray, gradient: np.ndarray, diagonal: np.ndarray
) -> np.ndarray:
    """The gradient with components pushing into the bound ``s = 0`` removed."""
    return np.where(diagonal & (point <= 0.0) & (gradient > 0.0), 0.0, gradient)
