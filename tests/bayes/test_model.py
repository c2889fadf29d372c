"""The PyMC graph of bayeshier.Model: names, dims, priors, internal scale -- no sampling."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import pytest
import scipy.stats as st
import xarray as xr

from bayeshier import datasets, fit_reml
from bayeshier.bayes import collapse as marginal
from bayeshier.bayes.collapse import marginal_loglik
from bayeshier.bayes.fixed_scale import fixed_start, internal_design
from bayeshier.bayes.model import Model
from bayeshier.errors import DataError, FormulaError, ModelError

SLEEP = "Reaction ~ Days + (1|Subject)"
MPG = "hwy ~ displ + year + (1|class)"


@pytest.fixture(scope="module")
def mpg_model() -> Model:
    return Model(MPG, datasets.load("mpg"))


@pytest.fixture(scope="module")
def sleep_model() -> Model:
    return Model(SLEEP, datasets.load("sleepstudy"))


def _random_point(model: pm.Model, rng: np.random.Generator) -> dict[str, np.ndarray]:
    point = model.initial_point()
    return {name: value + rng.normal(0, 0.5, size=np.shape(value)) for name, value in point.items()}


# ----------------------------------------------------------------- graph
def test_dims_carry_term_names_and_level_labels(mpg_model):
    model = mpg_model.build()
    spec = mpg_model.spec
    assert list(model.coords["fixed"]) == ["Intercept", "displ", "year"]
    assert list(model.coords["class_level"]) == list(spec.factor("class").levels)
    assert model.named_vars_to_dims["beta"] == ("fixed",)
    assert model.named_vars_to_dims["class"] == ("class_level",)
    assert model.named_vars_to_dims["hwy"] == ("obs",)
    assert len(model.coords["obs"]) == spec.nobs


def test_user_facing_variables(mpg_model):
    model = mpg_model.build()
    names = set(model.named_vars)
    assert {"beta", "class", "sd_class", "sigma", "hwy"} <= names
    public = {v.name for v in model.free_RVs + model.deterministics if not v.name.startswith("_")}
    assert public == {"beta", "class", "sd_class", "sigma"}
    assert [v.name for v in model.observed_RVs] == ["hwy"]


def test_crossed_and_nested_factors_get_one_dim_each():
    pen = Model("diameter ~ 1 + (1|plate) + (1|sample)", datasets.load("penicillin")).build()
    assert len(pen.coords["plate_level"]) == 24 and len(pen.coords["sample_level"]) == 6
    m = Model("strength ~ 1 + (1|batch/cask)", datasets.load("pastes"))
    pastes = m.build()
    assert "cask:batch" in pastes.named_vars and "sd_cask:batch" in pastes.named_vars
    assert list(pastes.coords["cask:batch_level"]) == list(m.spec.factor("cask:batch").levels)
    assert list(pastes.coords["cask:batch_level"])[:2] == ["a:A", "a:B"]


def test_sufficient_statistics_give_the_same_log_density(mpg_model):
    pointwise = mpg_model.build()
    sufficient = mpg_model.build("sufficient")
    assert [v.name for v in sufficient.value_vars] == [v.name for v in pointwise.value_vars]
    f, g = pointwise.compile_logp(), sufficient.compile_logp()
    rng = np.random.default_rng(0)
    for _ in range(3):
        point = _random_point(pointwise, rng)
        assert g(point) == pytest.approx(f(point), rel=1e-10)


@pytest.mark.parametrize(
    ("name", "formula"),
    [
        ("penicillin", "diameter ~ 1 + (1|plate) + (1|sample)"),
        ("pastes", "strength ~ 1 + (1|batch/cask)"),
        ("sleepstudy", "Reaction ~ 0 + Days + (1|Subject)"),
    ],
)
def test_sufficient_likelihood_matches_for_crossed_nested_and_no_intercept(name, formula):
    m = Model(formula, datasets.load(name), parameterization="noncentered")
    f, g = m.build().compile_logp(), m.build("sufficient").compile_logp()
    point = _random_point(m.build(), np.random.default_rng(1))
    assert g(point) == pytest.approx(f(point), rel=1e-10)


def test_start_maps_to_reml_on_the_users_scale(mpg_model):
    """At the starting point, beta (user scale) is the REML estimate despite centering."""
    model = mpg_model.build()
    start = model.initial_point()
    beta = _evaluate(model, "beta", start)
    np.testing.assert_allclose(beta, mpg_model.reml.fixef.to_numpy(), rtol=1e-9)
    effects = _evaluate(model, "class", start)
    np.testing.assert_allclose(effects, mpg_model.reml.ranef["class"]["Intercept"], atol=1e-9)
    moved = {**start, "_fixed_affine__": np.array([1.0, -0.5, 2.0])}
    nu = mpg_model.plan.fixed_loc + mpg_model.plan.fixed_chol @ moved["_fixed_affine__"]
    np.testing.assert_allclose(
        _evaluate(model, "beta", moved), mpg_model.design.to_user @ nu, rtol=1e-9
    )


def _evaluate(model: pm.Model, name: str, point: dict) -> np.ndarray:
    """Value of a model variable at a point of the sampler's (transformed) space."""
    [expr] = model.replace_rvs_by_values([model[name]])
    return pm.compile(model.value_vars, expr, on_unused_input="ignore")(**point)


