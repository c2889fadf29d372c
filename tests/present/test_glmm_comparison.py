"""compare_glmm: glm | Laplace | posterior, pinned to R's glm and glmer."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from reference_cases import load_glmer_case
from scipy import special

from bayeshier.errors import DataError, ModelError
from bayeshier.present.glmm_comparison import compare_glmm
from bayeshier.reml.glmm import fit_glmm

#: R 4.x: glm(cbind(incidence, nonincidence) ~ period, binomial, cbpp) (coef, sqrt(diag(vcov)))
R_GLM = [-1.26902348936715, -1.17076272514038, -1.30140533385642, -1.78227863534165]
R_GLM_SE = [0.144919762428695, 0.291467787718858, 0.312881171641315, 0.413056442968482]


@pytest.fixture(scope="module")
def seed() -> tuple[dict, pd.DataFrame, object]:
    reference, data = load_glmer_case("seed_binary")
    return reference, data, fit_glmm(reference["formula"], data, "binomial")


def test_fixed_glm_matches_r() -> None:
    reference, data = load_glmer_case("cbpp_binomial")
    table = compare_glmm(fit_glmm(reference["formula"], data, "binomial")).fixed
    np.testing.assert_allclose(table["glm"], R_GLM, atol=1e-6)
    np.testing.assert_allclose(table["glm_se"], R_GLM_SE, atol=1e-6)
    np.testing.assert_allclose(table["laplace"], list(reference["fixef"].values()), atol=1e-3)


def test_groups_link_scale(seed) -> None:
    reference, data, fit = seed
    groups = compare_glmm(fit).groups
    events = data.groupby("g", observed=True)["y"].sum().to_numpy()
    np.testing.assert_allclose(groups["own_glm"], special.logit(events / 20), atol=1e-6)
    modes = np.array(list(reference["ranef"]["g"]["(Intercept)"].values()))
    intercept = reference["fixef"]["(Intercept)"]
    np.testing.assert_allclose(groups["mode"], intercept + modes, atol=1e-3)
    condvar = np.array(list(reference["condVar"]["g"].values()))
    np.testing.assert_allclose(groups["cond_sd"], np.sqrt(condvar), atol=1e-3)
    assert "post_mean" not in groups


def test_groups_response_scale(seed) -> None:
    reference, data, fit = seed
    groups = compare_glmm(fit, scale="response").groups
    fitted = np.asarray(reference["fitted_response"])[::20]  # one row per group
    np.testing.assert_allclose(groups["mode"], fitted, atol=1e-4)
    events = data.groupby("g", observed=True)["y"].sum().to_numpy()
    np.testing.assert_allclose(groups["own_glm"], events / 20, atol=1e-6)


def test_separated_group_is_infinite() -> None:
    data = pd.DataFrame({"y": [1, 1, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0], "g": list("aaabbbcccddd")})
    data.loc[0:2, "y"] = 1
    fit = fit_glmm("y ~ 1 + (1|g)", data, "binomial")
    own = compare_glmm(fit).groups.set_index("level")["own_glm"]
    assert own["a"] == np.inf and np.isfinite(own["b"])


def _posterior(rng: np.random.Generator, effects: np.ndarray) -> xr.Dataset:
    """A made-up posterior of the seed model (intercept 0.5)."""
    chains, draws = effects.shape[:2]
    return xr.Dataset(
        {
            "beta": (("chain", "draw", "fixed"), np.full((chains, draws, 1), 0.5)),
            "g": (("chain", "draw", "g_level"), effects),
            "sd_g": (("chain", "draw"), np.abs(rng.normal(size=(chains, draws)))),
        },
        coords={"fixed": ["Intercept"], "g_level": list("12345")},
    )


def test_posterior_columns_follow_the_interval_convention(seed) -> None:
    _, _, fit = seed
    rng = np.random.default_rng(1)
    draws = rng.normal(size=(2, 50, 5))
    result = compare_glmm(fit, _posterior(rng, draws), ci_prob=0.9, ci_kind="eti")
    combined = 0.5 + draws.reshape(100, 5)
    np.testing.assert_allclose(result.groups["post_mean"], combined.mean(axis=0))
    np.testing.assert_allclose(result.groups["post_sd"], combined.std(axis=0, ddof=1))
    np.testing.assert_allclose(result.groups["ci_low"], np.quantile(combined, 0.05, axis=0))
    np.testing.assert_allclose(result.groups["ci_high"], np.quantile(combined, 0.95, axis=0))
    for table in (result.fixed, result.groups, result.variances):
        assert table.attrs == {"ci_prob": 0.9, "ci_kind": "eti"}
    assert "Group-level sds (link scale); posterior interval ci_low to ci_high: 90% ETI" in str(
        result
    )


def test_default_interval_is_arviz_rcparams(seed) -> None:
    from arviz_base import rcParams

    _, _, fit = seed
    rng = np.random.default_rng(2)
    result = compare_glmm(fit, _posterior(rng, rng.normal(size=(2, 40, 5))))
    assert result.interval.prob == rcParams["stats.ci_prob"]
    assert result.interval.kind == rcParams["stats.ci_kind"]
    assert f"{100 * rcParams['stats.ci_prob']:.4g}% {rcParams['stats.ci_kind'].upper()}" in str(
        result
    )


def test_response_scale_posterior_is_the_mean_of_mapped_draws(seed) -> None:
    _, _, fit = seed
    rng = np.random.default_rng(3)
    draws = rng.normal(size=(2, 50, 5))
    groups = compare_glmm(fit, _posterior(rng, draws), scale="response").groups
    expected = special.expit(0.5 + draws.reshape(100, 5)).mean(axis=0)
    np.testing.assert_allclose(groups["post_mean"], expected)


def test_compare_dispatches_on_a_glmm_fit(seed) -> None:
    import bayeshier

    _, _, fit = seed
    rng = np.random.default_rng(4)
    tree = xr.DataTree.from_dict({"posterior": _posterior(rng, rng.normal(size=(2, 30, 5)))})
    result = bayeshier.compare(fit, tree, ci_prob=0.8, scale="response")
    assert type(result).__name__ == "GlmmComparison"
    assert result.interval.label == "80% ETI" and result.scale == "response"
    tree.attrs["family"] = "binomial"
    with pytest.raises(ModelError, match="fit_glmm"):
        bayeshier.compare(idata=tree)  # no constant_data to refit from


@pytest.mark.sampling
def test_a_saved_glmm_posterior_is_compared_on_its_own(tmp_path) -> None:
    import bayeshier

    reference, data = load_glmer_case("cbpp_binomial")
    data = data.rename(columns={"nonincidence": "trials"})  # a data column named like a derived one
    formula = "cbind(incidence, trials) ~ period + (1|herd)"
    model = bayeshier.Model(formula, data, family="binomial")
    tree = model.sample(draws=100, tune=100, chains=2, random_seed=1, progressbar=False)
    tree.to_netcdf(tmp_path / "cbpp.nc")
    reloaded = xr.open_datatree(tmp_path / "cbpp.nc")
    alone = bayeshier.compare(idata=reloaded, scale="response")
    given = bayeshier.compare(model.fit, tree, scale="response")
    assert type(alone).__name__ == "GlmmComparison"
    for table in ("fixed", "groups", "variances"):
        pd.testing.assert_frame_equal(getattr(alone, table), getattr(given, table))
    fixef = np.array(list(reference["fixef"].values()))
    np.testing.assert_allclose(alone.fixed["laplace"], fixef, atol=1e-3)  # glmer's estimates
    record = json.loads(reloaded.attrs["reml"])
    record["fixef"]["Intercept"] += 0.01
    reloaded.attrs["reml"] = json.dumps(record)
    with pytest.raises(ModelError, match=r"differs.*fit_glmm\(formula"):
        bayeshier.compare(idata=reloaded)


def test_bad_input(seed) -> None:
    _, _, fit = seed
    with pytest.raises(DataError, match="scale"):
        compare_glmm(fit, scale="odds")
    with pytest.raises(DataError, match="sd_g"):
        compare_glmm(fit, xr.Dataset({"beta": (("chain", "draw", "fixed"), np.zeros((1, 2, 1)))}))
