"""What a GLMM sample stores (memory budget) and its replicates of the data."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from bayeshier.bayes.budget import MemoryBudgetWarning
from bayeshier.bayes.glmm.predictive import plan_glmm_storage, posterior_predictive
from bayeshier.errors import ModelError


def test_pointwise_when_it_fits_the_budget(seed_model) -> None:
    choice = plan_glmm_storage(seed_model.spec, (1000, 1000, 4), None)
    assert choice.kind == "pointwise" and choice.message == ""


def test_none_over_the_budget_with_a_warning(seed_model) -> None:
    # 4 chains x 1,000 draws x 100 rows x 8 bytes = 3.2 MB, over a 1 MB budget
    with pytest.warns(MemoryBudgetWarning, match="log_likelihood=True"):
        choice = plan_glmm_storage(seed_model.spec, (1000, 1000, 4), None, 1_000_000)
    assert choice.kind == "none"
    assert plan_glmm_storage(seed_model.spec, (1000, 1000, 4), True, 1_000_000).kind == (
        "pointwise"
    )


def test_group_loglik_and_bad_budget_are_refused(seed_model) -> None:
    with pytest.raises(ModelError, match="group"):
        plan_glmm_storage(seed_model.spec, (10, 10, 1), "group")
    with pytest.raises(ModelError, match="memory_budget"):
        plan_glmm_storage(seed_model.spec, (10, 10, 1), None, -5)
    with pytest.raises(ModelError, match="log_likelihood"):
        plan_glmm_storage(seed_model.spec, (10, 10, 1), "rows")


def _at_glmer(model, reference, draws: int) -> xr.Dataset:
    """``draws`` identical draws at glmer's estimates and conditional modes."""
    beta = np.tile(np.array(list(reference["fixef"].values())), (1, draws, 1))
    data = {"beta": (("chain", "draw", "fixed"), beta)}
    for factor in model.spec.factors:
        modes = np.array(list(reference["ranef"][factor.name]["(Intercept)"].values()))
        data[factor.name] = (
            ("chain", "draw", f"{factor.name}_level"),
            np.tile(modes, (1, draws, 1)),
        )
    return xr.Dataset(data, coords={"chain": [0], "draw": np.arange(draws)})


def test_replicates_have_glmer_fitted_means(cbpp_model, cbpp_case) -> None:
    reference, data = cbpp_case
    posterior = _at_glmer(cbpp_model, reference, 4000)
    rng = np.random.default_rng(5)
    replicates = posterior_predictive(
        cbpp_model.spec, cbpp_model.cells, cbpp_model.family, posterior, "y", rng
    )["y"]
    assert replicates.dims == ("chain", "draw", "obs")
    trials = (data["incidence"] + data["nonincidence"]).to_numpy()
    p = np.asarray(reference["fitted_response"])
    mean = replicates.mean(("chain", "draw")).to_numpy()
    standard_error = np.sqrt(trials * p * (1 - p) / 4000)
    assert np.all(np.abs(mean - trials * p) < 5 * standard_error)
    assert int(replicates.max()) <= trials.max()


def test_poisson_replicates_have_glmer_fitted_means(grouse_case) -> None:
    from bayeshier.bayes.glmm import GlmmModel

    reference, data = grouse_case
    model = GlmmModel(reference["formula"], data, "poisson")
    rng = np.random.default_rng(6)
    replicates = posterior_predictive(
        model.spec, model.cells, model.family, _at_glmer(model, reference, 2000), "y", rng
    )["y"]
    rate = np.asarray(reference["fitted_response"])
    mean = replicates.mean(("chain", "draw")).to_numpy()
    assert np.all(np.abs(mean - rate) < 5 * np.sqrt(rate / 2000) + 1e-9)


def test_sample_posterior_predictive_adds_the_group(seed_model, seed_case) -> None:
    reference, _ = seed_case
    tree = xr.DataTree.from_dict({"posterior": _at_glmer(seed_model, reference, 50)})
    tree = seed_model.sample_posterior_predictive(tree, random_seed=1)
    assert {"posterior_predictive", "observed_data"} <= set(tree.children)
    replicates = tree["posterior_predictive"]["y"]
    assert replicates.shape == (1, 50, 100) and set(np.unique(replicates)) <= {0, 1}
    with pytest.raises(ModelError, match="lacks 'g'"):
        seed_model.sample_posterior_predictive(
            xr.DataTree.from_dict({"posterior": tree["posterior"].to_dataset()[["beta"]]})
        )


def test_prior_predictive(seed_model) -> None:
    tree = seed_model.sample_prior_predictive(draws=20, random_seed=2)
    assert set(tree["prior"].data_vars) == {"beta", "g", "sd_g"}
    assert tree["prior_predictive"]["y"].shape == (1, 20, 100)
