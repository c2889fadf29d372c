"""anova: likelihood-ratio tests against lme4 1.1-31's ``anova`` (``*_inference.json``)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from reference_cases import FIXTURES

import bayeshier
from bayeshier import ModelError, datasets, fit_reml
from bayeshier.reml import MLRefitWarning

# dyestuff2 is a singular fit (lme4 says so too)
pytestmark = pytest.mark.filterwarnings(r"ignore:boundary \(singular\) fit")

INFERENCE_DATA = {
    "sleepstudy": "sleepstudy",
    "dyestuff": "dyestuff",
    "penicillin": "penicillin",
    "mpg_class": "mpg",
    # made by hand with R (tests/fixtures/lme4/make_inference_references.R)
    "dyestuff2_singular": "dyestuff2",
    "pastes_nested": "pastes",
    "sleepstudy_uncorrelated": "sleepstudy",
    "sleepstudy_slopes_ml": "sleepstudy",
}
COLUMNS = ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "p"]


@pytest.fixture(params=sorted(INFERENCE_DATA))
def inference_case(request: pytest.FixtureRequest) -> str:
    return request.param


def reference_fits(case: str):
    reference = json.loads((FIXTURES / f"{case}_inference.json").read_text())
    data = datasets.load(INFERENCE_DATA[case])
    formulas = (reference["null_formula"], reference["formula"])
    fits = [fit_reml(formula, data, reml=reference["REML"]) for formula in formulas]
    return reference, fits


def test_anova_matches_lme4(inference_case: str) -> None:
    reference, (null, full) = reference_fits(inference_case)
    if reference["REML"]:
        with pytest.warns(MLRefitWarning, match=r"refitting model\(s\) with ML"):
            table = bayeshier.anova(null, full)
        assert table.attrs["note"] == "refitting model(s) with ML (instead of REML)"
    else:
        table = bayeshier.anova(null, full)
        assert table.attrs["note"] is None
    assert list(table.columns) == COLUMNS
    expected = reference["anova"]
    for column in COLUMNS:
        want = np.array(expected[column], dtype=float)
        got = table[column].to_numpy(dtype=float)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=column)
        known = ~np.isnan(want)
        if column == "p":
            close = np.isclose(got[known], want[known], rtol=1e-6, atol=1e-10)
            assert close.all(), (got, want)
        else:
            np.testing.assert_allclose(got[known], want[known], rtol=1e-6, atol=1e-10)


def test_models_are_ordered_by_npar_and_named() -> None:
    _, (null, full) = reference_fits("sleepstudy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MLRefitWarning)
        table = bayeshier.anova(full, null, model_names=["slopes", "intercepts"])
    assert list(table.index) == ["intercepts", "slopes"]
    assert table["npar"].tolist() == [4, 6]
    assert table.attrs["formulas"]["slopes"] == "Reaction ~ Days + (Days|Subject)"


def test_ml_fits_are_not_refitted() -> None:
    data = datasets.load("mpg")
    null = fit_reml("hwy ~ displ + (1|class)", data, reml=False)
    full = fit_reml("hwy ~ displ + year + (1|class)", data, reml=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = bayeshier.anova(null, full)
    assert table.attrs["note"] is None
    assert table["deviance"].tolist() == [null.criterion, full.criterion]


def test_refit_false_compares_the_reml_criteria() -> None:
    _, (null, full) = reference_fits("sleepstudy")
    table = bayeshier.anova(null, full, refit=False)
    assert table["logLik"].tolist() == [null.loglik, full.loglik]
    assert table["Chisq"].iloc[1] == pytest.approx(2 * (full.loglik - null.loglik))


def test_refuses_different_rows() -> None:
    data = datasets.load("sleepstudy")
    fit = fit_reml("Reaction ~ Days + (1|Subject)", data)
    fewer = fit_reml("Reaction ~ Days + (1|Subject)", data.iloc[:-10])
    with pytest.raises(ModelError, match=r"model1 \(Reaction.*\) and model2 \(Reaction.*180 rows"):
        bayeshier.anova(fit, fewer)
    shuffled = data.sample(frac=1.0, random_state=3)
    other_rows = fit_reml("Reaction ~ Days + (1|Subject)", shuffled)
    with pytest.raises(ModelError, match="different ones"):
        bayeshier.anova(fit, other_rows, model_names=["a", "b"])


def test_refuses_different_responses() -> None:
    data = datasets.load("sleepstudy").assign(Other=lambda d: d["Reaction"] * 2)
    fit = fit_reml("Reaction ~ Days + (1|Subject)", data)
    other = fit_reml("Other ~ Days + (1|Subject)", data)
    with pytest.raises(ModelError, match=r"responses differ.*'Reaction' against 'Other'"):
        bayeshier.anova(fit, other)


def test_needs_two_fitted_models() -> None:
    _, (null, _) = reference_fits("dyestuff")
    with pytest.raises(ModelError, match="two or more fits"):
        bayeshier.anova(null)
    with pytest.raises(ModelError, match="not a fitted model"):
        bayeshier.anova(null, "fit")
    with pytest.raises(ModelError, match="2 distinct names"):
        bayeshier.anova(null, null, model_names=["a", "a"])


GLMER = FIXTURES.parent / "glmer"


def cbpp_fits():
    data = pd.read_csv(GLMER / "cbpp_binomial.csv", dtype={"period": str, "herd": str})
    reference = json.loads((GLMER / "cbpp_anova.json").read_text())
    fits = [
        bayeshier.fit_glmm(reference["formulas"][name], data, "binomial") for name in ("f0", "f1")
    ]
    return reference, fits, data


def test_glmm_anova_matches_glmer() -> None:
    """lme4's anova of two nested glmer fits (tight optimizer; fixtures/glmer/make_inference.R)."""
    reference, fits, _ = cbpp_fits()
    table = bayeshier.anova(*fits)
    np.testing.assert_array_equal(table["npar"], reference["npar"])
    for column in ("AIC", "BIC", "logLik", "deviance"):
        np.testing.assert_allclose(table[column], reference[column], rtol=1e-6, err_msg=column)
    assert table["Df"].iloc[1] == reference["Df"]
    np.testing.assert_allclose(table["Chisq"].iloc[1], reference["Chisq"], rtol=1e-5)
    np.testing.assert_allclose(table["p"].iloc[1], reference["p"], rtol=1e-5)
    assert table.attrs["note"] is None


def test_glmm_anova_refuses_a_gaussian_fit_of_the_same_rows() -> None:
    _, (null, _), data = cbpp_fits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gaussian = fit_reml("incidence ~ period + (1|herd)", data)
        counts = bayeshier.fit_glmm("incidence ~ period + (1|herd)", data, "poisson")
    with pytest.raises(
        ModelError, match=r"distributions differ \(poisson \(log\) against gaussian"
    ):
        bayeshier.anova(counts, gaussian)
    with pytest.raises(ModelError, match="not fitted to the same rows"):
        bayeshier.anova(null, counts)
