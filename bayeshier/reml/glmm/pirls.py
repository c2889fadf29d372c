"""Penalized iteratively reweighted least squares: the conditional modes at (theta, beta).

For fixed relative covariance factors ``T_f`` and fixed effects ``beta``, the
spherical random effects ``u`` (``b = Lambda u``) are moved to the maximum of
``log p(y | u) - |u|^2 / 2``, i.e. the minimum of the penalized deviance
``D(eta) + |u|^2`` with ``eta = X beta + offset + Z Lambda u`` and ``D = -2
log p(y | eta)``. Each iteration is a Fisher-scoring step, which is one
weighted least-squares solve in the blocked layout of
:mod:`bayeshier.reml.factor`:

    u_new = A^-1 Lambda'Z'W (Z Lambda u + (y - mu) / (dmu/deta)),
    A = Lambda'Z'W Z Lambda + I,

followed by step halving if the penalized deviance rose (lme4's
``pwrssUpdate``; short steps near the mode are taken as they are).
Iterations stop when the next step is below :data:`STEP_TOLERANCE`, so
the returned blocked factor of ``A`` is the one at the returned modes
(the Laplace approximation needs ``log|A|`` there).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from bayeshier.errors import ConvergenceWarning
from bayeshier.reml.crossprod import CrossProducts
from bayeshier.reml.estimates import spherical_modes
from bayeshier.reml.factor import BlockedFactor, factorize
from bayeshier.reml.glmm.design import RandomDesign
from bayeshier.reml.glmm.families import Family, RowTerms
from bayeshier.spec.model_spec import ModelSpec

__all__ = ["STEP_TOLERANCE", "Mode", "Problem", "pirls", "solve_system"]

#: Largest step (relative to the modes, at least 1) at which PIRLS has converged.
STEP_TOLERANCE = 1e-10
_MAX_ITERATIONS = 60
_MAX_HALVINGS = 30
#: Steps (in units of the spherical effects, which are standard normal a priori) this
#: short are taken without evaluating the penalized deviance: close to the mode the
#: Fisher-scoring step of a log-concave likelihood does not overshoot.
_TRUSTED_STEP = 0.1


@dataclass(frozen=True, eq=False)
class Problem:
    """The data of a GLMM fit: response, fixed-effects design, offset and ``Z``.

    Attributes
    ----------
    family : Family
        Distribution and link.
    y, n : numpy.ndarray
        Response (proportion or count) and trials / prior weights.
    X : numpy.ndarray
        Fixed-effects design (n x p).
    offset : numpy.ndarray
        Offset of every row.
    design : RandomDesign
        The random-effects design.
    constant : float
        ``-2 log`` of the normalizing constants of the density (binomial
        coefficients, ``y!``), which do not depend on ``eta``.

    """

    family: Family
    y: np.ndarray
    n: np.ndarray
    X: np.ndarray
    offset: np.ndarray
    design: RandomDesign
    constant: float

    @classmethod
    def of(
        cls, spec: ModelSpec, family: Family, y: np.ndarray, n: np.ndarray, offset: np.ndarray
    ) -> Problem:
        """The problem of a specification's rows with response ``y`` of ``n`` trials."""
        return cls(
            family=family,
            y=y,
            n=n,
            X=spec.X,
            offset=offset,
            design=RandomDesign(spec.factors, spec.nobs),
            constant=family.log_density_constant(y, n),
        )

    @property
    def dense_order(self) -> int:
        """Order of the dense part of the factor (what sets the BLAS thread count)."""
        return self.design.q_rest + 1

    def with_response(self, y: np.ndarray) -> Problem:
        """The same design, trials and offset with the response ``y`` (a simulated one)."""
        return replace(self, y=y, constant=self.family.log_density_constant(y, self.n))

    def kernel(self, eta: np.ndarray) -> float:
        """``D(eta)`` without :attr:`constant`."""
        return self.family.log_density_kernel(eta, self.y, self.n)

    def evaluate(self, eta: np.ndarray) -> tuple[float, RowTerms]:
        """:meth:`kernel` and the per-row terms at ``eta``."""
        return self.family.kernel_and_terms(eta, self.y, self.n)


@dataclass(frozen=True, eq=False)
class Mode:
    """The conditional modes at one (theta, beta) and what the Laplace approximation needs.

    Attributes
    ----------
    modes : list of numpy.ndarray
        Spherical modes ``u`` per factor (level-major).
    eta : numpy.ndarray
        Linear predictor at the modes.
    terms : RowTerms
        ``mu``, working weights, score at the modes.
    cp : CrossProducts
        The weighted cross products at the modes.
    factor : BlockedFactor
        The blocked Cholesky factor of ``A`` at the modes.
    kernel : float
        ``D(eta)`` without the normalizing constants.
    iterations : int
        PIRLS iterations taken.
    converged : bool
        Whether the step fell below the tolerance.

    """

    modes: list[np.ndarray]
    eta: np.ndarray
    terms: RowTerms
    cp: CrossProducts
    factor: BlockedFactor
    kernel: float
    iterations: int
    converged: bool

    @property
    def penalty(self) -> float:
        """``|u|^2``."""
        return float(sum(u @ u for u in self.modes))


