"""bayeshier.present.comparison: REML, OLS / no pooling and the posterior side by side.

The baselines themselves are tested in ``test_baselines``, the posterior reading in
``test_posterior_summary`` and the text and HTML views in ``test_comparison_text``.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from reference_cases import fitted_case, load_reference
from synthetic import synthetic_posterior

from bayeshier import datasets, fit_reml
from bayeshier.errors import DataError, ModelError
from bayeshier.present.baselines import no_pooling_coefficients, ols
from bayeshier.present.comparison import (
    FIXED_COLUMNS,
    GROUP_COLUMNS,
    VARIANCE_COLUMNS,
    compare,
)

#: The published fe / re tables of the seed scenarios: (no pooling, BLUP) per group, from
#: lme4's reference fits (tests/fixtures/lme4/seed_model*.json: ``lm.coef`` printed to 6
#: decimals; ``fixef + ranef`` to 5).
SEED_TABLES = {
    "seed_model1": {
        "1": (17.885275, 15.98970),
        "2": (18.387367, 15.98970),
        "3": (14.851083, 15.98970),
        "4": (14.928015, 15.98970),
        "5": (13.896750, 15.98970),
    },
    "seed_model1b": {
        "1": (15.290635, 15.29543),
        "2": (14.055573, 14.08403),
        "3": (13.970532, 14.00061),
        "4": (16.946971, 16.92004),
        "5": (17.440847, 17.40445),
    },
    "seed_model2": {
        "1": (10.979130, 11.32996),
        "2": (13.002723, 13.14321),
        "3": (26.118189, 24.89539),
        "4": (12.109896, 12.34319),
        "5": (9.561495, 10.05968),
    },
    "seed_model3": {
        "1": (13.086287, 13.19965),
        "2": (16.369315, 16.31164),
        "3": (17.601493, 17.47962),
        "4": (15.510977, 15.49802),
        "5": (13.743094, 13.82224),
    },
}


# ------------------------------------------------------------ seed tables
@pytest.mark.parametrize("name", sorted(SEED_TABLES))
def test_seed_tables_reproduce_the_published_fe_and_re(name):
    cmp = compare(fit_reml("y ~ 1 + (1|g)", datasets.load(name)))
    table = cmp.groups.set_index("level")[["no_pooling", "blup"]]
    expected = pd.DataFrame.from_dict(
        SEED_TABLES[name], orient="index", columns=["no_pooling", "blup"]
    )
    assert list(table.index) == list(expected.index)
    # no pooling: every printed digit (6 decimals)
    np.testing.assert_allclose(table["no_pooling"], expected["no_pooling"], rtol=0, atol=5e-7)
    # BLUPs: within 3e-5 of the published values
    np.testing.assert_allclose(table["blup"], expected["blup"], rtol=0, atol=3e-5)


def test_seed_model2_group3_matches_the_published_blup():
    cmp = compare(fit_reml("y ~ 1 + (1|g)", datasets.load("seed_model2")))
    row = cmp.groups.set_index("level").loc["3"]
    assert row["no_pooling"] == pytest.approx(26.118189, abs=5e-7)
    assert abs(row["blup"] - 24.89537) < 3e-5  # published (older lme4)


# ---------------------------------------------------------- fixed effects
def test_reml_columns_are_the_fit(mpg_cmp):
    fit = mpg_cmp.fit
    table = mpg_cmp.fixed.set_index("term")
    np.testing.assert_array_equal(table["reml"], fit.fixef)
    np.testing.assert_array_equal(table["reml_se"], fit.se)


def test_columns_without_and_with_a_posterior(mpg_cmp):
    bare = compare(fitted_case("mpg_class"))
    assert list(bare.fixed.columns) == FIXED_COLUMNS[:5]
    assert list(bare.groups.columns) == GROUP_COLUMNS[:9]
    assert list(bare.variances.columns) == VARIANCE_COLUMNS[:3]
    assert not bare.has_posterior
    assert list(mpg_cmp.fixed.columns) == FIXED_COLUMNS
    assert list(mpg_cmp.groups.columns) == GROUP_COLUMNS
    assert list(mpg_cmp.variances.columns) == VARIANCE_COLUMNS
    assert mpg_cmp.has_posterior


@pytest.mark.parametrize(
    "case", [*sorted(SEED_TABLES), "mpg_class", "sleepstudy_intercept", "sleepstudy_slopes"]
)
def test_ols_and_no_pooling_columns_are_the_baselines(case):
    """The columns ``test_baselines`` checks against R's ``lm``, as compare() reports them."""
    fit = fitted_case(case)
    cmp = compare(fit)
    coef, se, _ = ols(fit.spec.X, fit.spec.y)
    np.testing.assert_array_equal(cmp.fixed["ols"], coef)
    np.testing.assert_array_equal(cmp.fixed["ols_se"], se)
    for factor in fit.spec.factors:
        own = no_pooling_coefficients(fit.spec, factor.name)
        for term in factor.terms:
            block = cmp.group_block(factor.name, "level", term)
            assert list(block["level"]) == list(own.index)
            np.testing.assert_array_equal(block["no_pooling"], own[term])


