"""level_pairs: every pair of entries in the same level, against a brute-force loop."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from bayeshier.reml.level_pairs import level_pairs


def _brute_force(dense: np.ndarray, k: int) -> dict[tuple[int, int, int], float]:
    """``{(a * n_rest + b, position): K[a,(j,r)] K[b,(j,s)]}`` for a >= b, both non-zero."""
    n_rest, n_columns = dense.shape
    products = {}
    for j in range(n_columns // k):
        for a in range(n_rest):
            for b in range(a + 1):
                for r in range(k):
                    for s in range(k):
                        left, right = dense[a, j * k + r], dense[b, j * k + s]
                        if left != 0 and right != 0:
                            products[(a * n_rest + b, (j * k + r) * k + s)] = left * right
    return products


@pytest.mark.parametrize("k", [1, 2, 3])
def test_pairs_are_the_products_within_each_level(k: int) -> None:
    rng = np.random.default_rng(k)
    dense = rng.normal(size=(7, 5 * k)) * (rng.random((7, 5 * k)) < 0.4)
    matrix = sp.csr_matrix(dense)
    pairs = level_pairs(matrix, k, matrix.tocoo().data)
    found = {
        (key, position): pairs.values[left] * pairs.values[right]
        for key, position, left, right in zip(
            pairs.keys, pairs.position, pairs.left, pairs.right, strict=True
        )
    }
    expected = _brute_force(dense, k)
    assert found.keys() == expected.keys()
    for place, value in expected.items():
        assert found[place] == pytest.approx(value)


def test_carried_values_identify_the_entries() -> None:
    """Slots carried instead of values point back at the entries of ``matrix.tocoo()``."""
    matrix = sp.csr_matrix(np.array([[1.0, 0.0, 2.0, 3.0], [0.0, 4.0, 5.0, 0.0]]))
    coo = matrix.tocoo()
    pairs = level_pairs(matrix, 2, np.arange(1.0, coo.nnz + 1))
    slots = pairs.values.astype(int) - 1
    np.testing.assert_array_equal(
        coo.data[slots[pairs.left]] * coo.data[slots[pairs.right]],
        level_pairs(matrix, 2, coo.data).values[pairs.left]
        * level_pairs(matrix, 2, coo.data).values[pairs.right],
    )
