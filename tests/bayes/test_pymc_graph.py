"""The PyMC graph: variables, dims, the three densities, the custom correlated density."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
import scipy.stats as st
from scipy.integrate import quad

from bayeshier import datasets
from bayeshier.bayes.model import Model
from bayeshier.bayes.pymc_graph import build_model, check_density
from bayeshier.errors import ModelError

PENICILLIN = "diameter ~ 1 + (1|plate) + (1|sample)"
PASTES = "strength ~ 1 + (1|batch/cask)"
UNCORRELATED = "Reaction ~ Days + (Days||Subject)"
SLOPE_ONLY = "Reaction ~ Days + (0 + Days|Subject)"
CROSSED = "y ~ x + (1|h) + (x|g)"


def _build(m: Model, density: str) -> pm.Model:
    """``build_model`` called directly on the parts of ``m``."""
    cells = None if density == "pointwise" else m.cells
    return build_model(m.spec, m._priors, m.plan, m.design, cells, density)


def _free(model: pm.Model) -> set[str]:
    return {v.name for v in model.free_RVs}


# ------------------------------------------------------------- variables
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
    pen = Model(PENICILLIN, datasets.load("penicillin")).build()
    assert len(pen.coords["plate_level"]) == 24 and len(pen.coords["sample_level"]) == 6
    m = Model(PASTES, datasets.load("pastes"))
    pastes = m.build()
    assert "cask:batch" in pastes.named_vars and "sd_cask:batch" in pastes.named_vars
    assert list(pastes.coords["cask:batch_level"]) == list(m.spec.factor("cask:batch").levels)
    assert list(pastes.coords["cask:batch_level"])[:2] == ["a:A", "a:B"]


def test_slope_names_and_dims(slopes):
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


def test_an_intercept_factor_keeps_its_names_next_to_slopes(crossed_data):
    m = Model(CROSSED, crossed_data())
    model = m.build()
    dims = model.named_vars_to_dims
    assert dims["h"] == ("h_level",)
    assert "sd_h" in model.named_vars and dims.get("sd_h") is None
    assert dims["g"] == ("g_level", "g_term")
    assert m.parameterization["h"] == "collapsed"
    assert m.likelihood == "collapsed"


# ------------------------------------------------------ the three densities
@pytest.mark.parametrize(
    ("name", "formula", "sampled"),
    [
        ("penicillin", PENICILLIN, {"_fixed", "sigma", "sd_plate", "sd_sample", "_sample_mean"}),
        ("pastes", PASTES, {"_fixed", "sigma", "sd_cask:batch", "sd_batch"}),
    ],
)
def test_each_density_has_its_free_variables(name, formula, sampled):
    m = Model(formula, datasets.load(name))
    pointwise, sufficient = _build(m, "pointwise"), _build(m, "sufficient")
    collapsed = _build(m, "collapsed")
    assert _free(collapsed) == sampled
    assert not any(name in collapsed.named_vars for name in m.plan.collapsed)
    assert _free(pointwise) == _free(sufficient)
    assert sampled < _free(sufficient)
    assert all(f.name in sufficient.named_vars for f in m.spec.factors)
    assert [v.name for v in pointwise.observed_RVs] == [m.observed_name]
    assert not sufficient.observed_RVs and not collapsed.observed_RVs


def test_pointwise_and_sufficient_densities_are_equal_at_random_points(random_point):
    m = Model(PENICILLIN, datasets.load("penicillin"), parameterization="noncentered")
    pointwise, sufficient = _build(m, "pointwise"), _build(m, "sufficient")
    f, g = pointwise.compile_logp(), sufficient.compile_logp()
    rng = np.random.default_rng(7)
    for _ in range(3):
        point = random_point(pointwise, rng)
        assert g(point) == pytest.approx(f(point), rel=1e-10)


def test_collapsed_density_is_the_multivariate_normal(random_point, evaluate, indicator_matrix):
    """The collapsed model's data term is N(y | X beta, s^2 I + tau^2 Zc Zc' + omega^2 Zp Zp')."""
    m = Model(PASTES, datasets.load("pastes"))
    model = _build(m, "collapsed")
    point = random_point(model, np.random.default_rng(3))
    [loglik] = model.replace_rvs_by_values([model["_loglik"]])
    got = pm.compile(model.value_vars, loglik, on_unused_input="ignore")(**point)
    spec = m.spec
    beta = evaluate(model, "beta", point)
    sigma = evaluate(model, "sigma", point)
    cov = sigma**2 * np.eye(spec.nobs)
    for factor in spec.factors:
        Z = indicator_matrix(factor.codes, factor.n_levels)
        cov = cov + evaluate(model, f"sd_{factor.name}", point) ** 2 * Z @ Z.T
    expected = st.multivariate_normal(spec.X @ beta, cov).logpdf(spec.y)
    assert float(got) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("bad", ["marginal", "likelihood", ""])
