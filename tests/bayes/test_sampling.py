"""Real MCMC runs (marked ``sampling``): efficiency targets, outputs, recovery.

Each model costs one nutpie compilation (tens of seconds on 2 cores), so the
module samples five models: sleepstudy (a well-determined factor), dyestuff2
(singular fit: the group sd's posterior piles up at zero, the hard case),
penicillin (crossed factors: one integrated out, one sampled), pastes (nested
factors, both integrated out) and a simulated data set with known parameters
(PyMC's own sampler).
"""

from __future__ import annotations

import json
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayeshier import datasets
from bayeshier.bayes.diagnostics import SamplingWarning, diagnose
from bayeshier.bayes.model import Model
from bayeshier.bayes.sampling import default_target_accept
from bayeshier.spec.model_spec import build_spec

pytestmark = pytest.mark.sampling


@pytest.fixture(scope="module")
def sleep():
    m = Model("Reaction ~ Days + (1|Subject)", datasets.load("sleepstudy"))
    return m, m.sample(random_seed=11, progressbar=False)


@pytest.fixture(scope="module")
def singular():
    m = Model("Yield ~ 1 + (1|Batch)", datasets.load("dyestuff2"))
    return m, m.sample(random_seed=12, progressbar=False)


def _check_targets(m: Model, idata) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplingWarning)
        table = diagnose(idata)
    assert table["divergences"].sum() == 0
    assert table["r_hat"].max() <= 1.01
    assert table["ess_bulk"].min() >= 1000
    beta = idata["posterior"]["beta"]
    for term, estimate in m.reml.fixef.items():
        draws = beta.sel(fixed=term)
        assert abs(float(draws.mean()) - estimate) <= 0.5 * float(draws.std()), term


def test_sleepstudy_meets_the_targets(sleep):
    _check_targets(*sleep)


def test_singular_dyestuff2_meets_the_targets(singular):
    m, idata = singular
    assert m.parameterization == {"Batch": "marginalized"}
    _check_targets(m, idata)
    assert float(idata["posterior"]["sd_Batch"].quantile(0.05)) < 0.5


def test_crossed_penicillin_meets_the_targets():
    m = Model("diameter ~ 1 + (1|plate) + (1|sample)", datasets.load("penicillin"))
    idata = m.sample(random_seed=13, progressbar=False)
    assert m.parameterization == {"plate": "marginalized", "sample": "centered"}
    _check_targets(m, idata)


def test_nested_pastes_meets_the_targets():
    m = Model("strength ~ 1 + (1|batch/cask)", datasets.load("pastes"))
    idata = m.sample(random_seed=1, progressbar=False)
    assert m.parameterization == {"cask:batch": "marginalized", "batch": "marginalized"}
    _check_targets(m, idata)
    posterior = idata["posterior"]
    assert posterior["batch"].dims == ("chain", "draw", "batch_level")
    assert posterior["cask:batch"].dims == ("chain", "draw", "cask:batch_level")
    assert "strength" in idata["log_likelihood"]


def test_output_groups_names_and_attrs(sleep):
    m, idata = sleep
    assert {"posterior", "sample_stats", "observed_data", "log_likelihood"} <= set(idata.children)
    posterior = idata["posterior"]
    assert set(posterior.data_vars) == {"beta", "Subject", "sd_Subject", "sigma"}
    assert list(posterior["beta"]["fixed"].to_numpy()) == ["Intercept", "Days"]
    assert list(posterior["Subject"]["Subject_level"].to_numpy())[:2] == ["308", "309"]
    assert posterior.sizes["chain"] == 4 and posterior.sizes["draw"] == 1000
    record = json.loads(idata.attrs["reml"])
    assert record["fixef"]["Days"] == pytest.approx(m.reml.fixef["Days"])
    assert json.loads(idata.attrs["parameterization"]) == {"Subject": "marginalized"}
    np.testing.assert_array_equal(idata["observed_data"]["Reaction"], m.spec.y)


