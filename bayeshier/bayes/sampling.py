"""Running NUTS on the sampled model: argument checks, defaults, start and the two samplers.

nutpie (the default) adapts a diagonal plus low-rank mass matrix
(``adaptation="low_rank"``), which absorbs the remaining correlated
directions (the means of crossed factors against the intercept), when the
sampler sees at most :data:`LOW_RANK_MAX_DIM` parameters, and a diagonal
one above (see :func:`adaptation_for`); PyMC's own NUTS is the fallback.
Chains start at the REML estimates and BLUPs
(:attr:`SamplingPlan.start <bayeshier.bayes.plan.SamplingPlan>`),
jittered by U(-1, 1) in the standardized coordinates.
"""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING, TypedDict

import numpy as np
import pymc as pm
import xarray as xr

from bayeshier._choices import SAMPLERS
from bayeshier.bayes.names import noncentered_name
from bayeshier.bayes.plan import SamplingPlan
from bayeshier.errors import ModelError, close_matches_hint
from bayeshier.spec.model_spec import ModelSpec

if TYPE_CHECKING:  # nutpie is optional, and heavy to import
    from nutpie.sample import CompiledModel

__all__ = [
    "FEW_LEVELS",
    "LOW_RANK_MAX_DIM",
    "MAX_CHAINS",
    "MAX_DRAWS",
    "MAX_SEED",
    "NUTPIE_ADAPTATION",
    "NutsSettings",
    "adaptation_for",
    "check_sampling_args",
    "check_sampling_limits",
    "compile_nutpie",
    "default_target_accept",
    "run_nutpie",
    "run_pymc",
    "start_point",
    "target_accept_for",
]

#: With at most this many levels a factor's sd is poorly determined (higher target_accept).
FEW_LEVELS = 10
#: nutpie's mass-matrix adaptation: diagonal plus a low-rank part learnt from the
#: draws and gradients, which captures the few strongly correlated directions a
#: mixed model keeps (intercept vs. crossed effects' means).
NUTPIE_ADAPTATION = "low_rank"
#: Above this many sampled parameters nutpie's low-rank adaptation gets very slow
#: (nutpie 0.16, 4 x 1000 draws: 0.8 s at 104 parameters, 31 s at 164, 65 s at 200,
#: against 0.3 to 0.7 s for the diagonal one), so the diagonal adaptation is used.
LOW_RANK_MAX_DIM = 120
#: Most draws (and tuning steps) per chain: 10 million draws of even a small
#: model fill gigabytes, and no diagnostic needs more.
MAX_DRAWS = 10**7
#: Most chains: each chain runs on its own thread or process; R-hat and ESS
#: need 4, and beyond a few dozen chains only memory and time grow.
MAX_CHAINS = 64
#: Largest seed: nutpie's seed is an unsigned 64-bit integer.
MAX_SEED = 2**64 - 1
_DRAWS_WHY = " (10 million draws per chain fill gigabytes; no diagnostic needs more)"
_CHAINS_WHY = (
    " (each chain runs on its own thread or process; 4 are enough for R-hat and ESS, "
    "and more than 64 only multiply memory and time)"
)


class NutsSettings(TypedDict):
    """The settings both samplers take: draws, tuning steps, chains, target acceptance."""

    draws: int
    tune: int
    chains: int
    target_accept: float


def check_sampling_args(
    draws: int, tune: int, chains: int, sampler: str, random_seed: object = None
) -> None:
    """Reject non-integer or too small draws/tune/chains, a bad seed or an unknown sampler.

    ``draws`` and ``chains`` must be at least 1, ``tune`` at least 0 (no
    tuning, as PyMC and nutpie allow).

    ``random_seed`` is None or an integer in [0, :data:`MAX_SEED`] (nutpie's
    seed is an unsigned 64-bit integer; NumPy refuses negative seeds). The
    upper limits of draws, tune and chains are :func:`check_sampling_limits`,
    checked after the memory a request needs (which names it in GiB).
    Without nutpie installed, ``sampler="nutpie"`` is refused too.

    Raises
    ------
    ModelError
        Naming the argument, its value and what it must be.

    """
    for name, value, low, high in (
        ("draws", draws, 1, MAX_DRAWS),
        ("tune", tune, 0, MAX_DRAWS),
        ("chains", chains, 1, MAX_CHAINS),
    ):
        if not _is_int(value) or value < low:
            raise ModelError(
                f"{name} must be an integer between {low} and {high:,}, got {value!r}."
            )
    if random_seed is not None and (not _is_int(random_seed) or not 0 <= random_seed <= MAX_SEED):
        raise ModelError(
            f"random_seed must be None or an integer between 0 and 2**64 - 1 (nutpie's "
            f"seed is an unsigned 64-bit integer), got {random_seed!r}."
        )
    if sampler not in SAMPLERS:
        raise ModelError(
            f"Unknown sampler {sampler!r}.{close_matches_hint(str(sampler), SAMPLERS)} "
            f"Use one of: {', '.join(SAMPLERS)}."
        )
    if sampler == "nutpie" and importlib.util.find_spec("nutpie") is None:
        raise ModelError(
            "sampler='nutpie' needs the package 'nutpie', which is not installed: "
            "run `pip install nutpie`, or pass sampler='pymc'."
        )


