"""bayeshier.Model with random slopes: names, priors, likelihoods, start, predictions, targets.

The unit tests need no sampler. The sampling tests (marked ``sampling``)
compile three models (sleepstudy ``(Days|Subject)``, ``(Days||Subject)`` and
``(0 + Days|Subject)``) and check the targets of issue 6: no divergences,
R-hat <= 1.01, a smallest bulk ESS of 1,000 of 4 x 1,000 draws, a posterior
near REML and a wide posterior of the correlation.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import pytest
import scipy.stats as st
import xarray as xr

import bayeshier
from bayeshier import datasets
from bayeshier.bayes.collapse import marginal_loglik
from bayeshier.bayes.diagnostics import SamplingWarning, diagnose, free_correlations
from bayeshier.bayes.model import Model
from bayeshier.bayes.plan import absorbing_map
from bayeshier.bayes.posterior import reml_record
from bayeshier.errors import ModelError

SLOPES = "Reaction ~ Days + (Days|Subject)"
UNCORRELATED = "Reaction ~ Days + (Days||Subject)"
SLOPE_ONLY = "Reaction ~ Days + (0 + Days|Subject)"
CROSSED = "y ~ x + (1|h) + (x|g)"
CATEGORICAL = "y ~ x + c + (0 + c|g)"


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return datasets.load("sleepstudy")


@pytest.fixture(scope="module")
def slopes(sleep) -> Model:
    return Model(SLOPES, sleep)


def _crossed_data(seed: int = 0) -> pd.DataFrame:
    """``h`` (30 levels, the largest) crossed with ``g`` (8 levels, random slopes)."""
    rng = np.random.default_rng(seed)
    n = 240
    g, h = rng.integers(0, 8, n), rng.integers(0, 30, n)
    x = rng.normal(size=n)
    c = rng.choice(["a", "b", "c"], n)
    b = rng.normal(0, [1.0, 0.5], (8, 2))
    y = 1.0 + 0.5 * x + b[g, 0] + b[g, 1] * x + rng.normal(0, 0.7, 30)[h] + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "c": c, "g": [f"g{k}" for k in g], "h": h.astype(str)})


def _random_point(model: pm.Model, rng: np.random.Generator) -> dict[str, np.ndarray]:
    point = model.initial_point()
    return {name: value + rng.normal(0, 0.5, size=np.shape(value)) for name, value in point.items()}


def _evaluate(model: pm.Model, name: str, point: dict) -> np.ndarray:
    """Value of a model variable at a point of the sampler's (transformed) space."""
    [expr] = model.replace_rvs_by_values([model[name]])
    return pm.compile(model.value_vars, expr, on_unused_input="ignore")(**point)


# ------------------------------------------------------------ names and dims
def test_posterior_names_and_dims(slopes):
    model = slopes.build()
    dims = model.named_vars_to_dims
    assert dims["Subject"] == ("Subject_level", "Subject_term")
    assert dims["sd_Subject"] == ("Subject_term",)
    assert dims["corr_Subject"] == ("Subject_term", "Subject_term_bis")
    assert list(model.coords["Subject_term"]) == ["Intercept", "Days"]
    assert list(model.coords["Subject_term_bis"]) == ["Intercept", "Days"]
    assert list(model.coords["Subject_level"])[:2] == ["308", "309"]
    public = {v.name for v in model.free_RVs + model.deterministics if not v.name.startswith("_")}
    assert public == {"beta", "Subject", "sd_Subject", "corr_Subject", "sigma"}


@pytest.mark.parametrize(
    ("formula", "terms"), [(UNCORRELATED, ["Intercept", "Days"]), (SLOPE_ONLY, ["Days"])]
)
def test_uncorrelated_terms_have_no_correlation(sleep, formula, terms):
    model = Model(formula, sleep).build()
    assert "corr_Subject" not in model.named_vars
    assert "Subject_term_bis" not in model.coords
    assert list(model.coords["Subject_term"]) == terms
    assert model.named_vars_to_dims["Subject"] == ("Subject_level", "Subject_term")


def test_an_intercept_factor_keeps_its_names_next_to_slopes():
    m = Model(CROSSED, _crossed_data())
    dims = m.build().named_vars_to_dims
    assert dims["h"] == ("h_level",)
    assert "sd_h" in m.build().named_vars and dims.get("sd_h") is None
    assert dims["g"] == ("g_level", "g_term")
    assert m.parameterization["h"] == "marginalized"
    assert m.likelihood == "collapsed"


