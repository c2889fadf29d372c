"""Choosing centered / non-centered per factor from the REML fit."""

from __future__ import annotations

import numpy as np
import pytest

from bayeshier.bayes.plan import (
    MIN_START_EIGENVALUE,
    explained_share,
    explained_share_matrix,
    start_correlation,
)


def test_explained_share_is_the_shrinkage_weight_for_one_factor():
    """With many groups the low-sd correction vanishes: n sd^2 / (n sd^2 + sigma^2)."""
    sd, sigma, n = 2.0, 3.0, 5
    condvar = np.full(10_000, 1.0 / (1.0 / sd**2 + n / sigma**2))
    expected = n * sd**2 / (n * sd**2 + sigma**2)
    assert explained_share(sd, condvar) == pytest.approx(expected, rel=0.05)
    assert explained_share(sd, condvar[:6]) < expected - 0.2
    assert explained_share(0.0, condvar) == 0.0


def test_explained_share_matrix_is_explained_share_for_one_column():
    rng = np.random.default_rng(0)
    sd, condvar = 2.0, rng.uniform(0.5, 3.0, 12)
    got = explained_share_matrix(np.array([[sd**2]]), condvar[:, None, None])
    assert got == pytest.approx(explained_share(sd, condvar), rel=1e-12)


def test_explained_share_matrix_averages_independent_directions():
    """Diagonal covariance and conditional covariances: the mean of the per-term shares."""
    sds = np.array([2.0, 0.5])
    condvar = np.array([[1.0, 0.2]] * 40)
    condcov = np.stack([np.diag(row) for row in condvar])
    expected = np.mean([explained_share(sds[r], condvar[:, r]) for r in range(2)])
    got = explained_share_matrix(np.diag(sds**2), condcov)
    assert got == pytest.approx(expected, rel=1e-12)


def test_explained_share_matrix_is_zero_for_a_singular_covariance():
    covariance = np.array([[1.0, 1.0], [1.0, 1.0]])  # correlation 1
    condcov = np.broadcast_to(0.1 * np.eye(2), (10, 2, 2))
    assert explained_share_matrix(covariance, condcov) == 0.0
    assert explained_share_matrix(np.diag([1.0, 0.0]), condcov) == 0.0


def test_start_correlation_is_shrunk_when_singular():
    covariance = np.array([[4.0, 2.0], [2.0, 1.0]])  # correlation 1: no Cholesky factor
    corr = start_correlation(covariance, (2,))
    assert np.linalg.eigvalsh(corr).min() == pytest.approx(MIN_START_EIGENVALUE)
    assert corr[0, 1] == pytest.approx(1.0 - MIN_START_EIGENVALUE)
    blocks = start_correlation(
        np.array([[4.0, 1.0, 0.5], [1.0, 1.0, 0.2], [0.5, 0.2, 1.0]]), (2, 1)
    )
    assert blocks[0, 2] == 0.0 and blocks[1, 2] == 0.0 and blocks[0, 1] == pytest.approx(0.5)
