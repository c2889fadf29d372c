"""bayeshier.cli.plot_types: what plots are drawn from, and why one is not drawn."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from synthetic import synthetic_posterior

from bayeshier import datasets
from bayeshier.bayes.glmm import GlmmModel
from bayeshier.bayes.model import Model
from bayeshier.cli import plot_types
from bayeshier.present.comparison import compare
from bayeshier.present.glmm_comparison import compare_glmm

BINARY = Path(__file__).parents[1] / "fixtures" / "glmer" / "seed_binary.csv"


@pytest.fixture(scope="module")
def glmm() -> GlmmModel:
    return GlmmModel("y ~ 1 + (1|g)", pd.read_csv(BINARY), "binomial")


def test_gaussian_only_names_the_family_and_the_reason(glmm):
    unless = plot_types.gaussian_only("it reads least squares")
    assert unless(glmm) == "the model is a binomial GLMM: it reads least squares"
    assert unless(Model("Yield ~ 1 + (1|Batch)", datasets.load("dyestuff"))) == ""


def test_ols_vs_within_needs_a_fixed_term_besides_the_intercept(glmm):
    intercept_only = Model("Yield ~ 1 + (1|Batch)", datasets.load("dyestuff"))
    assert "a fixed-effect term besides" in plot_types.ols_vs_within_unless(intercept_only)
    with_term = Model("hwy ~ displ + (1|class)", datasets.load("mpg"))
    assert plot_types.ols_vs_within_unless(with_term) == ""
    assert "binomial GLMM: it draws least-squares lines" in plot_types.ols_vs_within_unless(glmm)


def test_results_name_their_interval_and_refuse_a_glmm_as_gaussian(glmm):
    model = Model("Yield ~ 1 + (1|Batch)", datasets.load("dyestuff"))
    tree = synthetic_posterior(model.reml)
    gaussian = plot_types.ModelResults(model, tree, compare(model.reml, tree, ci_prob=0.8), 1)
    assert gaussian.interval_label == "80% ETI"
    assert gaussian.gaussian is gaussian.comparison
    results = plot_types.ModelResults(glmm, tree, compare_glmm(glmm.fit, ci_prob=0.9), 1)
    assert results.interval_label == "90% ETI"
    with pytest.raises(TypeError, match="not the comparison of a Gaussian model"):
        _ = results.gaussian
