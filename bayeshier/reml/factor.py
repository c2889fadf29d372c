"""The blocked Cholesky factor of the augmented system at a given theta.

``Lambda = blockdiag(I_levels (x) T_f)`` with the relative covariance factors
``T_f`` of :mod:`bayeshier.reml.covariance` (``T_f = theta_f`` for a random
intercept). The augmented matrix

    [Lambda'Z'Z Lambda + I   Lambda'Z'W]
    [W'Z Lambda              W'W       ]      with W = [X y]

is factored as ``L L'`` in two blocks: the first factor's block is block
diagonal, ``A_j = T_1' Z_1j'Z_1j T_1 + I`` per level (``d = theta_1^2 n_j + 1``
for an intercept), factored level by level; the rest (other factors, X, y)
is the dense Cholesky of the Schur complement ``M``. The profiled criteria
come straight off the diagonal (Bates et al. 2015, eqs. 33-34;
MixedModels.jl's ``objective(updateL!(setθ!(m, θ)))``):

    log|L_theta|^2 = sum_j log|A_j| + 2 sum log diag(L_M)[:q_rest]
    log|R_X|^2     = 2 sum log diag(L_M)[q_rest:q_rest + p]  (+ log|R|^2)
    r^2            = L_M[-1, -1]^2
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

from bayeshier.reml.crossprod import CrossProducts, diagonal_blocks

__all__ = [
    "BlockedFactor",
    "apply_blocks",
    "conditional_blocks",
    "factorize",
    "profiled_deviance",
    "scale_rest_rows",
    "split_rest",
]

_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True, eq=False)
class BlockedFactor:
    """``L`` at one ``theta``: the block-diagonal first block and the dense rest.

    Attributes
    ----------
    relative : list of numpy.ndarray
        The relative covariance factor ``T_f`` of every factor (spec order).
    first_log_det : float
        ``sum_j log|A_j|`` over the levels of the first factor.
    first_inverse : numpy.ndarray
        ``A_j^-1`` per level of the first factor (levels x k1 x k1).
    rest : numpy.ndarray
        Lower Cholesky factor of the Schur complement ``M``.
    q_rest, n_fixed : int
        Sizes of the other factors' block and of the fixed effects.

    """

    relative: list[np.ndarray]
    first_log_det: float
    first_inverse: np.ndarray
    rest: np.ndarray
    q_rest: int
    n_fixed: int

    def log_det_z(self) -> float:
        """``log|L_theta|^2``."""
        rest = np.diag(self.rest)[: self.q_rest]
        return float(self.first_log_det + 2.0 * np.sum(np.log(rest)))

    def log_det_x(self) -> float:
        """``log|R_X|^2`` in the orthonormal basis of the fixed effects."""
        block = np.diag(self.rest)[self.q_rest : self.q_rest + self.n_fixed]
        return float(2.0 * np.sum(np.log(block)))

    def pwrss(self) -> float:
        """Penalized weighted residual sum of squares ``r^2(theta)``."""
        return float(self.rest[-1, -1] ** 2)

    def first_gain(self) -> np.ndarray:
        """``A_j^-1 T_1'`` per level: maps per-level sums of the first factor to its modes."""
        T = self.relative[0]
        if T.shape == (1, 1):
            return self.first_inverse * T[0, 0]
        return self.first_inverse @ T.T

    def first_weights(self) -> np.ndarray:
        """``E_j = T_1 A_j^-1 T_1'`` per level: the first block absorbed into the rest."""
        T = self.relative[0]
        if T.shape == (1, 1):
            return self.first_inverse * T[0, 0] ** 2
        return T @ self.first_inverse @ T.T


