"""Memory as a budget: what a sample will hold, estimated before anything is allocated.

:meth:`bayeshier.Model.sample` estimates, from the specification alone, the
bytes its DataTree will hold (:func:`estimate_footprint`): the posterior
(with the collapsed effects drawn after sampling), the sampler's own trace
while it runs, the log-likelihood (pointwise, ``chains x draws x rows``, or
per level of the largest grouping factor, ``chains x draws x levels``),
``observed_data`` and ``constant_data``.

With ``log_likelihood=None`` (the default) the pointwise log-likelihood is
stored only when it fits :data:`MEMORY_BUDGET` (or ``memory_budget=``);
otherwise the log-likelihood per level of the largest factor (for
leave-one-group-out LOO, see :mod:`bayeshier.bayes.group_loglik`) if that
fits; otherwise none (:func:`choose_log_likelihood`). One
:class:`MemoryBudgetWarning` says which, why, and how to get the other.
A request that cannot fit in the memory available at all is a
:class:`~bayeshier.errors.ModelError` with the estimate in GiB
(:func:`check_fits_in_memory`), raised before sampling.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bayeshier.errors import ModelError
from bayeshier.spec.model_spec import GroupingFactor, ModelSpec

__all__ = [
    "MEMORY_BUDGET",
    "Footprint",
    "LogLikelihoodChoice",
    "MemoryBudgetWarning",
    "available_memory",
    "check_budget",
    "check_fits_in_memory",
    "choose_log_likelihood",
    "estimate_footprint",
    "gib",
    "parse_log_likelihood",
    "plan_storage",
    "require_memory",
]

#: Default memory budget (bytes) of the log-likelihood and of ``constant_data``: 512 MiB.
MEMORY_BUDGET = 512 * 2**20
#: Bytes per stored number (float64).
_NUMBER = 8
#: Sampler statistics per draw (nutpie's step size, depth, energy, ...), counted generously.
_STATS_PER_DRAW = 16
#: ``log_likelihood=`` spellings and what they ask for.
_REQUESTS = {True: "pointwise", "pointwise": "pointwise", "group": "group", False: "none"}

LogLikelihood = Literal["pointwise", "group", "none"]


class MemoryBudgetWarning(UserWarning):
    """What :meth:`bayeshier.Model.sample` stored was chosen to fit its memory budget.

    Informational, not a failed check: it is not a ``SamplingWarning``, so
    filters on convergence warnings do not catch it.
    """


def gib(size: float) -> str:
    """``size`` bytes as ``"29.8 GiB"``, or below 1 GiB ``"512 MiB"`` (3 significant digits)."""
    if size < 2**30:
        return f"{size / 2**20:.3g} MiB"
    value = size / 2**30
    return f"{value:.3g} GiB" if value < 10 else f"{value:,.0f} GiB"


@dataclass(frozen=True)
class Footprint:
    """Estimated bytes of what a sample holds (see :func:`estimate_footprint`).

    Attributes
    ----------
    shape : str
        ``"4 chains x 1,000 draws"``, for messages.
    posterior : int
        The posterior group, with the collapsed effects drawn after sampling.
    sampler : int
        The sampler's trace while it runs (tuning and kept draws of every
        sampled quantity, and its statistics).
    pointwise : int
        The pointwise log-likelihood (``chains x draws x rows``).
    per_group : int
        The log-likelihood per level of the largest grouping factor, and the
        per-cell sums it is computed from.
    observed : int
        ``observed_data`` (0 without rows in memory).
    constant : int
        ``constant_data`` (0 without rows in memory).

    """

    shape: str
    posterior: int
    sampler: int
    pointwise: int
    per_group: int
    observed: int
    constant: int

    def log_likelihood(self, kind: str) -> int:
        """Bytes of the log-likelihood of ``kind`` (``"pointwise"``, ``"group"``, ``"none"``)."""
        return {"pointwise": self.pointwise, "group": self.per_group}.get(kind, 0)


def _numbers_per_draw(factor: GroupingFactor) -> int:
    """Posterior numbers of a factor per draw: effects, sds and correlation matrix."""
    k = factor.n_columns
    return factor.n_levels * k + k + (k * k if any(size > 1 for size in factor.blocks) else 0)


def estimate_footprint(
    spec: ModelSpec, draws: int, tune: int, chains: int, collapsed: tuple[str, ...] = ()
) -> Footprint:
    """Estimate the bytes a sample of ``spec`` holds, before anything is allocated.

    Parameters
    ----------
    spec : ModelSpec
        The model's specification.
    draws, tune, chains : int
        Kept draws per chain, tuning steps per chain, chains.
    collapsed : tuple of str
        The collapsed factors (not in the sampler's trace; drawn afterwards).

    """
    per_draw = spec.n_fixed + 1 + sum(_numbers_per_draw(f) for f in spec.factors)
    sampled = per_draw - sum(f.n_levels for f in spec.factors if f.name in collapsed)
    kept = chains * draws
    n = spec.nobs
    rows = spec.holds_rows
    largest = spec.factors[0] if spec.factors else None
    cells = len(spec.level_combinations) if spec.factors else 0
    width = 1 + spec.n_fixed + sum(f.n_columns for f in spec.factors)
    return Footprint(
        shape=f"{chains:,} chains x {draws:,} draws",
        posterior=kept * per_draw * _NUMBER,
        # unconstrained values and their deterministic twins, tuning included
        sampler=chains * (draws + tune) * (2 * sampled + _STATS_PER_DRAW) * _NUMBER,
        pointwise=kept * n * _NUMBER,
        per_group=(kept * largest.n_levels + cells * (width * width + 2)) * _NUMBER
        if largest
        else 0,
        observed=n * _NUMBER if rows else 0,
        constant=n * (len(spec.columns) + 2) * _NUMBER if rows else 0,
    )


def parse_log_likelihood(value: object) -> str | None:
    """``"pointwise"``, ``"group"``, ``"none"`` or None (automatic) for ``log_likelihood=``.

    Raises
    ------
    ModelError
        Anything but None, True, False, ``"pointwise"`` or ``"group"``.

    """
    if value is None:
        return None
    if isinstance(value, bool | str) and value in _REQUESTS:
        return _REQUESTS[value]
    raise ModelError(
        f"log_likelihood must be None (automatic), True or 'pointwise' (one value per row), "
        f"'group' (one per level of the largest grouping factor) or False, got {value!r}."
    )


@dataclass(frozen=True)
class LogLikelihoodChoice:
    """Which log-likelihood a sample stores, and the message that explains an automatic choice.

    Attributes
    ----------
    kind : {"pointwise", "group", "none"}
        What is stored.
    message : str
        Why, and how to get the other (empty when nothing needs saying).

    """

    kind: LogLikelihood
    message: str = ""


def choose_log_likelihood(
    requested: str | None, spec: ModelSpec, footprint: Footprint, budget: int
) -> LogLikelihoodChoice:
    """The log-likelihood to store: the one requested, or the largest that fits ``budget``.

    Automatic (``requested`` None): pointwise when the rows are in memory
    and it fits; else per level of the largest factor when that fits; else none.
    """
    if requested is not None:
        return LogLikelihoodChoice(requested)  # type: ignore[arg-type]
    if spec.holds_rows and footprint.pointwise <= budget:
        return LogLikelihoodChoice("pointwise")
    factor = spec.factors[0].name
    if spec.holds_rows:
        why = (
            f"the pointwise log-likelihood ({footprint.shape} x {spec.nobs:,} rows) would "
            f"take {gib(footprint.pointwise)}, over the memory budget of {gib(budget)}"
        )
        other = (
            f"For the pointwise one pass log_likelihood=True (it needs "
            f"{gib(footprint.pointwise)} of memory) or memory_budget={footprint.pointwise:,} "
            "(bytes), or compute it for fewer draws: model.pointwise_loglik("
            "idata['posterior'].to_dataset().isel(draw=slice(None, None, 10)))."
        )
    else:
        why = "the rows are in a Dask DataFrame, so the pointwise log-likelihood is not computed"
        other = "For the pointwise one, sample a pandas DataFrame that fits in memory."
    if footprint.per_group <= budget:
        return LogLikelihoodChoice(
            "group",
            f"Stored the log-likelihood per level of {factor!r} (for leave-one-group-out "
            f"LOO: az.loo(idata) then leaves out whole levels), not per row: {why}. {other}",
        )
    return LogLikelihoodChoice(
        "none",
        f"Stored no log-likelihood: {why}, and per level of {factor!r} it would take "
        f"{gib(footprint.per_group)}. Pass log_likelihood='group' or True to store one anyway "
        f"(with enough memory), or a larger memory_budget=. {other}",
    )


def available_memory() -> int | None:
    """Bytes of memory available to this process now (None if unknown).

    psutil's ``virtual_memory().available`` if installed, else the free
    physical pages (``os.sysconf``), capped by a cgroup v2 limit if any.
    """
    try:
        import psutil

        available: int | None = int(psutil.virtual_memory().available)
    except ImportError:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            available = None
    room = _cgroup_room()
    if room is None:
        return available
    return room if available is None else min(available, room)


def _cgroup_room() -> int | None:
    """Bytes left under a cgroup v2 memory limit (None without one)."""
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int((root / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return None


def check_fits_in_memory(total: int, footprint: Footprint, what: str, loglik: int = 0) -> None:
    """Raise :class:`ModelError` when ``total`` bytes exceed the memory available.

    ``what`` names the request (``"Sampling 4 chains x 1,000 draws with the
    pointwise log-likelihood"``).
    """
    available = available_memory()
    if available is None or total <= available:
        return
    raise ModelError(
        f"{what} would need about {gib(total)} of memory (posterior "
        f"{gib(footprint.posterior)}, sampler trace {gib(footprint.sampler)}, log-likelihood "
        f"{gib(loglik)}), but only "
        f"{gib(available)} is available. Ask for fewer draws or chains, or pass "
        "log_likelihood=False (or 'group' for one value per level of the largest factor)."
    )


def check_budget(budget: object) -> int:
    """``memory_budget=``: a positive whole number of bytes."""
    if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
        raise ModelError(
            f"memory_budget must be a positive integer number of bytes (default "
            f"{MEMORY_BUDGET:,}, 512 MiB), got {budget!r}."
        )
    return budget


def plan_storage(
    spec: ModelSpec,
    sizes: tuple[int, int, int],
    collapsed: tuple[str, ...],
    log_likelihood: object,
    budget: object = MEMORY_BUDGET,
) -> LogLikelihoodChoice:
    """Choose the log-likelihood to store and check that the whole sample fits in memory.

    Parameters
    ----------
    spec : ModelSpec
        The model's specification.
    sizes : tuple of int
        ``(draws, tune, chains)``.
    collapsed : tuple of str
        The collapsed factors.
    log_likelihood : None, bool or str
        ``sample(log_likelihood=)`` (see :func:`parse_log_likelihood`).
    budget : int
        Bytes the log-likelihood may take when chosen automatically.

    Returns
    -------
    LogLikelihoodChoice
        Its message, if any, is also emitted as a :class:`MemoryBudgetWarning`.

    Raises
    ------
    ModelError
        A bad ``log_likelihood`` or ``memory_budget``, or a request that
        does not fit in the memory available (with the estimate).

    """
    requested = parse_log_likelihood(log_likelihood)
    budget = check_budget(budget)
    draws, tune, chains = sizes
    footprint = estimate_footprint(spec, draws, tune, chains, collapsed)
    choice = choose_log_likelihood(requested, spec, footprint, budget)
    total = (
        footprint.posterior
        + footprint.sampler
        + footprint.log_likelihood(choice.kind)
        + footprint.observed
        + footprint.constant
    )
    stored = {"pointwise": "the pointwise", "group": "the per-group", "none": "no"}[choice.kind]
    what = f"Sampling {footprint.shape} with {stored} log-likelihood"
    check_fits_in_memory(total, footprint, what, footprint.log_likelihood(choice.kind))
    if choice.message:
        warnings.warn(choice.message, MemoryBudgetWarning, stacklevel=3)
    return choice


def require_memory(total: int, what: str, advice: str) -> None:
    """Raise :class:`ModelError` when ``what`` needs more than the memory available.

    ``advice`` says how to ask for less.
    """
    available = available_memory()
    if available is not None and total > available:
        raise ModelError(
            f"{what} would need about {gib(total)} of memory, but only {gib(available)} is "
            f"available. {advice}"
        )