def test_factor_named_like_a_correlation_is_rejected():
    data = _crossed_data().rename(columns={"g": "corr_g"})
    with pytest.raises(ModelError, match="corr_g"):
        Model("y ~ x + (x|corr_g)", data)


# ------------------------------------------------------------------ priors
def test_default_priors_scale_each_sd_to_its_column(slopes, sleep):
    table = slopes.priors.set_index("term")
    assert list(table.index) == [
        "Intercept",
        "Days",
        "sigma",
        "sd_Subject[Intercept]",
        "sd_Subject[Days]",
        "corr_Subject",
    ]
    y_sd, days_sd = sleep["Reaction"].std(), sleep["Days"].std()
    assert table.loc["sd_Subject[Intercept]", "parameters"] == f"lam={1 / y_sd:.4g}"
    assert table.loc["sd_Subject[Days]", "parameters"] == f"lam={days_sd / y_sd:.4g}"
    assert table.loc["corr_Subject", "distribution"] == "LKJCorr"
    assert table.loc["corr_Subject", "parameters"] == "eta=1"


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


@pytest.mark.parametrize(
    ("formula", "priors", "fragment"),
    [
        (SLOPES, {"sd_Subject": "halfnormal(5)"}, r"random slopes.*'sd_Subject\[Intercept\]'"),
        (UNCORRELATED, {"corr_Subject": "lkj(2)"}, "no correlated terms"),
        (SLOPES, {"corr_Subject": "normal(0, 1)"}, "lkj"),
        (SLOPES, {"corr_Subject": "lkj(0)"}, "eta must be positive"),
        (SLOPES, {"corr_Subject": pm.Normal.dist()}, "lkj"),
        (SLOPES, {"sd_Subject[Days]": "lkj(2)"}, "correlation matrix"),
        (SLOPES, {"sd_Subject[Dayz]": "halfnormal(1)"}, r"Did you mean 'sd_Subject\[Days\]'"),
    ],
)
def test_bad_slope_priors_are_named(sleep, formula, priors, fragment):
    with pytest.raises(ModelError, match=fragment):
        Model(formula, sleep, priors=priors)


# -------------------------------------------------------------- likelihoods
@pytest.mark.parametrize(
    ("formula", "choice"),
    [
        (SLOPES, "noncentered"),
        (UNCORRELATED, "auto"),
        (CROSSED, "auto"),
        (CATEGORICAL, "auto"),
    ],
)
def test_sufficient_statistics_give_the_pointwise_log_density(sleep, formula, choice):
    data = sleep if formula.startswith("Reaction") else _crossed_data()
    m = Model(formula, data, parameterization=choice)
    pointwise, sufficient = m.build(), m.build("sufficient")
    f, g = pointwise.compile_logp(), sufficient.compile_logp()
    rng = np.random.default_rng(1)
    for _ in range(2):
        point = _random_point(pointwise, rng)
        assert g(point) == pytest.approx(f(point), rel=1e-10)


def test_pointwise_likelihood_is_the_normal_density_of_each_row(slopes):
    """The observed variable's mean is X beta + Z b with Z = (1, Days) per row."""
    model = slopes.build()
    point = _random_point(model, np.random.default_rng(2))
    beta = _evaluate(model, "beta", point)
    effects = _evaluate(model, "Subject", point)
    sigma = _evaluate(model, "sigma", point)
    spec = slopes.spec
    factor = spec.factors[0]
    mu = spec.X @ beta + np.sum(effects[factor.codes] * factor.design, axis=1)
    [loglik] = model.replace_rvs_by_values([model.logp(vars=[model["Reaction"]])])
    got = pm.compile(model.value_vars, loglik, on_unused_input="ignore")(**point)
    assert float(got) == pytest.approx(st.norm.logpdf(spec.y, mu, sigma).sum(), rel=1e-10)


