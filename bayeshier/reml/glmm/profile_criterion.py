"""The deviance of a fitted GLMM as a function of lme4's parameters, for profiling.

lme4 profiles a ``glmer`` fit over every parameter alike (its ``devfun2``
wraps the fit's own deviance function of ``(theta, beta)``): the random
effects' standard deviations and correlations, then the fixed effects. For a
value ``x`` of one parameter the deviance (Laplace, or adaptive
Gauss-Hermite for ``nagq > 1``) is minimized over all the others, and

    zeta(x) = sign(x - x_hat) sqrt(deviance(x) - deviance_min).

:class:`GlmmCriterion` has the interface that the profile walker of
:mod:`bayeshier.reml.profile` takes (:class:`~bayeshier.reml.profile_criterion.MLCriterion`'s):
``names``, ``optimum``, ``limits``, ``first_value`` and ``point``. The
minimization is the bounded quasi-Newton search of the linear profiles
(scipy's L-BFGS-B, standard deviations searched as squares), started from the
previous point of the profile: with the exact gradient of the Laplace
deviance (carried from theta to the sds and correlations), or with central
differences of the quadrature deviance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayeshier.reml.covariance import ThetaLayout
from bayeshier.reml.glmm.objective import Objective
from bayeshier.reml.glmm.pirls import Problem
from bayeshier.reml.profile_criterion import VarianceFirst, search_within, signed_root
from bayeshier.reml.sdcor import parameter_names, scale_free_sdcor, sdcor_to_theta

__all__ = ["GlmmCriterion"]

#: Smallest scale of a standard deviation in the search (link scale).
_SD_FLOOR = 1e-2
#: Step of the central differences of the (algebraic) map from sds and correlations to theta.
_JACOBIAN_STEP = 1e-6


@dataclass(frozen=True, eq=False)
class GlmmCriterion(VarianceFirst):
    """The deviance of a GLMM around its maximum-likelihood fit.

    Attributes
    ----------
    objective : Objective
        The fit's deviance of ``(theta, beta)`` (Laplace or quadrature).
    layout : ThetaLayout
        Where theta sits in the relative covariance factors.
    names : list of str
        lme4's parameter names: standard deviations and correlations, then
        the fixed effects (a GLMM has no ``sigma``).
    optimum : numpy.ndarray
        The estimates of those parameters.
    deviance : float
        The minimum deviance, as :meth:`full_deviance` evaluates it.

    """

    objective: Objective
    layout: ThetaLayout
    names: list[str]
    optimum: np.ndarray
    deviance: float

    @classmethod
    def from_fit(cls, fit) -> GlmmCriterion:
        """The criterion of a :class:`~bayeshier.reml.glmm.results.GlmmFit`."""
        problem = Problem.of(fit.spec, fit.family, fit.y, fit.weights, fit.offset)
        objective = Objective(problem, fit.layout, fit.nagq)
        variance = scale_free_sdcor(fit.layout, fit.theta)
        beta = fit.fixef.to_numpy()
        return cls(
            objective=objective,
            layout=fit.layout,
            names=parameter_names(fit),
            optimum=np.concatenate([variance, beta]),
            # the minimum as the profiles evaluate it (the fit's own value, to rounding)
            deviance=objective.value(fit.theta, beta),
        )

    @property
    def n_variance(self) -> int:
        """Number of variance parameters (standard deviations and correlations)."""
        return self.layout.n_theta

    @property
    def size(self) -> int:
        """Order of the dense part of the factor (for the BLAS thread count)."""
        return self.objective.problem.dense_order

    @property
    def variance_diagonal(self) -> np.ndarray:
        """Which variance parameters are standard deviations (no sigma in a GLMM).

        Every GLMM parameter, fixed effects too, starts its profile at 1.01
        times its estimate, as lme4 (:meth:`VarianceFirst.first_value`).
        """
        return self.layout.diagonal

    def full_deviance(self, parameters: np.ndarray) -> float:
        """The deviance at standard deviations, correlations and fixed effects ``parameters``."""
        theta = self._theta(parameters[: self.n_variance])
        return self.objective.value(theta, parameters[self.n_variance :])

    def _theta(self, variance: np.ndarray) -> np.ndarray:
        """Theta of the sds and correlations (the sds themselves if every effect is scalar)."""
        if np.all(self.layout.diagonal):
            return variance
        return sdcor_to_theta(self.layout, variance, 1.0)

    def point(self, w: int, value: float, previous: np.ndarray) -> np.ndarray:
        """The profile at parameter ``w`` = ``value``: zeta, then every parameter."""
        others = np.delete(np.arange(self.optimum.size), w)
        lower, upper = np.array([self.limits(i) for i in range(self.optimum.size)]).T
        fixed = np.zeros(self.optimum.size - self.n_variance, dtype=bool)
        squared = np.append(self.layout.diagonal, fixed)

        def deviance(free: np.ndarray) -> float:
            return self.full_deviance(np.insert(free, w, value))

        start = np.clip(previous[others], lower[others], upper[others])
        best, free = search_within(
            deviance,
            start,
            lower[others],
            upper[others],
            squared[others],
            _SD_FLOOR,
            self._with_gradient(w, value) if self._exact_gradient else None,
        )
        zeta = signed_root(best, self.deviance, value - self.optimum[w])
        return np.concatenate([[zeta], np.insert(free, w, value)])

    @property
    def _exact_gradient(self) -> bool:
        """The Laplace deviance has an exact gradient (quadrature has not)."""
        return self.objective.nagq == 1

    def _with_gradient(self, w: int, value: float):
        """The deviance and its exact gradient in the parameters other than ``w`` (held).

        The gradient in theta is carried to the sds and correlations by the
        Jacobian of :func:`~bayeshier.reml.sdcor.sdcor_to_theta` (the
        identity when every random effect is scalar).
        """
        n = self.n_variance

        def value_and_gradient(free: np.ndarray) -> tuple[float, np.ndarray]:
            parameters = np.insert(free, w, value)
            variance = parameters[:n]
            evaluation = self.objective.evaluate(self._theta(variance), parameters[n:])
            grad_variance = self._theta_jacobian(variance).T @ evaluation.grad_theta
            gradient = np.concatenate([grad_variance, evaluation.grad_beta])
            return evaluation.value, np.delete(gradient, w)

        return value_and_gradient

    def _theta_jacobian(self, variance: np.ndarray) -> np.ndarray:
        """Jacobian of theta in the sds and correlations (central differences)."""
        if np.all(self.layout.diagonal):
            return np.eye(variance.size)
        lower, upper = self.bounds()
        columns = []
        for i in range(variance.size):
            step = _JACOBIAN_STEP * max(1.0, abs(variance[i]))
            up = variance.copy()
            down = variance.copy()
            up[i] = min(variance[i] + step, upper[i])
            down[i] = max(variance[i] - step, lower[i])
            difference = sdcor_to_theta(self.layout, up, 1.0) - sdcor_to_theta(
                self.layout, down, 1.0
            )
            columns.append(difference / (up[i] - down[i]))
        return np.column_stack(columns)
