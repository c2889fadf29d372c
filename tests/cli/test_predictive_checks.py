"""bayeshier.cli.predictive_checks: observed statistics against their replicates."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from bayeshier.cli.predictive_checks import predictive_checks
from bayeshier.present.intervals import CredibleInterval

OBSERVED = np.array([1.0, 2.0, 3.0, 4.0])


def _tree(replicates: np.ndarray) -> xr.DataTree:
    return xr.DataTree.from_dict(
        {
            "observed_data": xr.Dataset({"y": ("obs", OBSERVED)}),
            "posterior_predictive": xr.Dataset({"y": (("chain", "draw", "obs"), replicates)}),
        }
    )


def test_statistics_of_the_data_and_of_each_replicate():
    # two chains x two draws: the replicate is the data shifted by 0, 1, 2, 3
    shifts = np.arange(4.0).reshape(2, 2, 1)
    table = predictive_checks(_tree(OBSERVED + shifts), CredibleInterval(0.5, "eti"))
    rows = table.set_index("statistic")
    assert list(rows.index) == ["mean", "sd", "min", "max"]
    assert rows.loc["mean", "observed"] == 2.5
    assert rows.loc["mean", "replicated"] == pytest.approx(2.5 + 1.5)  # mean shift 1.5
    assert rows.loc["sd", "observed"] == pytest.approx(np.sqrt(5 / 3))  # ddof = 1
    assert rows.loc["sd", "p_at_least"] == 1.0  # a shift leaves the sd as it is
    assert rows.loc["max", "p_at_least"] == 1.0 and rows.loc["min", "p_at_least"] == 1.0
    # means 2.5, 3.5, 4.5, 5.5: the central 50% by linear quantiles is 3.25 to 4.75
    assert (rows.loc["mean", "ci_low"], rows.loc["mean", "ci_high"]) == pytest.approx((3.25, 4.75))
    assert table.attrs["interval"] == "50% ETI"


def test_a_model_that_misses_the_spread_shows_in_p_at_least():
    rng = np.random.default_rng(1)
    narrow = 2.5 + 0.01 * rng.standard_normal((2, 50, 4))
    rows = predictive_checks(_tree(narrow), CredibleInterval(0.89, "eti")).set_index("statistic")
    assert rows.loc["sd", "p_at_least"] == 0.0
    assert rows.loc["max", "p_at_least"] == 0.0 and rows.loc["min", "p_at_least"] == 1.0
