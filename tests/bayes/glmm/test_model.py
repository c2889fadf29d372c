"""GlmmModel: construction, errors, and (marked) a small sampling run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from bayeshier.bayes.glmm import GlmmModel
from bayeshier.errors import ModelError


def test_repr_and_describe(seed_model) -> None:
    assert "5 cells" in repr(seed_model)
    text = seed_model.describe()
    assert "100 rows aggregated into 5 cells" in text and "sd_g" in text


def test_random_slopes_are_refused(cbpp_case) -> None:
    _, data = cbpp_case
    data = data.assign(x=np.arange(len(data), dtype=float))
    with pytest.raises(ModelError, match="random intercepts only"):
        GlmmModel("cbind(incidence, nonincidence) ~ x + (x|herd)", data)


def test_bad_parameterization_and_target_accept(seed_case, seed_model) -> None:
    reference, data = seed_case
    with pytest.raises(ModelError, match="parameterization"):
        GlmmModel(reference["formula"], data, parameterization="sideways")
    with pytest.raises(ModelError, match="target_accept"):
        seed_model.sample(draws=5, tune=5, chains=1, target_accept=1.5, progressbar=False)


def test_default_target_accept(seed_model, grouse_case, cbpp_model, glmer_case) -> None:
    reference, data = grouse_case
    assert seed_model.default_target_accept() == 0.99  # 5 levels
    # broods in locations: 0.8 with the locations collapsed, 0.95 with both factors sampled
    assert GlmmModel(reference["formula"], data, "poisson").default_target_accept() == 0.8
    full = GlmmModel(reference["formula"], data, "poisson", likelihood="full")
    assert full.default_target_accept() == 0.95
    assert cbpp_model.default_target_accept() == 0.9  # 15 herds, centered
    contraception, rows = glmer_case("contraception_bernoulli")
    mixed = GlmmModel(contraception["formula"], rows, contraception["family"])
    assert mixed.default_target_accept() == 0.8  # 102 districts, mixed


@pytest.mark.sampling
def test_sample_seed_binary(seed_model, seed_case) -> None:
    reference, _ = seed_case
    tree = seed_model.sample(draws=200, tune=200, chains=2, random_seed=3, progressbar=False)
    assert {"posterior", "sample_stats", "observed_data", "constant_data", "log_likelihood"} <= set(
        tree.children
    )
    posterior = tree["posterior"]
    assert set(posterior.data_vars) == {"beta", "g", "sd_g"}
    assert posterior["g"].dims == ("chain", "draw", "g_level")
    assert json.loads(tree.attrs["parameterization"]) == {"g": "centered"}
    # the posterior is near glmer's (5 groups: the sd's posterior is wide and right-skewed)
    mean = float(posterior["beta"].mean())
    assert abs(mean - reference["fixef"]["(Intercept)"]) < 0.3
    modes = np.array(list(reference["ranef"]["g"]["(Intercept)"].values()))
    means = posterior["g"].mean(("chain", "draw")).to_numpy()
    np.testing.assert_array_equal(np.sign(means), np.sign(modes))
    assert np.argmin(means) == np.argmin(modes) and np.argmax(means) == np.argmax(modes)


def test_model_with_a_family_is_the_glmm_twin(seed_case) -> None:
    import bayeshier

    reference, data = seed_case
    twin = bayeshier.Model(reference["formula"], data, family="binomial", link="probit")
    assert type(twin) is GlmmModel and isinstance(twin, bayeshier.Model)
    assert twin.family.link == "probit"
    gaussian = bayeshier.Model(reference["formula"], data, family="gaussian")
    assert type(gaussian) is bayeshier.Model and not isinstance(gaussian, GlmmModel)
    counts = bayeshier.Model(formula=reference["formula"], data=data, family="poisson")
    assert counts.family.name == "poisson"


def test_model_with_a_family_refuses_gaussian_options(seed_case) -> None:
    import bayeshier

    reference, data = seed_case
    with pytest.raises(ModelError, match="normal likelihood only"):
        bayeshier.Model(reference["formula"], data, family="binomial", likelihood="collapsed")
    with pytest.raises(ModelError, match="takes no sigma_prior"):
        bayeshier.Model(reference["formula"], data, family="binomial", sigma_prior=1)
    with pytest.raises(ModelError, match="Unknown family 'gamma'"):
        bayeshier.Model(reference["formula"], data, family="gamma")


def test_reml_is_the_laplace_fit(seed_model, seed_case) -> None:
    reference, _ = seed_case
    assert seed_model.reml is seed_model.fit
    assert seed_model.reml.loglik == pytest.approx(reference["logLik"], rel=1e-6)


def _raw_trace(model: GlmmModel, lengths: list[int], draws: int) -> xr.DataTree:
    """A nutpie-like trace whose chains completed ``lengths`` draws (the rest NaN)."""
    chains = len(lengths)
    rng = np.random.default_rng(0)
    beta = rng.normal(size=(chains, draws, 1))
    effects = rng.normal(size=(chains, draws, 5))
    sd = np.abs(rng.normal(size=(chains, draws)))
    for chain, length in enumerate(lengths):
        beta[chain, length:], effects[chain, length:], sd[chain, length:] = np.nan, np.nan, np.nan
    posterior = xr.Dataset(
        {
            "beta": (("chain", "draw", "fixed"), beta),
            "g": (("chain", "draw", "g_level"), effects),
            "sd_g": (("chain", "draw"), sd),
            "_fixed_internal": (("chain", "draw", "fixed"), beta),
        },
        coords={"fixed": ["Intercept"], "g_level": list("12345")},
    )
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((chains, draws), bool))})
    return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})


def test_interrupted_run_keeps_the_completed_draws(seed_model) -> None:
    from bayeshier.bayes.budget import LogLikelihoodChoice
    from bayeshier.bayes.interrupt import was_interrupted

    raw = _raw_trace(seed_model, [30, 12, 30, 0], 40)
    rng = np.random.default_rng(1)
    tree = seed_model._finish(raw, "nutpie", LogLikelihoodChoice("pointwise"), (40, 4), rng)
    assert was_interrupted(tree.attrs)
    assert "30 of 40 draws per chain (2 of 4 chains kept" in tree.attrs["interruption"]
    assert tree["posterior"]["beta"].shape == (2, 30, 1)
    assert not np.isnan(tree["log_likelihood"]["y"]).any()
    assert "_fixed_internal" not in tree["posterior"]
    complete = seed_model._finish(
        _raw_trace(seed_model, [40, 40], 40), "nutpie", LogLikelihoodChoice("none"), (40, 2), rng
    )
    assert not was_interrupted(complete.attrs) and "log_likelihood" not in complete.children
    assert complete.attrs["log_likelihood"] == "none"
