"""The public Model: construction, its views, build() dispatch, argument checks -- no sampling."""

from __future__ import annotations

import importlib.util
import json
import pickle

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import scipy.stats as st
import xarray as xr
from reference_cases import FIXTURES

from bayeshier import compare, datasets, fit_reml
from bayeshier._choices import DENSITIES
from bayeshier.bayes.assemble import assemble
from bayeshier.bayes.budget import LogLikelihoodChoice
from bayeshier.bayes.model import Model
from bayeshier.errors import DataError, FormulaError, ModelError

SLEEP = "Reaction ~ Days + (1|Subject)"
MPG = "hwy ~ displ + year + (1|class)"
SLOPES = "Reaction ~ Days + (Days|Subject)"
PASTES = "strength ~ 1 + (1|batch/cask)"


# ------------------------------------------------------- parameterization
def test_auto_parameterization_follows_reml():
    sleep = Model(SLEEP, datasets.load("sleepstudy"))
    assert sleep.parameterization == {"Subject": "collapsed"}
    assert sleep.plan.parameterization == {"Subject": "centered"}  # in build()
    singular = Model("Yield ~ 1 + (1|Batch)", datasets.load("dyestuff2"))
    assert singular.plan.parameterization == {"Batch": "noncentered"}
    assert singular.plan.explained["Batch"] == 0.0
    pastes = Model(PASTES, datasets.load("pastes"))
    assert pastes.parameterization == {"cask:batch": "collapsed", "batch": "collapsed"}
    assert pastes.plan.collapsed == ("cask:batch", "batch")
    forced = Model(PASTES, datasets.load("pastes"), parameterization={"batch": "noncentered"})
    assert forced.parameterization == {"cask:batch": "collapsed", "batch": "noncentered"}


@pytest.mark.parametrize("choice", ["noncentered", "non-centered", "non_centered"])
def test_forced_noncentered(choice):
    m = Model(SLEEP, datasets.load("sleepstudy"), parameterization=choice)
    model = m.build()
    assert m.parameterization == {"Subject": "noncentered"}
    assert "_Subject_z" in {v.name for v in model.free_RVs}
    assert "Subject" in {v.name for v in model.deterministics}


def test_forced_centered_per_factor():
    m = Model(
        "Yield ~ 1 + (1|Batch)", datasets.load("dyestuff2"), parameterization={"Batch": "centered"}
    )
    assert m.parameterization == {"Batch": "centered"}
    assert m.plan.absorbs == "Batch"


@pytest.mark.parametrize(
    ("choice", "fragment"),
    [
        ("sideways", "Unknown parameterization"),
        ({"Subjekt": "centered"}, "Did you mean"),
        (3, "must be"),
    ],
)
def test_bad_parameterization(choice, fragment):
    with pytest.raises(ModelError, match=fragment):
        Model(SLEEP, datasets.load("sleepstudy"), parameterization=choice)


# ------------------------------------------------------------------ build
def test_build_dispatches_on_density(mpg_model):
    pointwise = mpg_model.build()
    assert [v.name for v in pointwise.observed_RVs] == ["hwy"]
    assert not pointwise.potentials
    sufficient = mpg_model.build(density="sufficient")
    assert not sufficient.observed_RVs
    assert [p.name for p in sufficient.potentials] == ["_loglik"]
    assert "class" in sufficient.named_vars
    collapsed = mpg_model.build("collapsed")
    assert "class" not in collapsed.named_vars and "sd_class" in collapsed.named_vars
    assert mpg_model._sampling_model().named_vars.keys() == collapsed.named_vars.keys()


@pytest.mark.parametrize("bad", ["marginal", "full", "Pointwise", None])
def test_build_rejects_an_unknown_density(mpg_model, bad):
    with pytest.raises(ModelError, match="density must be one of") as info:
        mpg_model.build(bad)
    assert all(repr(choice) in str(info.value) for choice in DENSITIES)


def test_build_takes_no_likelihood_argument(mpg_model):
    """``Model(likelihood=)`` and ``build(density=)`` are different choices, not one name."""
    with pytest.raises(TypeError, match="likelihood"):
        mpg_model.build(likelihood="pointwise")


def test_full_likelihood_samples_the_sufficient_density(sleep):
    m = Model(SLEEP, sleep, likelihood="full")
    names = {v.name for v in m._sampling_model().free_RVs}
    assert "_Subject_mean" in names
    assert [p.name for p in m._sampling_model().potentials] == ["_loglik"]


