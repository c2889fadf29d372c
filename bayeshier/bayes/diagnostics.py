"""Convergence diagnostics of a posterior sample, in one table with plain-language warnings.

:func:`diagnose` gathers ArviZ's per-parameter diagnostics (rank-normalized
split R-hat, bulk and tail effective sample size, Monte Carlo standard
errors) in a table and the per-chain sampler checks (divergent transitions,
E-BFMI; :func:`chain_diagnostics`) in its ``attrs``,
compares them with the usual thresholds (Vehtari et al. 2021; Betancourt
2016) and says in words what failed and what to try.

==========================  ========================  =============================
check                       fails when                meaning
==========================  ========================  =============================
``r_hat``                   > 1.01                    chains disagree
``ess_bulk``                < 100 per chain           too few draws for the mean
``ess_tail``                < 100 per chain           too few draws for intervals
``divergences``             > 0                       biased exploration
``bfmi``                    < 0.3                     poor exploration of scales
==========================  ========================  =============================
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from bayeshier.bayes.interrupt import INTERRUPTION, was_interrupted
from bayeshier.errors import ModelError, SamplingWarning

__all__ = [
    "BFMI_MIN",
    "ESS_PER_CHAIN_MIN",
    "RHAT_MAX",
    "SamplingWarning",
    "chain_diagnostics",
    "diagnose",
    "free_correlations",
]

RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100
BFMI_MIN = 0.3

_PARAMETER_COLUMNS = ["r_hat", "ess_bulk", "ess_tail", "mcse", "mcse_sd"]
_CHAIN_COLUMNS = ["divergences", "bfmi"]


def diagnose(
    idata: xr.DataTree, var_names: Sequence[str] | None = None, *, warn: bool = True
) -> pd.DataFrame:
    """Convergence diagnostics per parameter, with the per-chain checks in ``attrs``.

    Parameters
    ----------
    idata : xarray.DataTree
        A sample with ``posterior`` and ``sample_stats`` groups (e.g. from
        :meth:`bayeshier.Model.sample`).
    var_names : sequence of str, optional
        Posterior variables to check (default: all).
    warn : bool
        Emit a :class:`SamplingWarning` per failed check.

    Returns
    -------
    pandas.DataFrame
        One row per scalar parameter (index ``beta[displ]``, ``sigma``, ...)
        with ``r_hat``, ``ess_bulk`` and ``ess_tail`` (whole numbers, pandas
        ``Int64``), ``mcse`` (of the mean) and ``mcse_sd``. ``attrs`` hold
        ``"warnings"`` (the plain-language messages, empty when every check
        passes; for an interrupted run the first says so),
        ``"divergences"`` (their total, an int) and ``"chains"``, the
        per-chain checks as ``{"divergences": {"chain 0": 0, ...}, "bfmi":
        {...}}``; :func:`chain_diagnostics` returns them as a table.

    Raises
    ------
    ModelError
        If ``idata`` has no posterior.

    Examples
    --------
    >>> table = diagnose(idata)                                 # doctest: +SKIP
    >>> table["ess_bulk"].min(), table.attrs["divergences"]     # doctest: +SKIP

    """
    if "posterior" not in idata.children:
        raise ModelError("diagnose needs a DataTree with a 'posterior' group (from Model.sample).")
    parameters = parameter_diagnostics(idata, var_names)
    chains = chain_diagnostics(idata)
    n_chains = int(idata["posterior"].sizes["chain"])
    messages = failed_checks(parameters, chains, n_chains)
    if was_interrupted(idata.attrs):
        messages.insert(0, _interrupted_message(idata.attrs))
    table = parameters[_PARAMETER_COLUMNS]
    table.attrs["warnings"] = messages
    table.attrs["divergences"] = int(chains["divergences"].sum())
    table.attrs["chains"] = {
        "divergences": {
            k: (None if pd.isna(v) else int(v)) for k, v in chains["divergences"].items()
        },
        "bfmi": {k: float(v) for k, v in chains["bfmi"].items()},
    }
    if warn:
        for message in messages:
            warnings.warn(message, SamplingWarning, stacklevel=2)
    return table


def _interrupted_message(attrs: Mapping[str, object]) -> str:
    """The warning that a run was interrupted (its sentence from ``attrs``, if any)."""
    how = attrs.get(INTERRUPTION)
    detail = f" ({how})" if how else ""
    return (
        f"The run was interrupted{detail}: these are the draws made before Ctrl-C, not the "
        "sample that was asked for, so the checks below judge a partial run. Sample again "
        "to completion before relying on the results."
    )


def parameter_diagnostics(
    idata: xr.DataTree, var_names: Sequence[str] | None = None
) -> pd.DataFrame:
    """R-hat, bulk/tail ESS and MCSE of every scalar parameter (ArviZ's definitions).

    A correlation matrix ``corr_<factor>`` is checked through its free
    entries only, one row per correlated pair (``corr_Subject[Intercept, Days]``):
    its diagonal (always 1), its upper triangle (a copy of the lower) and
    the zeros between uncorrelated blocks are not parameters.
    """
    posterior = free_correlations(idata["posterior"].to_dataset())
    tree = xr.DataTree.from_dict({"posterior": posterior})
    summary = az.summary(
        tree, var_names=list(var_names) if var_names else None, kind="diagnostics", round_to="none"
    )
    table = summary.rename(columns={"mcse_mean": "mcse"})[_PARAMETER_COLUMNS].astype(float)
    for column in ("ess_bulk", "ess_tail"):
        table[column] = np.floor(table[column]).astype("Int64")
    return table


def free_correlations(posterior: xr.Dataset) -> xr.Dataset:
    """Replace every ``corr_*`` matrix by its correlated pairs (dim ``<name>_pair``).

    The pair ``(a, b)`` (``a`` before ``b`` in the terms) is labeled ``"a, b"``,
    so ArviZ names it ``corr_<factor>[a, b]``; entries that are zero in every
    draw (between uncorrelated blocks) are left out.
    """
    replaced, dropped = {}, []
    for name, values in posterior.data_vars.items():
        if not str(name).startswith("corr_") or values.ndim != 4:
            continue
        rows, cols = values.dims[2], values.dims[3]
        terms = [str(t) for t in values[rows].to_numpy()]
        data = values.transpose("chain", "draw", rows, cols).to_numpy()
        pairs = [
            (i, j)
            for j in range(len(terms))
            for i in range(j + 1, len(terms))
            if np.any(data[:, :, i, j] != 0.0)
        ]
        dropped.append(name)
        if not pairs:
            continue
        labels = [f"{terms[j]}, {terms[i]}" for i, j in pairs]
        entries = np.stack([data[:, :, i, j] for i, j in pairs], axis=-1)
        replaced[name] = xr.DataArray(
            entries,
            dims=("chain", "draw", f"{name}_pair"),
            coords={"chain": values["chain"], "draw": values["draw"], f"{name}_pair": labels},
        )
    if not dropped:
        return posterior
    return posterior.drop_vars(dropped).assign(replaced)


def chain_diagnostics(idata: xr.DataTree) -> pd.DataFrame:
    """Divergent transitions (``Int64``; missing without ``sample_stats``) and E-BFMI per chain."""
    # through .ds: a chain dimension without coordinate values (a tree built by hand) still
    # yields 0, 1, ... (a DataTree node would look "chain" up as a child node and fail)
    chains = idata["posterior"].ds["chain"].to_numpy()
    divergences = pd.array([pd.NA] * len(chains), dtype="Int64")
    bfmi = np.full(len(chains), np.nan)
    if "sample_stats" in idata.children:
        stats = idata["sample_stats"]
        if "diverging" in stats.data_vars:
            counts = stats["diverging"].sum("draw").to_numpy().astype(int)
            divergences = pd.array(counts, dtype="Int64")
        if "energy" in stats.data_vars:
            bfmi = _bfmi(idata)
    index = pd.Index([f"chain {c}" for c in chains])
    return pd.DataFrame({"divergences": divergences, "bfmi": bfmi}, index=index)


def _bfmi(idata: xr.DataTree) -> np.ndarray:
    result = az.bfmi(idata)
    energy = result["energy"] if "energy" in getattr(result, "data_vars", ()) else result
    return np.asarray(getattr(energy, "values", energy), dtype=float).ravel()


def failed_checks(parameters: pd.DataFrame, chains: pd.DataFrame, n_chains: int) -> list[str]:
    """Plain-language messages for every check that fails (empty if all pass)."""
    ess_min = ESS_PER_CHAIN_MIN * n_chains
    messages = [
        _parameter_message(
            parameters["r_hat"] > RHAT_MAX,
            parameters["r_hat"],
            "R-hat",
            "above",
            RHAT_MAX,
            "the chains disagree with each other, so the posterior "
            "summaries cannot be trusted yet; run longer (more tune and draws) "
            "or check the model and its priors.",
        ),
        _parameter_message(
            parameters["ess_bulk"] < ess_min,
            parameters["ess_bulk"],
            "bulk ESS",
            "below",
            ess_min,
            "too few effective draws for a stable posterior mean; draw more samples.",
        ),
        _parameter_message(
            parameters["ess_tail"] < ess_min,
            parameters["ess_tail"],
            "tail ESS",
            "below",
            ess_min,
            "too few effective draws in the tails for stable intervals; draw more samples.",
        ),
        _divergence_message(chains["divergences"]),
        _bfmi_message(chains["bfmi"]),
    ]
    return [message for message in messages if message]


def _parameter_message(
    failed: pd.Series, values: pd.Series, what: str, side: str, threshold: float, advice: str
) -> str:
    failed = failed.fillna(what == "R-hat").astype(bool)  # an undefined R-hat fails
    if not failed.any():
        return ""
    worst = values[failed].idxmax() if side == "above" else values[failed].idxmin()
    return (
        f"{what} is {side} {threshold:g} for {int(failed.sum())} parameter(s) "
        f"(worst: {worst} = {values[worst]:.3g}): {advice}"
    )


def _divergence_message(divergences: pd.Series) -> str:
    total = int(divergences.sum())
    if total == 0:
        return ""
    where = ", ".join(str(name) for name in divergences.index[divergences.fillna(0) > 0])
    return (
        f"{total} divergent transition(s) ({where}): the sampler met curvature it could not "
        "follow, which can bias the results. Try parameterization='noncentered' (or "
        "'centered') for the grouping factor whose sd is near zero, or a tighter prior on it."
    )


def _bfmi_message(bfmi: pd.Series) -> str:
    low = bfmi < BFMI_MIN
    if not low.any():
        return ""
    worst = bfmi[low].idxmin()
    return (
        f"E-BFMI is below {BFMI_MIN} in {int(low.sum())} chain(s) (worst: {worst} = "
        f"{bfmi[worst]:.2f}): the sampler explores the scale parameters poorly; consider "
        "another parameterization or more informative priors on the standard deviations."
    )
