"""Per-group log-likelihood (leave-one-group-out LOO) against a dense multivariate normal."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from bayeshier.bayes.group_loglik import group_loglik, group_moments
from bayeshier.bayes.model import Model
from bayeshier.bayes.names import effect_dims, level_dim, term_bis_dim, term_dim
from bayeshier.bayes.priors import sd_term


def _posterior(m: Model, draws: int = 3, seed: int = 0) -> xr.Dataset:
    """Random draws of every parameter of ``m`` (slopes: a correlation of 0.3)."""
    rng = np.random.default_rng(seed)
    shape = (1, draws)
    sample = ("chain", "draw")
    coords = {"chain": [0], "draw": np.arange(draws), "fixed": list(m.spec.fixed_names)}
    fixef = m.reml.fixef.to_numpy()
    data = {
        "beta": ((*sample, "fixed"), fixef + rng.normal(0, 1, (*shape, len(fixef)))),
        "sigma": (sample, rng.uniform(1.0, 3.0, shape) * m.reml.sigma),
    }
    for factor in m.spec.factors:
        k = factor.n_columns
        coords[level_dim(factor.name)] = list(factor.levels)
        effects = rng.normal(0, 2.0, (*shape, factor.n_levels, k))
        if factor.intercept_only:
            data[factor.name] = ((*sample, *effect_dims(factor)), effects[..., 0])
            data[sd_term(factor.name)] = (sample, rng.uniform(0.5, 2.0, shape) * 10)
            continue
        coords[term_dim(factor.name)] = list(factor.terms)
        coords[term_bis_dim(factor.name)] = list(factor.terms)
        data[factor.name] = ((*sample, *effect_dims(factor)), effects)
        data[sd_term(factor.name)] = (
            (*sample, term_dim(factor.name)),
            rng.uniform(1, 5, (*shape, k)),
        )
        corr = np.broadcast_to(0.7 * np.eye(k) + 0.3, (*shape, k, k))
        dims = (*sample, term_dim(factor.name), term_bis_dim(factor.name))
        data[f"corr_{factor.name}"] = (dims, corr)
    return xr.Dataset(data, coords=coords)


def _covariance(posterior: xr.Dataset, factor, d: int) -> np.ndarray:
    sd = np.atleast_1d(posterior[sd_term(factor.name)].isel(chain=0, draw=d).to_numpy())
    name = f"corr_{factor.name}"
    corr = posterior[name].isel(chain=0, draw=d).to_numpy() if name in posterior else np.eye(1)
    return np.outer(sd, sd) * corr


def _dense(m: Model, posterior: xr.Dataset) -> np.ndarray:
    """log N(r_j | 0, sigma^2 I + Z_j Sigma Z_j') per draw and level of the first factor."""
    spec = m.spec
    first, others = spec.factors[0], spec.factors[1:]
    result = np.empty((posterior.sizes["draw"], first.n_levels))
    for d in range(posterior.sizes["draw"]):
        point = posterior.isel(chain=0, draw=d)
        r = spec.y - spec.X @ point["beta"].to_numpy()
        for factor in others:
            effects = point[factor.name].transpose(*effect_dims(factor)).to_numpy()
            picked = effects[factor.codes].reshape(spec.nobs, -1)
            r = r - np.sum(picked * factor.columns(), axis=1)
        sigma = float(point["sigma"])
        cov = _covariance(posterior, first, d)
        Z = first.columns()
        for j in range(first.n_levels):
            rows = first.codes == j
            full = sigma**2 * np.eye(rows.sum()) + Z[rows] @ cov @ Z[rows].T
            result[d, j] = stats.multivariate_normal(np.zeros(rows.sum()), full).logpdf(r[rows])
    return result


@pytest.mark.parametrize("which", ["intercept", "slopes", "crossed"])
def test_group_loglik_equals_the_dense_marginal(which, sleep_model, slopes, crossed_data):
    m = {
        "intercept": sleep_model,
        "slopes": slopes,
        "crossed": Model("y ~ x + c + (1|h) + (x|g)", crossed_data())
        if which == "crossed"
        else None,
    }[which]
    posterior = _posterior(m)
    moments = group_moments(m.spec, m.design)
    got = group_loglik(m.spec, m.design, moments, posterior, "y")["y"]
    assert got.dims == ("chain", "draw", level_dim(m.spec.factors[0].name))
    assert list(got[got.dims[2]].to_numpy()) == list(m.spec.factors[0].levels)
    np.testing.assert_allclose(got.isel(chain=0).to_numpy(), _dense(m, posterior), rtol=1e-8)


def test_group_loglik_sums_the_rows_of_each_level_when_tau_is_tiny(sleep_model):
    """With sd_Subject -> 0 and the effects integrated out, a level's value is its rows' sum."""
    posterior = _posterior(sleep_model).assign(sd_Subject=lambda p: p["sd_Subject"] * 0 + 1e-9)
    moments = group_moments(sleep_model.spec, sleep_model.design)
    got = group_loglik(sleep_model.spec, sleep_model.design, moments, posterior, "y")["y"]
    spec = sleep_model.spec
    for d in range(posterior.sizes["draw"]):
        point = posterior.isel(chain=0, draw=d)
        z = (spec.y - spec.X @ point["beta"].to_numpy()) / float(point["sigma"])
        rows = stats.norm.logpdf(z) - np.log(float(point["sigma"]))
        expected = np.bincount(spec.factors[0].codes, weights=rows)
        np.testing.assert_allclose(got.isel(chain=0, draw=d), expected, rtol=1e-9)
