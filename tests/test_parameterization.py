"""Choosing centred / non-centred per factor from the REML fit."""

from __future__ import annotations

import numpy as np
import pytest

from bayeshier.parameterization import explained_share


def test_explained_share_is_the_shrinkage_weight_for_one_factor():
    """With many groups the low-sd correction vanishes: n sd^2 / (n sd^2 + sigma^2)."""
    sd, sigma, n = 2.0, 3.0, 5
    condvar = np.full(10_000, 1.0 / (1.0 / sd**2 + n / sigma**2))
    expected = n * sd**2 / (n * sd**2 + sigma**2)
    assert explained_share(sd, condvar) == pytest.approx(expected, rel=0.05)
    assert explained_share(sd, condvar[:6]) < expected - 0.2
    assert explained_share(0.0, condvar) == 0.0
