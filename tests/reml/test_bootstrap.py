"""Parametric bootstrap: checked by its properties (it is random), not against lme4."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from reference_cases import FIXTURES

import bayeshier.reml.bootstrap as bootstrap_module
from bayeshier import ModelError, datasets, fit_reml
from bayeshier.errors import ConvergenceWarning
from bayeshier.reml import BootstrapWarning, parametric_bootstrap
from bayeshier.reml.bootstrap import simulate

NSIM = 60


@pytest.fixture(scope="module")
def sleep_fit():
    return fit_reml("Reaction ~ Days + (Days|Subject)", datasets.load("sleepstudy"))


@pytest.fixture(scope="module")
def sleep_replicates(sleep_fit) -> pd.DataFrame:
    return parametric_bootstrap(sleep_fit, NSIM, random_seed=11, progress=False)


@pytest.fixture(scope="module")
def sleep_boot_ci(sleep_fit) -> pd.DataFrame:
    return sleep_fit.confint(method="boot", nsim=NSIM, random_seed=11, progress=False)


def test_replicates_layout(sleep_fit, sleep_replicates: pd.DataFrame) -> None:
    assert sleep_replicates.shape == (NSIM, 6)
    assert list(sleep_replicates.columns) == list(sleep_fit.confint(method="wald").index)
    assert sleep_replicates.attrs["n_failed"] == 0
    correlations = sleep_replicates["cor_Days.(Intercept)|Subject"]
    assert correlations.between(-1, 1).all()
    assert (sleep_replicates["sigma"] > 0).all()


def test_seed_makes_it_reproducible(sleep_fit, sleep_boot_ci: pd.DataFrame) -> None:
    again = sleep_fit.confint(method="boot", nsim=NSIM, random_seed=11, progress=False)
    pd.testing.assert_frame_equal(again, sleep_boot_ci)
    other = sleep_fit.confint(method="boot", nsim=NSIM, random_seed=12, progress=False)
    assert not np.allclose(other.to_numpy(), sleep_boot_ci.to_numpy())


def test_percentile_intervals_are_the_replicates_quantiles(
    sleep_replicates: pd.DataFrame, sleep_boot_ci: pd.DataFrame
) -> None:
    quantiles = sleep_replicates.quantile([0.025, 0.975]).T.to_numpy()
    np.testing.assert_allclose(sleep_boot_ci.to_numpy(), quantiles)
    assert sleep_boot_ci.attrs["method"] == "boot"


def test_intervals_bracket_the_estimates(sleep_fit, sleep_boot_ci: pd.DataFrame) -> None:
    variance = sleep_fit.varcorr["sd_cor"].to_numpy()
    estimates = pd.Series(
        [variance[0], variance[2], variance[1], sleep_fit.sigma, *sleep_fit.fixef],
        index=sleep_boot_ci.index,
    )
    assert (sleep_boot_ci["lower"] < estimates).all()
    assert (estimates < sleep_boot_ci["upper"]).all()


def test_fixed_effects_spread_like_their_standard_errors(
    sleep_fit, sleep_replicates: pd.DataFrame, sleep_boot_ci: pd.DataFrame
) -> None:
    spread = sleep_replicates[list(sleep_fit.fixef.index)].std()
    ratio = spread / sleep_fit.se
    assert ratio.between(0.7, 1.4).all(), ratio
    wald = sleep_fit.confint("beta_", method="wald")
    boot = sleep_boot_ci.loc[wald.index]
    width = wald["upper"] - wald["lower"]
    assert ((boot - wald).abs().max(axis=1) < 0.3 * width).all()


def test_simulated_responses_follow_the_fitted_model() -> None:
    fit = fit_reml("Yield ~ 1 + (1|Batch)", datasets.load("dyestuff"))
    rng = np.random.default_rng(5)
    draws = np.array([simulate(fit, rng) for _ in range(4000)])
    intercept = fit.fixef["Intercept"]
    group_variance = fit.covariances["Batch"].iloc[0, 0]
    assert draws.mean() == pytest.approx(intercept, abs=4 * np.sqrt(group_variance / 4000))
    marginal = draws.var(axis=0).mean()
    assert marginal == pytest.approx(group_variance + fit.sigma**2, rel=0.1)
    same_batch = np.corrcoef(draws[:, 0], draws[:, 1])[0, 1]
    assert same_batch == pytest.approx(group_variance / (group_variance + fit.sigma**2), abs=0.1)


def test_simulation_honours_weights_and_offsets() -> None:
    """Var(e_i) = sigma^2 / w_i, and the offset stays in the simulated mean."""
    data = pd.read_csv(FIXTURES / "rform_sleep_weights.csv", dtype={"Subject": str})
    fit = fit_reml("Reaction ~ Days + offset(2*Days) + (1|Subject)", data, weights="w", reml=False)
    rng = np.random.default_rng(8)
    draws = np.array([simulate(fit, rng) for _ in range(3000)])
    X = fit.spec.fixed_design(data)
    mean = X @ fit.fixef.to_numpy() + 2 * data["Days"].to_numpy()
    expected = fit.covariances["Subject"].iloc[0, 0] + fit.sigma**2 / data["w"].to_numpy()
    z = (draws.mean(axis=0) - mean) / np.sqrt(expected / len(draws))
    assert np.abs(z).max() < 5
    ratio = draws.var(axis=0) / expected
    assert ratio.mean() == pytest.approx(1.0, abs=0.03)
    assert np.corrcoef(ratio, data["w"])[0, 1] == pytest.approx(0.0, abs=0.2)


def test_failed_refits_are_left_out_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    fit = fit_reml("Yield ~ 1 + (1|Batch)", datasets.load("dyestuff"))
    original = bootstrap_module.refit_spec
    calls = []

    def flaky(spec, *, reml):
        calls.append(1)
        if len(calls) % 3 == 0:
            raise ConvergenceWarning("did not converge")
        return original(spec, reml=reml)

    monkeypatch.setattr(bootstrap_module, "refit_spec", flaky)
    with pytest.warns(BootstrapWarning, match="3 of 9 bootstrap refits"):
        replicates = parametric_bootstrap(fit, 9, random_seed=1, progress=False)
    assert len(replicates) == 6
    assert replicates.attrs["n_failed"] == 3


def test_progress_line_on_stderr(capsys: pytest.CaptureFixture) -> None:
    fit = fit_reml("Yield ~ 1 + (1|Batch)", datasets.load("dyestuff"))
    parametric_bootstrap(fit, 5, random_seed=2)
    err = capsys.readouterr().err
    assert "bootstrap [" in err and "5/5" in err
    parametric_bootstrap(fit, 5, random_seed=2, progress=False)
    assert capsys.readouterr().err == ""


def test_nsim_must_be_a_positive_integer() -> None:
    fit = fit_reml("Yield ~ 1 + (1|Batch)", datasets.load("dyestuff"))
    with pytest.raises(ModelError, match="nsim must be a positive integer"):
        fit.confint(method="boot", nsim=0)
