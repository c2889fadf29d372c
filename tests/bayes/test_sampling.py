"""Running NUTS: argument checks and defaults, then real MCMC runs (marked ``sampling``).

The unit tests need no sampler. Each sampled model costs one nutpie
compilation (tens of seconds on 2 cores), so the module samples: sleepstudy (a
well-determined factor), dyestuff2 (singular fit: the group sd's posterior
piles up at zero, the hard case), penicillin (crossed factors: one collapsed,
one sampled), pastes (nested factors, both collapsed), a simulated data set
with known parameters (PyMC's own sampler), and sleepstudy with random slopes
(``(Days|Subject)``, ``(Days||Subject)`` and ``(0 + Days|Subject)``: no
divergences, R-hat <= 1.01, a smallest bulk ESS of 1,000 of 4 x 1,000 draws, a
posterior near REML and a wide posterior of the correlation), and lme4's
weighted and offset sleepstudy fits (``rform_sleep_weights``, ``rform_sleep_offset``).
"""

from __future__ import annotations

import json
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from reference_cases import FIXTURES

import bayeshier
from bayeshier import datasets
from bayeshier._choices import SAMPLERS
from bayeshier.bayes.diagnostics import SamplingWarning, diagnose
from bayeshier.bayes.model import Model
from bayeshier.bayes.sampling import (
    LOW_RANK_MAX_DIM,
    MAX_DRAWS,
    NUTPIE_ADAPTATION,
    adaptation_for,
    check_sampling_args,
    check_sampling_limits,
    default_target_accept,
    start_point,
    target_accept_for,
)
from bayeshier.errors import ModelError
from bayeshier.spec.model_spec import build_spec

SLOPES = "Reaction ~ Days + (Days|Subject)"
UNCORRELATED = "Reaction ~ Days + (Days||Subject)"
SLOPE_ONLY = "Reaction ~ Days + (0 + Days|Subject)"


# ------------------------------------------------------------- unit tests
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


def test_target_accept_is_checked(sleep_model):
    assert target_accept_for(sleep_model.spec, None) == 0.8
    assert target_accept_for(sleep_model.spec, 0.9) == 0.9
    with pytest.raises(ModelError, match="between 0 and 1"):
        target_accept_for(sleep_model.spec, 1.0)


def test_unknown_sampler_lists_the_samplers():
    with pytest.raises(ModelError, match="Did you mean 'nutpie'") as info:
        check_sampling_args(10, 10, 2, "nutpi")
    assert all(name in str(info.value) for name in SAMPLERS)
    check_sampling_args(10, 0, 1, "pymc")


@pytest.mark.parametrize(
    ("draws", "tune", "chains", "seed", "match"),
    [
        (0, 10, 2, None, "draws must be an integer between 1 and"),
        (10.5, 10, 2, None, "draws must be an integer"),
        (10, -1, 2, None, "tune must be an integer between 0 and"),
        (10, 10, 0, None, "chains must be an integer between 1 and"),
        (10, 10, True, None, "chains must be an integer"),
        (10, 10, 2, 2**65, r"random_seed must be None or an integer between 0 and 2\*\*64 - 1"),
        (10, 10, 2, -1, "random_seed must be"),
        (10, 10, 2, "7", "random_seed must be"),
    ],
)
def test_out_of_range_arguments_are_model_errors(draws, tune, chains, seed, match):
    with pytest.raises(ModelError, match=match):
        check_sampling_args(draws, tune, chains, "pymc", seed)


@pytest.mark.parametrize(
    ("draws", "tune", "chains", "match"),
    [
        (MAX_DRAWS + 1, 10, 2, "draws must be between 1 and 10,000,000"),
        (10, MAX_DRAWS + 1, 2, "tune must be between 0 and 10,000,000"),
        (10, 10, 100_000, "chains must be between 1 and 64, got 100,000"),
    ],
)
def test_limits_are_checked_before_anything_is_allocated(draws, tune, chains, match):
    with pytest.raises(ModelError, match=match):
        check_sampling_limits(draws, tune, chains)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"chains": 100_000}, "chains"),
        ({"draws": 99999999999999999}, "draws|memory"),
        ({"random_seed": 2**65}, "random_seed"),
    ],
)
def test_sample_refuses_huge_requests_at_once(sleep_model, kwargs, match):
    """No sampler starts (a hang or a Rust abort before): a ModelError comes first."""
    with pytest.raises(ModelError, match=match):
        sleep_model.sample(progressbar=False, **kwargs)


