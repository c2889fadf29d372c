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


def test_predictions_at_glmer_are_its_fitted_values(cbpp_model, cbpp_case) -> None:
    reference, data = cbpp_case
    tree = xr.DataTree.from_dict({"posterior": _at_glmer(cbpp_model, reference, 20)})
    new = data.iloc[:6]
    trials = (new["incidence"] + new["nonincidence"]).to_numpy()
    out = cbpp_model.predict(new, tree, trials=trials, random_seed=1)["predictions"]
    fitted = np.asarray(reference["fitted_response"])[:6]
    assert out["mu"].dims == ("chain", "draw", "obs") and list(out["obs"].values) == list(new.index)
    np.testing.assert_allclose(out["mu"].values[0], np.tile(fitted, (20, 1)), rtol=1e-4)
    np.testing.assert_allclose(out["eta"].values[0, 0], np.log(fitted / (1 - fitted)), rtol=1e-4)
    successes = out[cbpp_model.observed_name].values
    assert np.all((successes >= 0) & (successes <= trials)) and successes.std() > 0
    population = cbpp_model.predict(new, tree, include_random=False)["predictions"]["eta"]
    fixef = np.array(list(reference["fixef"].values()))
    expected = cbpp_model.spec.fixed_design(new) @ fixef
    np.testing.assert_allclose(population.values[0, 0], expected, rtol=1e-12)


def test_poisson_predictions_are_glmer_rates(grouse_case) -> None:
    from bayeshier.bayes.glmm import GlmmModel

    reference, data = grouse_case
    model = GlmmModel(reference["formula"], data, "poisson")
    tree = xr.DataTree.from_dict({"posterior": _at_glmer(model, reference, 5)})
    out = model.predict(data.iloc[:8], tree, random_seed=2)["predictions"]
    rate = np.asarray(reference["fitted_response"])[:8]
    np.testing.assert_allclose(out["mu"].values[0, 0], rate, rtol=1e-4)
    assert out["TICKS"].dtype.kind == "i"


def test_a_new_level_gets_one_effect_from_the_group_prior(seed_model, seed_case) -> None:
    import pandas as pd

    reference, _ = seed_case
    posterior = _at_glmer(seed_model, reference, 4000)
    posterior["sd_g"] = (("chain", "draw"), np.full((1, 4000), 0.7))
    tree = xr.DataTree.from_dict({"posterior": posterior})
    new = pd.DataFrame({"g": ["unseen", "unseen", "other"]})
    eta = seed_model.predict(new, tree, random_seed=3)["predictions"]["eta"].values[0]
    effect = eta - reference["fixef"]["(Intercept)"]
    np.testing.assert_array_equal(eta[:, 0], eta[:, 1])  # one effect per new level
    assert abs(np.corrcoef(effect[:, 0], effect[:, 2])[0, 1]) < 0.1
    assert effect[:, 0].std() == pytest.approx(0.7, rel=0.05)


def test_prediction_offsets_and_trials(seed_model, seed_case) -> None:
    import pandas as pd

    from bayeshier.errors import DataError

    reference, data = seed_case
    tree = xr.DataTree.from_dict({"posterior": _at_glmer(seed_model, reference, 4)})
    new = data.iloc[:3]
    base = seed_model.predict(new, tree)["predictions"]["eta"].values
    shifted = seed_model.predict(new, tree, offset=np.array([0.0, 1.0, -2.0]))["predictions"]
    np.testing.assert_allclose(shifted["eta"].values - base, np.tile([0.0, 1.0, -2.0], (1, 4, 1)))
    with pytest.raises(DataError, match="3 new rows"):
        seed_model.predict(new, tree, offset=np.zeros(2))
    with pytest.raises(ModelError, match="whole"):
        seed_model.predict(new, tree, trials=pd.Series([1.5, 2.0, 1.0]))
    with pytest.raises(DataError, match="2 values for 3 new rows"):
        seed_model.predict(new, tree, trials=[1, 2])
    with pytest.raises(DataError, match="'size' is not a column"):
        seed_model.predict(new, tree, trials="size")
    with_size = new.assign(size=[3, 4, 5])
    by_name = seed_model.predict(with_size, tree, trials="size", random_seed=1)["predictions"]
    assert int(by_name["y"].max()) <= 5 and int(by_name["y"].values[..., 2].max()) >= 2
    with pytest.raises(ModelError, match="no posterior"):
        seed_model.predict(new, xr.DataTree())
