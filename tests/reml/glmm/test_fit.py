"""fit_glmm against glmer: the reference cases, response forms, links and offsets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeshier.errors import ModelError
from bayeshier.reml.glmm import fit_glmm


def _optimum(glmer, case: str) -> dict:
    """glmer's deviance minimized tightly: ``_exact`` (else the tight glmer fit)."""
    return glmer.read_json(f"{case}_exact") or glmer.read_json(f"{case}_tight")


def test_loglik_is_glmers_or_higher(glmer, case):
    fit, reference = glmer.fitted(case), glmer.read_json(case)
    assert fit.loglik >= reference["logLik"] - 1e-6 * abs(reference["logLik"])
    assert fit.loglik == pytest.approx(_optimum(glmer, case)["logLik"], rel=1e-9)


def test_fixed_effects_and_standard_errors(glmer, case):
    fit, optimum = glmer.fitted(case), _optimum(glmer, case)
    np.testing.assert_allclose(fit.fixef, glmer.lme4_values(optimum["fixef"]), atol=1e-4)
    np.testing.assert_allclose(fit.se, glmer.lme4_values(optimum["se"]), atol=1e-3)
    np.testing.assert_allclose(fit.vcov.to_numpy().diagonal(), fit.se.to_numpy() ** 2, rtol=1e-12)
    reference = glmer.read_json(case)  # glmer's default stop: within its own tolerance
    np.testing.assert_allclose(fit.fixef, glmer.lme4_values(reference["fixef"]), atol=1e-3)


def test_standard_deviations(glmer, case):
    fit, optimum = glmer.fitted(case), _optimum(glmer, case)
    np.testing.assert_allclose(fit.theta, glmer.lme4_values(optimum["theta"]), atol=1e-3)
    sds = fit.varcorr.set_index("group")["sd_cor"]
    reference = glmer.parsed(glmer.read_json(case)["varcorr"])
    for row in reference.values():
        assert sds[row["grp"]] == pytest.approx(row["sdcor"], abs=1e-3)


@pytest.mark.parametrize("which", ["", "_tight"])
def test_conditional_modes_and_variances(glmer, case, which):
    fit, reference = glmer.fitted(case), glmer.read_json(case + which)
    for key, ours in (("ranef", fit.ranef), ("condVar", fit.condvar)):
        for factor, levels in glmer.by_level(reference[key]).items():
            values = ours[factor].iloc[:, 0]
            expected = pd.Series(levels, dtype=float)
            np.testing.assert_allclose(values[expected.index], expected, atol=1e-3)


def test_criteria_and_fitted_values(glmer, case):
    fit, reference = glmer.fitted(case), glmer.read_json(case)
    assert fit.nobs == reference["nobs"]
    assert fit.df == reference["df"]
    assert fit.is_singular == reference["isSingular"]
    assert fit.deviance == pytest.approx(-2.0 * fit.loglik)
    assert fit.aic == pytest.approx(reference["AIC"], abs=1e-3)
    assert fit.bic == pytest.approx(reference["BIC"], abs=1e-3)
    # glmer's deviance() of a GLMM: the sum of squared deviance residuals (at its own stop)
    assert fit.conditional_deviance == pytest.approx(reference["deviance"], rel=1e-4)
    expected = np.asarray(glmer.parsed(reference["fitted_response"]))
    np.testing.assert_allclose(fit.fitted, expected, atol=1e-4)


def test_optimization_summary(glmer, case):
    opt = glmer.fitted(case).optimization
    assert opt.converged
    assert opt.criterion_end <= opt.criterion_start


@pytest.fixture(scope="module")
def cbpp(glmer) -> pd.DataFrame:
    return glmer.case_data("cbpp_binomial")


def test_response_forms_give_one_fit(glmer, cbpp):
    """cbind(s, f), proportions with weights= trials, and the expanded 0/1 rows agree."""
    reference = glmer.fitted("cbpp_binomial")
    data = cbpp.assign(size=cbpp.incidence + cbpp.nonincidence)
    proportions = fit_glmm(
        "p ~ period + (1|herd)", data.assign(p=data.incidence / data["size"]), weights="size"
    )
    assert proportions.loglik == pytest.approx(reference.loglik, rel=1e-10)
    np.testing.assert_allclose(proportions.fixef, reference.fixef, atol=1e-7)
    rows = data.loc[data.index.repeat(data["size"])].copy()
    rank = rows.groupby(level=0).cumcount()
    binary = rows.assign(y=(rank < rows.incidence).astype(int))
    bernoulli = fit_glmm("y ~ period + (1|herd)", binary)
    np.testing.assert_allclose(bernoulli.fixef, reference.fixef, atol=1e-6)
    np.testing.assert_allclose(bernoulli.theta, reference.theta, atol=1e-6)
    as_bool = fit_glmm("y ~ period + (1|herd)", binary.assign(y=binary.y.astype(bool)))
    labels = pd.Categorical(np.where(binary.y, "sick", "healthy"), ["healthy", "sick"])
    as_factor = fit_glmm("y ~ period + (1|herd)", binary.assign(y=labels))
    for fit in (as_bool, as_factor):
        assert fit.loglik == pytest.approx(bernoulli.loglik, rel=1e-12)


@pytest.mark.parametrize("case", ["cbpp_probit", "cbpp_cloglog", "poisson_offset"])
def test_links_and_offset(glmer, case):
    reference = glmer.read_json("links_offsets")[case]
    family = reference["family"]
    data = glmer.case_data("cbpp_binomial") if case.startswith("cbpp") else _offset_data(glmer)
    fit = fit_glmm(reference["formula"], data, family, link=reference["link"])
    assert fit.loglik >= reference["logLik"] - 1e-6 * abs(reference["logLik"])
    assert fit.loglik == pytest.approx(reference["logLik"], rel=1e-6)
    np.testing.assert_allclose(fit.fixef, glmer.lme4_values(reference["fixef"]), atol=1e-4)
    np.testing.assert_allclose(fit.se, glmer.lme4_values(reference["se"]), atol=1e-3)
    np.testing.assert_allclose(fit.theta, glmer.lme4_values(reference["theta"]), atol=1e-3)
    factor = fit.spec.factors[0].name
    for key, ours in (("ranef", fit.ranef), ("condVar", fit.condvar)):
        expected = pd.Series(reference[key], dtype=float)
        np.testing.assert_allclose(ours[factor].iloc[:, 0][expected.index], expected, atol=1e-3)


def _offset_data(glmer) -> pd.DataFrame:
    data = pd.read_csv(glmer.fixtures / "poisson_offset.csv")
    return data.assign(site=data.site.astype("category"))


def test_offset_argument_equals_offset_term(glmer):
    data = _offset_data(glmer)
    term = fit_glmm("count ~ x + offset(log(exposure)) + (1|site)", data, "poisson")
    argument = fit_glmm("count ~ x + (1|site)", data, "poisson", offset=np.log(data.exposure))
    assert argument.loglik == pytest.approx(term.loglik, rel=1e-12)
    np.testing.assert_allclose(argument.fixef, term.fixef, atol=1e-9)


def test_unknown_family_and_link():
    data = pd.DataFrame({"y": [0, 1] * 5, "g": list("aabbccddee")})
    with pytest.raises(ModelError, match="Unknown family 'gaussian'"):
        fit_glmm("y ~ 1 + (1|g)", data, "gaussian")
    with pytest.raises(ModelError, match="no link 'log'"):
        fit_glmm("y ~ 1 + (1|g)", data, "binomial", link="log")