def test_internal_design_reproduces_the_linear_predictor(mpg_model):
    spec = mpg_model.spec
    design = internal_design(spec)
    nu = np.array([23.0, -3.0, 0.1])
    np.testing.assert_allclose(design.Xc @ nu, spec.X @ (design.to_user @ nu), rtol=1e-10)
    assert np.linalg.cond(design.Xc) < 1e-3 * np.linalg.cond(spec.X)


def test_fixed_start_maps_back_to_the_reml_estimates(sleep_model):
    fit, design = sleep_model.reml, sleep_model.design
    nu, chol = fixed_start(fit, design)
    np.testing.assert_allclose(design.to_user @ nu, fit.fixef.to_numpy(), rtol=1e-12)
    cov = design.to_user @ chol @ chol.T @ design.to_user.T
    np.testing.assert_allclose(cov, fit.vcov.to_numpy(), rtol=1e-10)


def test_prior_scale_is_on_users_beta(mpg_model):
    """The prior on displ is the one in the table, although the sampler works on z."""
    model = mpg_model.build()
    prior = pm.sample_prior_predictive(draws=4000, model=model, random_seed=3)["prior"]
    table = mpg_model.priors.set_index("term")
    sd = float(table.loc["displ", "parameters"].split("sigma=")[1])
    assert float(prior["beta"].sel(fixed="displ").std()) == pytest.approx(sd, rel=0.05)


# ------------------------------------------------------- parameterization
def test_auto_parameterization_follows_reml():
    sleep = Model(SLEEP, datasets.load("sleepstudy"))
    assert sleep.parameterization == {"Subject": "marginalized"}
    assert sleep.plan.parameterization == {"Subject": "centered"}  # in build()
    singular = Model("Yield ~ 1 + (1|Batch)", datasets.load("dyestuff2"))
    assert singular.plan.parameterization == {"Batch": "noncentered"}
    assert singular.plan.explained["Batch"] == 0.0
    pastes = Model("strength ~ 1 + (1|batch/cask)", datasets.load("pastes"))
    assert pastes.parameterization == {"cask:batch": "marginalized", "batch": "marginalized"}
    assert pastes.plan.integrated == ("cask:batch", "batch")
    forced = Model(
        "strength ~ 1 + (1|batch/cask)",
        datasets.load("pastes"),
        parameterization={"batch": "noncentered"},
    )
    assert forced.parameterization == {"cask:batch": "marginalized", "batch": "noncentered"}


def test_marginal_model_has_no_variable_for_the_integrated_factor():
    m = Model("diameter ~ 1 + (1|plate) + (1|sample)", datasets.load("penicillin"))
    names = {v.name for v in m.build("marginal").free_RVs}
    assert names == {"_fixed", "sigma", "sd_plate", "sd_sample", "_sample_mean"}
    nested = Model("strength ~ 1 + (1|batch/cask)", datasets.load("pastes"))
    names = {v.name for v in nested.build("marginal").free_RVs}
    assert names == {"_fixed", "sigma", "sd_cask:batch", "sd_batch"}


@pytest.mark.parametrize(
    ("name", "formula"),
    [
        ("mpg", MPG),
        ("pastes", "strength ~ 1 + (1|batch/cask)"),
        ("penicillin", "diameter ~ 1 + (1|plate) + (1|sample)"),
    ],
)
def test_marginal_likelihood_is_the_multivariate_normal(name, formula):
    """Integrating the first factor out gives N(y | mu, sigma^2 I + tau^2 Z Z')."""
    m = Model(formula, datasets.load(name))
    spec = m.spec
    rng = np.random.default_rng(0)
    nu = m.plan.fixed_loc + rng.normal(0, 0.1, spec.n_fixed)
    sigma, tau = 1.3, 0.9
    others = [rng.normal(0, 1, f.n_levels) for f in spec.factors[1:]]
    inputs = [pt.as_tensor(tau)] + [pt.as_tensor(o) for o in others]
    got = marginal_loglik(m.design, m.cells, pt.as_tensor(nu), inputs, pt.as_tensor(sigma)).eval()
    mu = spec.X @ (m.design.to_user @ nu)
    for factor, effect in zip(spec.factors[1:], others, strict=True):
        mu = mu + effect[factor.codes]
    Z = _indicators(spec.factors[0].codes, spec.factors[0].n_levels)
    cov = sigma**2 * np.eye(spec.nobs) + tau**2 * Z @ Z.T
    assert float(got) == pytest.approx(st.multivariate_normal(mu, cov).logpdf(spec.y), rel=1e-10)


