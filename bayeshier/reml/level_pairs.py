"""Pairs of entries of a sparse matrix that share a level of the first grouping factor.

The columns of ``K`` (the other factors' and fixed columns' cross products
with the first factor) are ``(level, column)`` pairs, ``k`` columns per
level. The blocked Cholesky factorisation needs the products
``K[a, (j, r)] K[b, (j, s)]`` of every two rows ``a >= b`` within each
level ``j``: :func:`level_pairs` finds those pairs once, vectorised, for
the REML cross products (:mod:`bayeshier.reml.crossprod`) and the GLMM's
reusable pattern (:mod:`bayeshier.reml.glmm.design`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["LevelPairs", "level_pairs"]


@dataclass(frozen=True)
class LevelPairs:
    """The pairs of entries ``K[a, (j, r)]``, ``K[b, (j, s)]`` (``a >= b``) sharing level ``j``.

    ``values`` are the given entry values in by-level order; ``left`` and
    ``right`` the positions in ``values`` of each pair's two entries,
    ``keys`` the pair's rows ``a * n_rest + b`` and ``position`` its column
    ``(j * k + r) * k + s``.
    """

    values: np.ndarray
    left: np.ndarray
    right: np.ndarray
    keys: np.ndarray
    position: np.ndarray


def level_pairs(matrix: sp.spmatrix, k: int, values: np.ndarray) -> LevelPairs:
    """Every pair of entries of ``matrix`` in the same level (``k`` columns per level).

    ``values`` are carried along with the entries of ``matrix.tocoo()`` (its
    own data, or e.g. their slots, to build a pattern once and fill it later).
    """
    n_rest, n_columns = matrix.shape
    n_levels = n_columns // k
    # rows (a, r) and one column per level j: K[a, (j, r)] sits at (a * k + r, j)
    entries = matrix.tocoo()
    level, column = np.divmod(entries.col, k)
    by_level = sp.csc_matrix(
        (values, (entries.row.astype(np.int64) * k + column, level)),
        shape=(n_rest * k, n_levels),
    )
    by_level.sort_indices()
    lengths = np.diff(by_level.indptr)
    entry_level = np.repeat(np.arange(n_levels), lengths)
    repeats = lengths[entry_level]
    left = np.repeat(np.arange(by_level.nnz), repeats)
    block_start = np.repeat(np.cumsum(repeats) - repeats, repeats)
    right = by_level.indptr[entry_level[left]] + (np.arange(left.size) - block_start)
    row_left, col_left = np.divmod(by_level.indices[left], k)
    row_right, col_right = np.divmod(by_level.indices[right], k)
    lower = row_left >= row_right
    return LevelPairs(
        values=by_level.data,
        left=left[lower],
        right=right[lower],
        keys=row_left[lower].astype(np.int64) * n_rest + row_right[lower],
        position=(entry_level[left[lower]] * k + col_left[lower]) * k + col_right[lower],
    )
