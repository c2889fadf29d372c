"""The sampling plan: centered / non-centered per factor from the REML fit, the user's choices."""

from __future__ import annotations

import numpy as np
import pytest

from bayeshier import datasets
from bayeshier._choices import LIKELIHOODS
from bayeshier.bayes.fixed_scale import internal_design
from bayeshier.bayes.model import Model
from bayeshier.bayes.plan import (
    CENTERED_THRESHOLD,
    explained_share,
    explained_share_matrix,
    parse_likelihood,
    parse_parameterization,
    sampling_plan,
)
from bayeshier.errors import ModelError
from bayeshier.reml import fit_spec
from bayeshier.spec.model_spec import build_spec

SLEEP = "Reaction ~ Days + (1|Subject)"
PASTES = "strength ~ 1 + (1|batch/cask)"


def test_explained_share_is_the_shrinkage_weight_for_one_factor():
    """With many groups the low-sd correction vanishes: n sd^2 / (n sd^2 + sigma^2)."""
    sd, sigma, n = 2.0, 3.0, 5
    condvar = np.full(10_000, 1.0 / (1.0 / sd**2 + n / sigma**2))
    expected = n * sd**2 / (n * sd**2 + sigma**2)
    assert explained_share(sd, condvar) == pytest.approx(expected, rel=0.05)
    assert explained_share(sd, condvar[:6]) < expected - 0.2
    assert explained_share(0.0, condvar) == 0.0


def test_explained_share_matrix_is_explained_share_for_one_column():
    rng = np.random.default_rng(0)
    sd, condvar = 2.0, rng.uniform(0.5, 3.0, 12)
    got = explained_share_matrix(np.array([[sd**2]]), condvar[:, None, None])
    assert got == pytest.approx(explained_share(sd, condvar), rel=1e-12)


def test_explained_share_matrix_averages_independent_directions():
    """Diagonal covariance and conditional covariances: the mean of the per-term shares."""
    sds = np.array([2.0, 0.5])
    condvar = np.array([[1.0, 0.2]] * 40)
    condcov = np.stack([np.diag(row) for row in condvar])
    expected = np.mean([explained_share(sds[r], condvar[:, r]) for r in range(2)])
    got = explained_share_matrix(np.diag(sds**2), condcov)
    assert got == pytest.approx(expected, rel=1e-12)


def test_explained_share_matrix_is_zero_for_a_singular_covariance():
    covariance = np.array([[1.0, 1.0], [1.0, 1.0]])  # correlation 1
    condcov = np.broadcast_to(0.1 * np.eye(2), (10, 2, 2))
    assert explained_share_matrix(covariance, condcov) == 0.0
    assert explained_share_matrix(np.diag([1.0, 0.0]), condcov) == 0.0


# ------------------------------------------------------- the user's choices
@pytest.mark.parametrize("spelling", ["Collapsed", " full ", "AUTO"])
def test_likelihood_spelling_is_forgiving(spelling):
    assert parse_likelihood(spelling) == spelling.strip().lower()


@pytest.mark.parametrize("bad", ["marginal", "sufficient", "", 3, None, ["full"]])
def test_bad_likelihood_names_the_argument_and_the_choices(bad):
    with pytest.raises(ModelError) as info:
        Model(SLEEP, datasets.load("sleepstudy"), likelihood=bad)
    message = str(info.value)
    assert message.startswith("likelihood must be one of")
    assert all(repr(choice) in message for choice in LIKELIHOODS)
    assert repr(bad) in message


def test_parameterization_per_factor_defaults_to_auto():
    spec = build_spec(PASTES, datasets.load("pastes"))
    assert parse_parameterization("Non_Centered", spec) == {
        "cask:batch": "noncentered",
        "batch": "noncentered",
    }
    assert parse_parameterization({"batch": "centered"}, spec) == {
        "cask:batch": "auto",
        "batch": "centered",
    }
    with pytest.raises(ModelError, match=r"'cask'.*Factors: cask:batch, batch"):
        parse_parameterization({"cask": "centered"}, spec)


# ----------------------------------------------------------- the whole plan
def test_sampling_plan_of_a_nested_pair():
    spec = build_spec(PASTES, datasets.load("pastes"))
    fit = fit_spec(spec, reml=True)
    auto = {"cask:batch": "auto", "batch": "auto"}
    plan = sampling_plan(spec, internal_design(spec), fit, auto)
    assert plan.collapsed == ("cask:batch", "batch")
    assert (plan.collapsed_factor, plan.collapsed_parent) == ("cask:batch", "batch")
    assert plan.absorbs is None and plan.parents == {}  # collapsed factors absorb nothing
    assert plan.start["sigma"] == pytest.approx(fit.sigma)
    for name, share in plan.explained.items():
        expected = "centered" if share >= CENTERED_THRESHOLD else "noncentered"
        assert plan.parameterization[name] == expected
    full = sampling_plan(spec, internal_design(spec), fit, auto, likelihood="full")
    assert full.collapsed == ()
    assert full.explained == plan.explained


def test_a_forced_parent_is_sampled_and_absorbs_the_intercept():
    spec = build_spec(PASTES, datasets.load("pastes"))
    fit = fit_spec(spec, reml=True)
    choices = {"cask:batch": "auto", "batch": "centered"}
    plan = sampling_plan(spec, internal_design(spec), fit, choices)
    assert plan.collapsed == ("cask:batch",)
    assert plan.absorbs == "batch"
    assert "_batch_mean" in plan.start and "batch" not in plan.start
