"""GlmmFit: predictions, variance components, residuals and coefficients."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeshier.errors import DataError
from bayeshier.reml.glmm import fit_glmm
from bayeshier.reml.results import UnseenLevelsWarning


def test_predict_the_fitted_rows(glmer):
    fit, data = glmer.fitted("contraception_bernoulli"), glmer.case_data("contraception_bernoulli")
    link = fit.predict(data, type="link")
    np.testing.assert_allclose(link, fit.linear_predictor, atol=1e-10)
    expected = np.asarray(
        glmer.parsed(glmer.read_json("contraception_bernoulli")["fitted_response"])
    )
    np.testing.assert_allclose(fit.predict(data), expected, atol=1e-4)
    assert list(link.index) == list(data.index)
    columns = {name: data[name].tolist() for name in data.columns}  # a dict, as fit_glmm takes
    np.testing.assert_allclose(fit.predict(columns, type="link"), link, atol=1e-12)


def test_new_levels_get_the_population_value(glmer):
    fit, data = glmer.fitted("cbpp_binomial"), glmer.case_data("cbpp_binomial")
    new = data.head(2).assign(herd=pd.Categorical(["99", "1"]))
    with pytest.warns(UnseenLevelsWarning):
        link = fit.predict(new, type="link")
    with pytest.warns(UnseenLevelsWarning):
        probability = fit.predict(new, type="response")
    fixed = fit.predict(new, type="link", include_random=False)
    assert link.iloc[0] == pytest.approx(fixed.iloc[0])
    herd1 = fit.ranef["herd"].loc["1", "Intercept"]
    assert link.iloc[1] == pytest.approx(fixed.iloc[1] + herd1)
    np.testing.assert_allclose(probability, 1.0 / (1.0 + np.exp(-link)))


def test_predict_with_an_offset(glmer):
    data = pd.read_csv(glmer.fixtures / "poisson_offset.csv")
    fit = fit_glmm("count ~ x + offset(log(exposure)) + (1|site)", data, "poisson")
    np.testing.assert_allclose(fit.predict(data), fit.fitted, rtol=1e-10)
    doubled = fit.predict(data.assign(exposure=2 * data.exposure))
    np.testing.assert_allclose(doubled, 2 * fit.fitted, rtol=1e-10)
    given = fit.predict(data, offset=np.log(data.exposure))
    np.testing.assert_allclose(given, fit.fitted, rtol=1e-10)
    with pytest.raises(DataError, match="offset has 2 values"):
        fit.predict(data, offset=[0.0, 1.0])
    with pytest.raises(DataError, match="Unknown prediction type"):
        fit.predict(data, type="probability")


def test_varcorr_theta_names_and_coef(glmer):
    fit = glmer.fitted("grouseticks_poisson")
    assert fit.theta_names == ["BROOD.(Intercept)", "LOCATION.(Intercept)"]
    table = fit.varcorr
    assert list(table["group"]) == ["BROOD", "LOCATION"]
    np.testing.assert_allclose(table["variance"], fit.theta**2)
    assert fit.sigma == 1.0
    coef = fit.coef()["BROOD"]
    np.testing.assert_allclose(
        coef["Intercept"], fit.fixef["Intercept"] + fit.ranef["BROOD"]["Intercept"]
    )
    assert not fit.is_singular


def test_residuals_match_their_definitions(glmer):
    fit = glmer.fitted("cbpp_binomial")
    mu, y, n = fit.fitted, fit.y, fit.weights
    np.testing.assert_allclose(fit.residuals("response"), y - mu)
    np.testing.assert_allclose(fit.residuals("pearson"), (y - mu) / np.sqrt(mu * (1 - mu) / n))
    deviance = fit.residuals("deviance")
    assert np.sum(deviance**2) == pytest.approx(fit.conditional_deviance)
    with pytest.raises(DataError, match="Unknown residual type"):
        fit.residuals("working")


def test_a_zero_variance_is_singular():
    rng = np.random.default_rng(7)
    data = pd.DataFrame({"y": rng.integers(0, 2, 200), "g": np.repeat(list("abcdefghij"), 20)})
    data.loc[:, "y"] = np.tile([0, 1], 100)  # every group holds the same share
    fit = fit_glmm("y ~ 1 + (1|g)", data, "binomial")
    assert fit.theta[0] == pytest.approx(0.0, abs=1e-4)
    assert fit.is_singular
    assert "singular" in fit.summary()