def test_marginal_likelihood_with_slopes_on_another_factor():
    """h integrated out next to g's slopes: N(y | X beta + Z_g b_g, s^2 I + tau^2 Z_h Z_h')."""
    m = Model(CROSSED, _crossed_data())
    spec = m.spec
    assert [f.name for f in spec.factors] == ["h", "g"] and m.plan.integrated == ("h",)
    rng = np.random.default_rng(0)
    nu = m.plan.fixed_loc + rng.normal(0, 0.1, spec.n_fixed)
    sigma, tau = 1.3, 0.9
    b_g = rng.normal(0, 1, (spec.factors[1].n_levels, 2))
    inputs = [pt.as_tensor(tau), pt.as_tensor(b_g)]
    got = marginal_loglik(m.design, m.cells, pt.as_tensor(nu), inputs, pt.as_tensor(sigma)).eval()
    g = spec.factors[1]
    mu = spec.X @ (m.design.to_user @ nu) + np.sum(b_g[g.codes] * g.design, axis=1)
    Z = np.zeros((spec.nobs, spec.factors[0].n_levels))
    Z[np.arange(spec.nobs), spec.factors[0].codes] = 1.0
    cov = sigma**2 * np.eye(spec.nobs) + tau**2 * Z @ Z.T
    assert float(got) == pytest.approx(st.multivariate_normal(mu, cov).logpdf(spec.y), rel=1e-10)


def test_level_residual_sums_subtract_the_slopes():
    """What the integrated-out factor's draws condition on: y - X beta - z' b_g, summed by level."""
    m = Model(CROSSED, _crossed_data())
    spec = m.spec
    rng = np.random.default_rng(4)
    beta = rng.normal(size=(2, 3, spec.n_fixed))
    effects = rng.normal(size=(2, 3, spec.factors[1].n_levels, 2))
    posterior = xr.Dataset(
        {
            "beta": (("chain", "draw", "fixed"), beta),
            "g": (("chain", "draw", "g_level", "g_term"), effects),
            "sigma": (("chain", "draw"), np.ones((2, 3))),
        }
    )
    got = m.level_residual_sums(posterior, "h")
    g = spec.factors[1]
    residual = spec.y - beta @ spec.X.T - np.sum(effects[:, :, g.codes] * g.design, axis=-1)
    h = spec.factors[0]
    expected = np.stack([residual[..., h.codes == j].sum(-1) for j in range(h.n_levels)], axis=-1)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------- parameterization, start
def test_largest_factor_with_slopes_is_sampled(slopes, sleep):
    assert slopes.likelihood == "full"
    assert slopes.plan.integrated == ()
    assert slopes.parameterization == {"Subject": "centered"}
    assert slopes.plan.absorbs == "Subject"
    assert Model(SLOPES, sleep, likelihood="full").likelihood == "full"


def test_collapsed_with_slopes_on_the_largest_factor_names_it(sleep):
    with pytest.raises(
        ModelError, match=r"collapsed.*'Subject' has random slopes \(Intercept, Days\)"
    ):
        Model(SLOPES, sleep, likelihood="collapsed")


@pytest.mark.parametrize("choice", ["auto", "noncentered"])
def test_start_is_the_reml_fit(sleep, choice):
    m = Model(SLOPES, sleep, parameterization=choice)
    model, fit = m.build(), m.reml
    start = model.initial_point()
    np.testing.assert_allclose(_evaluate(model, "beta", start), fit.fixef, rtol=1e-9)
    np.testing.assert_allclose(_evaluate(model, "Subject", start), fit.ranef["Subject"], atol=1e-8)
    covariance = fit.covariances["Subject"].to_numpy()
    sds = np.sqrt(np.diag(covariance))
    np.testing.assert_allclose(_evaluate(model, "sd_Subject", start), sds, rtol=1e-9)
    corr = _evaluate(model, "corr_Subject", start)
    np.testing.assert_allclose(corr, covariance / np.outer(sds, sds), atol=1e-9)
    assert corr[1, 0] == pytest.approx(0.065551, abs=1e-6)


def test_group_means_absorb_intercept_and_slope(slopes):
    """Subject's means are (beta_0 + b_j0, beta_Days + b_j1): the rows see z' a_j only."""
    A = absorbing_map(slopes.spec, slopes.design, slopes.spec.factors[0])
    mean_days = slopes.spec.X[:, 1].mean()
    np.testing.assert_allclose(A, [[1.0, -mean_days], [0.0, 1.0]])
    nu = np.array([300.0, 10.0])
    np.testing.assert_allclose(A @ nu, slopes.design.to_user @ nu)


