"""Adaptive Gauss-Hermite quadrature: the rule, its limits, and one knot = Laplace."""

from __future__ import annotations

import pandas as pd
import pytest

from bayeshier.errors import ModelError
from bayeshier.reml.glmm import fit_glmm
from bayeshier.reml.glmm.agq import gauss_hermite


@pytest.mark.parametrize("nagq", [1, 2, 9, 25])
def test_rule_integrates_normal_moments(nagq):
    knots, weights = gauss_hermite(nagq)
    assert weights.sum() == pytest.approx(1.0)
    if nagq >= 2:
        assert weights @ knots**2 == pytest.approx(1.0)


def test_agq_fit_matches_glmer(glmer):
    fit = glmer.fitted("cbpp_agq")
    assert fit.nagq == 9
    assert "Adaptive Gauss-Hermite Quadrature, nAGQ = 9" in fit.summary()
    reference = glmer.read_json("cbpp_agq")
    assert fit.loglik == pytest.approx(reference["logLik"], rel=1e-8)


def test_more_knots_converge(glmer):
    data = glmer.case_data("cbpp_binomial")
    formula = "cbind(incidence, nonincidence) ~ period + (1|herd)"
    values = [fit_glmm(formula, data, nagq=k).loglik for k in (15, 25)]
    assert values[0] == pytest.approx(values[1], abs=1e-6)


@pytest.mark.parametrize("nagq", [0, 26, 2.5])
def test_bad_numbers_of_knots(nagq):
    data = pd.DataFrame({"y": [0, 1, 1, 0, 1, 0], "g": list("aabbcc")})
    with pytest.raises(ModelError, match="whole number of quadrature points"):
        fit_glmm("y ~ 1 + (1|g)", data, nagq=nagq)


def test_agq_needs_one_scalar_factor(glmer):
    with pytest.raises(ModelError, match="single grouping factor with one random-effect column"):
        fit_glmm(
            glmer.read_json("grouseticks_poisson")["formula"],
            glmer.case_data("grouseticks_poisson"),
            "poisson",
            nagq=5,
        )