# ---------------------------------------------------------------- priors
def test_priors_table_lists_what_the_model_uses():
    m = Model(
        MPG, datasets.load("mpg"), priors={"displ": "normal(0, 5)", "sd_class": "halfnormal(4)"}
    )
    table = m.priors.set_index("term")
    assert table.loc["displ", "parameters"] == "mu=0, sigma=5"
    assert table.loc["sd_class", "distribution"] == "HalfNormal"
    prior = pm.sample_prior_predictive(draws=4000, model=m.build(), random_seed=1)["prior"]
    assert float(prior["beta"].sel(fixed="displ").std()) == pytest.approx(5, rel=0.05)
    assert float(prior["sd_class"].mean()) == pytest.approx(4 * np.sqrt(2 / np.pi), rel=0.05)


def test_pymc_prior_object():
    m = Model(SLEEP, datasets.load("sleepstudy"), priors={"Days": pm.Normal.dist(5, 1)})
    prior = pm.sample_prior_predictive(draws=3000, model=m.build(), random_seed=1)["prior"]
    assert float(prior["beta"].sel(fixed="Days").mean()) == pytest.approx(5, abs=0.1)


def test_unknown_prior_term_is_named():
    with pytest.raises(ModelError, match=r"'dispel'.*Did you mean 'displ'"):
        Model(MPG, datasets.load("mpg"), priors={"dispel": "normal(0, 1)"})


def test_impossible_prior_is_named():
    with pytest.raises(ModelError, match=r"'sd_class'.*positive"):
        Model(MPG, datasets.load("mpg"), priors={"sd_class": "halfnormal(-1)"})


def test_prior_predictive(sleep_model):
    tree = sleep_model.sample_prior_predictive(draws=200, random_seed=4)
    assert {"prior", "prior_predictive", "observed_data"} <= set(tree.children)
    assert set(tree["prior"].data_vars) == {"beta", "Subject", "sd_Subject", "sigma"}
    assert tree["prior_predictive"]["Reaction"].shape == (1, 200, 180)


def test_prior_draws_follow_the_lkj_and_sd_priors(sleep):
    """For 2 x 2, LKJ(eta) puts Beta(eta, eta) on (1 + r) / 2: sd 1/sqrt(2 eta + 1)."""
    priors = {"corr_Subject": "lkj(2)", "sd_Subject[Days]": "halfnormal(2)"}
    tree = Model(SLOPES, sleep, priors=priors).sample_prior_predictive(draws=3000, random_seed=2)
    prior = tree["prior"]
    assert set(prior.data_vars) == {"beta", "Subject", "sd_Subject", "corr_Subject", "sigma"}
    assert not [c for c in prior.coords if str(c).startswith("_")]
    assert prior["Subject"].dims == ("chain", "draw", "Subject_level", "Subject_term")
    assert tree["prior_predictive"]["Reaction"].shape == (1, 3000, 180)
    corr = prior["corr_Subject"].sel(Subject_term="Days", Subject_term_bis="Intercept")
    assert float(corr.std()) == pytest.approx(1 / np.sqrt(5), rel=0.06)
    assert float(corr.mean()) == pytest.approx(0.0, abs=0.05)
    diagonal = prior["corr_Subject"].sel(Subject_term="Days", Subject_term_bis="Days")
    np.testing.assert_allclose(diagonal, 1.0)
    slope_sd = prior["sd_Subject"].sel(Subject_term="Days")
    assert float(slope_sd.mean()) == pytest.approx(2 * np.sqrt(2 / np.pi), rel=0.06)
    intercept_sd = prior["sd_Subject"].sel(Subject_term="Intercept")  # the default
    assert float(intercept_sd.mean()) == pytest.approx(sleep["Reaction"].std(), rel=0.06)


# ------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("formula", "error"),
    [
        ("Reaction ~ Days", FormulaError),
        ("Reaction ~ Days + (Days + Days|Subject) + (Days|Subject)", FormulaError),
        ("Reaction ~ Dayz + (1|Subject)", DataError),
        ("Reaction ~ Days + (1|Subjekt)", DataError),
    ],
)
def test_bad_input_is_rejected_like_fit_reml(formula, error):
    data = datasets.load("sleepstudy")
    with pytest.raises(error) as ours:
        Model(formula, data)
    with pytest.raises(error) as theirs:
        fit_reml(formula, data)
    assert str(ours.value) == str(theirs.value)


