"""Sufficient statistics of a random-intercept model, computed in one pass.

The profiled REML/ML criterion depends on the data only through the cross
products of ``[Z X y]``. Following MixedModels.jl, the grouping factor with
the most levels comes first: its block ``Z1'Z1`` is diagonal (the level
counts), so it is kept as a vector and every evaluation only touches the
per-level sums ``Z1'[X y]``. The remaining factors (crossed or nested) form
a small dense block, together with ``X`` and ``y``.

For numerical stability the fixed effects are expressed internally in an
orthonormal basis: ``X = Q R`` with ``Q = X R^-1`` (a thin QR), and ``y`` is
replaced by its OLS residual. Neither change alters the profiled criterion
up to the known constant ``log|R|^2`` (added back for REML), and the
estimates are mapped back to the user's columns afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from bayeshier.spec import ModelSpec, thin_r

__all__ = ["CrossProducts", "cross_products", "single_factor_products"]

#: Largest number of possible level pairs handled with a dense marker array.
_DENSE_KEY_SPACE = 50_000_000


@dataclass(frozen=True, eq=False)
class CrossProducts:
    """Cross products of ``[Z X y]`` in the blocked layout.

    Attributes
    ----------
    counts : numpy.ndarray
        Rows per level of the first (largest) factor, ``diag(Z1'Z1)``.
    first_sums : numpy.ndarray
        ``Z1'W`` (levels x (p + 1)), with ``W = [Q, e]``, ``e`` the OLS residual.
    first_by_rest : scipy.sparse.csr_matrix
        ``Zr'Z1`` (q_rest x levels), empty when there is one factor.
    rest_outer : scipy.sparse.csr_matrix
        For every pair ``(a, b)``, ``a >= b``, of rest levels that share a level
        ``j`` of the first factor, the products ``K[a, j] K[b, j]`` (pairs x
        levels): the lower triangle of ``K D^-1 K'`` is ``rest_outer @ (1/d)``
        scattered to ``rest_outer_index``, one sparse mat-vec per evaluation
        instead of a sparse mat-mat.
    rest_outer_index : numpy.ndarray
        Flat positions of those pairs in the ``q_rest x q_rest`` matrix.
    rest : numpy.ndarray
        Dense ``[Zr W]'[Zr W]`` ((q_rest + p + 1) square).
    rest_sizes : tuple of int
        Number of levels of each factor after the first.
    R : numpy.ndarray
        The ``R`` of ``X = Q R``.
    ols : numpy.ndarray
        ``Q'y``: the OLS coefficients in the ``Q`` basis.
    nobs, n_fixed : int
        Rows and fixed-effect columns.

    """

    counts: np.ndarray
    first_sums: np.ndarray
    first_by_rest: sp.csr_matrix
    rest_outer: sp.csr_matrix
    rest_outer_index: np.ndarray
    rest: np.ndarray
    rest_sizes: tuple[int, ...]
    R: np.ndarray
    ols: np.ndarray
    nobs: int
    n_fixed: int

    @property
    def q_rest(self) -> int:
        """Total number of levels of the factors after the first."""
        return int(sum(self.rest_sizes))

    @property
    def log_det_r(self) -> float:
        """``log|R|^2``, the REML constant of the change of basis."""
        return float(2.0 * np.sum(np.log(np.abs(np.diag(self.R)))))


def cross_products(spec: ModelSpec) -> CrossProducts:
    """Reduce the data of ``spec`` to the cross products the criterion needs.

    ``Q = X R^-1`` is never formed: ``Z'Q = (Z'X) R^-1``, ``Q'Q = I`` and
    ``Q'e = 0`` for the OLS residual ``e``, so one pass over the rows gives
    every sum.
    """
    R = spec.fixed_r if spec.fixed_r is not None else thin_r(spec.X)
    r_inv = sla.solve_triangular(R, np.eye(R.shape[0]), check_finite=False)
    ols, residual = _ols_in_q_basis(spec.X, spec.y, r_inv)
    p = spec.n_fixed
    first, *others = spec.factors
    first_sums = _to_q_basis(_level_sums(first.codes, first.n_levels, spec.X, residual), r_inv)
    w_cross = np.zeros((p + 1, p + 1))
    w_cross[:p, :p] = np.eye(p)
    w_cross[p, p] = residual @ residual
    rest_sizes = tuple(f.n_levels for f in others)
    if others:
        Zr = _indicators(others, spec.nobs)
        first_by_rest = (Zr.T @ _indicators([first], spec.nobs)).tocsr()
        zr_w = _to_q_basis(np.column_stack([Zr.T @ spec.X, Zr.T @ residual]), r_inv)
        rest = np.block([[(Zr.T @ Zr).toarray(), zr_w], [zr_w.T, w_cross]])
    else:
        first_by_rest = sp.csr_matrix((0, first.n_levels))
        rest = w_cross
    rest_outer, rest_outer_index = _outer_products_by_level(first_by_rest)
    return CrossProducts(
        counts=first.counts().astype(float),
        first_sums=first_sums,
        first_by_rest=first_by_rest,
        rest_outer=rest_outer,
        rest_outer_index=rest_outer_index,
        rest=rest,
        rest_sizes=rest_sizes,
        R=R,
        ols=ols,
        nobs=spec.nobs,
        n_fixed=p,
    )


def single_factor_products(cp: CrossProducts, index: int) -> CrossProducts:
    """The cross products of the model with factor ``index`` as its only factor.

    Read off ``cp`` without another pass over the data: the first factor's
    counts and sums are kept as they are; another factor's come from the
    diagonal and the ``W`` columns of the dense rest block.
    """
    q = cp.q_rest
    w_cross = cp.rest[q:, q:]
    if index == 0:
        counts, sums = cp.counts, cp.first_sums
    else:
        start = sum(cp.rest_sizes[: index - 1])
        rows = slice(start, start + cp.rest_sizes[index - 1])
        counts, sums = np.diag(cp.rest)[rows], cp.rest[rows, q:]
    no_rest = sp.csr_matrix((0, counts.size))
    return CrossProducts(
        counts=counts,
        first_sums=sums,
        first_by_rest=no_rest,
        rest_outer=sp.csr_matrix((0, counts.size)),
        rest_outer_index=np.zeros(0, dtype=np.int64),
        rest=w_cross,
        rest_sizes=(),
        R=cp.R,
        ols=cp.ols,
        nobs=cp.nobs,
        n_fixed=cp.n_fixed,
    )


def _ols_in_q_basis(
    X: np.ndarray, y: np.ndarray, r_inv: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """OLS coefficients in the ``Q`` basis, ``Q'y``, and the OLS residual.

    One step of iterative refinement keeps the residual orthogonal to ``X``
    even when ``X`` is badly conditioned.
    """
    coef = r_inv.T @ (X.T @ y)
    residual = y - X @ (r_inv @ coef)
    correction = r_inv.T @ (X.T @ residual)
    return coef + correction, residual - X @ (r_inv @ correction)


def _to_q_basis(sums: np.ndarray, r_inv: np.ndarray) -> np.ndarray:
    """Map ``[Z'X, Z'e]`` to ``[Z'Q, Z'e]``."""
    p = r_inv.shape[0]
    return np.column_stack([sums[:, :p] @ r_inv, sums[:, p]])


def _outer_products_by_level(cross: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """Products ``K[a, j] K[b, j]`` for the pairs ``a >= b`` in each column ``j`` of ``K``."""
    by_level = cross.tocsc()
    by_level.sort_indices()
    n_rest, n_levels = by_level.shape
    lengths = np.diff(by_level.indptr)
    entry_level = np.repeat(np.arange(n_levels), lengths)
    repeats = lengths[entry_level]
    left = np.repeat(np.arange(by_level.nnz), repeats)
    block_start = np.repeat(np.cumsum(repeats) - repeats, repeats)
    right = by_level.indptr[entry_level[left]] + (np.arange(left.size) - block_start)
    lower = by_level.indices[left] >= by_level.indices[right]
    left, right = left[lower], right[lower]
    keys = by_level.indices[left].astype(np.int64) * n_rest + by_level.indices[right]
    index, pair = _compact_keys(keys, n_rest * n_rest)
    values = by_level.data[left] * by_level.data[right]
    outer = sp.csr_matrix((values, (pair, entry_level[left])), shape=(index.size, n_levels))
    return outer, index


def _compact_keys(keys: np.ndarray, key_space: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct keys and each key's position among them (``np.unique``).

    When the key space is small enough, marking the keys present and taking
    a cumulative sum gives the same answer without sorting.
    """
    if key_space > _DENSE_KEY_SPACE:
        return np.unique(keys, return_inverse=True)
    present = np.zeros(key_space, dtype=bool)
    present[keys] = True
    position = np.cumsum(present) - 1
    return np.flatnonzero(present), position[keys]


def _level_sums(
    codes: np.ndarray, n_levels: int, X: np.ndarray, residual: np.ndarray
) -> np.ndarray:
    """Per-level sums of every column of ``X`` and of the residual."""
    columns = [X[:, j] for j in range(X.shape[1])] + [residual]
    return np.column_stack([np.bincount(codes, weights=c, minlength=n_levels) for c in columns])


def _indicators(factors: list, nobs: int) -> sp.csc_matrix:
    """Sparse indicator matrix ``[Z_a Z_b ...]`` (nobs x total levels)."""
    offsets = np.cumsum([0] + [f.n_levels for f in factors])
    rows = np.tile(np.arange(nobs), len(factors))
    cols = np.concatenate([f.codes + offset for f, offset in zip(factors, offsets, strict=False)])
    data = np.ones(rows.shape[0])
    return sp.csc_matrix((data, (rows, cols)), shape=(nobs, int(offsets[-1])))