# ------------------------------------------------------------ group table
def test_group_columns_are_coef_condvar_kept_and_pooling(mpg_cmp):
    fit = mpg_cmp.fit
    block = mpg_cmp.groups.set_index("level")
    np.testing.assert_allclose(block["blup"], fit.coef()["class"]["Intercept"], rtol=1e-12)
    np.testing.assert_allclose(block["cond_sd"] ** 2, fit.condvar["class"]["Intercept"])
    sd2 = (fit.theta[0] * fit.sigma) ** 2
    np.testing.assert_allclose(block["kept"], sd2 / (sd2 + fit.sigma**2 / block["n"]), rtol=1e-12)
    np.testing.assert_allclose(block["pooling"], 1 - block["kept"], rtol=1e-12)
    assert block["n"].sum() == fit.nobs
    assert "shrinkage" not in block.columns


def test_kept_is_the_share_of_its_own_deviation_a_level_keeps():
    """blup - mean = kept * (no_pooling - mean): a fully pooled level keeps 0, pools 1."""
    for case in ("seed_model2", "seed_model1"):
        cmp = compare(fitted_case(case))
        groups, center = cmp.groups, cmp.population
        np.testing.assert_allclose(
            groups["blup"] - center, groups["kept"] * (groups["no_pooling"] - center), atol=1e-8
        )
    assert (groups["kept"] == 0).all() and (groups["pooling"] == 1).all()  # seed_model1


@pytest.mark.parametrize(
    ("case", "blocks"),
    [("penicillin_crossed", {"plate": 24, "sample": 6}),
     ("pastes_nested", {"cask:batch": 30, "batch": 10})],
)  # fmt: skip
def test_one_block_per_factor_for_crossed_and_nested(case, blocks):
    fit = fitted_case(case)
    cmp = compare(fit, synthetic_posterior(fit))
    assert cmp.groups.groupby("group", sort=False).size().to_dict() == blocks
    assert list(cmp.variances["component"]) == [*blocks, "Residual"]
    for name in blocks:
        block = cmp.group_block(name)
        expected = fit.fixef["Intercept"] + fit.ranef[name]["Intercept"].to_numpy()
        np.testing.assert_allclose(block["blup"], expected)
    assert "other random factors" in cmp.to_text()


# -------------------------------------------------------------- posterior
def test_posterior_group_column_is_intercept_plus_effect_per_draw(mpg_cmp):
    fit = mpg_cmp.fit
    posterior = synthetic_posterior(fit)["posterior"].to_dataset()
    combined = posterior["class"] + posterior["beta"].sel(fixed="Intercept")
    block = mpg_cmp.groups.set_index("level")
    means = combined.mean(("chain", "draw")).to_series()
    np.testing.assert_allclose(block["post_mean"], means[block.index], rtol=1e-12)
    sds = combined.std(("chain", "draw"), ddof=1).to_series()
    np.testing.assert_allclose(block["post_sd"], sds[block.index], rtol=1e-12)
    assert (block["ci_low"] < block["post_mean"]).all()
    assert (block["post_mean"] < block["ci_high"]).all()


def test_hdi_prob_still_sets_an_hdi_of_that_width():
    fit = fitted_case("sleepstudy_intercept")
    tree = synthetic_posterior(fit)
    wide = compare(fit, tree, hdi_prob=0.94)
    narrow = compare(fit, tree, hdi_prob=0.5).fixed
    assert (wide.ci_prob, wide.ci_kind, wide.interval_label) == (0.94, "hdi", "94% HDI")
    wide = wide.fixed
    assert ((wide["ci_high"] - wide["ci_low"]) > (narrow["ci_high"] - narrow["ci_low"])).all()
    beta = tree["posterior"]["beta"].sel(fixed="Days").to_numpy().ravel()
    inside = np.mean((beta >= wide.loc[1, "ci_low"]) & (beta <= wide.loc[1, "ci_high"]))
    assert inside == pytest.approx(0.94, abs=0.01)
    with pytest.raises(DataError, match="hdi_prob"):
        compare(fit, tree, hdi_prob=94)


