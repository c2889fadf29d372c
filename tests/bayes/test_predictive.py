"""Model's prediction methods: predict, the pointwise log-likelihood, the rows they need."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st
import xarray as xr

from bayeshier.bayes.predictive import require_rows
from bayeshier.errors import ModelError


def test_predict_known_and_unseen_levels(sleep_model, fake_posterior):
    idata = fake_posterior(sleep_model)
    new = pd.DataFrame({"Days": [0.0, 5.0, 5.0, 2.0], "Subject": ["308", "308", "999", "999"]})
    pred = sleep_model.predict(new, idata, random_seed=1)["predictions"]
    fixef = sleep_model.reml.fixef
    blup = sleep_model.reml.ranef["Subject"]["Intercept"]["308"]
    mu = pred["mu"]
    assert float(mu.isel(obs=1).std()) == pytest.approx(0.0, abs=1e-9)
    assert float(mu.isel(obs=1).mean()) == pytest.approx(
        fixef["Intercept"] + 5 * fixef["Days"] + blup
    )
    # unseen subject: a fresh N(0, 10) effect per draw, shared by its rows
    assert float(mu.isel(obs=2).std()) == pytest.approx(10.0, rel=0.1)
    shared = (mu.isel(obs=2) - mu.isel(obs=3)).to_numpy()
    np.testing.assert_allclose(shared, 3 * fixef["Days"])
    noise = (pred["Reaction"] - mu).isel(obs=0).to_numpy()
    assert noise.std() == pytest.approx(2.0, rel=0.1)
    assert list(pred["obs"].to_numpy()) == [0, 1, 2, 3]


def test_predict_population_level(sleep_model, fake_posterior):
    idata = fake_posterior(sleep_model)
    new = pd.DataFrame({"Days": [3.0]})
    mu = sleep_model.predict(new, idata, include_random=False)["predictions"]["mu"]
    fixef = sleep_model.reml.fixef
    np.testing.assert_allclose(mu.to_numpy(), fixef["Intercept"] + 3 * fixef["Days"])


def test_predict_adds_the_offset_of_the_new_rows(sleep, fake_posterior):
    from bayeshier import Model

    model = Model("Reaction ~ Days + offset(2 * Days) + (1|Subject)", sleep)
    new = pd.DataFrame({"Days": [3.0, 0.0]})
    mu = model.predict(new, fake_posterior(model), include_random=False)["predictions"]["mu"]
    fixef = model.reml.fixef
    expected = fixef["Intercept"] + np.array([3.0, 0.0]) * (fixef["Days"] + 2.0)
    np.testing.assert_allclose(mu.to_numpy()[0, 0], expected)
    # the REML fit predicts the same rows the same way (lme4 adds offset() terms too)
    np.testing.assert_allclose(model.reml.predict(new, include_random=False), expected)


def test_predict_needs_a_posterior(sleep_model):
    with pytest.raises(ModelError, match="posterior"):
        sleep_model.predict(pd.DataFrame({"Days": [1.0]}), xr.DataTree())


def test_pointwise_loglik_is_the_normal_density(sleep_model, fake_posterior):
    posterior = fake_posterior(sleep_model, draws=3)["posterior"].to_dataset()
    loglik = sleep_model.pointwise_loglik(posterior)["Reaction"]
    fitted = sleep_model.reml.fitted
    expected = st.norm.logpdf(sleep_model.spec.y, fitted, 2.0)
    np.testing.assert_allclose(loglik.isel(chain=1, draw=2).to_numpy(), expected, rtol=1e-9)
    assert loglik.dims == ("chain", "draw", "obs")


def test_predict_known_and_unseen_levels_with_slopes(slopes, fake_slopes_posterior):
    posterior = fake_slopes_posterior(slopes)
    idata = xr.DataTree.from_dict({"posterior": posterior})
    new = pd.DataFrame({"Days": [0.0, 5.0, 0.0, 5.0], "Subject": ["308", "308", "new", "new"]})
    mu = slopes.predict(new, idata, random_seed=1)["predictions"]["mu"]
    expected = slopes.reml.predict(new.iloc[:2]).to_numpy()
    np.testing.assert_allclose(mu.isel(obs=[0, 1]).mean(("chain", "draw")), expected, rtol=1e-10)
    assert float(mu.isel(obs=1).std()) == pytest.approx(0.0, abs=1e-9)
    # unseen subject: (b0, b1) ~ MvNormal(0, [[100, 10], [10, 4]]), shared by its rows:
    # Var(b0) = 100 at Days 0, Var(b0 + 5 b1) = 100 + 2 * 5 * 10 + 25 * 4 = 300 at Days 5
    spread = mu.isel(obs=[2, 3]).std(("chain", "draw")).to_numpy()
    np.testing.assert_allclose(spread, [10.0, np.sqrt(300.0)], rtol=0.05)
    slope = (mu.isel(obs=3) - mu.isel(obs=2)) / 5 - slopes.reml.fixef["Days"]
    assert float(slope.std()) == pytest.approx(2.0, rel=0.05)


def test_predict_population_level_with_slopes(slopes, fake_slopes_posterior):
    idata = xr.DataTree.from_dict({"posterior": fake_slopes_posterior(slopes, draws=3)})
    mu = slopes.predict(pd.DataFrame({"Days": [3.0]}), idata, include_random=False)
    fixef = slopes.reml.fixef
    np.testing.assert_allclose(mu["predictions"]["mu"], fixef["Intercept"] + 3 * fixef["Days"])


def test_pointwise_loglik_uses_the_slopes(slopes, fake_slopes_posterior):
    posterior = fake_slopes_posterior(slopes, draws=3)
    loglik = slopes.pointwise_loglik(posterior)["Reaction"]
    expected = st.norm.logpdf(slopes.spec.y, slopes.reml.fitted, 2.0)
    np.testing.assert_allclose(loglik.isel(chain=1, draw=2), expected, rtol=1e-9)


def test_observed_name_comes_from_the_spec(slopes):
    assert slopes.observed_name == "Reaction"


def test_require_rows_names_what_needs_them_and_the_way_out():
    require_rows(SimpleNamespace(holds_rows=True), "anything()")  # rows in memory: fine
    on_dask = SimpleNamespace(holds_rows=False)
    with pytest.raises(ModelError, match=r"^pointwise_loglik\(\) needs the rows.*Pass the rows"):
        require_rows(on_dask, "pointwise_loglik()")
    with pytest.raises(ModelError, match=r'Use build\("sufficient"\), or pass the rows'):
        require_rows(on_dask, 'build("pointwise")', 'build("sufficient")')
