"""Hierarchical centering: which factor's group means absorb the intercept, and their center."""

from __future__ import annotations

import numpy as np

from bayeshier import datasets
from bayeshier.bayes.group_means import (
    absorbed_parents,
    absorbing_factor,
    absorbing_map,
    intercept_sd,
)
from bayeshier.bayes.model import Model
from bayeshier.spec.model_spec import build_spec

PASTES = "strength ~ 1 + (1|batch/cask)"
PENICILLIN = "diameter ~ 1 + (1|plate) + (1|sample)"


def test_group_means_absorb_intercept_and_slope(slopes):
    """Subject's means are (beta_0 + b_j0, beta_Days + b_j1): the rows see z' a_j only."""
    A = absorbing_map(slopes.spec, slopes.design, slopes.spec.factors[0])
    mean_days = slopes.spec.X[:, 1].mean()
    np.testing.assert_allclose(A, [[1.0, -mean_days], [0.0, 1.0]])
    nu = np.array([300.0, 10.0])
    np.testing.assert_allclose(A @ nu, slopes.design.to_user @ nu)


def test_a_random_intercept_absorbs_the_intercept_only(mpg_model):
    A = absorbing_map(mpg_model.spec, mpg_model.design, mpg_model.spec.factors[0])
    np.testing.assert_array_equal(A, [[1.0, 0.0, 0.0]])


def test_the_factor_with_the_most_uncertain_mean_absorbs():
    spec = build_spec(PENICILLIN, datasets.load("penicillin"))
    centered = {"plate": "centered", "sample": "centered"}
    # sd^2 / levels: plate 1 / 24, sample 4 / 6
    assert absorbing_factor(spec, centered, {"plate": 1.0, "sample": 2.0}) == "sample"
    assert absorbing_factor(spec, centered, {"plate": 10.0, "sample": 2.0}) == "plate"
    assert absorbing_factor(spec, centered, {"plate": 1.0, "sample": 2.0}, exclude=["sample"]) == (
        "plate"
    )
    noncentered = {"plate": "noncentered", "sample": "noncentered"}
    assert absorbing_factor(spec, noncentered, {"plate": 1.0, "sample": 2.0}) is None


def test_no_intercept_no_absorbing_factor(sleep):
    spec = build_spec("Reaction ~ 0 + Days + (1|Subject)", sleep)
    assert absorbing_factor(spec, {"Subject": "centered"}, {"Subject": 30.0}) is None


def test_nested_means_absorb_their_parents_effects():
    spec = build_spec(PASTES, datasets.load("pastes"))
    parents = absorbed_parents(spec, "cask:batch", collapsed=())
    assert list(parents) == ["batch"]
    batch_of_cask = [level.split(":")[1] for level in spec.factor("cask:batch").levels]
    batches = np.array(spec.factor("batch").levels)
    np.testing.assert_array_equal(batches[parents["batch"]], batch_of_cask)
    assert absorbed_parents(spec, "cask:batch", collapsed=["batch"]) == {}
    assert absorbed_parents(spec, None, collapsed=()) == {}


def test_forced_nested_pair_samples_means_around_the_parent():
    m = Model(PASTES, datasets.load("pastes"), likelihood="full", parameterization="centered")
    assert m.plan.absorbs is not None
    assert m.plan.parents.keys() <= {"batch"}


def test_intercept_sd_reads_the_intercept_entry(slopes):
    covariance = np.array([[9.0, 1.0], [1.0, 4.0]])
    assert intercept_sd(slopes.spec.factors[0], covariance) == 3.0
