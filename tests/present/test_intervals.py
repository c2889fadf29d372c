"""bayeshier.present.intervals: one credible-interval convention, ArviZ 1.x's by default."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from bayeshier.errors import DataError
from bayeshier.present.intervals import CredibleInterval, interval_label, resolve_interval


def test_the_default_is_arviz_rcparams_89_percent_eti():
    from arviz_base import rc_context, rcParams

    assert (rcParams["stats.ci_prob"], rcParams["stats.ci_kind"]) == (0.89, "eti")
    assert resolve_interval() == CredibleInterval(0.89, "eti")
    with rc_context({"stats.ci_prob": 0.95, "stats.ci_kind": "hdi"}):
        assert resolve_interval().label == "95% HDI"  # read at call time
        assert resolve_interval(ci_kind="eti").label == "95% ETI"
    assert resolve_interval(hdi_prob=0.94) == CredibleInterval(0.94, "hdi")


def test_labels_keep_fractional_percentages():
    assert interval_label(0.89, "eti") == "89% ETI"
    assert interval_label(0.895, "hdi") == "89.5% HDI"


def test_an_eti_is_the_central_quantiles():
    rng = np.random.default_rng(3)
    draws = xr.DataArray(rng.gamma(2.0, size=(4, 1000)), dims=("chain", "draw"))
    bounds = CredibleInterval(0.89, "eti").bounds(draws, ["chain", "draw"])
    expected = np.quantile(draws.to_numpy().ravel(), [0.055, 0.945])
    np.testing.assert_allclose(bounds.sel(ci_bound=["lower", "upper"]), expected, rtol=1e-10)
    hdi = CredibleInterval(0.89, "hdi").bounds(draws, ["chain", "draw"])
    width = float(hdi.sel(ci_bound="upper") - hdi.sel(ci_bound="lower"))
    assert width < expected[1] - expected[0]  # skewed draws: the HDI is narrower


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"ci_prob": 0}, "ci_prob must be a probability between 0 and 1"),
        ({"ci_prob": True}, "ci_prob must be a probability"),
        ({"ci_kind": "quantile"}, "ci_kind must be 'eti' .* or 'hdi'"),
        ({"hdi_prob": 89}, "hdi_prob must be a probability"),
        ({"hdi_prob": 0.9, "ci_kind": "eti"}, "pass either hdi_prob alone"),
    ],
)
def test_bad_arguments_say_what_to_pass(arguments, message):
    with pytest.raises(DataError, match=message):
        resolve_interval(**arguments)