def _indicators(codes: np.ndarray, n_levels: int) -> np.ndarray:
    Z = np.zeros((len(codes), n_levels))
    Z[np.arange(len(codes)), codes] = 1.0
    return Z


def _nested_data(rng: np.random.Generator) -> pd.DataFrame:
    """Unbalanced 3-level nesting crossed with a 4-level factor, and a slope."""
    rows = []
    for a in range(4):
        for b in range(rng.integers(1, 4)):
            for _ in range(rng.integers(1, 6)):
                rows.append((f"a{a}", f"b{b}", f"o{rng.integers(4)}", rng.normal()))
    data = pd.DataFrame(rows, columns=["a", "b", "o", "x"])
    data["y"] = rng.normal(size=len(data)) + data["x"]
    return data


@pytest.mark.parametrize(
    ("formula", "make_data"),
    [
        ("strength ~ 1 + (1|batch/cask)", lambda rng: datasets.load("pastes")),
        ("y ~ x + (1|a/b)", _nested_data),
        ("y ~ x + (1|a/b) + (1|o)", _nested_data),
    ],
)
def test_nested_marginal_likelihood_is_the_multivariate_normal(formula, make_data):
    """Integrating a nested pair out gives N(y | mu, sigma^2 I + tau^2 Zc Zc' + omega^2 Zp Zp')."""
    rng = np.random.default_rng(3)
    m = Model(formula, make_data(rng))
    spec = m.spec
    assert m.plan.marginal_parent is not None
    parent = [f.name for f in spec.factors].index(m.plan.marginal_parent)
    nu = m.plan.fixed_loc + rng.normal(0, 0.1, spec.n_fixed)
    sigma, tau, omega = 1.3, 0.9, 1.7
    inputs, mu = [], spec.X @ (m.design.to_user @ nu)
    cov = sigma**2 * np.eye(spec.nobs)
    for k, factor in enumerate(spec.factors):
        Z = _indicators(factor.codes, factor.n_levels)
        if k in (0, parent):
            sd = tau if k == 0 else omega
            inputs.append(pt.as_tensor(sd))
            cov = cov + sd**2 * Z @ Z.T
        else:
            effect = rng.normal(0, 1, factor.n_levels)
            inputs.append(pt.as_tensor(effect))
            mu = mu + Z @ effect
    got = marginal_loglik(
        m.design, m.cells, pt.as_tensor(nu), inputs, pt.as_tensor(sigma), parent=parent
    ).eval()
    assert float(got) == pytest.approx(st.multivariate_normal(mu, cov).logpdf(spec.y), rel=1e-10)


@pytest.mark.parametrize("block", [None, 1000], ids=["one block", "blocks of draws"])
def test_nested_integrated_effects_are_drawn_from_their_conditional(block, monkeypatch):
    """At the REML point, both factors' effects are drawn from N(BLUP, condVar)."""
    if block is not None:
        monkeypatch.setattr(marginal, "_BLOCK_ELEMENTS", block)
    m = Model("strength ~ 1 + (1|batch/cask)", datasets.load("pastes"))
    fit = m.reml
    posterior = _fake_posterior(m, draws=4000)["posterior"].to_dataset()
    posterior["sigma"][:] = fit.sigma
    for factor, theta in zip(m.spec.factors, fit.theta, strict=True):
        posterior[f"sd_{factor.name}"][:] = theta * fit.sigma
    drawn = m._add_marginalized_effects(
        posterior.drop_vars(["batch", "cask:batch"]), np.random.default_rng(0)
    )
    for factor in m.spec.factors:
        effects = drawn[factor.name]
        assert list(effects[f"{factor.name}_level"].values) == list(factor.levels)
        blup = fit.ranef[factor.name]["Intercept"].to_numpy()
        condvar = fit.condvar[factor.name]["Intercept"].to_numpy()
        tolerance = 4 * np.sqrt(condvar.max() / 8000)
        np.testing.assert_allclose(effects.mean(("chain", "draw")), blup, atol=tolerance)
        np.testing.assert_allclose(effects.var(("chain", "draw")), condvar, rtol=0.08)


