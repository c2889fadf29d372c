"""Random slopes in the REML/ML solver: lme4 at its tight optimum, and the new outputs.

``fixtures/lme4_tight`` holds lme4 1.1-31 fits of the sleepstudy slope models (and of two
crossed slope models on simulated data, slopes_crossed.csv)
refitted with bobyqa at ``rhoend = 1e-12`` (``make_tight.R``): lmer's
defaults stop up to 4e-5 away in theta (see ``test_reml_reference.py``).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from reference_cases import SLOPE_CASES, TESTS, fitted_case

from bayeshier import datasets, fit_reml

TIGHT = TESTS / "fixtures" / "lme4_tight"
RTOL = 1e-6

# The criterion is flat along a small off-diagonal theta: at the two optima
# (ours and tight lme4's, criteria equal to 1e-12, gradients both below 3e-5)
# sleepstudy's theta_21 = 0.01517 differs by 2.4e-8. Quantities near zero are
# therefore compared on the scale of their matrix: theta against the largest
# theta of the factor, a covariance against sd_i * sd_j, a correlation in
# absolute terms, each at 1e-6.


def tight_reference(case: str) -> dict:
    return json.loads((TIGHT / f"{case}.json").read_text())


def lme4_name(term: str) -> str:
    return "(Intercept)" if term == "Intercept" else term


def assert_close(actual, expected, rtol: float = RTOL, atol: float = 0.0) -> None:
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), rtol, atol)


#: Simulated crossed cases fitted on ``fixtures/lme4_tight/slopes_crossed.csv``.
CROSSED_CASES = ["slopes_crossed", "slopes_crossed_mixed"]
_CROSSED_FITS: dict = {}


@pytest.fixture(params=SLOPE_CASES + CROSSED_CASES)
def slope_case(request: pytest.FixtureRequest) -> str:
    return request.param


def tight_fit(case: str):
    """Our fit of a tight-lme4 case (the crossed ones on their simulated CSV)."""
    if case not in CROSSED_CASES:
        return fitted_case(case)
    if case not in _CROSSED_FITS:
        reference = tight_reference(case)
        data = pd.read_csv(TIGHT / "slopes_crossed.csv")
        _CROSSED_FITS[case] = fit_reml(reference["formula"], data, reml=reference["REML"])
    return _CROSSED_FITS[case]


def test_theta_and_criterion_match_tight_lme4(slope_case: str) -> None:
    fit = tight_fit(slope_case)
    reference = tight_reference(slope_case)
    assert fit.theta_names == list(reference["theta"])
    assert_close(fit.theta, list(reference["theta"].values()), atol=RTOL * fit.theta.max())
    assert_close(fit.criterion, reference["criterion"], rtol=1e-10)
    assert fit.is_singular == reference["isSingular"]


def test_fixed_effects_and_sigma_match_tight_lme4(slope_case: str) -> None:
    fit = tight_fit(slope_case)
    reference = tight_reference(slope_case)
    assert_close(fit.fixef, [reference["fixef"][lme4_name(n)] for n in fit.fixef.index])
    assert_close(fit.se, [reference["se"][lme4_name(n)] for n in fit.se.index])
    assert_close(fit.sigma, reference["sigma"])


def test_sds_and_correlation_match_tight_lme4(slope_case: str) -> None:
    fit = tight_fit(slope_case)
    expected = pd.DataFrame(tight_reference(slope_case)["varcorr"]).fillna("")
    table = fit.varcorr.fillna("")
    assert [lme4_name(t) for t in table["term1"]] == list(expected["var1"])
    assert [lme4_name(t) for t in table["term2"]] == list(expected["var2"])
    variances = table[table["term2"] == ""]
    pairs = table[table["term2"] != ""]
    assert_close(variances["variance"], expected.loc[variances.index, "vcov"])
    assert_close(variances["sd_cor"], expected.loc[variances.index, "sdcor"])
    singles = fit.varcorr[fit.varcorr["term2"].isna()]
    columns = (singles["group"], singles["term1"], singles["sd_cor"])
    sds = {(g, t): sd for g, t, sd in zip(*columns, strict=True)}
    for index, row in pairs.iterrows():
        scale = sds[(row["group"], row["term1"])] * sds[(row["group"], row["term2"])]
        assert_close(row["variance"], expected.loc[index, "vcov"], atol=RTOL * scale)
        assert_close(row["sd_cor"], expected.loc[index, "sdcor"], rtol=0, atol=RTOL)


def test_blups_and_condvar_match_tight_lme4(slope_case: str) -> None:
    fit = tight_fit(slope_case)
    reference = tight_reference(slope_case)
    for name, by_term in reference["ranef"].items():
        modes = fit.ranef[name]
        scale = np.abs(modes.to_numpy()).max(axis=0)
        for column, (term, expected) in enumerate(by_term.items()):
            assert modes.columns[column] == ("Intercept" if term == "(Intercept)" else term)
            assert_close(modes.iloc[:, column], list(expected.values()), atol=RTOL * scale[column])
        for column, expected in enumerate(reference["condVar"][name].values()):
            assert_close(fit.condvar[name].iloc[:, column], list(expected.values()))


def test_condcov_holds_the_correlated_blocks_and_zeros_between_uncorrelated_terms() -> None:
    correlated = fitted_case("sleepstudy_slopes").condcov["Subject"]
    uncorrelated = fitted_case("sleepstudy_uncorrelated").condcov["Subject"]
    assert correlated.shape == uncorrelated.shape == (18, 2, 2)
    assert np.all(np.abs(correlated[:, 0, 1]) > 0)
    np.testing.assert_allclose(correlated, np.swapaxes(correlated, 1, 2))
    assert np.all(np.linalg.eigvalsh(correlated) > 0)
    # the uncorrelated model still has correlated posteriors within a subject
    # (they share the subject's data), but a covariance matrix with 0 off the block
    covariance = fitted_case("sleepstudy_uncorrelated").covariances["Subject"].to_numpy()
    assert covariance[0, 1] == 0.0 and covariance[1, 0] == 0.0


def test_fitted_values_add_intercept_and_slope_blups() -> None:
    fit = fitted_case("sleepstudy_slopes")
    data = datasets.load("sleepstudy")
    coef = fit.coef()["Subject"]
    by_hand = (
        coef.loc[data["Subject"].astype(str), "Intercept"].to_numpy()
        + coef.loc[data["Subject"].astype(str), "Days"].to_numpy() * data["Days"].to_numpy()
    )
    assert_close(fit.fitted, by_hand, rtol=1e-12)
    assert_close(fit.predict(data), by_hand, rtol=1e-12)


def test_slope_only_term_has_no_intercept_column() -> None:
    fit = fit_reml("Reaction ~ Days + (0 + Days|Subject)", datasets.load("sleepstudy"))
    assert list(fit.ranef["Subject"].columns) == ["Days"]
    assert fit.theta_names == ["Subject.Days"]
    assert list(fit.varcorr["term1"].iloc[:1]) == ["Days"]


def test_perfect_correlation_is_a_singular_fit() -> None:
    """Slopes that are an exact multiple of the intercepts: correlation -1, flagged singular."""
    rng = np.random.default_rng(3)
    groups, per_group = 30, 8
    g = np.repeat(np.arange(groups), per_group)
    x = np.tile(np.linspace(-1, 1, per_group), groups)
    effect = rng.normal(0, 2.0, groups)
    y = 1 + 0.5 * x + effect[g] - 0.5 * effect[g] * x + rng.normal(0, 0.3, g.size)
    data = pd.DataFrame({"y": y, "x": x, "g": g.astype(str)})
    fit = fit_reml("y ~ x + (x|g)", data)
    correlation = fit.varcorr.query("term2 == 'x'")["sd_cor"].iloc[0]
    assert fit.is_singular
    assert correlation == pytest.approx(-1.0, abs=1e-3)
    assert "singular" in fit.summary()


# --------------------------------------------- dense reference for any structure
def _dense_z(spec) -> np.ndarray:
    """``Z`` with level-major columns per factor, as the solver orders them."""
    blocks = []
    for factor in spec.factors:
        k = factor.n_columns
        block = np.zeros((spec.nobs, factor.n_levels * k))
        for r in range(k):
            block[np.arange(spec.nobs), factor.codes * k + r] = factor.columns()[:, r]
        blocks.append(block)
    return np.hstack(blocks)


def _dense_lambda(fit_layout, spec, theta: np.ndarray) -> np.ndarray:
    relative = fit_layout.relative_factors(theta)
    from scipy.linalg import block_diag

    return block_diag(
        *[np.kron(np.eye(f.n_levels), T) for f, T in zip(spec.factors, relative, strict=True)]
    )


def _slope_frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 160
    data = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "a": rng.integers(0, 9, n).astype(str),
            "b": rng.integers(0, 5, n).astype(str),
            "f": rng.choice(list("pq"), n),
        }
    )
    data["y"] = rng.normal(size=n) + data["x"] * data["a"].map(lambda v: int(v) / 4)
    return data


DENSE_FORMULAS = [
    "y ~ x + (x|a)",
    "y ~ x + (x|a) + (x|b)",
    "y ~ x + (1|a) + (0 + x|b)",
    "y ~ x + (x||a) + (f|b)",
]


@pytest.mark.parametrize("formula", DENSE_FORMULAS)
@pytest.mark.parametrize("reml", [True, False])
def test_criterion_blups_and_condcov_equal_the_dense_computation(formula: str, reml: bool) -> None:
    from reference_cases import factor_at

    from bayeshier.reml.covariance import theta_layout
    from bayeshier.reml.crossprod import cross_products
    from bayeshier.reml.estimates import estimates
    from bayeshier.reml.factor import profiled_deviance
    from bayeshier.spec.model_spec import build_spec

    spec = build_spec(formula, _slope_frame())
    layout = theta_layout(spec.factors)
    rng = np.random.default_rng(5)
    theta = layout.start() + 0.4 * rng.standard_normal(layout.n_theta)
    theta[layout.diagonal] = np.abs(theta[layout.diagonal]) + 0.1
    cp = cross_products(spec)
    factor = factor_at(cp, spec, theta)

    Z, Lam, X, y = _dense_z(spec), _dense_lambda(layout, spec, theta), spec.X, spec.y
    n, p = X.shape
    V = np.eye(n) + Z @ Lam @ Lam.T @ Z.T
    V_inv = np.linalg.inv(V)
    beta = np.linalg.solve(X.T @ V_inv @ X, X.T @ V_inv @ y)
    resid = y - X @ beta
    r2 = resid @ V_inv @ resid
    dof = n - p if reml else n
    expected = np.linalg.slogdet(V)[1] + dof * (1 + np.log(2 * np.pi * r2 / dof))
    if reml:
        expected += np.linalg.slogdet(X.T @ V_inv @ X)[1]
    assert profiled_deviance(cp, factor, reml) == pytest.approx(expected, rel=1e-10)

    est = estimates(cp, factor, reml)
    sigma2 = r2 / dof
    G = Lam @ Lam.T
    blups = G @ Z.T @ V_inv @ resid
    condcov = sigma2 * (G - G @ Z.T @ V_inv @ Z @ G)
    start = 0
    for f, modes, covariances in zip(spec.factors, est.blups, est.condcovs, strict=True):
        k, levels = f.n_columns, f.n_levels
        block = slice(start, start + levels * k)
        assert_close(modes.ravel(), blups[block], rtol=1e-8, atol=1e-10)
        dense = condcov[block, block].reshape(levels, k, levels, k)
        diagonal_blocks = dense[np.arange(levels), :, np.arange(levels), :]
        assert_close(covariances, diagonal_blocks, rtol=1e-8, atol=1e-12)
        start += levels * k
    assert_close(est.beta, beta, rtol=1e-9)