def test_intervals_default_to_arviz_rcparams_read_at_call_time(mpg_tree):
    import arviz as az

    fit = fitted_case("mpg_class")
    cmp = compare(fit, mpg_tree)
    assert (cmp.ci_prob, cmp.ci_kind) == (
        az.rcParams["stats.ci_prob"],
        az.rcParams["stats.ci_kind"],
    )
    assert cmp.interval_label == "89% ETI"  # ArviZ 1.x's defaults
    with az.rc_context({"stats.ci_prob": 0.5, "stats.ci_kind": "hdi"}):
        changed = compare(fit, mpg_tree)
    assert changed.interval_label == "50% HDI"
    assert compare(fit, mpg_tree, ci_kind="hdi").interval_label == "89% HDI"
    assert compare(fit, mpg_tree, ci_prob=0.95).interval_label == "95% ETI"


def test_intervals_are_those_az_summary_prints(mpg_tree):
    """ci_low/ci_high equal az.summary's eti89_lb/ub (and hdi94_lb/ub when asked)."""
    import arviz as az

    fit = fitted_case("mpg_class")
    summary = az.summary(mpg_tree, var_names=["beta", "sigma"], round_to="none")
    cmp = compare(fit, mpg_tree)
    expected = summary.loc[[f"beta[{t}]" for t in fit.fixef.index], ["eti89_lb", "eti89_ub"]]
    np.testing.assert_allclose(cmp.fixed[["ci_low", "ci_high"]], expected, rtol=1e-12)
    residual = cmp.variances.set_index("component").loc["Residual", ["ci_low", "ci_high"]]
    np.testing.assert_allclose(residual, summary.loc["sigma", ["eti89_lb", "eti89_ub"]])
    hdi = az.summary(mpg_tree, var_names=["beta"], ci_kind="hdi", ci_prob=0.94, round_to="none")
    both = compare(fit, mpg_tree, ci_kind="hdi", ci_prob=0.94).fixed[["ci_low", "ci_high"]]
    np.testing.assert_allclose(both, hdi[["hdi94_lb", "hdi94_ub"]], rtol=1e-12)


def test_tables_record_their_interval_in_attrs(mpg_cmp):
    for table in (mpg_cmp.fixed, mpg_cmp.groups, mpg_cmp.variances):
        assert table.attrs == {"ci_prob": mpg_cmp.ci_prob, "ci_kind": mpg_cmp.ci_kind}
    assert compare(fitted_case("dyestuff")).groups.attrs == {}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"ci_prob": 1.5}, "ci_prob must be a probability"),
        ({"ci_kind": "central"}, "ci_kind must be 'eti'"),
        ({"hdi_prob": 0.9, "ci_kind": "eti"}, "hdi_prob=0.9 means"),
        ({"hdi_prob": 0.9, "ci_prob": 0.8}, "pass either hdi_prob alone"),
    ],
)
def test_bad_interval_arguments_say_what_to_pass(mpg_tree, arguments, message):
    with pytest.raises(DataError, match=message):
        compare(fitted_case("mpg_class"), mpg_tree, **arguments)


def test_variance_table_reads_sd_and_sigma(mpg_cmp):
    posterior = synthetic_posterior(mpg_cmp.fit)["posterior"]
    table = mpg_cmp.variances.set_index("component")
    assert table.loc["class", "post_median"] == pytest.approx(float(posterior["sd_class"].median()))
    assert table.loc["Residual", "post_mean"] == pytest.approx(float(posterior["sigma"].mean()))
    assert table.loc["Residual", "reml_sd"] == mpg_cmp.fit.sigma


def test_accepts_a_bare_posterior_dataset(mpg_cmp):
    posterior = synthetic_posterior(mpg_cmp.fit)["posterior"].to_dataset()
    again = compare(mpg_cmp.fit, posterior)
    pd.testing.assert_frame_equal(again.groups, mpg_cmp.groups)


def test_a_posterior_of_another_model_is_refused():
    """The checks themselves are tested in test_matching; here: compare() runs them."""
    fit = fitted_case("mpg_class")
    other = synthetic_posterior(fitted_case("sleepstudy_intercept"))
    with pytest.raises(ModelError, match=r"'hwy ~ displ \+ year \+ \(1\|class\)' on 234 rows"):
        compare(fit, other)
    posterior = synthetic_posterior(fit)["posterior"].to_dataset()
    with pytest.raises(ModelError, match=r"levels of class differ: only the fit has"):
        compare(fit, posterior.isel(class_level=slice(0, 5)))
    with pytest.raises(ModelError, match=r"fixed-effect terms differ: only the fit has 'year'"):
        compare(fit, posterior.isel(fixed=slice(0, 2)))