@pytest.mark.parametrize("block", [None, 1000], ids=["one block", "blocks of draws"])
def test_integrated_effects_are_drawn_from_their_conditional(sleep_model, block, monkeypatch):
    """At the REML point, the conditional of the effects is N(BLUP, condVar)."""
    if block is not None:
        monkeypatch.setattr(marginal, "_BLOCK_ELEMENTS", block)
    fit = sleep_model.reml
    posterior = _fake_posterior(sleep_model, draws=4000)["posterior"].to_dataset()
    posterior["sigma"][:] = fit.sigma
    posterior["sd_Subject"][:] = fit.theta[0] * fit.sigma
    drawn = sleep_model._add_marginalized_effects(
        posterior.drop_vars("Subject"), np.random.default_rng(0)
    )["Subject"]
    blup = fit.ranef["Subject"]["Intercept"].to_numpy()
    condvar = fit.condvar["Subject"]["Intercept"].to_numpy()
    tolerance = 4 * np.sqrt(condvar.max() / 8000)
    np.testing.assert_allclose(drawn.mean(("chain", "draw")), blup, atol=tolerance)
    np.testing.assert_allclose(drawn.var(("chain", "draw")), condvar, rtol=0.08)


@pytest.mark.parametrize("choice", ["noncentered", "non-centered", "noncentered"])
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


# ---------------------------------------------------- predictions (fake draws)
def _fake_posterior(m: Model, chains: int = 2, draws: int = 500) -> xr.DataTree:
    """A posterior with known values: beta = REML, effects = BLUPs, sd_f = 10, sigma = 2."""
    shape = (chains, draws)
    sample = ("chain", "draw")
    coords = {
        "chain": np.arange(chains),
        "draw": np.arange(draws),
        "fixed": list(m.spec.fixed_names),
    }
    fixef = m.reml.fixef.to_numpy()
    data = {
        "beta": ((*sample, "fixed"), np.broadcast_to(fixef, (*shape, len(fixef)))),
        "sigma": (sample, np.full(shape, 2.0)),
    }
    for factor in m.spec.factors:
        blup = m.reml.ranef[factor.name]["Intercept"].to_numpy()
        dim = f"{factor.name}_level"
        data[factor.name] = ((*sample, dim), np.broadcast_to(blup, (*shape, len(blup))))
        data[f"sd_{factor.name}"] = (sample, np.full(shape, 10.0))
        coords[dim] = list(factor.levels)
    posterior = xr.Dataset(data, coords=coords)
    return xr.DataTree.from_dict({"posterior": posterior})


def test_predict_known_and_unseen_levels(sleep_model):
    idata = _fake_posterior(sleep_model)
    new = pd.DataFrame({"Days": [0.0, 5.0, 5.0, 2.0], "Subject": ["308", "308", "999", "999"]})
    pred = sleep_model.predict(new, idata, random_seed=1)["predictions"]
    fixef = sleep_model.reml.fixef
    blup = sleep_model.reml.ranef["Subject"]["Intercept"]["308"]
    mu = pred["mu"]
    assert float(mu.isel(obs=1).std()) == pytest.approx(0.0, abs=1e-9)
    assert float(mu.isel(obs=1).mean()) == pytest.approx(
        fixef["Intercept"] + 5 * fixef["Days"] + blup
    )
    # unseen subject: a fresh N(0, 10) effect per draw, shared by its rows
    assert float(mu.isel(obs=2).std()) == pytest.approx(10.0, rel=0.1)
    shared = (mu.isel(obs=2) - mu.isel(obs=3)).to_numpy()
    np.testing.assert_allclose(shared, 3 * fixef["Days"])
    noise = (pred["Reaction"] - mu).isel(obs=0).to_numpy()
    assert noise.std() == pytest.approx(2.0, rel=0.1)
    assert list(pred["obs"].to_numpy()) == [0, 1, 2, 3]


def test_predict_population_level(sleep_model):
    idata = _fake_posterior(sleep_model)
    new = pd.DataFrame({"Days": [3.0]})
    mu = sleep_model.predict(new, idata, include_random=False)["predictions"]["mu"]
    fixef = sleep_model.reml.fixef
    np.testing.assert_allclose(mu.to_numpy(), fixef["Intercept"] + 3 * fixef["Days"])


def test_predict_needs_a_posterior(sleep_model):
    with pytest.raises(ModelError, match="posterior"):
        sleep_model.predict(pd.DataFrame({"Days": [1.0]}), xr.DataTree())


def test_pointwise_loglik_is_the_normal_density(sleep_model):
    posterior = _fake_posterior(sleep_model, draws=3)["posterior"].to_dataset()
    loglik = sleep_model.pointwise_loglik(posterior)["Reaction"]
    fitted = sleep_model.reml.fitted
    expected = st.norm.logpdf(sleep_model.spec.y, fitted, 2.0)
    np.testing.assert_allclose(loglik.isel(chain=1, draw=2).to_numpy(), expected, rtol=1e-9)
    assert loglik.dims == ("chain", "draw", "obs")