def test_check_density_names_the_choices(bad):
    with pytest.raises(ModelError, match=r"density must be one of 'pointwise', 'sufficient', "):
        check_density(bad)
    check_density("collapsed")


def test_pointwise_likelihood_is_the_normal_density_of_each_row(slopes, random_point, evaluate):
    """The observed variable's mean is X beta + Z b with Z = (1, Days) per row."""
    model = slopes.build()
    point = random_point(model, np.random.default_rng(2))
    beta = evaluate(model, "beta", point)
    effects = evaluate(model, "Subject", point)
    sigma = evaluate(model, "sigma", point)
    spec = slopes.spec
    factor = spec.factors[0]
    mu = spec.X @ beta + np.sum(effects[factor.codes] * factor.design, axis=1)
    [loglik] = model.replace_rvs_by_values([model.logp(vars=[model["Reaction"]])])
    got = pm.compile(model.value_vars, loglik, on_unused_input="ignore")(**point)
    assert float(got) == pytest.approx(st.norm.logpdf(spec.y, mu, sigma).sum(), rel=1e-10)


def test_centered_prior_is_the_multivariate_normal(sleep, random_point, evaluate):
    """The custom centered density equals scipy's MvNormal, level by level."""
    m = Model("Reaction ~ Days + (Days|Subject)", sleep)
    model = m.build()
    point = random_point(model, np.random.default_rng(5))
    means_rv = model["_Subject_mean"]
    [logp] = model.replace_rvs_by_values([model.logp(vars=[means_rv], jacobian=False)])
    got = pm.compile(model.value_vars, logp, on_unused_input="ignore")(**point)
    values = {
        name: evaluate(model, name, point)
        for name in ("_Subject_mean", "beta", "sd_Subject", "corr_Subject")
    }
    sd = values["sd_Subject"]
    cov = values["corr_Subject"] * np.outer(sd, sd)
    center = m.plan.absorb_map @ np.linalg.solve(m.design.to_user, values["beta"])
    expected = st.multivariate_normal(center, cov).logpdf(values["_Subject_mean"]).sum()
    assert float(got) == pytest.approx(expected, rel=1e-10)


def test_noncentered_effects_are_sd_times_z(sleep, random_point, evaluate):
    m = Model(UNCORRELATED, sleep, parameterization="noncentered")
    model = m.build()
    point = random_point(model, np.random.default_rng(6))
    z = point["_Subject_z"]
    sd = evaluate(model, "sd_Subject", point)
    np.testing.assert_allclose(evaluate(model, "Subject", point), z * sd, rtol=1e-12)


