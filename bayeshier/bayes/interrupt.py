"""Ctrl-C during sampling: keep the draws completed so far, trimmed, and say so.

nutpie runs in the background (``nutpie.sample(..., blocking=False)``); a
``KeyboardInterrupt`` while waiting for it aborts the sampler, which returns
the trace so far (:func:`bayeshier.bayes.sampling.run_nutpie`). Its chains
then have different lengths, padded with NaN. PyMC's own sampler catches the
interrupt itself and returns the chains it chose, already cut to a common
length.

:func:`trim_to_completed` turns either into a posterior without a NaN row:
of the chains, it keeps those that maximise (chains kept) x (common length),
as PyMC does (with 4 chains on 2 cores, the last two may not have started),
and cuts them to their common number of completed draws. The tree is then
marked: ``attrs["interrupted"] = "true"`` and ``attrs["interruption"]`` (the
sentence of :attr:`Interruption.sentence`). The flag is the string
``"true"``, absent for a complete run, because netCDF cannot store a boolean
attribute (h5netcdf refuses it); :func:`was_interrupted` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "INTERRUPTED",
    "INTERRUPTION",
    "Interruption",
    "completed_draws",
    "interruption_attrs",
    "trim_to_completed",
    "was_interrupted",
]

#: ``attrs`` key of the flag (value ``"true"``) of an interrupted run.
INTERRUPTED = "interrupted"
#: ``attrs`` key of the sentence saying how far the run got.
INTERRUPTION = "interruption"


@dataclass(frozen=True)
class Interruption:
    """How far an interrupted run got.

    Attributes
    ----------
    draws, requested_draws : int
        Draws per chain kept, and asked for.
    chains, requested_chains : int
        Chains kept, and asked for.

    """

    draws: int
    requested_draws: int
    chains: int
    requested_chains: int

    @property
    def sentence(self) -> str:
        """``"interrupted after 312 of 1,000 draws per chain (2 of 4 chains kept)"``."""
        text = f"interrupted after {self.draws:,} of {self.requested_draws:,} draws per chain"
        if self.chains != self.requested_chains:
            text += (
                f" ({self.chains} of {self.requested_chains} chains kept: the others had "
                "fewer draws)"
            )
        return text


def completed_draws(posterior: xr.Dataset) -> np.ndarray:
    """Per chain, the number of leading draws with every float value finite."""
    n_chains, n_draws = posterior.sizes["chain"], posterior.sizes["draw"]
    finite = np.ones((n_chains, n_draws), dtype=bool)
    for values in posterior.data_vars.values():
        if values.dtype.kind != "f":
            continue
        array = values.transpose("chain", "draw", ...).to_numpy()
        finite &= np.isfinite(array.reshape(n_chains, n_draws, -1)).all(axis=-1)
    return np.cumprod(finite, axis=1).sum(axis=1)


def _kept_chains(lengths: np.ndarray) -> tuple[np.ndarray, int]:
    """Chains (positions, in order) maximising chains x common length, and that length."""
    order = np.argsort(lengths, kind="stable")
    sorted_lengths = lengths[order]
    products = sorted_lengths * np.arange(len(lengths), 0, -1)
    first = int(np.argmax(products))
    return np.sort(order[first:]), int(sorted_lengths[first])


def trim_to_completed(
    posterior: xr.Dataset, stats: xr.Dataset, draws: int, chains: int
) -> tuple[xr.Dataset, xr.Dataset, Interruption | None]:
    """Cut a possibly interrupted sample to its completed draws.

    Parameters
    ----------
    posterior, stats : xarray.Dataset
        The sampler's ``posterior`` and ``sample_stats`` (NaN-padded chains
        after nutpie's abort).
    draws, chains : int
        Draws per chain and chains asked for.

    Returns
    -------
    posterior, stats : xarray.Dataset
        Without a NaN row: the kept chains, cut to their common length.
    interruption : Interruption or None
        None when every chain holds every draw asked for.

    Raises
    ------
    KeyboardInterrupt
        No chain completed a single draw (interrupted while tuning).

    """
    lengths = completed_draws(posterior)
    if len(lengths) == chains and np.all(lengths >= draws):
        return posterior, stats, None
    kept, length = _kept_chains(lengths)
    if length == 0:
        raise KeyboardInterrupt(
            f"Sampling was interrupted before any of the {draws:,} draws per chain was "
            "completed (while tuning): there is nothing to return."
        )
    select = {"chain": kept, "draw": slice(0, length)}
    posterior = posterior.isel(select)
    if "chain" in stats.dims and "draw" in stats.dims:
        stats = stats.isel(select)
    return posterior, stats, Interruption(length, draws, len(kept), chains)


def interruption_attrs(interruption: Interruption | None) -> dict[str, str]:
    """The DataTree ``attrs`` that mark an interrupted run (none for a complete one)."""
    if interruption is None:
        return {}
    return {INTERRUPTED: "true", INTERRUPTION: interruption.sentence}


def was_interrupted(attrs: Mapping[str, object]) -> bool:
    """Whether DataTree ``attrs`` mark an interrupted run (``"true"``, or True, or 1)."""
    value = attrs.get(INTERRUPTED)
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value) if value is not None else False
