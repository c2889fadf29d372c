"""Where the chains start: REML estimates and BLUPs in each parameterization."""

from __future__ import annotations

import numpy as np
import pytest

from bayeshier.bayes.model import Model
from bayeshier.bayes.start import MIN_START_EIGENVALUE, factor_start, start_correlation

SLOPES = "Reaction ~ Days + (Days|Subject)"


def test_start_correlation_is_shrunk_when_singular():
    covariance = np.array([[4.0, 2.0], [2.0, 1.0]])  # correlation 1: no Cholesky factor
    corr = start_correlation(covariance, (2,))
    assert np.linalg.eigvalsh(corr).min() == pytest.approx(MIN_START_EIGENVALUE)
    assert corr[0, 1] == pytest.approx(1.0 - MIN_START_EIGENVALUE)
    blocks = start_correlation(
        np.array([[4.0, 1.0, 0.5], [1.0, 1.0, 0.2], [0.5, 0.2, 1.0]]), (2, 1)
    )
    assert blocks[0, 2] == 0.0 and blocks[1, 2] == 0.0 and blocks[0, 1] == pytest.approx(0.5)


def test_an_intercept_factor_starts_at_its_blups(sleep_model):
    fit = sleep_model.reml
    factor = sleep_model.spec.factors[0]
    covariance = fit.covariances["Subject"].to_numpy()
    start = factor_start(factor, fit, covariance, None)
    blup = fit.ranef["Subject"]["Intercept"].to_numpy()
    np.testing.assert_allclose(start.loc, blup)
    np.testing.assert_allclose(start.scale, np.sqrt(fit.condvar["Subject"]["Intercept"]))
    sd = np.sqrt(covariance[0, 0])
    assert set(start.values) == {"centered", "noncentered"}
    np.testing.assert_allclose(start.values["centered"]["Subject"], blup)
    np.testing.assert_allclose(start.values["noncentered"]["_Subject_z"], blup / sd)
    assert float(start.values["centered"]["sd_Subject"]) == pytest.approx(sd)


def test_start_maps_to_reml_on_the_users_scale(mpg_model, evaluate):
    """At the starting point, beta (user scale) is the REML estimate despite centering."""
    model = mpg_model.build()
    start = model.initial_point()
    beta = evaluate(model, "beta", start)
    np.testing.assert_allclose(beta, mpg_model.reml.fixef.to_numpy(), rtol=1e-9)
    effects = evaluate(model, "class", start)
    np.testing.assert_allclose(effects, mpg_model.reml.ranef["class"]["Intercept"], atol=1e-9)
    moved = {**start, "_fixed_affine__": np.array([1.0, -0.5, 2.0])}
    nu = mpg_model.plan.fixed_loc + mpg_model.plan.fixed_chol @ moved["_fixed_affine__"]
    np.testing.assert_allclose(
        evaluate(model, "beta", moved), mpg_model.design.to_user @ nu, rtol=1e-9
    )


@pytest.mark.parametrize("choice", ["auto", "noncentered"])
def test_start_is_the_reml_fit_with_slopes(sleep, choice, evaluate):
    m = Model(SLOPES, sleep, parameterization=choice)
    model, fit = m.build(), m.reml
    start = model.initial_point()
    np.testing.assert_allclose(evaluate(model, "beta", start), fit.fixef, rtol=1e-9)
    np.testing.assert_allclose(evaluate(model, "Subject", start), fit.ranef["Subject"], atol=1e-8)
    covariance = fit.covariances["Subject"].to_numpy()
    sds = np.sqrt(np.diag(covariance))
    np.testing.assert_allclose(evaluate(model, "sd_Subject", start), sds, rtol=1e-9)
    corr = evaluate(model, "corr_Subject", start)
    np.testing.assert_allclose(corr, covariance / np.outer(sds, sds), atol=1e-9)
    assert corr[1, 0] == pytest.approx(0.065551, abs=1e-6)
