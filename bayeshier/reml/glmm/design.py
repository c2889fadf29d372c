"""The random-effects design ``Z`` of a GLMM and its weighted cross products.

PIRLS needs, at every iteration, the blocked system of
:mod:`bayeshier.reml.factor` with the rows weighted by the GLM working
weights ``w``: ``Z'WZ`` (first factor block diagonal, the others dense) and
``Z'W`` times a working response. The weights change every iteration but
the sparsity does not, so every sum is one ``bincount`` over positions fixed
once here: per level of the first factor, per (rest column, first column)
pair of ``Zr'WZ1``, per entry of the dense ``Zr'WZr``. The products that
absorb the first block into the rest (``rest_outer`` of
:class:`~bayeshier.reml.crossprod.CrossProducts`) keep their sparsity too;
only their values are recomputed.

The systems have no fixed-effects columns (``n_fixed = 0``): glmer's
second stage holds beta in the offset and PIRLS solves for ``u`` alone.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.sparse as sp

from bayeshier.reml.crossprod import CrossProducts
from bayeshier.reml.level_pairs import level_pairs
from bayeshier.spec.model_spec import GroupingFactor

__all__ = ["RandomDesign"]


class RandomDesign:
    """``Z`` in the blocked layout (largest factor first), for any row weights.

    Parameters
    ----------
    factors : tuple of GroupingFactor
        The grouping factors, holding their rows (spec order).
    nobs : int
        Number of rows.

    """

    def __init__(self, factors: tuple[GroupingFactor, ...], nobs: int) -> None:
        self.factors = factors
        self.nobs = nobs
        self.codes = [np.asarray(f.codes, dtype=np.intp) for f in factors]
        self.columns = [None if f.intercept_only else np.asarray(f.design) for f in factors]
        self.sizes = tuple(f.n_columns for f in factors)
        self.levels = tuple(f.n_levels for f in factors)
        self.rest_sizes = tuple(f.n_levels * f.n_columns for f in factors[1:])
        self.q_rest = int(sum(self.rest_sizes))
        self._empty_rest = sp.csr_matrix((0, self.levels[0] * self.sizes[0]))
        self._empty_outer = sp.csr_matrix((0, self.levels[0] * self.sizes[0] ** 2))

    def design(self, index: int) -> np.ndarray:
        """The random-effect columns of factor ``index`` (n x k; ones for an intercept)."""
        z = self.columns[index]
        return np.ones((self.nobs, 1)) if z is None else z

    def linear(self, modes: list[np.ndarray], relative: list[np.ndarray]) -> np.ndarray:
        """``Z Lambda u`` of every row, ``modes`` the spherical ``u`` per factor (level-major)."""
        total = np.zeros(self.nobs)
        for index, (u, T) in enumerate(zip(modes, relative, strict=True)):
            total += self.apply_effects(index, u.reshape(-1, T.shape[0]) @ T.T)
        return total

    def apply_effects(self, index: int, effects: np.ndarray) -> np.ndarray:
        """``Z_f b_f`` for the effects ``b_f`` (levels x k) of factor ``index``."""
        codes, z = self.codes[index], self.columns[index]
        if z is None:
            return effects[:, 0][codes]
        return np.einsum("ik,ik->i", z, effects[codes])

    def level_sums(self, index: int, values: np.ndarray) -> np.ndarray:
        """``Z_f' v`` as a (levels x k) array for factor ``index``."""
        codes, z, levels = self.codes[index], self.columns[index], self.levels[index]
        if z is None:
            return np.bincount(codes, weights=values, minlength=levels)[:, None]
        return np.column_stack(
            [
                np.bincount(codes, weights=values * z[:, r], minlength=levels)
                for r in range(z.shape[1])
            ]
        )

    def products(
        self, weights: np.ndarray, weighted_work: np.ndarray | None = None
    ) -> CrossProducts:
        """The blocked cross products of ``[Z work]`` with the rows weighted by ``weights``.

        ``weighted_work`` is ``W work`` (zeros if omitted). The corner
        ``work'W work`` only has to keep the augmented matrix positive
        definite (the solution for ``u`` does not depend on it), so it is
        replaced by ``1 + work'W work``, an upper bound of what the first
        rows take from it.
        """
        k1, levels = self.sizes[0], self.levels[0]
        if weighted_work is None:
            weighted_work = np.zeros(self.nobs)
        gram = self._first_gram(weights)
        sums = self.level_sums(0, weighted_work).reshape(levels * k1, 1)
        if self.q_rest:
            ratio = np.divide(weighted_work, weights, out=np.zeros(self.nobs), where=weights > 0)
            corner = float(weighted_work @ ratio) + 1.0
            cross = self._rest_by_first(weights)
            rest_sums = np.concatenate(
                [self.level_sums(i, weighted_work).ravel() for i in range(1, len(self.factors))]
            )
            rest = np.empty((self.q_rest + 1, self.q_rest + 1))
            rest[:-1, :-1] = self._rest_gram(weights)
            rest[:-1, -1] = rest[-1, :-1] = rest_sums
            rest[-1, -1] = corner
            outer = self._outer(cross)
        else:
            cross, outer, rest = self._empty_rest, self._empty_outer, np.ones((1, 1))
        return CrossProducts(
            first_gram=gram,
            first_sums=sums,
            first_by_rest=cross,
            rest_outer=outer,
            rest_outer_index=self._outer_pattern[3] if self.q_rest else np.zeros(0, np.int64),
            rest=rest,
            rest_sizes=self.rest_sizes,
            columns=self.sizes,
            R=np.zeros((0, 0)),
            ols=np.zeros(0),
            nobs=self.nobs,
            n_fixed=0,
        )

    def _first_gram(self, weights: np.ndarray) -> np.ndarray:
        codes, z, levels, k = self.codes[0], self.columns[0], self.levels[0], self.sizes[0]
        if z is None:
            return np.bincount(codes, weights=weights, minlength=levels).reshape(levels, 1, 1)
        gram = np.empty((levels, k, k))
        for r in range(k):
            for s in range(r + 1):
                gram[:, r, s] = np.bincount(
                    codes, weights=weights * z[:, r] * z[:, s], minlength=levels
                )
                gram[:, s, r] = gram[:, r, s]
        return gram

    @cached_property
    def _rest_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """Every row's rest columns and their values (rows x total rest columns per row)."""
        positions, values = [], []
        offset = 0
        for index in range(1, len(self.factors)):
            k, z = self.sizes[index], self.design(index)
            for r in range(k):
                positions.append(offset + self.codes[index] * k + r)
                values.append(z[:, r])
            offset += self.rest_sizes[index - 1]
        return np.column_stack(positions), np.column_stack(values)

    @cached_property
    def _cross_pattern(self) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
        """Bins of ``Zr'WZ1``: the csr slot and product of each (row, rest, first column) entry."""
        rest_pos, rest_val = self._rest_columns
        k1, width = self.sizes[0], self.levels[0] * self.sizes[0]
        first_pos = self.codes[0][:, None] * k1 + np.arange(k1)[None, :]
        keys = rest_pos[:, :, None].astype(np.int64) * width + first_pos[:, None, :]
        products = rest_val[:, :, None] * self.design(0)[:, None, :]
        # sorted distinct keys are row-major: their order is the csr order of the slots
        distinct, bins = np.unique(keys.ravel(), return_inverse=True)
        rows, cols = np.divmod(distinct, width)
        template = sp.csr_matrix((np.ones(distinct.size), (rows, cols)), shape=(self.q_rest, width))
        return bins, products.reshape(self.nobs, -1), template

    def _rest_by_first(self, weights: np.ndarray) -> sp.csr_matrix:
        bins, products, template = self._cross_pattern
        values = np.bincount(
            bins, weights=(products * weights[:, None]).ravel(), minlength=template.nnz
        )
        return sp.csr_matrix((values, template.indices, template.indptr), shape=template.shape)

    @cached_property
    def _gram_pattern(self) -> tuple[np.ndarray, np.ndarray]:
        rest_pos, rest_val = self._rest_columns
        keys = rest_pos[:, :, None].astype(np.int64) * self.q_rest + rest_pos[:, None, :]
        products = rest_val[:, :, None] * rest_val[:, None, :]
        return keys.reshape(self.nobs, -1), products.reshape(self.nobs, -1)

    def _rest_gram(self, weights: np.ndarray) -> np.ndarray:
        keys, products = self._gram_pattern
        flat = np.bincount(
            keys.ravel(), weights=(products * weights[:, None]).ravel(), minlength=self.q_rest**2
        )
        return flat.reshape(self.q_rest, self.q_rest)

    @cached_property
    def _outer_pattern(self) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix, np.ndarray]:
        """Structure of ``rest_outer``: the two slots of ``Zr'WZ1`` each product multiplies."""
        return outer_structure(self._cross_pattern[2], self.sizes[0])

    def _outer(self, cross: sp.csr_matrix) -> sp.csr_matrix:
        left, right, outer, _ = self._outer_pattern
        data = cross.data[left] * cross.data[right]
        return sp.csr_matrix((data, outer.indices, outer.indptr), shape=outer.shape)


