"""``Model(likelihood=)``: the collapsed (group effects integrated out) and full likelihoods.

The unit tests check which factors each choice integrates out and the errors.
The sampling tests check that both give the same posterior: means within 0.1
posterior sd and sds within 10% for ``beta``, ``sigma``, the group sd and the
group effects. Each run has 4 chains x 4000 draws: with 1000 draws the Monte
Carlo error of a posterior sd alone is several percent (more for the heavy
tailed intercept and group sd of seed_model2's 5 groups), so the 10% bound
would be hit by chance; the draws cost well under a second, the compilation
dominates.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from reference_cases import FIXTURES

from bayeshier import datasets
from bayeshier.bayes.model import Model
from bayeshier.bayes.plan import LIKELIHOOD_CHOICES, parse_likelihood
from bayeshier.errors import ModelError

SLEEP = "Reaction ~ Days + (1|Subject)"
PASTES = "strength ~ 1 + (1|batch/cask)"
PENICILLIN = "diameter ~ 1 + (1|plate) + (1|sample)"


# ------------------------------------------------------------- unit tests
def test_auto_collapses_a_single_intercept_factor():
    m = Model(SLEEP, datasets.load("sleepstudy"))
    assert m.likelihood == "collapsed"
    assert m.parameterization == {"Subject": "marginalized"}
    assert Model(SLEEP, datasets.load("sleepstudy"), likelihood="auto").likelihood == "collapsed"


def test_collapsed_integrates_the_largest_factor_out():
    m = Model(SLEEP, datasets.load("sleepstudy"), likelihood="collapsed")
    assert m.likelihood == "collapsed"
    assert m.plan.integrated == ("Subject",)
    names = {v.name for v in m._sampling_model().free_RVs}
    assert "Subject" not in names
    assert not any("Subject" in name and name != "sd_Subject" for name in names)


def test_full_samples_every_effect():
    m = Model(SLEEP, datasets.load("sleepstudy"), likelihood="full")
    assert m.likelihood == "full"
    assert m.plan.integrated == ()
    assert m.parameterization == {"Subject": "centered"}  # decided from REML as before
    names = {v.name for v in m._sampling_model().free_RVs}
    assert any("Subject" in name and name != "sd_Subject" for name in names)


def test_auto_is_full_when_the_largest_factor_is_forced():
    m = Model(SLEEP, datasets.load("sleepstudy"), parameterization="noncentered")
    assert m.likelihood == "full"
    assert m.parameterization == {"Subject": "noncentered"}


@pytest.mark.parametrize("forced", ["centered", "noncentered"])
def test_collapsed_with_the_largest_factor_forced_names_it(forced):
    with pytest.raises(ModelError, match=rf"'Subject'.*{forced}") as info:
        Model(
            SLEEP,
            datasets.load("sleepstudy"),
            likelihood="collapsed",
            parameterization={"Subject": forced},
        )
    assert "likelihood='collapsed'" in str(info.value)


def test_crossed_factors_keep_todays_behaviour():
    """Only the largest of crossed factors is integrated out; the other is sampled."""
    data = datasets.load("penicillin")
    for choice in ("auto", "collapsed"):
        m = Model(PENICILLIN, data, likelihood=choice)
        assert m.likelihood == "collapsed"
        assert m.parameterization == {"plate": "marginalized", "sample": "centered"}
    full = Model(PENICILLIN, data, likelihood="full")
    assert full.likelihood == "full"
    assert "marginalized" not in full.parameterization.values()


def test_nested_factors_keep_todays_behaviour():
    """The largest factor is integrated out with its (non-forced) parent."""
    data = datasets.load("pastes")
    m = Model(PASTES, data, likelihood="collapsed")
    assert m.parameterization == {"cask:batch": "marginalized", "batch": "marginalized"}
    forced = Model(PASTES, data, likelihood="collapsed", parameterization={"batch": "centered"})
    assert forced.parameterization == {"cask:batch": "marginalized", "batch": "centered"}
    full = Model(PASTES, data, likelihood="full")
    assert full.plan.integrated == ()
    assert "marginalized" not in full.parameterization.values()


@pytest.mark.parametrize("spelling", ["Collapsed", " full ", "AUTO"])
def test_likelihood_spelling_is_forgiving(spelling):
    assert parse_likelihood(spelling) == spelling.strip().lower()


@pytest.mark.parametrize("bad", ["marginal", "sufficient", "", 3, None, ["full"]])
def test_bad_likelihood_names_the_argument_and_the_choices(bad):
    with pytest.raises(ModelError) as info:
        Model(SLEEP, datasets.load("sleepstudy"), likelihood=bad)
    message = str(info.value)
    assert message.startswith("likelihood must be one of")
    assert all(repr(choice) in message for choice in LIKELIHOOD_CHOICES)
    assert repr(bad) in message


# ---------------------------------------------------------- sampling tests
CASES = {
    "mpg": ("hwy ~ displ + year + (1|class)", lambda: datasets.load("mpg"), 701),
    "seed_model2": (
        "y ~ 1 + (1|g)",
        lambda: pd.read_csv(FIXTURES / "seed_model2.csv", dtype={"g": str}),
        702,
    ),
}


@pytest.fixture(scope="module", params=list(CASES))
def pair(request):
    formula, load, seed = CASES[request.param]
    data = load()
    out = {}
    for choice in ("collapsed", "full"):
        m = Model(formula, data, likelihood=choice)
        out[choice] = (m, m.sample(draws=4000, chains=4, random_seed=seed, progressbar=False))
    return out


def _compared(m: Model) -> list[str]:
    return ["beta", "sigma", *(f"sd_{f.name}" for f in m.spec.factors)] + [
        f.name for f in m.spec.factors
    ]


@pytest.mark.sampling
def test_collapsed_and_full_posteriors_agree(pair):
    m, collapsed = pair["collapsed"]
    _, full = pair["full"]
    assert m.likelihood == "collapsed"
    worst_mean, worst_sd = 0.0, 0.0
    for name in _compared(m):
        a = collapsed["posterior"][name].stack(sample=("chain", "draw"))
        b = full["posterior"][name].stack(sample=("chain", "draw"))
        sd_a, sd_b = a.std("sample").values, b.std("sample").values
        mean_diff = np.abs(a.mean("sample").values - b.mean("sample").values) / sd_b
        sd_dev = np.abs(sd_a / sd_b - 1.0)
        assert np.all(mean_diff <= 0.1), (name, mean_diff)
        assert np.all(sd_dev <= 0.1), (name, sd_dev)
        worst_mean = max(worst_mean, float(np.max(mean_diff)))
        worst_sd = max(worst_sd, float(np.max(sd_dev)))
    print(f"max |mean diff|/sd = {worst_mean:.3f}, max |sd ratio - 1| = {worst_sd:.3f}")


@pytest.mark.sampling
def test_the_datatree_looks_the_same_either_way(pair):
    (m_c, collapsed), (m_f, full) = pair["collapsed"], pair["full"]
    assert set(collapsed.children) == set(full.children)
    assert "log_likelihood" in collapsed.children
    post_c, post_f = collapsed["posterior"].to_dataset(), full["posterior"].to_dataset()
    assert set(post_c.data_vars) == set(post_f.data_vars)
    for name in post_c.data_vars:
        assert post_c[name].dims == post_f[name].dims, name
    for dim in post_c.dims:
        np.testing.assert_array_equal(post_c[dim].values, post_f[dim].values)
    assert set(collapsed["log_likelihood"].data_vars) == set(full["log_likelihood"].data_vars)
    assert collapsed.attrs["likelihood"] == "collapsed"
    assert full.attrs["likelihood"] == "full"
    factor = m_c.spec.factors[0].name
    assert json.loads(collapsed.attrs["parameterization"])[factor] == "marginalized"
    assert json.loads(full.attrs["parameterization"])[factor] != "marginalized"
    assert m_f.likelihood == "full"