def check_sampling_limits(draws: int, tune: int, chains: int) -> None:
    """Reject draws or tune above :data:`MAX_DRAWS`, or chains above :data:`MAX_CHAINS`.

    Raises
    ------
    ModelError
        Naming the argument, its value, the range and why.

    """
    for name, value, high, why in (
        ("draws", draws, MAX_DRAWS, _DRAWS_WHY),
        ("tune", tune, MAX_DRAWS, _DRAWS_WHY),
        ("chains", chains, MAX_CHAINS, _CHAINS_WHY),
    ):
        if value > high:
            low = 0 if name == "tune" else 1
            raise ModelError(f"{name} must be between {low} and {high:,}, got {value:,}{why}.")


def _is_int(value: object) -> bool:
    """Whether ``value`` is an integer (Python or NumPy), not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def default_target_accept(spec: ModelSpec) -> float:
    """0.98 with correlated random slopes, else 0.95 with few groups, else 0.8.

    With few groups (a factor with at most :data:`FEW_LEVELS` levels) the
    posterior of their sd reaches into the narrow neck near 0 (a singular
    REML fit is the extreme case); 0.9 still left an occasional divergence
    there (seed_model1: 1 in 8 seeds), 0.95 none in the bundled examples, at
    a small cost on these small data sets.

    With correlated random slopes (``(x|g)``) the posterior of a correlation
    reaches towards +-1, where the prior of the (centered) group effects is
    strongly curved; the divergences sit at correlations of 0.8 to 0.94 with
    small sds. Sleepstudy ``(Days|Subject)``, seeds 11 to 50: at 0.95, 9 of
    40 runs had divergences (1 to 6 each); at 0.97, 2 of 40 (one each); at
    0.98, none (smallest bulk ESS: median 1,885 of 4,000 draws, lowest 811;
    about 10% more time than 0.95). Non-centering removes them too, but
    leaves a median smallest ESS of 406.
    """
    if any(size > 1 for f in spec.factors for size in f.blocks):
        return 0.98
    return 0.95 if min(f.n_levels for f in spec.factors) <= FEW_LEVELS else 0.8


def target_accept_for(spec: ModelSpec, target_accept: float | None) -> float:
    """The user's ``target_accept`` (checked to lie in (0, 1)), else the default for ``spec``."""
    accept = default_target_accept(spec) if target_accept is None else target_accept
    if not 0.0 < accept < 1.0:
        raise ModelError(f"target_accept must be between 0 and 1, got {accept!r}.")
    return accept


def start_point(plan: SamplingPlan) -> dict[str, np.ndarray]:
    """The plan's starting point without the collapsed factors' effects."""
    start = dict(plan.start)
    for name in plan.collapsed:
        for key in (name, noncentered_name(name)):
            start.pop(key, None)
    return start


def compile_nutpie(model: pm.Model, start: dict[str, np.ndarray]) -> CompiledModel:
    """Compile ``model`` for nutpie, its chains starting at ``start``."""
    import nutpie

    return nutpie.compile_pymc_model(model, initial_points=start)


def adaptation_for(n_dim: int) -> str:
    """The nutpie mass-matrix adaptation for ``n_dim`` sampled parameters.

    :data:`NUTPIE_ADAPTATION` (diagonal plus low rank) up to
    :data:`LOW_RANK_MAX_DIM` parameters, ``"diag"`` above, where the low-rank
    adaptation costs far more time than it saves (a model with random slopes
    on 100 groups: 2.5 s and a smallest bulk ESS of 2,000 with ``"diag"``,
    150 s and 3,500 with ``"low_rank"``).
    """
    return NUTPIE_ADAPTATION if n_dim <= LOW_RANK_MAX_DIM else "diag"


def run_nutpie(
    compiled: CompiledModel,
    settings: NutsSettings,
    seed: int | None,
    progressbar: bool,
    adaptation: str | None = None,
) -> xr.DataTree:
    """Sample a compiled nutpie model (mass matrix: ``adaptation``, else :func:`adaptation_for`).

    The sampler runs in the background (``blocking=False``): a
    ``KeyboardInterrupt`` while waiting aborts it and returns the trace so
    far (chains padded with NaN; see
    :func:`bayeshier.bayes.interrupt.trim_to_completed`); any other error
    cancels it.
    """
    import nutpie

    sampler = nutpie.sample(
        compiled,
        **settings,
        cores=min(settings["chains"], os.cpu_count() or 1),
        seed=seed,
        adaptation=adaptation or adaptation_for(int(compiled.n_dim)),
        save_warmup=False,
        progress_bar=progressbar,
        blocking=False,
    )
    try:
        return sampler.wait()
    except KeyboardInterrupt:
        return sampler.abort()
    except BaseException:
        sampler.cancel()
        raise


def run_pymc(
    model: pm.Model,
    start: dict[str, np.ndarray],
    settings: NutsSettings,
    seed: int | None,
    progressbar: bool,
) -> xr.DataTree:
    """Sample ``model`` with PyMC's own NUTS.

    PyMC handles a ``KeyboardInterrupt`` itself: it returns the chains it
    chose, cut to a common length, or raises ``ValueError("Not enough
    samples ...")`` when no draw was completed, turned back into the
    ``KeyboardInterrupt`` it was.
    """
    try:
        return pm.sample(
            **settings,
            cores=min(settings["chains"], os.cpu_count() or 1),
            random_seed=seed,
            progressbar=progressbar,
            initvals=start,
            model=model,
            nuts_sampler="pymc",
            compute_convergence_checks=False,
        )
    except ValueError as error:
        if "Not enough samples" in str(error):
            raise KeyboardInterrupt(
                "Sampling was interrupted before any draw was completed."
            ) from error
        raise