def test_adaptation_is_diagonal_above_the_low_rank_limit():
    assert adaptation_for(LOW_RANK_MAX_DIM) == NUTPIE_ADAPTATION == "low_rank"
    assert adaptation_for(LOW_RANK_MAX_DIM + 1) == "diag"


def test_start_point_leaves_out_the_collapsed_effects(sleep_model):
    start = start_point(sleep_model.plan)
    assert "Subject" not in start and "_Subject_z" not in start
    assert "Subject" in sleep_model.plan.start  # the plan keeps them (for build("sufficient"))
    assert {"sigma", "sd_Subject", "_fixed"} <= set(start)


# ---------------------------------------------------------- sampling tests


@pytest.fixture(scope="module")
def sleep_run():
    m = Model("Reaction ~ Days + (1|Subject)", datasets.load("sleepstudy"))
    return m, m.sample(random_seed=11, progressbar=False)


@pytest.fixture(scope="module")
def singular_run():
    m = Model("Yield ~ 1 + (1|Batch)", datasets.load("dyestuff2"))
    return m, m.sample(random_seed=12, progressbar=False)


def _check_targets(m: Model, idata) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplingWarning)
        table = diagnose(idata)
    assert table.attrs["divergences"] == 0
    assert table["r_hat"].max() <= 1.01
    assert table["ess_bulk"].min() >= 1000
    beta = idata["posterior"]["beta"]
    for term, estimate in m.reml.fixef.items():
        draws = beta.sel(fixed=term)
        assert abs(float(draws.mean()) - estimate) <= 0.5 * float(draws.std()), term


@pytest.mark.sampling
def test_sleepstudy_meets_the_targets(sleep_run):
    _check_targets(*sleep_run)


@pytest.mark.sampling
def test_singular_dyestuff2_meets_the_targets(singular_run):
    m, idata = singular_run
    assert m.parameterization == {"Batch": "collapsed"}
    _check_targets(m, idata)
    assert float(idata["posterior"]["sd_Batch"].quantile(0.05)) < 0.5


@pytest.mark.sampling
def test_crossed_penicillin_meets_the_targets():
    m = Model("diameter ~ 1 + (1|plate) + (1|sample)", datasets.load("penicillin"))
    idata = m.sample(random_seed=13, progressbar=False)
    assert m.parameterization == {"plate": "collapsed", "sample": "centered"}
    _check_targets(m, idata)


@pytest.mark.sampling
def test_nested_pastes_meets_the_targets():
    m = Model("strength ~ 1 + (1|batch/cask)", datasets.load("pastes"))
    idata = m.sample(random_seed=1, progressbar=False)
    assert m.parameterization == {"cask:batch": "collapsed", "batch": "collapsed"}
    _check_targets(m, idata)
    posterior = idata["posterior"]
    assert posterior["batch"].dims == ("chain", "draw", "batch_level")
    assert posterior["cask:batch"].dims == ("chain", "draw", "cask:batch_level")
    assert "strength" in idata["log_likelihood"]


@pytest.mark.sampling
def test_output_groups_names_and_attrs(sleep_run):
    m, idata = sleep_run
    assert {"posterior", "sample_stats", "observed_data", "log_likelihood"} <= set(idata.children)
    posterior = idata["posterior"]
    assert set(posterior.data_vars) == {"beta", "Subject", "sd_Subject", "sigma"}
    assert list(posterior["beta"]["fixed"].to_numpy()) == ["Intercept", "Days"]
    assert list(posterior["Subject"]["Subject_level"].to_numpy())[:2] == ["308", "309"]
    assert posterior.sizes["chain"] == 4 and posterior.sizes["draw"] == 1000
    record = json.loads(idata.attrs["reml"])
    assert record["fixef"]["Days"] == pytest.approx(m.reml.fixef["Days"])
    assert json.loads(idata.attrs["parameterization"]) == {"Subject": "collapsed"}
    np.testing.assert_array_equal(idata["observed_data"]["Reaction"], m.spec.y)