def test_centered_prior_is_the_multivariate_normal(sleep):
    """The custom centered density equals scipy's MvNormal, level by level."""
    m = Model(SLOPES, sleep)
    model = m.build()
    point = _random_point(model, np.random.default_rng(5))
    means_rv = model["_Subject_mean"]
    [logp] = model.replace_rvs_by_values([model.logp(vars=[means_rv], jacobian=False)])
    got = pm.compile(model.value_vars, logp, on_unused_input="ignore")(**point)
    values = {
        name: _evaluate(model, name, point)
        for name in ("_Subject_mean", "beta", "sd_Subject", "corr_Subject")
    }
    sd = values["sd_Subject"]
    cov = values["corr_Subject"] * np.outer(sd, sd)
    center = m.plan.absorb_map @ np.linalg.solve(m.design.to_user, values["beta"])
    expected = st.multivariate_normal(center, cov).logpdf(values["_Subject_mean"]).sum()
    assert float(got) == pytest.approx(expected, rel=1e-10)


# ------------------------------------------------ predictions, loglik, record
def _fake_posterior(m: Model, draws: int = 4000) -> xr.Dataset:
    """beta = REML, effects = BLUPs, sd_Subject = (10, 2), corr = 0.5, sigma = 2."""
    shape = (2, draws)
    terms = list(m.spec.factors[0].terms)
    k = len(terms)
    blups = m.reml.ranef["Subject"].to_numpy()
    corr = np.full((k, k), 0.5) + 0.5 * np.eye(k)
    sd = np.array([10.0, 2.0])[:k]
    coords = {
        "chain": np.arange(shape[0]),
        "draw": np.arange(shape[1]),
        "fixed": list(m.spec.fixed_names),
        "Subject_level": list(m.spec.factors[0].levels),
        "Subject_term": terms,
        "Subject_term_bis": terms,
    }
    data = {
        "beta": (("chain", "draw", "fixed"), np.broadcast_to(m.reml.fixef.to_numpy(), (*shape, 2))),
        "Subject": (
            ("chain", "draw", "Subject_level", "Subject_term"),
            np.broadcast_to(blups, (*shape, *blups.shape)),
        ),
        "sd_Subject": (("chain", "draw", "Subject_term"), np.broadcast_to(sd, (*shape, k))),
        "corr_Subject": (
            ("chain", "draw", "Subject_term", "Subject_term_bis"),
            np.broadcast_to(corr, (*shape, k, k)),
        ),
        "sigma": (("chain", "draw"), np.full(shape, 2.0)),
    }
    return xr.Dataset(data, coords=coords)


def test_predict_known_and_unseen_levels_with_slopes(slopes):
    posterior = _fake_posterior(slopes)
    idata = xr.DataTree.from_dict({"posterior": posterior})
    new = pd.DataFrame({"Days": [0.0, 5.0, 0.0, 5.0], "Subject": ["308", "308", "new", "new"]})
    mu = slopes.predict(new, idata, random_seed=1)["predictions"]["mu"]
    expected = slopes.reml.predict(new.iloc[:2]).to_numpy()
    np.testing.assert_allclose(mu.isel(obs=[0, 1]).mean(("chain", "draw")), expected, rtol=1e-10)
    assert float(mu.isel(obs=1).std()) == pytest.approx(0.0, abs=1e-9)
    # unseen subject: (b0, b1) ~ MvNormal(0, [[100, 10], [10, 4]]), shared by its rows:
    # Var(b0) = 100 at Days 0, Var(b0 + 5 b1) = 100 + 2 * 5 * 10 + 25 * 4 = 300 at Days 5
    spread = mu.isel(obs=[2, 3]).std(("chain", "draw")).to_numpy()
    np.testing.assert_allclose(spread, [10.0, np.sqrt(300.0)], rtol=0.05)
    slope = (mu.isel(obs=3) - mu.isel(obs=2)) / 5 - slopes.reml.fixef["Days"]
    assert float(slope.std()) == pytest.approx(2.0, rel=0.05)


def test_predict_population_level_with_slopes(slopes):
    idata = xr.DataTree.from_dict({"posterior": _fake_posterior(slopes, draws=3)})
    mu = slopes.predict(pd.DataFrame({"Days": [3.0]}), idata, include_random=False)
    fixef = slopes.reml.fixef
    np.testing.assert_allclose(mu["predictions"]["mu"], fixef["Intercept"] + 3 * fixef["Days"])


def test_pointwise_loglik_uses_the_slopes(slopes):
    posterior = _fake_posterior(slopes, draws=3)
    loglik = slopes.pointwise_loglik(posterior)["Reaction"]
    expected = st.norm.logpdf(slopes.spec.y, slopes.reml.fitted, 2.0)
    np.testing.assert_allclose(loglik.isel(chain=1, draw=2), expected, rtol=1e-9)


