"""The deviance of a GLMM as a function of (theta, beta), with warm-started PIRLS.

:class:`Objective` evaluates the Laplace deviance (and its exact gradient) or
the adaptive Gauss-Hermite deviance at any (theta, beta), starting PIRLS
from the modes of the previous evaluation: near an optimum the modes barely
move, and two or three Fisher-scoring steps reach them again. A one-slot
cache returns the last evaluation when the same point comes back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayeshier.reml.covariance import ThetaLayout
from bayeshier.reml.glmm.agq import agq_deviance
from bayeshier.reml.glmm.families import Family
from bayeshier.reml.glmm.laplace import laplace_deviance, laplace_gradient
from bayeshier.reml.glmm.pirls import Mode, Problem, pirls

__all__ = ["Evaluation", "Objective", "glm_fit", "glm_start"]

_GLM_ITERATIONS = 100
_GLM_TOLERANCE = 1e-10


@dataclass(frozen=True, eq=False)
class Evaluation:
    """The deviance at one point, its gradient (Laplace only) and the modes."""

    value: float
    grad_theta: np.ndarray | None
    grad_beta: np.ndarray | None
    mode: Mode


class Objective:
    """``-2 log L`` of a GLMM at (theta, beta): Laplace (``nagq = 1``) or AGQ (``nagq > 1``).

    Parameters
    ----------
    problem : Problem
        The data.
    layout : ThetaLayout
        Where theta sits in the relative covariance factors.
    nagq : int
        Quadrature points per level (1: the Laplace approximation).

    """

    def __init__(self, problem: Problem, layout: ThetaLayout, nagq: int = 1) -> None:
        self.problem = problem
        self.layout = layout
        self.nagq = nagq
        self.evaluations = 0
        self._modes: list[np.ndarray] | None = None
        self._last: tuple[np.ndarray, Evaluation] | None = None

    def evaluate(self, theta: np.ndarray, beta: np.ndarray, gradient: bool = True) -> Evaluation:
        """The deviance at (theta, beta); the gradient too for the Laplace deviance."""
        key = np.concatenate([theta, beta])
        if self._last is not None and np.array_equal(self._last[0], key):
            cached = self._last[1]
            if cached.grad_theta is not None or not gradient or self.nagq > 1:
                return cached
        self.evaluations += 1
        relative = self.layout.relative_factors(theta)
        base = self.problem.X @ beta + self.problem.offset
        mode = pirls(self.problem, relative, base, self._modes)
        self._modes = [u.copy() for u in mode.modes]
        if self.nagq > 1:
            value = agq_deviance(self.problem, mode, relative, base, self.nagq)
            result = Evaluation(value, None, None, mode)
        elif gradient:
            grad_theta, grad_beta = laplace_gradient(self.problem, mode, relative, self.layout)
            result = Evaluation(laplace_deviance(self.problem, mode), grad_theta, grad_beta, mode)
        else:
            result = Evaluation(laplace_deviance(self.problem, mode), None, None, mode)
        self._last = (key, result)
        return result

    def value(self, theta: np.ndarray, beta: np.ndarray) -> float:
        """The deviance alone."""
        return self.evaluate(theta, beta, gradient=False).value


def glm_start(problem: Problem) -> np.ndarray:
    """The fixed effects of the GLM without random effects (IRLS), glmer's start for beta."""
    return glm_fit(problem.X, problem.y, problem.n, problem.offset, problem.family)[0]


def glm_fit(
    X: np.ndarray, y: np.ndarray, n: np.ndarray, offset: np.ndarray, family: Family
) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood glm by iteratively reweighted least squares: estimates and ses.

    Coefficients of columns that are not estimable (separation) run off; the
    caller decides what they mean.
    """
    mu0 = (y * n + 0.5) / (n + 1.0) if family.name == "binomial" else y + 0.5
    eta = family.linkfun(np.clip(mu0, 1e-6, None if family.name == "poisson" else 1 - 1e-6))
    beta = np.zeros(X.shape[1])
    for _ in range(_GLM_ITERATIONS):
        terms = family.row_terms(eta, y, n)
        w = np.maximum(terms.weights, 1e-300)
        z = eta - offset + terms.score / np.where(terms.weights > 0, terms.weights, 1.0)
        gram = X.T @ (w[:, None] * X)
        new = np.linalg.lstsq(gram, X.T @ (w * z), rcond=None)[0]
        eta = np.clip(X @ new + offset, -40.0, 40.0)
        done = np.max(np.abs(new - beta)) < _GLM_TOLERANCE * (1.0 + np.max(np.abs(new)))
        beta = new
        if done:
            break
    terms = family.row_terms(eta, y, n)
    covariance = np.linalg.pinv(X.T @ (terms.weights[:, None] * X))
    return beta, np.sqrt(np.maximum(np.diag(covariance), 0.0))
