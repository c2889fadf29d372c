"""Priors: autoscaled defaults, parsing of prior strings and PyMC distributions, errors."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from bayeshier import datasets
from bayeshier.bayes.priors import (
    AUTOSCALE,
    default_priors,
    parse_prior,
    prior_table,
    resolve_priors,
    sd_term,
)
from bayeshier.errors import ModelError
from bayeshier.spec.model_spec import build_spec


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


@pytest.mark.parametrize(
    ("text", "family", "params"),
    [
        ("normal(0, 10)", "Normal", "mu=0, sigma=10"),
        ("Normal(mu=1, sigma=2.5)", "Normal", "mu=1, sigma=2.5"),
        ("student_t(3, 0, 2.5)", "StudentT", "nu=3, mu=0, sigma=2.5"),
        ("cauchy(0, 1)", "Cauchy", "alpha=0, beta=1"),
    ],
)
def test_parse_real_line_priors(text, family, params):
    prior = parse_prior("displ", text)
    assert (prior.distribution, prior.parameters, prior.why) == (family, params, "set by the user")


@pytest.mark.parametrize(
    ("text", "mean"),
    [("halfnormal(5)", 5 * np.sqrt(2 / np.pi)), ("exponential(0.5)", 2.0), ("gamma(2, 1)", 2.0)],
)
def test_parse_positive_priors_draw_what_they_say(text, mean):
    prior = parse_prior("sd_class", text, support="positive")
    assert _draws(prior).mean() == pytest.approx(mean, rel=0.03)


@pytest.mark.parametrize(
    ("text", "support", "fragment"),
    [
        ("norml(0, 1)", "real", "Did you mean 'normal'"),
        ("normal(0, -1)", "real", "sigma must be positive"),
        ("halfnormal(-5)", "positive", "must be positive"),
        ("normal(0)", "real", "missing 'sigma'"),
        ("normal(0, 1, 2)", "real", "unexpected parameter"),
        ("normal(0, abc)", "real", "must be a number"),
        ("normal 0 1", "real", "name(parameters)"),
        ("halfnormal(5)", "real", "only allows positive values"),
        ("normal(0, 5)", "positive", "standard deviation is positive"),
        ("normal(0, inf)", "real", "non-finite"),
    ],
)
def test_bad_prior_strings_name_the_term(text, support, fragment):
    with pytest.raises(ModelError, match="'the_term'") as error:
        parse_prior("the_term", text, support=support)
    assert fragment in str(error.value)


def test_pymc_distribution_is_accepted_and_described():
    prior = parse_prior("displ", pm.StudentT.dist(nu=3, mu=0, sigma=2))
    assert prior.why.startswith("set by the user")
    assert "3" in prior.parameters and "2" in prior.parameters
    draws = pm.draw(prior.make(), draws=4000, random_seed=2)
    assert np.median(draws) == pytest.approx(0.0, abs=0.15)


@pytest.mark.parametrize(
    ("dist", "support", "fragment"),
    [
        (pm.Normal.dist(0, -1), "real", "impossible"),
        (pm.HalfNormal.dist(1), "real", "whole real line"),
        (pm.Normal.dist(0, 1), "positive", "positive half-line"),
    ],
)
def test_bad_pymc_priors_name_the_term(dist, support, fragment):
    with pytest.raises(ModelError, match="'x_term'") as error:
        parse_prior("x_term", dist, support=support)
    assert fragment in str(error.value)


def test_prior_of_wrong_type_is_rejected():
    with pytest.raises(ModelError, match="'displ'"):
        parse_prior("displ", 3.0)


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


@pytest.mark.parametrize("text", ["lkj(2)", "LKJ(eta=2)", "lkjcorr(2)"])
def test_parse_lkj(text):
    prior = parse_prior("corr_g", text, support="correlation")
    assert (prior.distribution, prior.parameters) == ("LKJCorr", "eta=2")
    assert prior.make(3).owner.inputs[-1].eval() == 2.0  # eta
    assert prior.make(3).type.shape == (3, 3)


def test_correlation_override_is_checked(slopes_spec):
    priors = resolve_priors(slopes_spec, {"corr_Subject": "lkj(4)"})
    assert priors["corr_Subject"].parameters == "eta=4"
    with pytest.raises(ModelError, match="not a prior for a correlation matrix"):
        resolve_priors(slopes_spec, {"corr_Subject": "halfnormal(1)"})
