from __future__ import annotations

import numpy as np
import pytest

from bayeshier.errors import DataError
from bayeshier.spec import functions as fn


def test_log_with_a_base() -> None:
    x = np.array([1.0, 8.0, 64.0])
    np.testing.assert_allclose(fn.logarithm(x, 2.0), [0, 3, 6])
    np.testing.assert_allclose(fn.logarithm(x, None), np.log(x))


def test_round_halves_to_even_as_r() -> None:
    np.testing.assert_array_equal(fn.rounded(np.array([0.5, 1.5, 2.5, -0.5]), None), [0, 2, 2, -0])


def test_parallel_min_and_max_propagate_missing_values() -> None:
    result = fn.parallel("pmin", [np.array([1.0, np.nan, 3.0]), np.array([2.0, 0.0, 1.0]), 2.5])
    np.testing.assert_array_equal(result, [1.0, np.nan, 1.0])


def test_scale_is_r_s_scale() -> None:
    x = np.array([1.0, 2.0, np.nan, 4.0, 8.0])
    state = fn.learn_scale(x, True, True, "scale(x)")
    finite = x[np.isfinite(x)]
    assert state.center == pytest.approx(finite.mean())
    assert state.scale == pytest.approx(finite.std(ddof=1))
    rms = fn.learn_scale(x, False, True, "scale(x, center = FALSE)")
    assert rms.center is None
    assert rms.scale == pytest.approx(np.sqrt(np.sum(finite**2) / (finite.size - 1)))
    np.testing.assert_allclose(state.apply(np.array([1.0])), (1.0 - state.center) / state.scale)


def test_scale_refuses_constant_values() -> None:
    with pytest.raises(DataError, match="do not vary"):
        fn.learn_scale(np.ones(5), True, True, "scale(x)")


def test_center() -> None:
    state = fn.learn_center(np.array([1.0, 2.0, 6.0]), "center(x)")
    np.testing.assert_allclose(state.apply(np.array([3.0])), [0.0])


def test_orthogonal_poly_is_orthonormal_and_reproducible() -> None:
    x = np.random.default_rng(1).normal(size=200) * 3 + 10
    state = fn.learn_poly(x, 3, "poly(x, 3)")
    Z = fn.apply_poly(x, state)
    np.testing.assert_allclose(Z.T @ Z, np.eye(3), atol=1e-10)
    np.testing.assert_allclose(Z.sum(axis=0), 0.0, atol=1e-10)
    # the span is that of x, x^2, x^3 (with the intercept)
    vandermonde = np.column_stack([np.ones_like(x), x, x**2, x**3])
    residual = Z - vandermonde @ np.linalg.lstsq(vandermonde, Z, rcond=None)[0]
    np.testing.assert_allclose(residual, 0.0, atol=1e-8)
    # new data: the same polynomials (R's predict.poly)
    np.testing.assert_allclose(fn.apply_poly(x[:5], state), Z[:5])


def test_poly_degree_below_the_distinct_values() -> None:
    with pytest.raises(DataError, match="degree"):
        fn.learn_poly(np.array([1.0, 2.0, 1.0, 2.0]), 2, "poly(x, 2)")


def test_raw_poly() -> None:
    np.testing.assert_array_equal(fn.raw_poly(np.array([2.0, 3.0]), 3), [[2, 4, 8], [3, 9, 27]])
