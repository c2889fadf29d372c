"""The DataTree's pieces: observed and constant data, pointwise log-likelihood, attrs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from bayeshier.bayes.glmm import posterior as glmm_post


def _glmer_posterior(model, reference) -> xr.Dataset:
    """A one-draw 'posterior' at glmer's estimates and conditional modes."""
    beta = np.array(list(reference["fixef"].values()))[None, None, :]
    data = {"beta": (("chain", "draw", "fixed"), beta)}
    for factor in model.spec.factors:
        modes = np.array(list(reference["ranef"][factor.name]["(Intercept)"].values()))
        data[factor.name] = (("chain", "draw", f"{factor.name}_level"), modes[None, None, :])
    return xr.Dataset(data, coords={"chain": [0], "draw": [0]})


def test_pointwise_loglik_at_glmer_fitted_values(cbpp_model, cbpp_case) -> None:
    reference, data = cbpp_case
    posterior = _glmer_posterior(cbpp_model, reference)
    values = glmm_post.pointwise_loglik(
        cbpp_model.spec, cbpp_model.cells, cbpp_model.family, posterior, "y"
    )["y"]
    trials = data["incidence"] + data["nonincidence"]
    expected = stats.binom.logpmf(data["incidence"], trials, reference["fitted_response"])
    np.testing.assert_allclose(values.to_numpy().ravel(), expected, atol=1e-5)


def test_observed_and_constant_data(cbpp_model, cbpp_case) -> None:
    _, data = cbpp_case
    observed = glmm_post.observed_data(cbpp_model.spec, cbpp_model.cells, "y")
    constant = glmm_post.constant_data(cbpp_model.spec, cbpp_model.cells)
    np.testing.assert_allclose(observed["y"], data["incidence"])
    np.testing.assert_allclose(constant["trials"], data["incidence"] + data["nonincidence"])
    np.testing.assert_allclose(constant["offset"], 0.0)


def test_attrs_record_the_laplace_fit(seed_model, seed_case) -> None:
    reference, _ = seed_case
    attrs = glmm_post.glmm_attrs(seed_model.fit, "nutpie", {"g": "centered"}, seed_model.cells)
    record = json.loads(attrs["reml"])
    assert attrs["family"] == "binomial" and attrs["link"] == "logit"
    assert record["loglik"] == pytest.approx(reference["logLik"], rel=1e-6)
    assert record["sd"]["sd_g"] == pytest.approx(reference["theta"]["g.(Intercept)"], abs=1e-3)
    modes = reference["ranef"]["g"]["(Intercept)"]
    assert record["ranef"]["g"]["3"] == pytest.approx(modes["3"], abs=1e-3)
    assert record["condvar"]["g"]["4"] == pytest.approx(reference["condVar"]["g"]["4"], abs=1e-3)


def test_poisson_pointwise_loglik_at_glmer_fitted_values(grouse_case) -> None:
    from bayeshier.bayes.glmm import GlmmModel

    reference, data = grouse_case
    model = GlmmModel(reference["formula"], data, "poisson")
    posterior = _glmer_posterior(model, reference)
    values = glmm_post.pointwise_loglik(model.spec, model.cells, model.family, posterior, "TICKS")[
        "TICKS"
    ]
    expected = stats.poisson.logpmf(data["TICKS"], reference["fitted_response"])
    np.testing.assert_allclose(values.to_numpy().ravel(), expected, atol=1e-5)