def test_data_must_be_a_dataframe():
    with pytest.raises(DataError):
        Model(SLEEP, {"Reaction": [1.0]})


def test_missing_values_are_dropped():
    data = datasets.load("sleepstudy")
    data.loc[[0, 5, 9], "Reaction"] = np.nan
    m = Model(SLEEP, data)
    assert m.spec.n_dropped == 3
    assert len(m.build().coords["obs"]) == 177


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"sampler": "stan"}, "Unknown sampler"),
        ({"draws": 0}, "draws"),
        ({"chains": 1.5}, "chains"),
        ({"tune": -1}, "tune"),
        ({"target_accept": 1.2}, "target_accept"),
    ],
)
def test_bad_sampling_arguments(sleep_model, kwargs, fragment):
    with pytest.raises(ModelError, match=fragment):
        sleep_model.sample(**kwargs)


def test_missing_nutpie_names_the_package(sleep_model, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "nutpie" else real(name, *a)
    )
    with pytest.raises(ModelError, match="pip install nutpie"):
        sleep_model.sample()


def test_repr_names_the_formula_rows_and_factors(sleep_model):
    assert repr(sleep_model) == (
        "<bayeshier.Model 'Reaction ~ Days + (1|Subject)': 180 rows; Subject (18 levels)>"
    )


# ------------------------------------------------------ weights and offsets
def _weights_data():
    return pd.read_csv(FIXTURES / "rform_sleep_weights.csv", dtype={"Subject": str})


def test_weights_and_offsets_are_the_model_s(weighted_sleep):
    """Given as names, values or offset() terms, the spec holds them as fit_reml's does."""
    w, off = weighted_sleep["w"].to_numpy(), weighted_sleep["off"].to_numpy()
    by_name = Model(SLEEP, weighted_sleep, weights="w", offset="off")
    by_value = Model(SLEEP, weighted_sleep, weights=w, offset=off)
    in_formula = Model("Reaction ~ Days + offset(off) + (1|Subject)", weighted_sleep, weights="w")
    for m in (by_name, by_value, in_formula):
        np.testing.assert_array_equal(m.spec.weights, w)
        np.testing.assert_array_equal(m.spec.offset, off)
        assert m.reml.fixef.to_numpy() == pytest.approx(
            fit_reml(SLEEP, weighted_sleep, weights="w", offset="off").fixef.to_numpy(), rel=1e-8
        )


def test_default_priors_are_scaled_by_the_response_less_the_offset(weighted_sleep):
    m = Model(SLEEP, weighted_sleep, offset="off")
    rows = m.priors.set_index("term")
    less = weighted_sleep["Reaction"] - weighted_sleep["off"]
    assert f"{less.mean():.4g}" in str(rows.loc["Intercept", "parameters"])


def test_a_binomial_response_is_still_refused_with_the_way_out():
    data = pd.DataFrame({"s": [1, 2, 0, 3], "f": [3, 2, 4, 1], "g": list("aabb"), "x": range(4)})
    with pytest.raises(ModelError, match="family='binomial'"):
        Model("cbind(s, f) ~ x + (1|g)", data)


def _fake_tree(m: Model, fake_posterior) -> xr.DataTree:
    """The DataTree ``Model.sample`` assembles, from known draws instead of a sampler run."""
    posterior = fake_posterior(m)["posterior"].to_dataset()
    stats = xr.Dataset(
        {"diverging": (("chain", "draw"), np.zeros(posterior["sigma"].shape, dtype=bool))},
        coords={"chain": posterior["chain"], "draw": posterior["draw"]},
    )
    raw = xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})
    choice = LogLikelihoodChoice("pointwise")
    return assemble(m, raw, "nutpie", choice, (500, 2), np.random.default_rng(0))


def test_the_datatree_carries_weights_and_offset(fake_posterior):
    data = _weights_data()
    offset = np.linspace(-5.0, 5.0, len(data))
    by_name = _fake_tree(Model(SLEEP, data, weights="w", offset="Days / 2"), fake_posterior)
    assert set(by_name["constant_data"].data_vars) == {"Reaction", "Days", "Subject", "w"}
    assert by_name.attrs["weights"] == "w" and by_name.attrs["offset"] == "Days/2"
    np.testing.assert_array_equal(by_name["observed_data"]["Reaction"], data["Reaction"])
    by_value = _fake_tree(Model(SLEEP, data, weights=data["w"].to_numpy(), offset=offset),
                          fake_posterior)  # fmt: skip
    constant = by_value["constant_data"]
    np.testing.assert_array_equal(constant["(weights)"], data["w"])
    np.testing.assert_array_equal(constant["(offset)"], offset)