@pytest.mark.sampling
def test_result_saves_and_loads(sleep_run, tmp_path):
    """Everything in the tree is plain data (no objects): it round-trips through zarr."""
    _, idata = sleep_run
    path = tmp_path / "sleep.zarr"
    idata.to_zarr(path)
    loaded = xr.open_datatree(path, engine="zarr")
    assert json.loads(loaded.attrs["reml"])["sigma"] == pytest.approx(sleep_run[0].reml.sigma)
    np.testing.assert_allclose(loaded["posterior"]["beta"], idata["posterior"]["beta"])


@pytest.mark.sampling
def test_loo_works(sleep_run):
    _, idata = sleep_run
    loo = az.loo(idata)
    assert np.isfinite(loo.elpd) and -1000 < loo.elpd < -800


@pytest.mark.sampling
def test_posterior_agrees_with_reml_blups(sleep_run):
    m, idata = sleep_run
    means = idata["posterior"]["Subject"].mean(("chain", "draw")).to_numpy()
    blups = m.reml.ranef["Subject"]["Intercept"].to_numpy()
    assert np.corrcoef(means, blups)[0, 1] > 0.99


@pytest.mark.sampling
def test_predict_new_subject_is_wider(sleep_run):
    m, idata = sleep_run
    new = pd.DataFrame({"Days": [4.0, 4.0], "Subject": ["308", "new"]})
    pred = m.predict(new, idata, random_seed=1)["predictions"]["Reaction"]
    spread = pred.std(("chain", "draw")).to_numpy()
    assert spread[1] > spread[0] * 1.2


@pytest.mark.sampling
def test_second_sampling_reuses_the_compiled_model(sleep_run):
    m, _ = sleep_run
    compiled = m.compile_nutpie()
    again = m.sample(draws=100, tune=100, chains=2, random_seed=1, progressbar=False)
    assert m.compile_nutpie() is compiled
    assert again["posterior"].sizes["draw"] == 100


@pytest.mark.sampling
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


# --------------------------------------------------- sampling random slopes
@pytest.fixture(scope="module")
def slopes_run(slopes):
    return slopes, slopes.sample(random_seed=11, progressbar=False)


def _check_slope_targets(idata: xr.DataTree) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplingWarning)
        table = diagnose(idata)
    parameters = table
    assert table.attrs["divergences"] == 0
    assert parameters["r_hat"].max() <= 1.01
    assert parameters["ess_bulk"].min() >= 1000
    return table


@pytest.mark.sampling
def test_sleepstudy_slopes_meet_the_targets(slopes_run):
    _, idata = slopes_run
    table = _check_slope_targets(idata)
    assert "corr_Subject[Intercept, Days]" in table.index
    assert idata.attrs["likelihood"] == "full"
    assert json.loads(idata.attrs["parameterization"]) == {"Subject": "centered"}
    posterior = idata["posterior"]
    assert set(posterior.data_vars) == {"beta", "Subject", "sd_Subject", "corr_Subject", "sigma"}
    assert posterior["Subject"].dims == ("chain", "draw", "Subject_level", "Subject_term")
    assert posterior["corr_Subject"].dims == ("chain", "draw", "Subject_term", "Subject_term_bis")


