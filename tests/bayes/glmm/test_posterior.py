"""The DataTree's pieces: observed and constant data, pointwise log-likelihood, attrs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from bayeshier.bayes.glmm import GlmmModel
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
    constant = glmm_post.constant_data(cbpp_model.spec, cbpp_model.cells, data)
    np.testing.assert_allclose(observed["y"], data["incidence"])
    np.testing.assert_allclose(constant["trials"], data["incidence"] + data["nonincidence"])
    np.testing.assert_allclose(constant["offset"], 0.0)
    # the data columns, for compare(idata=...) to refit the Laplace fit
    np.testing.assert_array_equal(constant["nonincidence"], data["nonincidence"])
    assert list(constant["herd"].values) == [str(h) for h in data["herd"]]
    assert json.loads(constant.attrs[glmm_post.DERIVED_ATTR]) == ["trials", "offset"]
    renamed = data.rename(columns={"nonincidence": "trials"})
    model = GlmmModel("cbind(incidence, trials) ~ period + (1|herd)", renamed, "binomial")
    clash = glmm_post.constant_data(model.spec, model.cells, renamed)
    np.testing.assert_array_equal(clash["trials"], data["nonincidence"])  # the data column kept
    assert json.loads(clash.attrs[glmm_post.DERIVED_ATTR]) == ["offset"]


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


def test_bernoulli_rows_merged_into_cells_get_their_own_loglik(glmer_case) -> None:
    from bayeshier.bayes.glmm import GlmmModel

    reference, data = glmer_case("contraception_bernoulli")
    model = GlmmModel(reference["formula"], data, "binomial")
    assert model.cells.n_cells < len(data)  # rows with 0 and 1 share cells
    posterior = _glmer_posterior(model, reference)
    values = glmm_post.pointwise_loglik(model.spec, model.cells, model.family, posterior, "use")
    expected = stats.bernoulli.logpmf(data["use"] == "Y", reference["fitted_response"])
    np.testing.assert_allclose(values["use"].to_numpy().ravel(), expected, atol=1e-5)


def test_probit_pointwise_loglik_is_the_bernoulli_density(seed_case) -> None:
    from bayeshier.bayes.glmm import GlmmModel

    _, data = seed_case
    model = GlmmModel("y ~ 1 + (1|g)", data, "binomial", link="probit")
    effects = np.array([-0.4, 0.1, 0.0, 0.3, 2.5])
    posterior = xr.Dataset(
        {
            "beta": (("chain", "draw", "fixed"), [[[0.2]]]),
            "g": (("chain", "draw", "g_level"), [[effects]]),
        },
        coords={"chain": [0], "draw": [0]},
    )
    values = glmm_post.pointwise_loglik(model.spec, model.cells, model.family, posterior, "y")
    eta = 0.2 + effects[data["g"].cat.codes.to_numpy()]
    expected = stats.bernoulli.logpmf(data["y"], stats.norm.cdf(eta))
    np.testing.assert_allclose(values["y"].to_numpy().ravel(), expected, rtol=1e-10)


def test_pointwise_loglik_of_many_draws_in_chunks(cbpp_model, cbpp_case) -> None:
    _, data = cbpp_case
    assert 2 * 70 % glmm_post.DRAW_CHUNK != 0  # a last, partial chunk
    rng = np.random.default_rng(5)
    beta = rng.normal(0.0, 0.3, size=(2, 70, 4)) + np.array([-1.4, -1.0, -1.1, -1.6])
    herd = rng.normal(0.0, 0.6, size=(2, 70, 15))
    posterior = xr.Dataset(
        {
            "beta": (("chain", "draw", "fixed"), beta),
            "herd": (("chain", "draw", "herd_level"), herd),
        },
        coords={"chain": [0, 1], "draw": np.arange(70)},
    )
    values = glmm_post.pointwise_loglik(
        cbpp_model.spec, cbpp_model.cells, cbpp_model.family, posterior, "y"
    )["y"].to_numpy()
    period = data["period"].astype(str).to_numpy()
    X = np.column_stack([np.ones(len(data))] + [period == p for p in ("2", "3", "4")])
    eta = beta @ X.T + herd[:, :, data["herd"].cat.codes.to_numpy()]
    trials = data["incidence"] + data["nonincidence"]
    expected = stats.binom.logpmf(data["incidence"], trials, 1.0 / (1.0 + np.exp(-eta)))
    np.testing.assert_allclose(values, expected, rtol=1e-9)
