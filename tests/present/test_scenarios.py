"""bayeshier.present.scenarios: the four classic seed designs, simulated or bundled."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from bayeshier import datasets, shrinkage
from bayeshier.errors import ModelError
from bayeshier.present import scenarios


# ------------------------------------------------------------ the designs
def test_seed_scenarios_describe_the_classic_designs():
    designs = {s.name: (s.n_groups, s.n_per_group, s.sigma_g, s.sigma_e)
               for s in shrinkage.SEED_SCENARIOS}  # fmt: skip
    assert designs == {
        "seed_model1": (5, 5, 1.0, 5.0),
        "seed_model1b": (5, 500, 1.0, 5.0),
        "seed_model2": (5, 5, 5.0, 5.0),
        "seed_model3": (5, 5, 5.0, 1.0),
    }


def test_bundled_scenarios_are_the_exact_data_sets():
    data = shrinkage.scenarios(bundled=True)
    assert list(data) == ["seed_model1", "seed_model1b", "seed_model2", "seed_model3"]
    for name, frame in data.items():
        pd.testing.assert_frame_equal(frame, datasets.load(name))
    assert len(data["seed_model1b"]) == 2500


def test_simulated_scenarios_have_the_design_and_are_reproducible():
    first, again = shrinkage.scenarios(seed=3), shrinkage.scenarios(seed=3)
    for scenario in shrinkage.SEED_SCENARIOS:
        frame = first[scenario.name]
        assert len(frame) == scenario.n_groups * scenario.n_per_group
        assert frame["g"].value_counts().eq(scenario.n_per_group).all()
        pd.testing.assert_frame_equal(frame, again[scenario.name])
    assert not first["seed_model2"]["y"].equals(shrinkage.scenarios(seed=4)["seed_model2"]["y"])


def test_simulate_recovers_the_variances_on_a_large_design():
    frame = shrinkage.simulate(400, 50, 2.0, 1.0, seed=1)
    group_means = frame.groupby("g", observed=True)["y"].mean()
    within = frame["y"] - frame["g"].map(group_means).astype(float)
    assert within.std() == pytest.approx(1.0, rel=0.03)
    assert group_means.std() == pytest.approx(2.0, rel=0.1)
    with pytest.raises(ModelError):
        shrinkage.simulate(1, 5, 1.0, 1.0)


def test_scenario_fits_show_the_four_regimes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the singular fit is a column, not a warning
        fits = shrinkage.scenario_fits().set_index("scenario")
    assert fits["singular"].tolist() == [True, False, False, False]
    assert fits.loc["seed_model1", "kept"] == 0.0  # singular: complete pooling
    assert fits.loc["seed_model1", "pooling"] == 1.0
    assert fits.loc["seed_model1b", "kept"] > 0.95  # 500 rows outweigh a small variance
    assert fits.loc["seed_model3", "kept"] > fits.loc["seed_model2", "kept"]
    assert fits.loc["seed_model2", "true_kept"] == pytest.approx(5 / 6)
    assert "shrinkage" not in fits.columns and "true_shrinkage" not in fits.columns


def test_the_public_module_holds_the_scenarios():
    assert shrinkage.SEED_SCENARIOS is scenarios.SEED_SCENARIOS
    assert shrinkage.scenario_fits is scenarios.scenario_fits
    assert shrinkage.SEED_FORMULA == "y ~ 1 + (1|g)"


def test_a_scenario_knows_its_ratio_and_true_share_kept():
    scenario = scenarios.Scenario("demo", 4, 10, 2.0, 4.0)
    assert scenario.variance_ratio == pytest.approx(0.25)
    assert scenario.true_kept == pytest.approx(4.0 / (4.0 + 16.0 / 10))


def test_a_scenario_simulates_with_its_design_and_loads_its_data():
    scenario = shrinkage.SEED_SCENARIOS[2]
    pd.testing.assert_frame_equal(
        scenario.simulate(seed=7, mean=3.0), scenarios.simulate(5, 5, 5.0, 5.0, mean=3.0, seed=7)
    )
    pd.testing.assert_frame_equal(scenario.load(), datasets.load("seed_model2"))


def test_simulated_data_look_like_the_bundled_seed_data():
    frame = scenarios.simulate(3, 4, 1.0, 1.0, seed=0)
    assert list(frame.columns) == ["y", "g"]
    assert list(frame["g"].cat.categories) == ["1", "2", "3"]
    assert np.isfinite(frame["y"]).all()
    with pytest.raises(ModelError, match="at least 2 groups of at least 1 row"):
        scenarios.simulate(3, 0, 1.0, 1.0)


def test_scenario_fits_of_given_data_keep_only_those_scenarios():
    data = shrinkage.scenarios(seed=11)
    fits = shrinkage.scenario_fits({"seed_model3": data["seed_model3"]})
    assert list(fits["scenario"]) == ["seed_model3"]
    row = fits.iloc[0]
    assert (row["n_groups"], row["n"], row["sigma_g"], row["sigma_e"]) == (5, 5, 5.0, 1.0)
    assert row["ratio"] == pytest.approx(25.0)
    expected = row["sd_g_hat"] ** 2 / (row["sd_g_hat"] ** 2 + row["sigma_hat"] ** 2 / 5)
    assert row["kept"] == pytest.approx(expected)
    assert row["pooling"] == pytest.approx(1 - expected)