def test_pointwise_log_likelihood_of_a_weighted_tree(fake_posterior):
    """Row i's stored log-likelihood is log N(y_i | mu_i + off_i, sigma / sqrt(w_i))."""
    data = _weights_data()
    m = Model(SLEEP, data, weights="w", offset="Days / 2")
    tree = _fake_tree(m, fake_posterior)
    draw = tree["posterior"].isel(chain=0, draw=0)
    beta, effects = draw["beta"].to_numpy(), draw["Subject"].to_numpy()
    mu = beta[0] + beta[1] * data["Days"] + data["Days"] / 2
    mu = mu + effects[m.spec.factors[0].codes]
    expected = st.norm.logpdf(data["Reaction"], mu, float(draw["sigma"]) / np.sqrt(data["w"]))
    got = tree["log_likelihood"]["Reaction"].isel(chain=0, draw=0)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_compare_a_weighted_model(fake_posterior):
    m = Model(SLEEP, _weights_data(), weights="w")
    tree = _fake_tree(m, fake_posterior)
    table = compare(m.reml, tree).fixed.set_index("term")
    reference = json.loads((FIXTURES / "rform_sleep_weights.json").read_text())["fixef"]
    assert table.loc["Days", "reml"] == pytest.approx(reference["Days"], rel=1e-6)
    assert table.loc["Days", "post_mean"] == pytest.approx(reference["Days"], rel=1e-6)
    rebuilt = compare(idata=tree).fixed.set_index("term")
    assert rebuilt.loc["Days", "reml"] == pytest.approx(reference["Days"], rel=1e-6)


# ----------------------------------------------------------------- pickling
def test_model_pickles_and_predicts_the_same(mpg_model, fake_posterior):
    mpg_model.reml  # noqa: B018  (cached views travel with the model)
    again = pickle.loads(pickle.dumps(mpg_model))
    assert repr(again) == repr(mpg_model)
    assert again.priors.equals(mpg_model.priors)
    idata = fake_posterior(mpg_model, chains=1, draws=20)
    new = datasets.load("mpg").head(5)
    first = mpg_model.predict(new, idata, random_seed=1)["predictions"]
    second = again.predict(new, idata, random_seed=1)["predictions"]
    np.testing.assert_array_equal(first["hwy"], second["hwy"])


def test_user_priors_survive_pickling(sleep):
    m = Model(SLEEP, sleep, priors={"sigma": "exponential(0.1)"})
    again = pickle.loads(pickle.dumps(m))
    assert again.priors.set_index("term").loc["sigma", "why"] == "set by the user"
    assert again.build("sufficient") is not None


def test_a_pymc_prior_object_survives_pickling(sleep):
    m = Model(SLEEP, sleep, priors={"sigma": pm.HalfNormal.dist(sigma=50)})
    again = pickle.loads(pickle.dumps(m))
    assert "PyMC distribution" in again.priors.set_index("term").loc["sigma", "why"]
    assert again.build("sufficient") is not None


def test_a_prior_that_does_not_pickle_says_what_to_save_instead(sleep):
    m = Model(SLEEP, sleep)
    m._prior_input = {"sigma": lambda: None}  # stands for any unpicklable prior object
    with pytest.raises(TypeError, match="Give the priors as strings"):
        pickle.dumps(m)


@pytest.mark.sampling
def test_unpickled_model_samples(sleep_model):
    sleep_model.compile_nutpie()
    again = pickle.loads(pickle.dumps(sleep_model))
    idata = again.sample(draws=50, tune=50, chains=1, random_seed=2, progressbar=False)
    assert idata["posterior"].sizes["draw"] == 50


def test_the_signature_is_that_of_the_gaussian_model_with_family() -> None:
    """help(bayeshier.Model) shows the real parameters, not __new__'s (*args, **options)."""
    import inspect

    parameters = inspect.signature(Model).parameters
    assert list(parameters)[:3] == ["formula", "data", "family"]
    assert {"priors", "parameterization", "likelihood", "weights", "offset"} <= set(parameters)
