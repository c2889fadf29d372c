"""Priors: autoscaled defaults and their resolution against the user's overrides."""

from __future__ import annotations

import pymc as pm
import pytest

from bayeshier import datasets
from bayeshier.bayes.model import Model
from bayeshier.bayes.priors import (
    AUTOSCALE,
    corr_term,
    default_priors,
    factor_sd_terms,
    intercept_index,
    prior_table,
    random_column_scales,
    resolve_priors,
    sd_term,
)
from bayeshier.errors import ModelError
from bayeshier.spec.model_spec import build_spec

SLOPES = "Reaction ~ Days + (Days|Subject)"
UNCORRELATED = "Reaction ~ Days + (Days||Subject)"


@pytest.fixture(scope="module")
def sleep_spec():
    return build_spec("Reaction ~ Days + (1|Subject)", datasets.load("sleepstudy"))


@pytest.fixture(scope="module")
def mpg_spec():
    return build_spec("hwy ~ displ + year + (1|class)", datasets.load("mpg"))


def _draws(prior, n=20000):
    return pm.draw(prior.make(), draws=n, random_seed=1)


def test_default_terms_in_order(mpg_spec):
    priors = default_priors(mpg_spec)
    assert list(priors) == ["Intercept", "displ", "year", "sigma", "sd_class"]


def test_default_scales_follow_the_autoscaling_rule(sleep_spec):
    y, days = sleep_spec.y, sleep_spec.X[:, 1]
    priors = default_priors(sleep_spec)
    intercept = _draws(priors["Intercept"])
    assert intercept.mean() == pytest.approx(y.mean(), rel=0.01)
    assert intercept.std() == pytest.approx(AUTOSCALE * y.std(ddof=1), rel=0.02)
    slope = _draws(priors["Days"])
    assert slope.std() == pytest.approx(AUTOSCALE * y.std(ddof=1) / days.std(ddof=1), rel=0.02)
    for term in ("sigma", "sd_Subject"):
        draws = _draws(priors[term])
        assert draws.min() > 0
        assert draws.mean() == pytest.approx(y.std(ddof=1), rel=0.03)


def test_year_prior_is_scaled_to_its_spread(mpg_spec):
    """mpg's year is 1999/2008: its prior sd must use sd(year), not its size."""
    year = mpg_spec.X[:, mpg_spec.fixed_names.index("year")]
    priors = default_priors(mpg_spec)
    expected = AUTOSCALE * mpg_spec.y.std(ddof=1) / year.std(ddof=1)
    assert priors["year"].parameters == f"mu=0, sigma={expected:.4g}"


def test_prior_table_shows_every_prior(mpg_spec):
    table = prior_table(default_priors(mpg_spec))
    assert list(table.columns) == ["term", "distribution", "parameters", "why"]
    assert table["term"].tolist() == ["Intercept", "displ", "year", "sigma", "sd_class"]
    assert table.set_index("term").loc["sigma", "distribution"] == "Exponential"
    assert table["why"].str.contains("autoscaled").all()


def test_overrides_replace_only_their_term(mpg_spec):
    priors = resolve_priors(mpg_spec, {"displ": "normal(0, 5)", "sd_class": "halfnormal(3)"})
    assert priors["displ"].parameters == "mu=0, sigma=5"
    assert priors[sd_term("class")].distribution == "HalfNormal"
    assert priors["year"].why.startswith("autoscaled")


def test_override_for_missing_term_suggests_close_names(mpg_spec):
    with pytest.raises(ModelError, match=r"'displ2'.*Did you mean 'displ'"):
        resolve_priors(mpg_spec, {"displ2": "normal(0, 1)"})


def test_fixed_effect_needs_real_support_and_sd_positive(mpg_spec):
    with pytest.raises(ModelError, match="'year'"):
        resolve_priors(mpg_spec, {"year": "exponential(1)"})
    with pytest.raises(ModelError, match="'sigma'"):
        resolve_priors(mpg_spec, {"sigma": "normal(0, 1)"})


def test_overrides_must_be_a_mapping(mpg_spec):
    with pytest.raises(ModelError, match="dict"):
        resolve_priors(mpg_spec, ["normal(0, 1)"])


@pytest.fixture(scope="module")
def slopes_spec():
    return build_spec("Reaction ~ Days + (Days|Subject)", datasets.load("sleepstudy"))


