"""Reading the user's priors: strings and PyMC distributions, checked against the term's support."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from bayeshier.bayes.prior_parse import (
    DISTRIBUTIONS,
    exponential_prior,
    format_parameters,
    lkj_prior,
    normal_prior,
    parse_prior,
    round_parameter,
)
from bayeshier.errors import ModelError


def _draws(prior, n=20000):
    return pm.draw(prior.make(), draws=n, random_seed=1)


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


@pytest.mark.parametrize("text", ["lkj(2)", "LKJ(eta=2)", "lkjcorr(2)"])
def test_parse_lkj(text):
    prior = parse_prior("corr_g", text, support="correlation")
    assert (prior.distribution, prior.parameters) == ("LKJCorr", "eta=2")
    assert prior.make(3).owner.inputs[-1].eval() == 2.0  # eta
    assert prior.make(3).type.shape == (3, 3)


def test_every_distribution_name_parses():
    for name, family in DISTRIBUTIONS.items():
        args = ", ".join("1" for _ in family.params)
        prior = parse_prior("t", f"{name}({args})", support=family.support)
        assert prior.why == "set by the user", name


def test_constructors_round_to_four_significant_digits():
    assert round_parameter(123.456789) == 123.5
    assert format_parameters({"mu": 0.0, "sigma": 12.5}) == "mu=0, sigma=12.5"
    prior = normal_prior("x", 1.234567, 9.87654, "why")
    assert (prior.distribution, prior.parameters, prior.why) == (
        "Normal",
        "mu=1.235, sigma=9.877",
        "why",
    )
    assert exponential_prior("s", 0.0333333, "w").parameters == "lam=0.03333"
    lkj = lkj_prior("corr_g", 2.0, "w")
    assert lkj.make(2).type.shape == (2, 2)
