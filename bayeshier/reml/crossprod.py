"""Sufficient statistics of a linear mixed model, computed in one pass.

The profiled REML/ML criterion depends on the data only through the cross
products of ``[Z X y]``. Following MixedModels.jl, the grouping factor with
the most levels comes first: its block ``Z1'Z1`` is block diagonal, one
``k x k`` block per level (the level counts for a random intercept), so it
is kept as an array of small blocks and every evaluation only touches the
per-level sums ``Z1'[X y]``. The remaining factors (crossed or nested) form
a small dense block, together with ``X`` and ``y``.

Random-effect coordinates are level-major: level ``j``, column ``r`` of a
factor with ``k`` columns sits at ``j * k + r`` of that factor's block.

Prior weights ``w`` enter as in lme4: the rows of ``[Z X y]`` are scaled by
``sqrt(w)``, the criterion subtracts ``sum(log w)``. An offset leaves ``y``.

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

from bayeshier.reml.level_pairs import level_pairs
from bayeshier.spec.model_spec import GroupingFactor, ModelSpec, thin_r, weighted_rows

__all__ = [
    "CrossProducts",
    "RowSums",
    "assemble",
    "cross_products",
    "diagonal_blocks",
    "row_sums",
    "single_factor_products",
]

#: Largest number of possible level pairs handled with a dense marker array.
_DENSE_KEY_SPACE = 50_000_000


@dataclass(frozen=True, eq=False)
class CrossProducts:
    """Cross products of ``[Z X y]`` in the blocked layout.

    Attributes
    ----------
    first_gram : numpy.ndarray
        ``Z1j'Z1j`` of every level ``j`` of the first (largest) factor
        (levels x k1 x k1); for a random intercept, the level counts.
    first_sums : numpy.ndarray
        ``Z1'W`` ((levels * k1) x (p + 1)), with ``W = [Q, e]``, ``e`` the OLS residual.
    first_by_rest : scipy.sparse.csr_matrix
        ``Zr'Z1`` (q_rest x (levels * k1)), empty when there is one factor.
    rest_outer : scipy.sparse.csr_matrix
        For every pair ``(a, b)``, ``a >= b``, of rest rows that share a level
        ``j`` of the first factor, the products ``K[a, (j, r)] K[b, (j, s)]``
        (pairs x (levels * k1 * k1)): the lower triangle of ``K E K'``, with
        ``E`` block diagonal, is ``rest_outer @ E.ravel()`` scattered to
        ``rest_outer_index``, one sparse mat-vec per evaluation instead of a
        sparse mat-mat.
    rest_outer_index : numpy.ndarray
        Flat positions of those pairs in the ``q_rest x q_rest`` matrix.
    rest : numpy.ndarray
        Dense ``[Zr W]'[Zr W]`` ((q_rest + p + 1) square).
    rest_sizes : tuple of int
        Rows of the rest block taken by each factor after the first (levels * k).
    columns : tuple of int
        Random-effect columns per level of every factor, the first included.
    R : numpy.ndarray
        The ``R`` of ``X = Q R``.
    ols : numpy.ndarray
        ``Q'y``: the OLS coefficients in the ``Q`` basis.
    nobs, n_fixed : int
        Rows and fixed-effect columns.
    log_weights : float
        ``sum(log w)`` of the prior weights (0 without): lme4's criteria subtract it.

    """

    first_gram: np.ndarray
    first_sums: np.ndarray
    first_by_rest: sp.csr_matrix
    rest_outer: sp.csr_matrix
    rest_outer_index: np.ndarray
    rest: np.ndarray
    rest_sizes: tuple[int, ...]
    columns: tuple[int, ...]
    R: np.ndarray
    ols: np.ndarray
    nobs: int
    n_fixed: int
    log_weights: float = 0.0

    @property
    def q_rest(self) -> int:
        """Rows of the rest block taken by the factors after the first."""
        return int(sum(self.rest_sizes))

    @property
    def first_levels(self) -> int:
        """Number of levels of the first factor."""
        return int(self.first_gram.shape[0])

    @property
    def level_counts(self) -> tuple[int, ...]:
        """Number of levels of every factor."""
        rest = (size // k for size, k in zip(self.rest_sizes, self.columns[1:], strict=True))
        return (self.first_levels, *rest)

    @property
    def log_det_r(self) -> float:
        """``log|R|^2``, the REML constant of the change of basis."""
        return float(2.0 * np.sum(np.log(np.abs(np.diag(self.R)))))


@dataclass(frozen=True, eq=False)
class RowSums:
    """The sums over rows behind :class:`CrossProducts`; two chunks' sums add up with ``+``.

    Every entry is a sum over rows of products of ``Z1`` (the first factor's
    random-effect columns), ``Zr`` (the other factors'), ``X`` and ``e0 = y -
    X b``, the residual of given coefficients ``b`` (the OLS ones), so the
    sums of row chunks add up to the sums of all the rows.

    Attributes
    ----------
    first_gram : numpy.ndarray
        ``Z1j'Z1j`` of every level ``j`` (levels x k1 x k1).
    first_sums : numpy.ndarray
        ``Z1'[X e0]`` ((levels * k1) x (p + 1)).
    rest_sums : numpy.ndarray
        ``Zr'[X e0]`` (q_rest x (p + 1)).
    rest_by_first : scipy.sparse.csr_matrix
        ``Zr'Z1``.
    rest_gram : scipy.sparse.csr_matrix
        ``Zr'Zr``.
    x_residual : numpy.ndarray
        ``X'e0``.
    residual_ss : float
        ``e0'e0``.

    """

    first_gram: np.ndarray
    first_sums: np.ndarray
    rest_sums: np.ndarray
    rest_by_first: sp.csr_matrix
    rest_gram: sp.csr_matrix
    x_residual: np.ndarray
    residual_ss: float

    def __add__(self, other: RowSums) -> RowSums:
        return RowSums(
            first_gram=self.first_gram + other.first_gram,
            first_sums=self.first_sums + other.first_sums,
            rest_sums=self.rest_sums + other.rest_sums,
            rest_by_first=(self.rest_by_first + other.rest_by_first).tocsr(),
            rest_gram=(self.rest_gram + other.rest_gram).tocsr(),
            x_residual=self.x_residual + other.x_residual,
            residual_ss=self.residual_ss + other.residual_ss,
        )


def cross_products(spec: ModelSpec) -> CrossProducts:
    """Reduce the data of ``spec`` to the cross products the criterion needs.

    ``Q = X R^-1`` is never formed: ``Z'Q = (Z'X) R^-1``, ``Q'Q = I`` and
    ``Q'e = 0`` for the OLS residual ``e``, so one pass over the rows gives
    every sum (:func:`row_sums`). A spec without rows (a Dask DataFrame)
    has its source compute the same sums chunk by chunk and add them up.
    """
    R, xty = spec.fixed_r, spec.fixed_xty
    if R is None or xty is None:
        X, y = weighted_rows(spec)
        R, xty = thin_r(X), X.T @ y
    r_inv = sla.solve_triangular(R, np.eye(R.shape[0]), check_finite=False)
    coef = r_inv @ (r_inv.T @ xty)
    if spec.holds_rows:
        sums = row_sums(spec, coef)
    else:
        sums = spec.source.reduce_rows(spec, row_sums, coef)
    return assemble(sums, spec, R, r_inv.T @ xty)


def row_sums(spec: ModelSpec, coef: np.ndarray) -> RowSums:
    """The :class:`RowSums` of the rows ``spec`` holds; ``e0 = W^1/2 (y - offset - X coef)``."""
    X, y = weighted_rows(spec)
    root = None if spec.weights is None else np.sqrt(spec.weights)
    residual = y - X @ coef
    columns = [*(X[:, j] for j in range(X.shape[1])), residual]  # W = [X e0], never stacked
    first, *others = spec.factors
    q_first = first.n_levels * first.n_columns
    if others:
        Zr = _random_design(others, spec.nobs, root)
        rest_by_first = (Zr.T @ _random_design([first], spec.nobs, root)).tocsr()
        rest_gram = (Zr.T @ Zr).tocsr()
        rest_sums = np.asarray(Zr.T @ np.column_stack(columns))
    else:
        rest_by_first = sp.csr_matrix((0, q_first))
        rest_gram = sp.csr_matrix((0, 0))
        rest_sums = np.zeros((0, len(columns)))
    return RowSums(
        first_gram=_level_grams(first, root),
        first_sums=_level_sums(first, columns, root),
        rest_sums=rest_sums,
        rest_by_first=rest_by_first,
        rest_gram=rest_gram,
        x_residual=X.T @ residual,
        residual_ss=float(residual @ residual),
    )


def assemble(sums: RowSums, spec: ModelSpec, R: np.ndarray, qty: np.ndarray) -> CrossProducts:
    """The :class:`CrossProducts` from the row sums of all the rows.

    ``qty`` is ``Q'y``, the OLS coefficients in the ``Q`` basis, of which
    ``e0`` is the residual. One step of iterative refinement (the
    correction ``c = Q'e0``) keeps the residual orthogonal to ``X`` even
    when ``X`` is badly conditioned; it is applied to the sums, which are
    linear in the residual: ``Z'e = Z'e0 - (Z'X) R^-1 c`` and ``e'e = e0'e0 -
    c'c``.
    """
    p = spec.n_fixed
    r_inv = sla.solve_triangular(R, np.eye(p), check_finite=False)
    correction = r_inv.T @ sums.x_residual
    shift = r_inv @ correction
    first, *others = spec.factors
    w_cross = np.zeros((p + 1, p + 1))
    w_cross[:p, :p] = np.eye(p)
    w_cross[p, p] = sums.residual_ss - correction @ correction
    if others:
        zr_w = _to_q_basis(_refined(sums.rest_sums, shift), r_inv)
        rest = np.block([[sums.rest_gram.toarray(), zr_w], [zr_w.T, w_cross]])
    else:
        rest = w_cross
    first_by_rest = sums.rest_by_first
    rest_outer, rest_outer_index = _outer_products_by_level(first_by_rest, first.n_columns)
    return CrossProducts(
        first_gram=sums.first_gram,
        first_sums=_to_q_basis(_refined(sums.first_sums, shift), r_inv),
        first_by_rest=first_by_rest,
        rest_outer=rest_outer,
        rest_outer_index=rest_outer_index,
        rest=rest,
        rest_sizes=tuple(f.n_levels * f.n_columns for f in others),
        columns=tuple(f.n_columns for f in spec.factors),
        R=R,
        ols=qty + correction,
        nobs=spec.nobs,
        n_fixed=p,
        log_weights=spec.log_weights,
    )


def single_factor_products(cp: CrossProducts, index: int) -> CrossProducts:
    """The cross products of the model with factor ``index`` as its only factor.

    Read off ``cp`` without another pass over the data: the first factor's
    blocks and sums are kept as they are; another factor's come from the
    diagonal blocks and the ``W`` columns of the dense rest block.
    """
    q = cp.q_rest
    w_cross = cp.rest[q:, q:]
    k = cp.columns[index]
    if index == 0:
        gram, sums = cp.first_gram, cp.first_sums
    else:
        start = sum(cp.rest_sizes[: index - 1])
        rows = slice(start, start + cp.rest_sizes[index - 1])
        gram = diagonal_blocks(cp.rest[rows, rows], k)
        sums = cp.rest[rows, q:]
    levels = gram.shape[0]
    return CrossProducts(
        first_gram=gram,
        first_sums=sums,
        first_by_rest=sp.csr_matrix((0, levels * k)),
        rest_outer=sp.csr_matrix((0, levels * k * k)),
        rest_outer_index=np.zeros(0, dtype=np.int64),
        rest=w_cross,
        rest_sizes=(),
        columns=(k,),
        R=cp.R,
        ols=cp.ols,
        nobs=cp.nobs,
        n_fixed=cp.n_fixed,
        log_weights=cp.log_weights,
    )


def diagonal_blocks(matrix: np.ndarray, k: int) -> np.ndarray:
    """The ``k x k`` blocks on the diagonal of a square matrix (blocks x k x k)."""
    n = matrix.shape[0] // k
    blocks = matrix.reshape(n, k, n, k)
    index = np.arange(n)
    return blocks[index, :, index, :]


def _refined(sums: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``[Z'X, Z'e0]`` -> ``[Z'X, Z'e0 - (Z'X) shift]``: the residual refined by ``X shift``."""
    p = shift.shape[0]
    return np.column_stack([sums[:, :p], sums[:, p] - sums[:, :p] @ shift])


def _to_q_basis(sums: np.ndarray, r_inv: np.ndarray) -> np.ndarray:
    """Map ``[Z'X, Z'e]`` to ``[Z'Q, Z'e]``."""
    p = r_inv.shape[0]
    return np.column_stack([sums[:, :p] @ r_inv, sums[:, p]])


def _outer_products_by_level(cross: sp.csr_matrix, k: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """Products ``K[a, (j, r)] K[b, (j, s)]`` for the rest rows ``a >= b`` sharing level ``j``.

    The columns of ``K`` are (level, column) pairs of the first factor; the
    products are grouped by level and indexed ``(j, r, s)``.
    """
    n_rest, n_columns = cross.shape
    pairs = level_pairs(cross, k, cross.tocoo().data)
    index, pair = _compact_keys(pairs.keys, n_rest * n_rest)
    values = pairs.values[pairs.left] * pairs.values[pairs.right]
    shape = (index.size, n_columns * k)
    outer = sp.csr_matrix((values, (pair, pairs.position)), shape=shape)
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


def _columns(factor: GroupingFactor, root: np.ndarray | None) -> np.ndarray | None:
    """``W^1/2 Z_f``'s columns per level (n x k); ``None`` for an unweighted intercept."""
    if root is None:
        return None if factor.intercept_only else factor.design
    if factor.intercept_only:
        return root[:, None]
    return factor.design * root[:, None]


def _level_sums(factor: GroupingFactor, w: list[np.ndarray], root: np.ndarray | None) -> np.ndarray:
    """``Z_f'W``: per-level sums of every column of ``W`` times every random-effect column.

    Rows are level-major ((levels * k) x columns of ``W``).
    """
    n, k = factor.n_levels, factor.n_columns
    z = _columns(factor, root)
    sums = np.empty((n, k, len(w)))
    for r in range(k):
        for m, column in enumerate(w):
            weights = column if z is None else z[:, r] * column
            sums[:, r, m] = np.bincount(factor.codes, weights=weights, minlength=n)
    return sums.reshape(n * k, len(w))


def _level_grams(factor: GroupingFactor, root: np.ndarray | None) -> np.ndarray:
    """``Z_fj'Z_fj`` of every level (levels x k x k); the counts for an intercept."""
    n, k = factor.n_levels, factor.n_columns
    z = _columns(factor, root)
    if z is None:
        return factor.counts().astype(float).reshape(n, 1, 1)
    grams = np.empty((n, k, k))
    for r in range(k):
        for s in range(r + 1):
            grams[:, r, s] = np.bincount(factor.codes, weights=z[:, r] * z[:, s], minlength=n)
            grams[:, s, r] = grams[:, r, s]
    return grams


def _random_design(
    factors: list[GroupingFactor], nobs: int, root: np.ndarray | None
) -> sp.csc_matrix:
    """Sparse ``W^1/2 [Z_a Z_b ...]`` (nobs x random-effect columns), level-major per factor."""
    rows, cols, data = [], [], []
    offset = 0
    for factor in factors:
        k = factor.n_columns
        z = _columns(factor, root)
        z = factor.columns() if z is None else z
        for r in range(k):
            rows.append(np.arange(nobs))
            cols.append(offset + factor.codes * k + r)
            data.append(z[:, r])
        offset += factor.n_levels * k
    return sp.csc_matrix(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=(nobs, offset)
    )