def test_linear_predictor_of_new_rows_needs_their_slope_columns(slopes):
    posterior = _fake_posterior(slopes, draws=3)
    X = np.ones((2, 2))
    with pytest.raises(ModelError, match="designs="):
        slopes.linear_predictor(posterior, X, [np.array([0, 1])])


def test_reml_record_has_sds_correlations_and_blups_per_term(slopes):
    record = json.loads(json.dumps(reml_record(slopes.reml, slopes.spec)))
    assert record["sd"]["sd_Subject[Days]"] == pytest.approx(5.922133, abs=1e-5)
    assert record["corr"]["corr_Subject[Intercept, Days]"] == pytest.approx(0.065551, abs=1e-6)
    assert record["ranef"]["Subject"]["Days"]["308"] == pytest.approx(
        slopes.reml.ranef["Subject"].loc["308", "Days"]
    )


def test_diagnose_checks_each_correlation_once(slopes):
    posterior = _fake_posterior(slopes, draws=200)
    rng = np.random.default_rng(0)
    corr = posterior["corr_Subject"].copy()
    noise = rng.uniform(-0.5, 0.5, (2, 200))
    corr[:, :, 0, 1] = noise
    corr[:, :, 1, 0] = noise
    posterior = posterior.assign(corr_Subject=corr, sigma=posterior["sigma"] + noise)
    table = diagnose(
        xr.DataTree.from_dict({"posterior": posterior}),
        var_names=["corr_Subject", "sigma"],
        warn=False,
    )
    parameters = table[table["kind"] == "parameter"]
    assert list(parameters.index) == ["corr_Subject[Intercept, Days]", "sigma"]
    assert parameters["r_hat"].notna().all()


def test_free_correlations_skip_uncorrelated_blocks():
    """Terms (a, b | c): blocks (2, 1); only the (a, b) pair is a parameter."""
    values = np.broadcast_to(np.eye(3), (1, 5, 3, 3)).copy()
    values[..., 0, 1] = values[..., 1, 0] = np.linspace(-0.5, 0.5, 5)
    dims = ("chain", "draw", "g_term", "g_term_bis")
    terms = ["a", "b", "c"]
    posterior = xr.Dataset(
        {"corr_g": (dims, values)}, coords={"g_term": terms, "g_term_bis": terms}
    )
    pairs = free_correlations(posterior)["corr_g"]
    assert list(pairs["corr_g_pair"].to_numpy()) == ["a, b"]
    np.testing.assert_allclose(pairs.isel(corr_g_pair=0, chain=0), np.linspace(-0.5, 0.5, 5))


# ================================================================ sampling
@pytest.fixture(scope="module")
def sampled(slopes):
    return slopes, slopes.sample(random_seed=11, progressbar=False)


def _check_targets(idata: xr.DataTree) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplingWarning)
        table = diagnose(idata)
    parameters = table[table["kind"] == "parameter"]
    assert table["divergences"].sum() == 0
    assert parameters["r_hat"].max() <= 1.01
    assert parameters["ess_bulk"].min() >= 1000
    return table


@pytest.mark.sampling
def test_sleepstudy_slopes_meet_the_targets(sampled):
    _, idata = sampled
    table = _check_targets(idata)
    assert "corr_Subject[Intercept, Days]" in table.index
    assert idata.attrs["likelihood"] == "full"
    assert json.loads(idata.attrs["parameterization"]) == {"Subject": "centered"}
    posterior = idata["posterior"]
    assert set(posterior.data_vars) == {"beta", "Subject", "sd_Subject", "corr_Subject", "sigma"}
    assert posterior["Subject"].dims == ("chain", "draw", "Subject_level", "Subject_term")
    assert posterior["corr_Subject"].dims == ("chain", "draw", "Subject_term", "Subject_term_bis")


@pytest.mark.sampling
def test_sleepstudy_slopes_posterior_is_near_reml(sampled):
    m, idata = sampled
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
def test_sleepstudy_slopes_compare_and_predict(sampled):
    m, idata = sampled
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
    _check_targets(idata)
    assert "corr_Subject" not in idata["posterior"].data_vars
    draws = idata["posterior"]["beta"].sel(fixed="Days")
    assert abs(float(draws.mean()) - m.reml.fixef["Days"]) <= 0.3 * float(draws.std())
