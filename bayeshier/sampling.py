"""Running NUTS on the sampled model: argument checks, defaults, start and the two samplers.

nutpie (the default) adapts a diagonal plus low-rank mass matrix
(``adaptation="low_rank"``), which absorbs the remaining correlated
directions (the means of crossed factors against the intercept); PyMC's own
NUTS is the fallback. Chains start at the REML estimates and BLUPs
(:attr:`SamplingPlan.start <bayeshier.parameterization.SamplingPlan>`),
jittered by U(-1, 1) in the standardised coordinates.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from bayeshier.errors import ModelError, close_matches_hint
from bayeshier.naming import noncentred_name
from bayeshier.parameterization import SamplingPlan
from bayeshier.spec import ModelSpec

__all__ = [
    "FEW_LEVELS",
    "NUTPIE_ADAPTATION",
    "SAMPLERS",
    "check_sampling_args",
    "compile_nutpie",
    "default_target_accept",
    "run_nutpie",
    "run_pymc",
    "start_point",
    "target_accept_for",
]

SAMPLERS = ("nutpie", "pymc")
#: With at most this many levels a factor's sd is poorly determined (higher target_accept).
FEW_LEVELS = 10
#: nutpie's mass-matrix adaptation: diagonal plus a low-rank part learnt from the
#: draws and gradients, which captures the few strongly correlated directions a
#: mixed model keeps (intercept vs. crossed effects' means).
NUTPIE_ADAPTATION = "low_rank"


def check_sampling_args(draws: int, tune: int, chains: int, sampler: str) -> None:
    """Reject bad draws/tune/chains, an unknown sampler, or nutpie when it is not installed.

    Raises
    ------
    ModelError
        With what was wrong and how to fix it.

    """
    for name, value, least in (("draws", draws, 1), ("tune", tune, 0), ("chains", chains, 1)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < least:
            raise ModelError(f"{name} must be an integer >= {least}, got {value!r}.")
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


def default_target_accept(spec: ModelSpec) -> float:
    """0.95 if a grouping factor has at most :data:`FEW_LEVELS` levels, else 0.8.

    With few groups the posterior of their sd reaches into the narrow neck
    near 0 (a singular REML fit is the extreme case); 0.9 still left an
    occasional divergence there (seed_model1: 1 in 8 seeds), 0.95 none in
    the bundled examples, at a small cost on these small data sets.
    """
    few = min(f.n_levels for f in spec.factors) <= FEW_LEVELS
    return 0.95 if few else 0.8


def target_accept_for(spec: ModelSpec, target_accept: float | None) -> float:
    """The user's ``target_accept`` (checked to lie in (0, 1)), else the default for ``spec``."""
    accept = default_target_accept(spec) if target_accept is None else target_accept
    if not 0.0 < accept < 1.0:
        raise ModelError(f"target_accept must be between 0 and 1, got {accept!r}.")
    return accept


def start_point(plan: SamplingPlan) -> dict[str, np.ndarray]:
    """The plan's starting point without the integrated-out factors' effects."""
    start = dict(plan.start)
    for name in plan.integrated:
        for key in (name, noncentred_name(name)):
            start.pop(key, None)
    return start


def compile_nutpie(model: pm.Model, start: dict[str, np.ndarray]) -> Any:
    """Compile ``model`` for nutpie, its chains starting at ``start``."""
    import nutpie

    return nutpie.compile_pymc_model(model, initial_points=start)


def run_nutpie(
    compiled: Any, settings: dict[str, Any], seed: int | None, progressbar: bool
) -> xr.DataTree:
    """Sample a compiled nutpie model with the low-rank mass-matrix adaptation."""
    import nutpie

    return nutpie.sample(
        compiled,
        **settings,
        cores=min(settings["chains"], os.cpu_count() or 1),
        seed=seed,
        adaptation=NUTPIE_ADAPTATION,
        save_warmup=False,
        progress_bar=progressbar,
    )


def run_pymc(
    model: pm.Model,
    start: dict[str, np.ndarray],
    settings: dict[str, Any],
    seed: int | None,
    progressbar: bool,
) -> xr.DataTree:
    """Sample ``model`` with PyMC's own NUTS."""
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