# ------------------------------------------------- prior weights and offsets
@pytest.mark.parametrize(
    ("formula", "options"),
    [
        ("Reaction ~ Days + (Days|Subject)", {"weights": "w", "offset": "off"}),
        ("Reaction ~ Days + offset(off) + (1|Subject)", {"weights": "w"}),
    ],
    ids=["slopes, offset=", "intercept, offset()"],
)
def test_weighted_pointwise_likelihood_is_the_weighted_normal_density(
    weighted_sleep, formula, options, random_point, evaluate
):
    """Row i is Normal(x_i'beta + z_i'b + off_i, sigma / sqrt(w_i)), from the data's columns."""
    m = Model(formula, weighted_sleep, parameterization="noncentered", **options)
    model = m.build()
    factor = m.spec.factors[0]
    Z = np.column_stack([np.ones(180), weighted_sleep["Days"]])[:, : factor.n_columns]
    [loglik] = model.replace_rvs_by_values([model.logp(vars=[model["Reaction"]])])
    compiled = pm.compile(model.value_vars, loglik, on_unused_input="ignore")
    rng = np.random.default_rng(4)
    for _ in range(3):
        point = random_point(model, rng)
        beta = evaluate(model, "beta", point)
        effects = evaluate(model, "Subject", point).reshape(factor.n_levels, -1)
        sigma = evaluate(model, "sigma", point)
        mu = beta[0] + beta[1] * weighted_sleep["Days"] + weighted_sleep["off"]
        mu = mu + np.sum(effects[factor.codes] * Z, axis=1)
        sd = sigma / np.sqrt(weighted_sleep["w"])
        expected = st.norm.logpdf(weighted_sleep["Reaction"], mu, sd).sum()
        assert float(compiled(**point)) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize(
    "formula",
    ["Reaction ~ Days + (1|Subject)", "Reaction ~ Days + (Days|Subject)"],
    ids=["intercept", "slopes"],
)
def test_weighted_pointwise_and_sufficient_densities_are_equal(
    weighted_sleep, formula, random_point
):
    m = Model(formula, weighted_sleep, weights="w", offset="off")
    pointwise, sufficient = _build(m, "pointwise"), _build(m, "sufficient")
    f, g = pointwise.compile_logp(), sufficient.compile_logp()
    rng = np.random.default_rng(9)
    for _ in range(3):
        point = random_point(pointwise, rng)
        assert g(point) == pytest.approx(f(point), rel=1e-10)


def _log_marginal(y: np.ndarray, mu: np.ndarray, sd: np.ndarray, tau: float) -> float:
    """``log`` of the integral over ``b ~ N(0, tau^2)`` of ``prod N(y_i | mu_i + b, sd_i)``."""

    def log_joint(b: np.ndarray) -> np.ndarray:
        b = np.atleast_1d(b)[:, None]
        return st.norm.logpdf(y, mu + b, sd).sum(axis=1) + st.norm.logpdf(b[:, 0], 0, tau)

    grid = np.linspace(-8 * tau, 8 * tau, 4001)
    peak = grid[np.argmax(log_joint(grid))]
    top = float(log_joint(peak)[0])
    area, _ = quad(lambda b: float(np.exp(log_joint(b)[0] - top)), -8 * tau, 8 * tau, points=[peak])
    return top + float(np.log(area))


def test_weighted_collapsed_density_integrates_the_pointwise_one(weighted_sleep, evaluate):
    """The collapsed density is the pointwise one with the effects integrated out.

    For one random intercept, level ``j``'s term is the integral over ``b_j ~
    N(0, tau^2)`` of the pointwise density of its rows: numerical quadrature here.
    """
    m = Model("Reaction ~ Days + (1|Subject)", weighted_sleep, weights="w", offset="off")
    collapsed = _build(m, "collapsed")
    point = collapsed.initial_point()
    [loglik] = collapsed.replace_rvs_by_values([collapsed["_loglik"]])
    got = float(pm.compile(collapsed.value_vars, loglik, on_unused_input="ignore")(**point))
    beta, sigma = evaluate(collapsed, "beta", point), float(evaluate(collapsed, "sigma", point))
    tau = float(evaluate(collapsed, "sd_Subject", point))
    codes = m.spec.factors[0].codes
    mu = beta[0] + beta[1] * weighted_sleep["Days"].to_numpy() + weighted_sleep["off"].to_numpy()
    sd = sigma / np.sqrt(weighted_sleep["w"].to_numpy())
    y = weighted_sleep["Reaction"].to_numpy()
    levels = range(m.spec.factors[0].n_levels)
    expected = sum(
        _log_marginal(y[codes == j], mu[codes == j], sd[codes == j], tau) for j in levels
    )
    assert got == pytest.approx(expected, rel=1e-8)
