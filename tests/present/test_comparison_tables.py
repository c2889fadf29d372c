"""bayeshier.present.comparison_tables: the three tables, checked against lme4 directly.

(``compare`` itself, which assembles them, is tested in test_comparison.)
"""

from __future__ import annotations

import numpy as np
import pytest
from reference_cases import fitted_case, load_reference
from synthetic import synthetic_posterior

from bayeshier.present.comparison_tables import (
    GROUP_COLUMNS,
    fixed_table,
    group_table,
    kept_shares,
    variance_table,
)
from bayeshier.present.intervals import CredibleInterval


def test_slope_kept_is_one_minus_lme4_condvar_over_the_prior_variance():
    fit = fitted_case("sleepstudy_slopes")
    reference = load_reference("sleepstudy_slopes")
    variances = {row["var1"]: row["vcov"] for row in reference["varcorr"].values()
                 if row["grp"] == "Subject" and row["var2"] is None}  # fmt: skip
    kept = kept_shares(fit, fit.spec.factor("Subject"))
    # the fixture has no condVar for slopes: the fit's, over lme4's prior variances
    for column, (term, lme4_term) in enumerate([("Intercept", "(Intercept)"), ("Days", "Days")]):
        condvar = fit.condvar["Subject"][term].to_numpy()
        np.testing.assert_allclose(kept[:, column], 1 - condvar / variances[lme4_term], rtol=1e-4)
    assert ((kept > 0) & (kept < 1)).all()


def test_intercept_kept_is_lambda_at_lme4_estimates():
    fit = fitted_case("dyestuff")
    reference = load_reference("dyestuff")
    theta = next(iter(reference["theta"].values()))
    kept = kept_shares(fit, fit.spec.factors[0])[:, 0]
    np.testing.assert_allclose(kept, theta**2 / (theta**2 + 1 / 5), rtol=1e-5)  # 5 per batch


def test_tables_with_a_posterior_carry_their_interval():
    fit = fitted_case("sleepstudy_intercept")
    posterior = synthetic_posterior(fit)["posterior"].to_dataset()
    interval = CredibleInterval(0.5, "hdi")
    for build in (fixed_table, group_table, variance_table):
        table = build(fit, posterior, interval)
        assert table.attrs == {"ci_prob": 0.5, "ci_kind": "hdi"}
        assert {"ci_low", "ci_high"} <= set(table.columns)
        assert build(fit).attrs == {}
    assert list(group_table(fit).columns) == GROUP_COLUMNS[:9]
    residual = variance_table(fit).iloc[-1]
    assert residual["component"] == "Residual"
    assert residual["reml_sd"] == pytest.approx(load_reference("sleepstudy_intercept")["sigma"])
