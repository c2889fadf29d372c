"""The report's posterior predictive check: statistics of the data against their replicates.

For each statistic (mean, sd, min, max) of the observed response, the table
gives its value in the data, the mean and the posterior interval of the same
statistic over the replicated data sets (``posterior_predictive``, one per
draw), and the share of replicates at or above the observed value (a
posterior predictive p-value: near 0 or 1, the model does not reproduce that
feature of the data).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import xarray as xr

    from bayeshier.present.intervals import CredibleInterval

__all__ = ["STATISTICS", "predictive_checks"]

#: The statistics compared, by name: each maps the rows (last axis) to one number.
STATISTICS = {
    "mean": lambda values: np.mean(values, axis=-1),
    "sd": lambda values: np.std(values, axis=-1, ddof=1),
    "min": lambda values: np.min(values, axis=-1),
    "max": lambda values: np.max(values, axis=-1),
}


def predictive_checks(idata: xr.DataTree, interval: CredibleInterval) -> pd.DataFrame:
    """Observed statistics against their posterior predictive distribution.

    Parameters
    ----------
    idata : xarray.DataTree
        With ``observed_data`` and ``posterior_predictive`` groups holding the
        response under the same name (dims ``obs``; ``chain``, ``draw``, ``obs``).
    interval : CredibleInterval
        The interval of the replicated statistics (the report's convention).

    Returns
    -------
    pandas.DataFrame
        One row per statistic: ``statistic``, ``observed``, ``replicated``
        (mean over draws), ``ci_low``, ``ci_high`` and ``p_at_least``
        (share of replicates with a value at or above the observed one).
        ``attrs["interval"]`` holds the interval's name (``"89% ETI"``).

    """
    name = next(iter(idata["observed_data"].data_vars))
    observed = np.asarray(idata["observed_data"][name], dtype=float)
    replicated = idata["posterior_predictive"][name].transpose("chain", "draw", ...)
    draws = np.asarray(replicated, dtype=float).reshape(-1, observed.size)
    rows = []
    for statistic, function in STATISTICS.items():
        value = float(function(observed))
        values = function(draws)
        low, high = _interval(values, interval)
        rows.append(
            {
                "statistic": statistic,
                "observed": value,
                "replicated": float(np.mean(values)),
                "ci_low": low,
                "ci_high": high,
                "p_at_least": float(np.mean(values >= value)),
            }
        )
    table = pd.DataFrame(rows)
    table.attrs["interval"] = interval.label
    return table


def _interval(values: np.ndarray, interval: CredibleInterval) -> tuple[float, float]:
    """The bounds of ``interval`` over ``values`` (draws), as the comparison tables compute them."""
    import xarray as xr

    draws = xr.DataArray(values.reshape(1, -1), dims=("chain", "draw"))
    bounds = np.asarray(interval.bounds(draws, ("chain", "draw")), dtype=float)
    return float(bounds[0]), float(bounds[1])