@pytest.mark.sampling
def test_sleepstudy_slopes_posterior_is_near_reml(slopes_run):
    m, idata = slopes_run
    posterior, fit = idata["posterior"], m.reml
    sample = ("chain", "draw")
    for term, estimate in fit.fixef.items():
        draws = posterior["beta"].sel(fixed=term)
        assert abs(float(draws.mean()) - estimate) <= 0.3 * float(draws.std()), term
    sds = np.sqrt(np.diag(fit.covariances["Subject"]))
    for term, estimate in zip(["Intercept", "Days"], sds, strict=True):
        draws = posterior["sd_Subject"].sel(Subject_term=term)
        assert abs(float(draws.median(sample)) - estimate) <= 0.5 * float(draws.std()), term
    corr = posterior["corr_Subject"].sel(Subject_term="Intercept", Subject_term_bis="Days")
    assert abs(float(corr.mean()) - 0.065551) <= 0.3 * float(corr.std())
    # 18 subjects pin the correlation poorly: the posterior is wide, unlike REML's point value
    low, high = np.quantile(corr, [0.03, 0.97])
    assert low < -0.3 and high > 0.45
    effects = posterior["Subject"].mean(sample)
    for term in ("Intercept", "Days"):
        blups = fit.ranef["Subject"][term].to_numpy()
        assert np.corrcoef(effects.sel(Subject_term=term), blups)[0, 1] > 0.99


@pytest.mark.sampling
def test_sleepstudy_slopes_compare_and_predict(slopes_run):
    m, idata = slopes_run
    table = bayeshier.compare(m.reml, idata)
    assert table is not None
    new = pd.DataFrame({"Days": [9.0, 9.0], "Subject": ["308", "new"]})
    pred = m.predict(new, idata, random_seed=1)["predictions"]["mu"]
    spread = pred.std(("chain", "draw")).to_numpy()
    assert spread[1] > 2 * spread[0]


@pytest.mark.sampling
@pytest.mark.parametrize(("formula", "seed"), [(UNCORRELATED, 12), (SLOPE_ONLY, 13)])
def test_uncorrelated_and_slope_only_meet_the_targets(sleep, formula, seed):
    m = Model(formula, sleep)
    idata = m.sample(random_seed=seed, progressbar=False)
    _check_slope_targets(idata)
    assert "corr_Subject" not in idata["posterior"].data_vars
    draws = idata["posterior"]["beta"].sel(fixed="Days")
    assert abs(float(draws.mean()) - m.reml.fixef["Days"]) <= 0.3 * float(draws.std())


# ---------------------------------------------- sampling weights and offsets
#: lme4 reference case -> (Model options, likelihood): rform_sleep_weights with
#: the collapsed density and with every effect sampled, rform_sleep_offset.
WEIGHTED_RUNS = {
    "weights, collapsed": ("rform_sleep_weights", {"weights": "w"}, "collapsed"),
    "weights, full": ("rform_sleep_weights", {"weights": "w"}, "full"),
    "offset() term": ("rform_sleep_offset", {}, "collapsed"),
}


@pytest.mark.sampling
@pytest.mark.parametrize(
    ("case", "options", "likelihood"), WEIGHTED_RUNS.values(), ids=WEIGHTED_RUNS
)
def test_weighted_and_offset_posteriors_are_near_lme4(case, options, likelihood):
    """The fixed effects' posterior means lie within 0.3 posterior sd of lme4's estimates.

    With the default (weak) priors the posterior mean of ``beta`` is close to
    REML's; 0.3 sd leaves room for the Monte Carlo error (about 0.02 sd at
    4 x 1,000 draws) and the pull of the scales' uncertainty. The targets of
    the unweighted runs hold too (no divergences, R-hat, bulk ESS).
    """
    reference = json.loads((FIXTURES / f"{case}.json").read_text())
    data = pd.read_csv(FIXTURES / f"{case}.csv", dtype={"Subject": str})
    m = Model(reference["formula"], data, likelihood=likelihood, **options)
    idata = m.sample(random_seed=21, progressbar=False)
    assert idata.attrs["likelihood"] == likelihood
    _check_slope_targets(idata)
    for term, estimate in reference["fixef"].items():
        draws = idata["posterior"]["beta"].sel(fixed=term.strip("()"))
        assert abs(float(draws.mean()) - estimate) <= 0.3 * float(draws.std()), term
    sigma = idata["posterior"]["sigma"]
    assert abs(float(sigma.median()) - reference["sigma"]) <= 0.5 * float(sigma.std())
