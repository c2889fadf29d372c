"""A nested factor's parent integrated out of the GLMM twin, drawn back after sampling."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from scipy import stats

from bayeshier.bayes.glmm import GlmmModel
from bayeshier.bayes.glmm.centering import Hierarchy, centered_name
from bayeshier.bayes.glmm.nested import (
    _add_polar_sds,
    draw_collapsed_parents,
    nested_residual_logp,
    parent_conditional,
    polar_names,
    polar_start,
)
from bayeshier.bayes.prior_parse import parse_prior
from bayeshier.errors import ModelError

# parent 1 has no child level; parents 0, 2, 3 hold 2, 3 and 1 of them
CODES = np.array([0, 0, 2, 2, 2, 3])


def _covariance(var_child: float, var_parent: float) -> np.ndarray:
    same_parent = (CODES[:, None] == CODES[None, :]).astype(float)
    return var_child * np.eye(len(CODES)) + var_parent * same_parent


def test_residual_density_is_the_normal_with_a_shared_parent_effect() -> None:
    rng = np.random.default_rng(0)
    for var_child, var_parent in [(0.7, 0.3), (0.05, 2.0), (1.5, 1e-4)]:
        residual = rng.normal(size=len(CODES))
        value = nested_residual_logp(residual, CODES, var_child, var_parent).eval()
        exact = stats.multivariate_normal(np.zeros(len(CODES)), _covariance(var_child, var_parent))
        constant = 0.5 * len(CODES) * np.log(2 * np.pi)
        np.testing.assert_allclose(value, exact.logpdf(residual) + constant, rtol=1e-7)


def test_parent_conditional_is_gaussian_conditioning() -> None:
    rng = np.random.default_rng(1)
    var_child, var_parent = 0.4, 0.9
    residual = rng.normal(size=(1, len(CODES)))
    mean, variance = parent_conditional(
        residual, CODES, np.array([var_child]), np.array([var_parent])
    )
    # joint of (a, r) with r = a[codes] + e: condition a on r
    n_parents = CODES.max() + 1
    loading = np.zeros((len(CODES), n_parents))
    loading[np.arange(len(CODES)), CODES] = 1.0
    cross = var_parent * loading.T
    gain = cross @ np.linalg.inv(_covariance(var_child, var_parent))
    expected_cov = var_parent * np.eye(n_parents) - gain @ cross.T
    np.testing.assert_allclose(mean[0], gain @ residual[0], atol=1e-12)
    np.testing.assert_allclose(variance[0], np.diag(expected_cov), atol=1e-12)
    np.testing.assert_allclose(expected_cov - np.diag(np.diag(expected_cov)), 0.0, atol=1e-12)


def test_polar_sds_keep_their_priors() -> None:
    priors = {
        "sd_b": parse_prior("sd_b", "HalfNormal(1.5)", support="positive"),
        "sd_a": parse_prior("sd_a", "Exponential(2)", support="positive"),
    }
    start = polar_start(0.8, 0.3)
    with pm.Model() as model:
        _add_polar_sds(priors, "b", "a", start)
    logp = model.compile_logp()
    outputs = model.replace_rvs_by_values([model["sd_b"], model["sd_a"]])
    sds = model.compile_fn(outputs, inputs=model.value_vars, on_unused_input="ignore")
    radius, angle = polar_names("b")
    for point in [start, (-0.5, 1.2), (0.9, -2.0)]:
        values = {f"{radius}": point[0], f"{angle}": point[1]}
        sd_b, sd_a = sds(values)
        jacobian = np.empty((2, 2))
        for k, step in enumerate(np.eye(2) * 1e-6):
            shifted = {radius: point[0] + step[0], angle: point[1] + step[1]}
            jacobian[:, k] = (np.array(sds(shifted)) - np.array([sd_b, sd_a])) / 1e-6
        expected = (
            stats.halfnorm(scale=1.5).logpdf(sd_b)
            + stats.expon(scale=0.5).logpdf(sd_a)
            + np.log(abs(np.linalg.det(jacobian)))
        )
        np.testing.assert_allclose(logp(values), expected, rtol=1e-5)
    np.testing.assert_allclose(sds(dict(zip((radius, angle), start, strict=True))), [0.8, 0.3])


def test_drawn_effects_add_up_to_the_sampled_levels() -> None:
    rng = np.random.default_rng(2)
    hierarchy = Hierarchy(np.array([0]), np.ones((len(CODES), 1)), "a", CODES)
    totals = rng.normal(size=(2, 50, len(CODES)))
    posterior = xr.Dataset(
        {
            centered_name("b"): (("chain", "draw", "b_level"), totals),
            "beta": (("chain", "draw", "fixed"), rng.normal(size=(2, 50, 1))),
            "sd_b": (("chain", "draw"), rng.uniform(0.2, 1, (2, 50))),
            "sd_a": (("chain", "draw"), rng.uniform(0.2, 1, (2, 50))),
        },
        coords={"b_level": list("uvwxyz"), "fixed": ["Intercept"]},
    )
    drawn = draw_collapsed_parents(posterior, {"b": hierarchy}, ("a",), {"a": list("PQRS")}, rng)
    assert drawn["a"].dims == ("chain", "draw", "a_level")
    assert list(drawn["a"]["a_level"].values) == list("PQRS")
    rebuilt = drawn["beta"].values + drawn["a"].values[..., CODES] + drawn["b"].values
    np.testing.assert_allclose(rebuilt, totals, atol=1e-12)
    assert drawn["a"].values.std() > 0
    untouched = draw_collapsed_parents(posterior, {"b": hierarchy}, (), {}, rng)
    assert "a" not in untouched


def test_the_location_effects_are_collapsed_by_default(grouse_case) -> None:
    reference, data = grouse_case
    model = GlmmModel(reference["formula"], data, "poisson")
    assert model.parameterization == {"BROOD": "centered", "LOCATION": "collapsed"}
    graph = model.build()
    sampled = {rv.name for rv in graph.free_RVs}
    assert "_LOCATION_z" not in sampled and "LOCATION" not in graph.named_vars
    assert set(polar_names("BROOD")) <= sampled
    assert "LOCATION" in model.build("pointwise").named_vars  # forward sampling needs every effect
    full = GlmmModel(reference["formula"], data, "poisson", likelihood="full")
    assert full.parameterization == {"BROOD": "centered", "LOCATION": "mixed"}
    forced = GlmmModel(
        reference["formula"], data, "poisson", parameterization={"LOCATION": "noncentered"}
    )
    assert forced.parameterization["LOCATION"] == "noncentered"
    with pytest.raises(ModelError, match=r"'auto'.*'full'"):
        GlmmModel(reference["formula"], data, "poisson", likelihood="collapsed")


@pytest.mark.sampling
def test_collapsed_and_full_posteriors_agree(grouse_case) -> None:
    reference, data = grouse_case
    trees = [
        GlmmModel(reference["formula"], data, "poisson", likelihood=likelihood).sample(
            random_seed=5, progressbar=False
        )
        for likelihood in ("auto", "full")
    ]
    collapsed, full = (tree["posterior"] for tree in trees)
    for name in ["beta", "sd_BROOD", "sd_LOCATION", "LOCATION", "BROOD"]:
        a, b = collapsed[name], full[name]
        spread = b.std(("chain", "draw"))
        gap = np.abs(a.median(("chain", "draw")) - b.median(("chain", "draw"))) / spread
        assert float(gap.max()) < 0.25, (name, float(gap.max()))
        ratio = a.std(("chain", "draw")) / spread
        assert 0.8 < float(ratio.min()) and float(ratio.max()) < 1.25, name


def test_an_interrupted_run_draws_the_collapsed_effects_of_its_kept_draws(grouse_case) -> None:
    from bayeshier.bayes.budget import LogLikelihoodChoice

    reference, data = grouse_case
    model = GlmmModel(reference["formula"], data, "poisson")
    rng = np.random.default_rng(4)
    chains, draws = 2, 30
    n_broods, n_fixed = model.spec.factor("BROOD").n_levels, len(model.spec.fixed_names)
    posterior = xr.Dataset(
        {
            "beta": (("chain", "draw", "fixed"), rng.normal(size=(chains, draws, n_fixed))),
            centered_name("BROOD"): (
                ("chain", "draw", "BROOD_level"),
                rng.normal(size=(chains, draws, n_broods)),
            ),
            "sd_BROOD": (("chain", "draw"), rng.uniform(0.5, 1.0, (chains, draws))),
            "sd_LOCATION": (("chain", "draw"), rng.uniform(0.2, 0.6, (chains, draws))),
        },
        coords={
            "fixed": list(model.spec.fixed_names),
            "BROOD_level": list(model.spec.factor("BROOD").levels),
        },
    )
    posterior = posterior.where(posterior["draw"] < 20, drop=False)  # both chains stopped at 20
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((chains, draws), bool))})
    raw = xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})
    tree = model._finish(raw, "nutpie", LogLikelihoodChoice("none"), (draws, chains), rng)
    kept = tree["posterior"]
    assert kept.sizes["draw"] == 20 and tree.attrs["interrupted"] == "true"
    assert {"LOCATION", "BROOD"} <= set(kept.data_vars)
    assert centered_name("BROOD") not in kept.data_vars
    assert not np.isnan(kept["LOCATION"]).any() and not np.isnan(kept["BROOD"]).any()
