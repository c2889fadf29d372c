"""Families and links: means, derivatives, densities with their constants, overflow."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from bayeshier.errors import ModelError
from bayeshier.reml.glmm.families import Family, make_family

LINKS = [("binomial", "logit"), ("binomial", "probit"), ("binomial", "cloglog"), ("poisson", "log")]
ETA = np.linspace(-3.0, 2.5, 12)


def _data(family: Family) -> tuple[np.ndarray, np.ndarray]:
    if family.name == "poisson":
        return np.array([0, 1, 2, 5, 0, 3, 1, 0, 7, 2, 1, 4], float), np.ones(12)
    n = np.array([1, 4, 10, 3, 1, 6, 2, 8, 1, 5, 9, 2], float)
    successes = np.array([0, 1, 7, 3, 1, 2, 0, 5, 1, 4, 9, 1], float)
    return successes / n, n


def _log_density(family: Family, eta: np.ndarray, y: np.ndarray, n: np.ndarray) -> float:
    """Sum of scipy's log pmf: the exact density with its constants."""
    mu = family.linkinv(eta)
    if family.name == "poisson":
        return float(np.sum(stats.poisson.logpmf(y, mu)))
    return float(np.sum(stats.binom.logpmf(np.round(y * n), n, mu)))


@pytest.mark.parametrize(("name", "link"), LINKS)
def test_deviance_with_constant_is_minus_twice_the_log_density(name, link):
    family = make_family(name, link)
    y, n = _data(family)
    total = family.log_density_kernel(ETA, y, n) + family.log_density_constant(y, n)
    assert total == pytest.approx(-2.0 * _log_density(family, ETA, y, n), rel=1e-12)


@pytest.mark.parametrize(("name", "link"), LINKS)
def test_derivatives_match_differences(name, link):
    family = make_family(name, link)
    y, n = _data(family)
    h = 1e-6
    terms = family.row_terms(ETA, y, n)
    np.testing.assert_allclose(family.linkfun(terms.mu), ETA, rtol=1e-8)
    per_row = np.array(
        [
            family.log_density_kernel(ETA[i : i + 1], y[i : i + 1], n[i : i + 1])
            for i in range(ETA.size)
        ]
    )
    shifted = np.array(
        [
            family.log_density_kernel(ETA[i : i + 1] + h, y[i : i + 1], n[i : i + 1])
            for i in range(ETA.size)
        ]
    )
    np.testing.assert_allclose((shifted - per_row) / h, -2.0 * terms.score, rtol=1e-4, atol=1e-5)
    d2, slope = family.second_terms(ETA, y, n, terms)
    upper, lower = family.row_terms(ETA + h, y, n), family.row_terms(ETA - h, y, n)
    np.testing.assert_allclose(d2, 2.0 * (lower.score - upper.score) / (2 * h), rtol=1e-5)
    np.testing.assert_allclose(
        slope, (upper.weights - lower.weights) / (2 * h), rtol=1e-5, atol=1e-9
    )


def test_huge_linear_predictor_gives_infinite_deviance_silently():
    family = make_family("poisson")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = family.log_density_kernel(np.full(3, 800.0), np.ones(3), np.ones(3))
    assert value == np.inf


def test_make_family_choices():
    assert make_family("Binomial") == Family("binomial", "logit")
    assert make_family(make_family("binomial", "probit")).link == "probit"
    assert str(make_family("poisson")) == "poisson  ( log )"
    with pytest.raises(ModelError, match="no link 'identity'"):
        make_family("poisson", "identity")
    with pytest.raises(ModelError, match="already has the link"):
        make_family(make_family("binomial", "probit"), "logit")
