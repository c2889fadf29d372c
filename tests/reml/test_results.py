from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from reference_cases import fitted_case, load_reference

from bayeshier import datasets, fit_reml
from bayeshier.errors import ConvergenceWarning, DataError
from bayeshier.reml import UnseenLevelsWarning, optimize


def test_predict_on_the_fitted_rows_reproduces_fitted_values() -> None:
    fit = fitted_case("mpg_class")
    data = datasets.load("mpg")
    np.testing.assert_allclose(fit.predict(data).to_numpy(), fit.fitted, rtol=1e-12)


def test_predict_without_random_effects_is_x_beta() -> None:
    fit = fitted_case("sleepstudy_intercept")
    new = pd.DataFrame({"Days": [0.0, 5.0], "Subject": ["308", "309"]})
    expected = fit.fixef["Intercept"] + fit.fixef["Days"] * new["Days"]
    np.testing.assert_allclose(fit.predict(new, include_random=False), expected)


def test_predict_unseen_level_uses_population_prediction_and_warns() -> None:
    fit = fitted_case("sleepstudy_intercept")
    new = pd.DataFrame({"Days": [2.0, 2.0], "Subject": ["308", "999"]})
    with pytest.warns(UnseenLevelsWarning, match="1 of 2 rows have a 'Subject' level"):
        prediction = fit.predict(new)
    population = fit.fixef["Intercept"] + 2.0 * fit.fixef["Days"]
    assert prediction.iloc[1] == pytest.approx(population)
    assert prediction.iloc[0] == pytest.approx(
        population + fit.ranef["Subject"].loc["308", "Intercept"]
    )


def test_predict_crossed_model_adds_both_effects() -> None:
    fit = fitted_case("penicillin_crossed")
    new = pd.DataFrame({"plate": ["c"], "sample": ["F"]})
    expected = (
        fit.fixef["Intercept"]
        + fit.ranef["plate"].loc["c", "Intercept"]
        + fit.ranef["sample"].loc["F", "Intercept"]
    )
    assert fit.predict(new).iloc[0] == pytest.approx(expected)


def test_predict_needs_the_predictor_columns() -> None:
    fit = fitted_case("mpg_class")
    with pytest.raises(DataError, match="'year'"):
        fit.predict(pd.DataFrame({"displ": [2.0], "class": ["suv"]}))


@pytest.mark.parametrize("include_random", [True, False])
def test_predict_unseen_fixed_effect_level_raises_as_documented(include_random: bool) -> None:
    data = datasets.load("mpg")
    data["size"] = np.where(data["displ"] > 3.5, "big", "small")
    fit = fit_reml("hwy ~ year + size + (1|class)", data)
    new = pd.DataFrame({"year": [2008, 2008], "size": ["big", "huge"], "class": ["suv", "suv"]})
    with pytest.raises(DataError, match=r"level\(s\) 'huge' of 'size'.*Drop those rows, or recode"):
        fit.predict(new, include_random=include_random)


def test_predict_takes_a_dict_of_columns() -> None:
    fit = fitted_case("sleepstudy_intercept")
    new = {"Days": [0.0, 5.0], "Subject": ["308", "309"]}
    np.testing.assert_allclose(fit.predict(new), fit.predict(pd.DataFrame(new)))


def test_coef_adds_blups_to_the_intercept_like_lme4() -> None:
    fit = fitted_case("mpg_class")
    coef = fit.coef()["class"]
    np.testing.assert_allclose(
        coef["Intercept"], fit.fixef["Intercept"] + fit.ranef["class"]["Intercept"]
    )
    np.testing.assert_allclose(coef["displ"], fit.fixef["displ"])


def test_missing_values_are_counted_and_reported() -> None:
    data = datasets.load("sleepstudy")
    data.loc[[0, 7, 33], "Reaction"] = np.nan
    fit = fit_reml("Reaction ~ Days + (1|Subject)", data)
    assert fit.n_dropped == 3 and fit.nobs == 177
    assert "3 row(s) dropped for missing values" in fit.summary()


def test_residuals_are_y_minus_fitted() -> None:
    fit = fitted_case("dyestuff")
    np.testing.assert_allclose(fit.residuals + fit.fitted, fit.spec.y)


def test_varcorr_layout() -> None:
    fit = fitted_case("pastes_nested")
    assert list(fit.varcorr.columns) == ["group", "term1", "term2", "variance", "sd_cor"]
    assert list(fit.varcorr["group"]) == ["cask:batch", "batch", "Residual"]
    np.testing.assert_allclose(fit.varcorr["variance"], fit.varcorr["sd_cor"] ** 2)


def test_singular_fit_is_flagged_not_an_error() -> None:
    fit = fitted_case("dyestuff2_singular")
    assert fit.is_singular and fit.theta[0] == 0.0
    assert (fit.ranef["Batch"]["Intercept"] == 0).all()
    assert "boundary (singular) fit" in fit.summary()


def test_optimization_summary_records_start_end_and_evaluations() -> None:
    fit = fitted_case("sleepstudy_intercept")
    opt = fit.optimization
    assert opt.theta_start == (1.0,)
    assert opt.theta_end == pytest.approx(tuple(fit.theta))
    assert opt.criterion_end <= opt.criterion_start
    assert opt.evaluations > 3 and opt.converged


def test_non_convergence_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(optimize._OPTIONS, "maxiter", 1)
    monkeypatch.setattr(optimize, "_MAX_RESTARTS", 0)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit = fit_reml("Reaction ~ Days + (1|Subject)", datasets.load("sleepstudy"))
    assert not fit.optimization.converged


def test_ml_and_reml_differ_as_expected() -> None:
    reml, ml = fitted_case("mpg_class"), fitted_case("mpg_class_ml")
    assert ml.sigma < reml.sigma
    assert load_reference("mpg_class_ml")["REML"] is False


def test_centered_predictors_keep_the_slopes_of_lme4() -> None:
    fit = fit_reml("hwy ~ center(displ) + center(year) + (1|class)", datasets.load("mpg"))
    reference = load_reference("mpg_class")
    assert fit.fixef["center(displ)"] == pytest.approx(reference["fixef"]["displ"], rel=1e-6)
    assert fit.fixef["center(year)"] == pytest.approx(reference["fixef"]["year"], rel=1e-6)