def factorize(cp: CrossProducts, relative: list[np.ndarray]) -> BlockedFactor:
    """Compute the blocked Cholesky factor at the relative covariance factors ``relative``.

    Raises
    ------
    numpy.linalg.LinAlgError
        If the Schur complement is not positive definite (cannot happen for a
        full-rank ``X``; callers treat it as an infeasible point).

    """
    first_log_det, first_inverse = _first_block(cp.first_gram, relative[0])
    first = BlockedFactor(
        relative, first_log_det, first_inverse, np.zeros((0, 0)), cp.q_rest, cp.n_fixed
    )
    absorbed = first_block_contribution(cp, first.first_weights())
    schur = _scale_both_sides(cp, relative, cp.rest - absorbed)
    schur[np.diag_indices(cp.q_rest)] += 1.0
    rest = sla.cholesky(schur, lower=True, check_finite=False)
    return BlockedFactor(relative, first_log_det, first_inverse, rest, cp.q_rest, cp.n_fixed)


def _first_block(gram: np.ndarray, relative: np.ndarray) -> tuple[float, np.ndarray]:
    """``sum log|A_j|`` and ``A_j^-1`` with ``A_j = T' G_j T + I``, level by level."""
    if relative.shape == (1, 1):
        diagonal = relative[0, 0] ** 2 * gram[:, 0, 0] + 1.0
        return float(np.sum(np.log(diagonal))), (1.0 / diagonal).reshape(-1, 1, 1)
    blocks = relative.T @ gram @ relative + np.eye(relative.shape[0])
    chol = np.linalg.cholesky(blocks)
    log_det = 2.0 * float(np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2))))
    return log_det, np.linalg.inv(blocks)


def first_block_contribution(cp: CrossProducts, weights: np.ndarray) -> np.ndarray:
    """``C E C'`` with ``C = [Zr'Z1; W'Z1]`` and ``E`` the first block's per-level weights.

    For random intercepts only the lower triangle of the rest block is
    filled: the Cholesky factorization reads no more.
    """
    weighted_sums = apply_blocks(weights, cp.first_sums)
    ww = cp.first_sums.T @ weighted_sums
    if cp.q_rest == 0:
        return ww
    kk = np.zeros((cp.q_rest, cp.q_rest))
    kk.flat[cp.rest_outer_index] = cp.rest_outer @ weights.ravel()
    if any(k > 1 for k in cp.columns[1:]):  # rows are mixed within levels: fill both halves
        kk = np.tril(kk) + np.tril(kk, -1).T
    kw = np.asarray(cp.first_by_rest @ weighted_sums)
    return np.block([[kk, kw], [kw.T, ww]])


def _scale_both_sides(
    cp: CrossProducts, relative: list[np.ndarray], matrix: np.ndarray
) -> np.ndarray:
    """``Lambda_r' M Lambda_r`` on the rest block (elementwise for random intercepts)."""
    if all(k == 1 for k in cp.columns[1:]):
        thetas = [T[0, 0] for T in relative[1:]]
        scale = np.concatenate([np.repeat(thetas, cp.rest_sizes), np.ones(cp.n_fixed + 1)])
        return scale[:, None] * matrix * scale[None, :]
    return scale_rest_rows(cp, relative, scale_rest_rows(cp, relative, matrix).T)


