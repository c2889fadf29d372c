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

__all__ = ["CrossProducts", "cross_products"]


@dataclass(frozen=True, eq=False)
class CrossProducts:
    """Cross products of ``[Z X y]`` in the blocked layout.

    Attributes
    ----------
    counts : numpy.ndarray
        Rows per level of the first (largest) factor, ``diag(Z1'Z1)``.
    first_sums : numpy.ndarray
        ``Z1'W`` (levels x (p + 1)), with ``W = [Q, e]``.
    first_by_rest : scipy.sparse.csr_matrix
        ``Zr'Z1`` (q_rest x levels), empty when there is one factor.
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
    """Reduce the data of ``spec`` to the cross products the criterion needs."""
    R = thin_r(spec.X)
    Q = sla.solve_triangular(R, spec.X.T, trans="T", check_finite=False).T
    ols = Q.T @ spec.y
    W = np.column_stack([Q, spec.y - Q @ ols])
    first, *others = spec.factors
    counts = first.counts().astype(float)
    first_sums = _level_sums(first.codes, first.n_levels, W)
    rest_sizes = tuple(f.n_levels for f in others)
    if others:
        Zr = _indicators(others, spec.nobs)
        Z1 = _indicators([first], spec.nobs)
        first_by_rest = (Zr.T @ Z1).tocsr()
        ZrW = np.asarray(Zr.T @ W)
        rest = np.block([[(Zr.T @ Zr).toarray(), ZrW], [ZrW.T, W.T @ W]])
    else:
        first_by_rest = sp.csr_matrix((0, first.n_levels))
        rest = W.T @ W
    return CrossProducts(
        counts=counts,
        first_sums=first_sums,
        first_by_rest=first_by_rest,
        rest=rest,
        rest_sizes=rest_sizes,
        R=R,
        ols=ols,
        nobs=spec.nobs,
        n_fixed=spec.n_fixed,
    )


def _level_sums(codes: np.ndarray, n_levels: int, W: np.ndarray) -> np.ndarray:
    return np.column_stack(
        [np.bincount(codes, weights=W[:, j], minlength=n_levels) for j in range(W.shape[1])]
    )


def _indicators(factors: list, nobs: int) -> sp.csc_matrix:
    """Sparse indicator matrix ``[Z_a Z_b ...]`` (nobs x total levels)."""
    offsets = np.cumsum([0] + [f.n_levels for f in factors])
    rows = np.tile(np.arange(nobs), len(factors))
    cols = np.concatenate([f.codes + offset for f, offset in zip(factors, offsets, strict=False)])
    data = np.ones(rows.shape[0])
    return sp.csc_matrix((data, (rows, cols)), shape=(nobs, int(offsets[-1])))