def pirls(
    problem: Problem,
    relative: list[np.ndarray],
    base: np.ndarray,
    start: list[np.ndarray] | None = None,
) -> Mode:
    """Find the conditional modes for the relative factors ``relative`` and ``base = X beta + o``.

    ``start`` (spherical modes per factor) warm-starts the iterations; by
    default they start at 0.
    """
    design = problem.design
    modes = start if start is not None else [np.zeros(s * k) for s, k in _shapes(design)]
    eta = base + design.linear(modes, relative)
    kernel, terms = problem.evaluate(eta)
    for iteration in range(1, _MAX_ITERATIONS + 1):
        cp = design.products(terms.weights, terms.weights * (eta - base) + terms.score)
        factor, target = solve_system(cp, relative)
        step = [new - old for new, old in zip(target, modes, strict=True)]
        size = max((float(np.max(np.abs(s), initial=0.0)) for s in step), default=0.0)
        scale = max((float(np.max(np.abs(u), initial=0.0)) for u in modes), default=0.0)
        if size <= STEP_TOLERANCE * max(1.0, scale):
            kernel = problem.kernel(eta) if kernel is None else kernel
            return Mode(modes, eta, terms, cp, factor, kernel, iteration, True)
        if size <= _TRUSTED_STEP:  # a short Newton step on a convex criterion: no check
            modes = target
            eta = base + design.linear(modes, relative)
            kernel, terms = None, problem.family.row_terms(eta, problem.y, problem.n)
            continue
        kernel = problem.kernel(eta) if kernel is None else kernel
        modes, eta, kernel, terms = _halving_step(
            problem, relative, base, modes, step, kernel + _squared(modes)
        )
    warnings.warn(
        f"PIRLS did not converge in {_MAX_ITERATIONS} iterations (last step {size:.3g}); the "
        "conditional modes may be inaccurate. Check for complete separation or extreme counts.",
        ConvergenceWarning,
        stacklevel=3,
    )
    kernel = problem.kernel(eta) if kernel is None else kernel
    return Mode(modes, eta, terms, cp, factor, kernel, iteration, False)


def solve_system(
    cp: CrossProducts, relative: list[np.ndarray]
) -> tuple[BlockedFactor, list[np.ndarray]]:
    """The blocked factor of ``A`` and the solution ``A^-1 Lambda'Z'W work`` (spherical modes).

    With one grouping factor every level is its own ``k x k`` system
    (a scalar for a random intercept), solved for all levels at once;
    otherwise the blocked Cholesky of :func:`bayeshier.reml.factor.factorize`.
    """
    if cp.q_rest:
        factor = factorize(cp, relative)
        return factor, spherical_modes(cp, factor)[0]
    T = relative[0]
    sums = cp.first_sums[:, 0]
    if T.shape == (1, 1):
        theta = T[0, 0]
        diagonal = theta * theta * cp.first_gram[:, 0, 0] + 1.0
        inverse = (1.0 / diagonal).reshape(-1, 1, 1)
        log_det = float(np.sum(np.log(diagonal)))
        modes = theta * sums / diagonal
    else:
        k = T.shape[0]
        blocks = T.T @ cp.first_gram @ T + np.eye(k)
        chol = np.linalg.cholesky(blocks)
        log_det = 2.0 * float(np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2))))
        inverse = np.linalg.inv(blocks)
        modes = np.einsum("jrs,js->jr", inverse, sums.reshape(-1, k) @ T).ravel()
    factor = BlockedFactor(relative, log_det, inverse, np.ones((1, 1)), 0, 0)
    return factor, [modes]


def _halving_step(
    problem: Problem,
    relative: list[np.ndarray],
    base: np.ndarray,
    modes: list[np.ndarray],
    step: list[np.ndarray],
    penalized: float,
) -> tuple[list[np.ndarray], np.ndarray, float, RowTerms]:
    """Take the step, halved until the penalized deviance does not rise."""
    fraction = 1.0
    slack = 1e-12 * max(1.0, abs(penalized))
    for _ in range(_MAX_HALVINGS):
        trial = [u + fraction * s for u, s in zip(modes, step, strict=True)]
        eta = base + problem.design.linear(trial, relative)
        kernel, terms = problem.evaluate(eta)
        if kernel + _squared(trial) <= penalized + slack:
            break
        fraction /= 2.0
    return trial, eta, kernel, terms


def _squared(modes: list[np.ndarray]) -> float:
    return float(sum(u @ u for u in modes))


def _shapes(design: RandomDesign) -> list[tuple[int, int]]:
    return list(zip(design.levels, design.sizes, strict=True))
