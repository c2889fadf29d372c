"""confint: Wald and profile intervals against lme4 1.1-31 (``*_inference.json``).

An interval end may differ from lme4's by 2e-3 of lme4's interval width; the
profile intervals agree to about 1e-5 of it (lme4's own optimizer tolerance),
as the profile is computed at the same points and interpolated by the same
splines. An end at a bound (lme4's 0 for a standard deviation whose profile
reaches 0 first) must be that bound.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from reference_cases import FIXTURES

from bayeshier import ModelError, datasets, fit_glmm, fit_reml

# dyestuff2 is a singular fit (lme4 says so too)
pytestmark = pytest.mark.filterwarnings(r"ignore:boundary \(singular\) fit")

#: lme4 inference reference -> bundled data set.
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
#: Largest error of an interval end, as a fraction of lme4's interval width.
WIDTH_TOLERANCE = 2e-3


def load_inference(case: str) -> dict:
    return json.loads((FIXTURES / f"{case}_inference.json").read_text())


def bayeshier_name(lme4_name: str) -> str:
    """lme4's fixed-effect ``(Intercept)`` is bayeshier's ``Intercept``; sd/cor names are shared."""
    return "Intercept" if lme4_name == "(Intercept)" else lme4_name


_FITS: dict[str, object] = {}
_PROFILE_CI: dict[str, pd.DataFrame] = {}


def inference_fit(case: str):
    if case not in _FITS:
        reference = load_inference(case)
        data = datasets.load(INFERENCE_DATA[case])
        _FITS[case] = fit_reml(reference["formula"], data, reml=reference["REML"])
    return _FITS[case]


def reference_table(case: str, method: str) -> pd.DataFrame:
    block = load_inference(case)[f"confint_{method}"]
    index = [bayeshier_name(name) for name in block["names"]]
    return pd.DataFrame(
        {"lower": block["lower"], "upper": block["upper"]}, index=index, dtype=float
    )


def width_errors(ours: pd.DataFrame, reference: pd.DataFrame) -> pd.Series:
    width = reference["upper"] - reference["lower"]
    lower = (ours["lower"] - reference["lower"]).abs()
    upper = (ours["upper"] - reference["upper"]).abs()
    return np.maximum(lower, upper) / width


@pytest.fixture(params=sorted(INFERENCE_DATA))
def inference_case(request: pytest.FixtureRequest) -> str:
    return request.param


def test_wald_matches_lme4(inference_case: str) -> None:
    ours = inference_fit(inference_case).confint(method="Wald")
    reference = reference_table(inference_case, "wald")
    assert list(ours.index) == list(reference.index)
    variance = reference["lower"].isna()
    assert ours.loc[variance].isna().all().all()
    errors = width_errors(ours.loc[~variance], reference.loc[~variance])
    assert errors.max() < WIDTH_TOLERANCE, errors


def test_profile_matches_lme4(inference_case: str) -> None:
    ours = profile_ci(inference_case)
    reference = reference_table(inference_case, "profile")
    assert list(ours.index) == list(reference.index)
    errors = width_errors(ours, reference)
    assert errors.max() < WIDTH_TOLERANCE, errors


def profile_ci(case: str) -> pd.DataFrame:
    if case not in _PROFILE_CI:
        _PROFILE_CI[case] = inference_fit(case).confint(method="profile")
    return _PROFILE_CI[case]


def test_profile_intervals_bracket_the_ml_estimates(inference_case: str) -> None:
    fit = inference_fit(inference_case)
    table = profile_ci(inference_case)
    ml = fit_reml(fit.spec.formula.text, datasets.load(INFERENCE_DATA[inference_case]), reml=False)
    fixed = table.loc[list(ml.fixef.index)]
    assert (fixed["lower"] < ml.fixef).all() and (ml.fixef < fixed["upper"]).all()
    assert table.loc["sigma", "lower"] < ml.sigma < table.loc["sigma", "upper"]


def test_table_layout_and_attrs() -> None:
    table = inference_fit("sleepstudy").confint(method="wald", level=0.9)
    assert list(table.columns) == ["lower", "upper"]
    assert table.attrs["level"] == 0.9
    assert table.attrs["method"] == "wald"
    assert table.attrs["labels"] == ("5 %", "95 %")
    assert list(table.index) == [
        "sd_(Intercept)|Subject",
        "cor_Days.(Intercept)|Subject",
        "sd_Days|Subject",
        "sigma",
        "Intercept",
        "Days",
    ]


def test_wald_level_scales_the_width() -> None:
    fit = inference_fit("mpg_class")
    narrow = fit.confint(method="wald", level=0.5).loc["displ"]
    wide = fit.confint(method="wald", level=0.99).loc["displ"]
    ratio = (wide["upper"] - wide["lower"]) / (narrow["upper"] - narrow["lower"])
    assert ratio == pytest.approx(2.5758293035489 / 0.6744897501960817, rel=1e-12)


def test_parm_selects_rows_in_lme4_order() -> None:
    fit = inference_fit("sleepstudy")
    table = fit.confint(["Days", "sigma"], method="wald")
    assert list(table.index) == ["sigma", "Days"]
    assert list(fit.confint("beta_", method="wald").index) == ["Intercept", "Days"]
    assert len(fit.confint("theta_", method="wald")) == 4
    assert list(fit.confint("(Intercept)", method="wald").index) == ["Intercept"]


def test_profile_of_one_parameter_matches_the_full_profile() -> None:
    fit = inference_fit("mpg_class")
    one = fit.confint("year", method="profile")
    assert list(one.index) == ["year"]
    pd.testing.assert_frame_equal(one, profile_ci("mpg_class").loc[["year"]], check_exact=False)


def test_unknown_parameter_names_the_alternatives() -> None:
    with pytest.raises(ModelError, match=r"no parameter 'dayz'.*Did you mean 'Days'"):
        inference_fit("sleepstudy").confint("dayz", method="wald")


def test_bad_method_and_level() -> None:
    fit = inference_fit("dyestuff")
    with pytest.raises(ModelError, match="method must be one of"):
        fit.confint(method="bayes")
    with pytest.raises(ModelError, match="level must be between 0 and 1"):
        fit.confint(method="wald", level=95)


@pytest.mark.parametrize(
    ("case", "name"),
    [("dyestuff2_singular", "sd_(Intercept)|Batch"), ("pastes_nested", "sd_(Intercept)|batch")],
)
def test_profile_reaching_zero_gives_the_bound(case: str, name: str) -> None:
    """lme4 reports 0 when the profile of a standard deviation meets 0 before the quantile."""
    assert reference_table(case, "profile").loc[name, "lower"] == 0.0
    assert profile_ci(case).loc[name, "lower"] == 0.0


# --- prior weights and offsets (lme4 references made by hand) ---------------------------


def rform_fit(case: str):
    reference = load_inference(case)
    if reference["data"] == "sleepstudy":
        data = datasets.load("sleepstudy")
    else:
        data = pd.read_csv(FIXTURES / reference["data"], dtype={"Subject": str})
    fit = fit_reml(reference["formula"], data, weights=reference["weights"])
    assert fit.loglik == pytest.approx(reference["logLik"], rel=1e-9)
    return fit


def test_offset_model_matches_lme4() -> None:
    fit = rform_fit("sleep_offset")
    for method in ("wald", "profile"):
        reference = reference_table("sleep_offset", method)
        ours = fit.confint(method=method)
        assert list(ours.index) == list(reference.index)
        known = reference["lower"].notna()
        assert width_errors(ours[known], reference[known]).max() < WIDTH_TOLERANCE


def test_weighted_model_matches_lme4_where_lme4_is_right() -> None:
    """lme4 1.1-31 profiles a weighted fit's variance parameters right, its fixed effects not.

    Its fixed-effect profile compares a deviance without ``-log|W|`` with a
    minimum that includes it: with these weights every zeta is off by
    ``sum(log w) = 25.2`` under the root, and the "intervals" it prints
    ((Intercept) [251.6, NA], Days [10.29, 10.37]) are far inside the Wald
    ones. bayeshier's fixed-effect profile intervals are instead checked
    against the Wald intervals of the ML fit, which they must be close to.
    """
    fit = rform_fit("sleep_weights")
    wald = fit.confint(method="wald")
    reference_wald = reference_table("sleep_weights", "wald")
    assert width_errors(wald.loc[["Intercept", "Days"]], reference_wald.dropna()).max() < 1e-6
    ours = fit.confint(method="profile")
    variance = ["sd_(Intercept)|Subject", "sigma"]
    reference = reference_table("sleep_weights", "profile")
    assert width_errors(ours.loc[variance], reference.loc[variance]).max() < WIDTH_TOLERANCE
    data = pd.read_csv(FIXTURES / "rform_sleep_weights.csv", dtype={"Subject": str})
    ml = fit_reml("Reaction ~ Days + (1|Subject)", data, weights="w", reml=False)
    ml_wald = ml.confint("beta_", method="wald")
    width = ml_wald["upper"] - ml_wald["lower"]
    assert ((ours.loc[ml_wald.index] - ml_wald).abs().max(axis=1) < 0.05 * width).all()


def test_glmm_wald_matches_glmer() -> None:
    """lme4's confint(glmer_fit, method = "Wald") on cbpp (fixtures/glmer/make_inference.R)."""
    glmer = FIXTURES.parent / "glmer"
    reference = json.loads((glmer / "cbpp_wald.json").read_text())
    data = pd.read_csv(glmer / "cbpp_binomial.csv", dtype={"period": str, "herd": str})
    fit = fit_glmm(reference["formula"], data, "binomial")
    table = fit.confint(method="wald")
    assert list(table.index) == ["sd_(Intercept)|herd", "Intercept", *fit.fixef.index[1:]]
    assert table.iloc[0].isna().all()  # lme4 gives NA for the sds
    lower = np.array(reference["lower"][1:], dtype=float)
    upper = np.array(reference["upper"][1:], dtype=float)
    width = upper - lower
    np.testing.assert_allclose(table["lower"].iloc[1:], lower, atol=1e-4 * width.min())
    np.testing.assert_allclose(table["upper"].iloc[1:], upper, atol=1e-4 * width.min())
    assert list(fit.confint(parm="beta_", method="wald").index) == list(fit.fixef.index)