# --------------------------------------------------------------- sampling
@pytest.mark.sampling
def test_compare_with_a_real_posterior():
    from bayeshier.bayes.model import Model

    data = datasets.load("seed_model2")
    fit = fit_reml("y ~ 1 + (1|g)", data)
    idata = Model("y ~ 1 + (1|g)", data).sample(
        draws=300, tune=300, chains=2, random_seed=4, progressbar=False
    )
    cmp = compare(fit, idata)
    block = cmp.groups
    assert cmp.has_posterior and block["post_mean"].notna().all()
    # the posterior means sit near the BLUPs, inside their own HDIs
    assert ((block["post_mean"] - block["blup"]).abs() < block["post_sd"]).all()
    assert ((block["ci_low"] < block["blup"]) & (block["blup"] < block["ci_high"])).all()
    assert cmp.interval_label == "89% ETI"
    # the real DataTree's attrs and observed data pass the checks; another formula does not
    other = fit_reml("y ~ 1 + (1|g)", data.assign(y=data["y"] + 1.0))
    with pytest.raises(ModelError, match=r"observed y differ in 25 of 25 rows"):
        compare(other, idata)


# ------------------------------------------------------------ random slopes
@pytest.fixture(scope="module")
def slope_cmp():
    return compare(fitted_case("sleepstudy_slopes"))


def test_slope_blups_are_lme4_coef_and_shrunk_toward_the_fixed_slope(slope_cmp):
    fit = fitted_case("sleepstudy_slopes")
    block = slope_cmp.group_block("Subject", "level", "Days")
    np.testing.assert_allclose(block["blup"], fit.coef()["Subject"]["Days"], rtol=1e-12)
    assert block["kept"].between(0, 1).all()
    slope = fit.fixef["Days"]
    # the weight is a matrix, so a level's slope can move away from the fixed
    # slope (pulled along by its intercept), but the spread shrinks
    spread_blup = np.sum((block["blup"] - slope) ** 2)
    spread_own = np.sum((block["no_pooling"] - slope) ** 2)
    assert spread_blup < 0.8 * spread_own


def test_slope_variances_table_has_sds_and_the_correlation(slope_cmp):
    table = slope_cmp.variances
    assert list(table["term"]) == ["Intercept", "Days", "corr(Intercept, Days)", ""]
    reference = load_reference("sleepstudy_slopes")
    expected = [row["sdcor"] for row in reference["varcorr"].values()]
    np.testing.assert_allclose(table["reml_sd"], expected, rtol=5e-5)
    text = slope_cmp.to_text()
    assert "Group slopes of Days: Subject" in text
    assert "Subject corr(Intercept, Days) = 0.0656" in text


def test_slope_posterior_columns_read_term_and_correlation_dims():
    fit = fitted_case("sleepstudy_slopes")
    levels, terms = list(fit.spec.factors[0].levels), ["Intercept", "Days"]
    rng = np.random.default_rng(0)
    shape = (2, 50)
    effects = fit.ranef["Subject"].to_numpy()[None, None] + rng.normal(0, 1e-3, (*shape, 18, 2))
    corr = np.broadcast_to(np.array([[1.0, 0.2], [0.2, 1.0]]), (*shape, 2, 2))
    posterior = xr.Dataset(
        {
            "beta": (
                ("chain", "draw", "fixed"),
                np.broadcast_to(fit.fixef.to_numpy(), (*shape, 2)),
            ),
            "Subject": (("chain", "draw", "Subject_level", "Subject_term"), effects),
            "sd_Subject": (("chain", "draw", "Subject_term"), np.full((*shape, 2), 3.0)),
            "corr_Subject": (("chain", "draw", "Subject_term", "Subject_term_bis"), corr),
            "sigma": (("chain", "draw"), np.full(shape, 25.0)),
        },
        coords={
            "fixed": list(fit.fixef.index),
            "Subject_level": levels,
            "Subject_term": terms,
            "Subject_term_bis": terms,
        },
    )
    cmp = compare(fit, posterior)
    days = cmp.group_block("Subject", "level", "Days")
    np.testing.assert_allclose(days["post_mean"], days["blup"], atol=1e-3)
    corr_row = cmp.variances[cmp.variances["term"] == "corr(Intercept, Days)"].iloc[0]
    assert corr_row["post_mean"] == pytest.approx(0.2)
    with pytest.raises(ModelError, match="lacks the variable\\(s\\) 'corr_Subject'"):
        compare(fit, posterior.drop_vars("corr_Subject"))


# ----------------------------------------------------------------- imports
def test_import_bayeshier_loads_neither_xarray_nor_the_samplers_and_plots():
    heavy = ("xarray", "arviz", "pymc", "matplotlib")
    code = f"import sys, bayeshier; print([m for m in {heavy!r} if m in sys.modules])"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
