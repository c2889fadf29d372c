"""The blocked Cholesky factor of the augmented system at a given theta.

For random intercepts, ``Lambda = diag(theta_f)`` repeated over the levels of
factor ``f``. The augmented matrix

    [Lambda'Z'Z Lambda + I   Lambda'Z'W]
    [W'Z Lambda              W'W       ]      with W = [X y]

is factored as ``L L'`` in two blocks: the first factor's block is diagonal,
``d = theta_1^2 n_j + 1``, so its Cholesky is ``sqrt(d)``; the rest (other
factors, X, y) is the dense Cholesky of the Schur complement ``M``. The
profiled criteria come straight off the diagonal (Bates et al. 2015, eqs.
33-34; MixedModels.jl's ``objective(updateL!(setθ!(m, θ)))``):

    log|L_theta|^2 = sum log d + 2 sum log diag(L_M)[:q_rest]
    log|R_X|^2     = 2 sum log diag(L_M)[q_rest:q_rest + p]  (+ log|R|^2)
    r^2            = L_M[-1, -1]^2
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

from bayeshier.reml.crossprod import CrossProducts

__all__ = ["BlockedFactor", "factorize", "inverse_diagonal", "profiled_deviance", "split_rest"]

_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True, eq=False)
class BlockedFactor:
    """``L`` at one ``theta``: the diagonal first block and the dense rest.

    Attributes
    ----------
    theta : numpy.ndarray
        Relative standard deviations, one per factor (factor order of the spec).
    first_diag : numpy.ndarray
        ``d = theta_1^2 n_j + 1``, the squared diagonal of the first block.
    rest_scale : numpy.ndarray
        ``theta_f`` repeated over the levels of the other factors, then ones for ``W``.
    rest : numpy.ndarray
        Lower Cholesky factor of the Schur complement ``M``.
    q_rest, n_fixed : int
        Sizes of the other factors' block and of the fixed effects.

    """

    theta: np.ndarray
    first_diag: np.ndarray
    rest_scale: np.ndarray
    rest: np.ndarray
    q_rest: int
    n_fixed: int

    def log_det_z(self) -> float:
        """``log|L_theta|^2``."""
        rest = np.diag(self.rest)[: self.q_rest]
        return float(np.sum(np.log(self.first_diag)) + 2.0 * np.sum(np.log(rest)))

    def log_det_x(self) -> float:
        """``log|R_X|^2`` in the orthonormal basis of the fixed effects."""
        block = np.diag(self.rest)[self.q_rest : self.q_rest + self.n_fixed]
        return float(2.0 * np.sum(np.log(block)))

    def pwrss(self) -> float:
        """Penalised weighted residual sum of squares ``r^2(theta)``."""
        return float(self.rest[-1, -1] ** 2)


def factorize(cp: CrossProducts, theta: np.ndarray) -> BlockedFactor:
    """Compute the blocked Cholesky factor at ``theta``.

    Raises
    ------
    numpy.linalg.LinAlgError
        If the Schur complement is not positive definite (cannot happen for a
        full-rank ``X``; callers treat it as an infeasible point).

    """
    theta = np.asarray(theta, dtype=float)
    first_diag = theta[0] ** 2 * cp.counts + 1.0
    rest_scale = np.concatenate([np.repeat(theta[1:], cp.rest_sizes), np.ones(cp.n_fixed + 1)])
    absorbed = _first_block_contribution(cp, first_diag)
    schur = rest_scale[:, None] * (cp.rest - theta[0] ** 2 * absorbed) * rest_scale[None, :]
    schur[np.diag_indices(cp.q_rest)] += 1.0
    rest = sla.cholesky(schur, lower=True, check_finite=False)
    return BlockedFactor(theta, first_diag, rest_scale, rest, cp.q_rest, cp.n_fixed)


def _first_block_contribution(cp: CrossProducts, first_diag: np.ndarray) -> np.ndarray:
    """``C D^-1 C'`` with ``C = [Zr'Z1; W'Z1]`` and ``D = diag(first_diag)``.

    Only the lower triangle is filled: the Cholesky factorisation reads no more.
    """
    weighted_sums = cp.first_sums / first_diag[:, None]
    ww = cp.first_sums.T @ weighted_sums
    if cp.q_rest == 0:
        return ww
    kk = np.zeros((cp.q_rest, cp.q_rest))
    kk.flat[cp.rest_outer_index] = cp.rest_outer @ (1.0 / first_diag)
    kw = np.asarray(cp.first_by_rest @ weighted_sums)
    return np.block([[kk, kw], [kw.T, ww]])


def inverse_diagonal(cp: CrossProducts, factor: BlockedFactor) -> list[np.ndarray]:
    """Diagonal of ``A^-1 = (Lambda'Z'Z Lambda + I)^-1``, one array per factor.

    With the first block ``D`` diagonal and the Schur complement ``S = L L'``,
    the rest of the diagonal is ``diag(S^-1)`` and the first block's is
    ``1/d + theta_1^2 / d^2 * diag(K' Lambda_r S^-1 Lambda_r K)``, whose
    entries are sums over the pairs of ``rest_outer`` (no dense ``K``).
    """
    first = 1.0 / factor.first_diag
    q = cp.q_rest
    if q == 0:
        return [first]
    inverse, info = lapack.dpotri(factor.rest[:q, :q], lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"potri failed with info={info}")
    scale = factor.rest_scale[:q]
    rows, cols = np.divmod(cp.rest_outer_index, q)
    pair_weights = inverse.flat[cp.rest_outer_index] * scale[rows] * scale[cols]
    pair_weights[rows != cols] *= 2.0
    first = first + factor.theta[0] ** 2 * (cp.rest_outer.T @ pair_weights) * first**2
    return [first, *split_rest(np.diag(inverse).copy(), cp.rest_sizes)]


def profiled_deviance(cp: CrossProducts, factor: BlockedFactor, reml: bool) -> float:
    """The profiled criterion: REML criterion (``reml=True``) or deviance (-2 log L).

    ML:   log|L|^2 + n (1 + log(2 pi r^2 / n))
    REML: log|L|^2 + log|R_X|^2 + (n - p)(1 + log(2 pi r^2 / (n - p)))
    """
    dof = cp.nobs - cp.n_fixed if reml else cp.nobs
    value = factor.log_det_z() + dof * (1.0 + _LOG_2PI + np.log(factor.pwrss() / dof))
    if reml:
        value += factor.log_det_x() + cp.log_det_r
    return float(value)


def split_rest(values: np.ndarray, sizes: tuple[int, ...]) -> list[np.ndarray]:
    """Split the rows of the rest block into one piece per factor."""
    return np.split(values, np.cumsum(sizes)[:-1]) if sizes else []