def test_result_saves_and_loads(sleep, tmp_path):
    """Everything in the tree is plain data (no objects): it round-trips through zarr."""
    _, idata = sleep
    path = tmp_path / "sleep.zarr"
    idata.to_zarr(path)
    loaded = xr.open_datatree(path, engine="zarr")
    assert json.loads(loaded.attrs["reml"])["sigma"] == pytest.approx(sleep[0].reml.sigma)
    np.testing.assert_allclose(loaded["posterior"]["beta"], idata["posterior"]["beta"])


def test_loo_works(sleep):
    _, idata = sleep
    loo = az.loo(idata)
    assert np.isfinite(loo.elpd) and -1000 < loo.elpd < -800


def test_posterior_agrees_with_reml_blups(sleep):
    m, idata = sleep
    means = idata["posterior"]["Subject"].mean(("chain", "draw")).to_numpy()
    blups = m.reml.ranef["Subject"]["Intercept"].to_numpy()
    assert np.corrcoef(means, blups)[0, 1] > 0.99


def test_predict_new_subject_is_wider(sleep):
    m, idata = sleep
    new = pd.DataFrame({"Days": [4.0, 4.0], "Subject": ["308", "new"]})
    pred = m.predict(new, idata, random_seed=1)["predictions"]["Reaction"]
    spread = pred.std(("chain", "draw")).to_numpy()
    assert spread[1] > spread[0] * 1.2


def test_second_sampling_reuses_the_compiled_model(sleep):
    m, _ = sleep
    compiled = m.compile_nutpie()
    again = m.sample(draws=100, tune=100, chains=2, random_seed=1, progressbar=False)
    assert m.compile_nutpie() is compiled
    assert again["posterior"].sizes["draw"] == 100


def test_recovers_known_parameters_with_pymc_sampler():
    """Simulated data, predictors on awkward scales; 99% intervals cover the truth."""
    rng = np.random.default_rng(2024)
    groups, per_group = 12, 15
    g = np.repeat(np.arange(groups), per_group)
    truth = {"Intercept": -40.0, "x1": 1.5, "x2": 0.02, "sd_g": 1.0, "sigma": 0.8}
    effects = rng.normal(0, truth["sd_g"], groups)
    x1 = rng.normal(0, 1, g.size)
    x2 = 2000 + rng.normal(0, 20, g.size)  # like mpg's year: large offset
    y = truth["Intercept"] + truth["x1"] * x1 + truth["x2"] * x2 + effects[g]
    y = y + rng.normal(0, truth["sigma"], g.size)
    data = pd.DataFrame({"y": y, "x1": x1, "x2": x2, "g": [f"g{k:02d}" for k in g]})
    m = Model("y ~ x1 + x2 + (1|g)", data)
    idata = m.sample(
        draws=600, tune=600, chains=2, random_seed=5, sampler="pymc", progressbar=False
    )
    post = idata["posterior"]
    samples = {term: post["beta"].sel(fixed=term) for term in ("Intercept", "x1", "x2")}
    samples |= {"sd_g": post["sd_g"], "sigma": post["sigma"]}
    for name, draws in samples.items():
        low, high = draws.quantile([0.005, 0.995]).to_numpy()
        assert low < truth[name] < high, name
    effect_draws = post["g"].to_numpy().reshape(-1, groups)
    low, high = np.quantile(effect_draws, [0.005, 0.995], axis=0)
    assert np.all((low < effects) & (effects < high))
    assert int(idata["sample_stats"]["diverging"].sum()) == 0


@pytest.mark.parametrize(
    ("dataset", "formula", "expected"),
    [
        ("sleepstudy", "Reaction ~ Days + (Days|Subject)", 0.98),  # correlated slopes
        ("sleepstudy", "Reaction ~ Days + (Days||Subject)", 0.8),
        ("pastes", "strength ~ 1 + (1|batch/cask)", 0.95),  # 10 batches
        ("mpg", "hwy ~ displ + (1|class)", 0.95),  # 7 classes
        ("sleepstudy", "Reaction ~ Days + (1|Subject)", 0.8),
    ],
)
def test_default_target_accept(dataset, formula, expected):
    assert default_target_accept(build_spec(formula, datasets.load(dataset))) == expected