def outer_structure(
    template: sp.csr_matrix, k: int
) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix, np.ndarray]:
    """The products ``K[a, (j, r)] K[b, (j, s)]`` (``a >= b``) of a sparse ``K`` as slots of ``K``.

    The layout is that of ``rest_outer`` in
    :class:`~bayeshier.reml.crossprod.CrossProducts` (rows: distinct pairs
    ``(a, b)``, flat positions in ``rest_outer_index``; columns ``(j, r, s)``).
    Returns the slots (positions in ``K.data``) of the left and right factor
    of every stored product, in the csr order of the returned pattern.
    """
    n_columns = template.shape[1]
    pairs = level_pairs(template, k, np.arange(1.0, template.nnz + 1))
    index, pair = np.unique(pairs.keys, return_inverse=True)
    order = np.arange(1.0, pair.size + 1)
    outer = sp.csr_matrix((order, (pair, pairs.position)), shape=(index.size, n_columns * k))
    stored = outer.data.astype(np.intp) - 1
    left_slot = pairs.values[pairs.left].astype(np.intp) - 1
    right_slot = pairs.values[pairs.right].astype(np.intp) - 1
    # slots of template.tocoo() entries equal csr slots (tocoo keeps the csr order)
    return left_slot[stored], right_slot[stored], outer, index