def apply_blocks(blocks: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Multiply level-major rows ((levels * k) x m, or a vector) by a ``k x k`` block per level."""
    levels, k, _ = blocks.shape
    if k == 1:
        weights = blocks[:, 0, 0]
        return weights * rows if rows.ndim == 1 else weights[:, None] * rows
    shaped = rows.reshape(levels, k, -1)
    return (blocks @ shaped).reshape(rows.shape)


def scale_rest_rows(
    cp: CrossProducts, relative: list[np.ndarray], matrix: np.ndarray, transpose: bool = True
) -> np.ndarray:
    """``Lambda_r' M`` (or ``Lambda_r M`` with ``transpose=False``) on the rows of the rest block.

    ``Lambda_r`` is ``blockdiag(I (x) T_f)`` over the factors after the first,
    then the identity over the ``W`` rows (which are left as they are).
    """
    result = np.array(matrix, dtype=float, copy=True)
    start = 0
    for size, T in zip(cp.rest_sizes, relative[1:], strict=True):
        rows = slice(start, start + size)
        k = T.shape[0]
        if k == 1:
            result[rows] *= T[0, 0]
        else:
            shaped = result[rows].reshape(size // k, k, -1)
            mapping = T.T if transpose else T
            result[rows] = np.einsum("rs,jsm->jrm", mapping, shaped).reshape(result[rows].shape)
        start += size
    return result


def conditional_blocks(cp: CrossProducts, factor: BlockedFactor) -> list[np.ndarray]:
    """Diagonal blocks of ``A^-1 = (Lambda'Z'Z Lambda + I)^-1``: one ``k x k`` per level and factor.

    With the first block ``A_11`` block diagonal and the Schur complement
    ``S = L L'``, the rest's blocks are those of ``S^-1`` and the first
    factor's are ``A_j^-1 + G_j K_j' P K_j G_j'`` with ``G_j = A_j^-1 T_1'``,
    ``P = Lambda_r S^-1 Lambda_r'`` and ``K_j`` the columns of ``Zr'Z1`` of
    level ``j``; the middle products are sums over the pairs of
    ``rest_outer`` (no dense ``K``).
    """
    first = factor.first_inverse
    q = cp.q_rest
    if q == 0:
        return [first]
    inverse, info = lapack.dpotri(factor.rest[:q, :q], lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"potri failed with info={info}")
    gain = factor.first_gain()
    middle = _first_block_middle(cp, _projection_at_pairs(cp, factor, inverse), gain.shape)
    first = first + gain @ middle @ np.swapaxes(gain, 1, 2)
    return [first, *_rest_diagonal_blocks(cp, inverse)]


def _projection_at_pairs(
    cp: CrossProducts, factor: BlockedFactor, inverse: np.ndarray
) -> np.ndarray:
    """``P = Lambda_r S^-1 Lambda_r'`` at the pairs of ``rest_outer`` (``inverse``: lower half)."""
    rows, cols = np.divmod(cp.rest_outer_index, cp.q_rest)
    if all(k == 1 for k in cp.columns[1:]):
        thetas = [T[0, 0] for T in factor.relative[1:]]
        scale = np.repeat(thetas, cp.rest_sizes)
        return inverse.flat[cp.rest_outer_index] * scale[rows] * scale[cols]
    full = np.tril(inverse) + np.tril(inverse, -1).T
    left = scale_rest_rows(cp, factor.relative, full, transpose=False)
    projected = scale_rest_rows(cp, factor.relative, left.T, transpose=False)
    return projected.flat[cp.rest_outer_index]


def _first_block_middle(cp: CrossProducts, values: np.ndarray, shape: tuple) -> np.ndarray:
    """``K_j' P K_j`` per level from ``P`` at the lower-triangle pairs (a >= b)."""
    rows, cols = np.divmod(cp.rest_outer_index, cp.q_rest)
    levels, k, _ = shape
    off_diagonal = rows != cols
    if k == 1:  # K_j' P K_j is a scalar: the pairs a > b count twice
        return (cp.rest_outer.T @ np.where(off_diagonal, 2.0 * values, values)).reshape(shape)
    half = (cp.rest_outer.T @ np.where(off_diagonal, values, 0.0)).reshape(levels, k, k)
    on = (cp.rest_outer.T @ np.where(off_diagonal, 0.0, values)).reshape(levels, k, k)
    return half + np.swapaxes(half, 1, 2) + on


def _rest_diagonal_blocks(cp: CrossProducts, inverse: np.ndarray) -> list[np.ndarray]:
    """The ``k x k`` diagonal blocks of ``S^-1`` per factor after the first (lower ``inverse``)."""
    blocks = []
    start = 0
    for size, k in zip(cp.rest_sizes, cp.columns[1:], strict=True):
        block = inverse[start : start + size, start : start + size]
        if k == 1:
            blocks.append(np.diag(block).reshape(size, 1, 1).copy())
        else:
            symmetric = np.tril(block) + np.tril(block, -1).T
            blocks.append(diagonal_blocks(symmetric, k))
        start += size
    return blocks


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