def test_slope_terms_have_one_sd_each_and_a_correlation(slopes_spec):
    priors = default_priors(slopes_spec)
    assert list(priors)[3:] == ["sd_Subject[Intercept]", "sd_Subject[Days]", "corr_Subject"]
    assert sd_term("Subject", "Days") == "sd_Subject[Days]"
    y, days = slopes_spec.y, slopes_spec.X[:, 1]
    slope_sd = _draws(priors["sd_Subject[Days]"])
    assert slope_sd.mean() == pytest.approx(y.std(ddof=1) / days.std(ddof=1), rel=0.03)
    intercept_sd = _draws(priors["sd_Subject[Intercept]"])
    assert intercept_sd.mean() == pytest.approx(y.std(ddof=1), rel=0.03)


def test_correlation_override_is_checked(slopes_spec):
    priors = resolve_priors(slopes_spec, {"corr_Subject": "lkj(4)"})
    assert priors["corr_Subject"].parameters == "eta=4"
    with pytest.raises(ModelError, match="not a prior for a correlation matrix"):
        resolve_priors(slopes_spec, {"corr_Subject": "halfnormal(1)"})


def test_prior_names_of_a_factor(slopes_spec, sleep_spec, sleep):
    assert factor_sd_terms(slopes_spec.factors[0]) == ["sd_Subject[Intercept]", "sd_Subject[Days]"]
    assert factor_sd_terms(sleep_spec.factors[0]) == ["sd_Subject"]
    assert corr_term("Subject") == "corr_Subject"
    assert intercept_index(sleep_spec) == 0
    assert intercept_index(build_spec("Reaction ~ 0 + Days + (1|Subject)", sleep)) is None
    assert random_column_scales(None).tolist() == [1.0]


def test_default_priors_scale_each_sd_to_its_column(slopes, sleep):
    table = slopes.priors.set_index("term")
    assert list(table.index) == [
        "Intercept",
        "Days",
        "sigma",
        "sd_Subject[Intercept]",
        "sd_Subject[Days]",
        "corr_Subject",
    ]
    y_sd, days_sd = sleep["Reaction"].std(), sleep["Days"].std()
    assert table.loc["sd_Subject[Intercept]", "parameters"] == f"lam={1 / y_sd:.4g}"
    assert table.loc["sd_Subject[Days]", "parameters"] == f"lam={days_sd / y_sd:.4g}"
    assert table.loc["corr_Subject", "distribution"] == "LKJCorr"
    assert table.loc["corr_Subject", "parameters"] == "eta=1"


@pytest.mark.parametrize(
    ("formula", "priors", "fragment"),
    [
        (SLOPES, {"sd_Subject": "halfnormal(5)"}, r"random slopes.*'sd_Subject\[Intercept\]'"),
        (UNCORRELATED, {"corr_Subject": "lkj(2)"}, "no correlated terms"),
        (SLOPES, {"corr_Subject": "normal(0, 1)"}, "lkj"),
        (SLOPES, {"corr_Subject": "lkj(0)"}, "eta must be positive"),
        (SLOPES, {"corr_Subject": pm.Normal.dist()}, "lkj"),
        (SLOPES, {"sd_Subject[Days]": "lkj(2)"}, "correlation matrix"),
        (SLOPES, {"sd_Subject[Dayz]": "halfnormal(1)"}, r"Did you mean 'sd_Subject\[Days\]'"),
    ],
)
def test_bad_slope_priors_are_named(sleep, formula, priors, fragment):
    with pytest.raises(ModelError, match=fragment):
        Model(formula, sleep, priors=priors)


def test_the_reasons_name_what_the_priors_are_scaled_by() -> None:
    """With an offset the scales come from y - offset, and the reasons say so."""
    sleep = datasets.load("sleepstudy")
    plain = default_priors(build_spec("Reaction ~ Days + (1|Subject)", sleep))
    shifted = default_priors(build_spec("Reaction ~ Days + offset(10 * Days) + (1|Subject)", sleep))
    assert "sd(y)" in plain["sigma"].why and "offset" not in plain["sigma"].why
    for name in ("Intercept", "Days", "sigma", "sd_Subject"):
        assert "sd(y - offset)" in shifted[name].why, name
    # the numbers follow: sd(Reaction - 10 Days) is smaller than sd(Reaction)
    assert shifted["sigma"].parameters != plain["sigma"].parameters
