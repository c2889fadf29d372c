"""diagnose(): per-parameter and per-chain checks on synthetic draws with known problems."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayeshier.bayes.diagnostics import (
    SamplingWarning,
    chain_diagnostics,
    diagnose,
    free_correlations,
)
from bayeshier.errors import ModelError

CHAINS, DRAWS = 4, 1000


def _tree(posterior: dict, diverging=None, energy=None, seed: int = 0) -> xr.DataTree:
    rng = np.random.default_rng(seed)
    coords = {"chain": np.arange(CHAINS), "draw": np.arange(DRAWS)}
    if "beta" in posterior:
        coords["fixed"] = ["Intercept", "x"]
    stats = {
        "diverging": (
            ("chain", "draw"),
            np.zeros((CHAINS, DRAWS), bool) if diverging is None else diverging,
        ),
        "energy": (
            ("chain", "draw"),
            rng.normal(size=(CHAINS, DRAWS)) if energy is None else energy,
        ),
    }
    return xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset(posterior, coords=coords),
            "sample_stats": xr.Dataset(stats, coords=coords),
        }
    )


def _good(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "sigma": (("chain", "draw"), rng.normal(3, 0.1, (CHAINS, DRAWS))),
        "beta": (("chain", "draw", "fixed"), rng.normal(size=(CHAINS, DRAWS, 2))),
    }


def test_clean_sample_passes_without_warnings():
    tree = _tree(_good())
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplingWarning)
        table = diagnose(tree)
    assert table.attrs["warnings"] == []
    params = table
    assert set(params.index) == {"sigma", "beta[Intercept]", "beta[x]"}
    assert list(table.columns) == ["r_hat", "ess_bulk", "ess_tail", "mcse", "mcse_sd"]
    assert str(table["ess_bulk"].dtype) == str(table["ess_tail"].dtype) == "Int64"
    assert params["r_hat"].max() < 1.01
    assert params["ess_bulk"].min() > 2000
    chains = chain_diagnostics(tree)
    assert list(chains.index) == [f"chain {c}" for c in range(CHAINS)]
    assert str(chains["divergences"].dtype) == "Int64"
    assert chains["divergences"].sum() == 0 == table.attrs["divergences"]
    assert (chains["bfmi"] > 1).all()
    pd.testing.assert_frame_equal(pd.DataFrame(table.attrs["chains"]), chains, check_dtype=False)
    assert params["mcse"].loc["sigma"] == pytest.approx(0.1 / np.sqrt(CHAINS * DRAWS), rel=0.2)


def test_disagreeing_chains_fail_rhat():
    posterior = _good()
    posterior["sigma"][1][0] += 1.0  # chain 0 sits elsewhere
    with pytest.warns(SamplingWarning, match=r"R-hat is above 1.01 .*worst: sigma"):
        table = diagnose(_tree(posterior))
    assert table.loc["sigma", "r_hat"] > 1.01


def test_autocorrelated_chain_fails_ess():
    rng = np.random.default_rng(3)
    walk = np.cumsum(rng.normal(size=(CHAINS, DRAWS)), axis=1) * 0.01
    posterior = {"sd_g": (("chain", "draw"), 1 + walk)}
    with pytest.warns(SamplingWarning, match="bulk ESS is below 400"):
        table = diagnose(_tree(posterior))
    assert table.loc["sd_g", "ess_bulk"] < 400


def test_divergences_are_counted_per_chain_and_explained():
    diverging = np.zeros((CHAINS, DRAWS), bool)
    diverging[2, [5, 50, 500]] = True
    with pytest.warns(
        SamplingWarning, match=r"3 divergent transition\(s\) \(chain 2\).*noncentered"
    ):
        table = diagnose(_tree(_good(), diverging=diverging))
    assert table.attrs["chains"]["divergences"]["chain 2"] == 3
    assert table.attrs["chains"]["divergences"]["chain 0"] == 0
    assert table.attrs["divergences"] == 3 and type(table.attrs["divergences"]) is int


def test_low_bfmi_is_reported():
    rng = np.random.default_rng(4)
    energy = np.cumsum(rng.normal(size=(CHAINS, DRAWS)), axis=1)  # slowly wandering energy
    with pytest.warns(SamplingWarning, match="E-BFMI is below 0.3"):
        table = diagnose(_tree(_good(), energy=energy))
    assert all(value < 0.3 for value in table.attrs["chains"]["bfmi"].values())


def test_warnings_can_be_silenced_but_are_kept():
    posterior = _good()
    posterior["sigma"][1][0] += 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplingWarning)
        table = diagnose(_tree(posterior), warn=False)
    assert any("R-hat" in message for message in table.attrs["warnings"])


def test_var_names_select_parameters():
    table = diagnose(_tree(_good()), var_names=["sigma"])
    assert list(table.index) == ["sigma"]


def test_needs_a_posterior():
    with pytest.raises(ModelError, match="posterior"):
        diagnose(xr.DataTree())


def test_without_sample_stats_chain_checks_are_missing():
    tree = xr.DataTree.from_dict({"posterior": _tree(_good())["posterior"].to_dataset()})
    table = diagnose(tree)
    assert chain_diagnostics(tree)["divergences"].isna().all()
    assert table.attrs["divergences"] == 0


def test_diagnose_checks_each_correlation_once(slopes, fake_slopes_posterior):
    posterior = fake_slopes_posterior(slopes, draws=200)
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
    parameters = table
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


def test_an_interrupted_run_is_the_first_warning():
    tree = _tree(_good())
    tree.attrs.update(interrupted="true", interruption="interrupted after 40 of 1,000 draws")
    with pytest.warns(SamplingWarning) as record:
        table = diagnose(tree)
    first = str(record[0].message)
    assert first.startswith("The run was interrupted (interrupted after 40 of 1,000 draws)")
    assert table.attrs["warnings"][0] == first


def test_a_complete_run_has_no_interruption_warning():
    tree = _tree(_good())
    tree.attrs["interrupted"] = "false"
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplingWarning)
        assert diagnose(tree).attrs["warnings"] == []
