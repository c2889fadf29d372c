"""What the sampling benchmarks share: settings, timed warm runs, one result row, table cells.

``benchmarks/sampling.py`` (random intercepts, collapsed vs full vs bambi) and
``benchmarks/sampling_slopes.py`` (random slopes vs bambi) sample every
model the same way: compiled once, run once untimed for a few iterations,
then timed on 4 chains x 1,000 draws after 1,000 tuning steps with nutpie.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

import arviz as az
import pandas as pd

SEED = 20240611
DRAWS, TUNE, CHAINS = 1000, 1000, 4
#: Iterations of the untimed run after compiling (it only has to run once).
WARMUP = {"draws": 10, "tune": 10}
CORES = min(CHAINS, os.cpu_count() or 1)
NAN = float("nan")


@dataclass
class Result:
    """One row of a benchmark table (NaN and ``divergences = -1`` for a tool not run)."""

    case: str
    tool: str
    compile_s: float
    wall_s: float
    min_ess: float
    divergences: int
    max_rhat: float
    steps: float
    setup_s: float = NAN
    note: str = ""

    @property
    def ess_per_s(self) -> float:
        return self.min_ess / self.wall_s


def not_run(case: str, tool: str, note: str) -> Result:
    """A row for a tool that was not run (or cannot fit the model), ``note`` saying why."""
    return Result(case, tool, NAN, NAN, NAN, -1, NAN, NAN, note=note)


def result_row(
    case: str, tool: str, tree: Any, parameters: pd.DataFrame, times: dict[str, float], note: str
) -> Result:
    """The row of a sampled ``tree``: ``parameters`` has ``ess_bulk`` and ``r_hat`` per parameter.

    ``times`` holds ``compile_s``, ``wall_s`` and optionally ``setup_s``.
    """
    stats = tree["sample_stats"]
    return Result(
        case,
        tool,
        min_ess=float(parameters["ess_bulk"].min()),
        divergences=int(stats["diverging"].sum()),
        max_rhat=float(parameters["r_hat"].max()),
        steps=float(stats["n_steps"].mean()),
        note=note,
        **times,
    )


def sample_bayeshier(model: Any) -> tuple[Any, dict[str, float]]:
    """A bayeshier Model compiled, warmed up and sampled: the tree and its times."""
    start = time.perf_counter()
    model.compile_nutpie()
    compile_s = time.perf_counter() - start
    # the default path: the log-likelihood bayeshier stores by default (pointwise when it
    # fits the 512 MiB memory budget, else per group) is part of the time
    settings = {"chains": CHAINS, "progressbar": False}
    model.sample(random_seed=1, **WARMUP, **settings)
    start = time.perf_counter()
    tree = model.sample(random_seed=2, draws=DRAWS, tune=TUNE, **settings)
    return tree, {"compile_s": compile_s, "wall_s": time.perf_counter() - start}


def sample_bambi(
    formula: str,
    data: pd.DataFrame,
    family: str = "gaussian",
    derived: tuple[str, ...] = (),
) -> tuple[Any, list[str], dict[str, float]]:
    """bambi's PyMC model for ``formula`` (and ``family``), compiled and sampled by nutpie (warm).

    Returns the tree, its parameters (not bambi's ``_offset`` coordinates,
    nor the ``derived`` variables, e.g. a GLMM's ``p`` or ``mu``) and the
    times (``setup_s``: ``Model`` and ``build``).
    """
    import bambi as bmb
    import nutpie

    start = time.perf_counter()
    model = bmb.Model(formula, data, family=family)
    model.build()
    setup_s = time.perf_counter() - start
    start = time.perf_counter()
    compiled = nutpie.compile_pymc_model(model.backend.model)
    compile_s = time.perf_counter() - start
    settings = {"chains": CHAINS, "cores": CORES, "progress_bar": False}
    nutpie.sample(compiled, seed=1, **WARMUP, **settings)
    start = time.perf_counter()
    tree = nutpie.sample(compiled, seed=2, draws=DRAWS, tune=TUNE, **settings)
    wall_s = time.perf_counter() - start
    names = [
        str(v)
        for v in tree["posterior"].data_vars
        if not str(v).endswith("_offset") and str(v) not in derived
    ]
    return tree, names, {"setup_s": setup_s, "compile_s": compile_s, "wall_s": wall_s}


def shown(value: float, digits: int | None) -> float | int | str:
    """``value`` rounded to ``digits`` (an int for None), or ``-`` when missing."""
    return "-" if math.isnan(value) else round(value, digits)


def ratio(result: Result, reference: dict[str, float]) -> float | str:
    """``result``'s ESS/s over the reference tool's on the same case (``-`` if not run)."""
    return shown(result.ess_per_s / reference.get(result.case, NAN), 1)


def cells(result: Result, setup: bool = False) -> dict[str, Any]:
    """The table cells every sampling benchmark shows (``setup s`` too if ``setup``)."""
    first = {"case": result.case, "tool": result.tool}
    if setup:
        first["setup s"] = shown(result.setup_s, 2)
    return first | {
        "compile s": shown(result.compile_s, 1),
        "wall s": shown(result.wall_s, 2),
        "min bulk ESS": shown(result.min_ess, None),
        "ESS/s": shown(result.ess_per_s, 1),
        "divergences": result.divergences if result.divergences >= 0 else "-",
        "max r_hat": shown(result.max_rhat, 4),
        "steps/draw": shown(result.steps, 1),
    }


def print_header() -> None:
    """The line above a table: what was run, and how."""
    print(f"\nnutpie, {CHAINS} chains x {DRAWS} draws (+{TUNE} tune), {CORES} cores, warm cache\n")


def summarize(case: str, tool: str, tree, names, times: dict[str, float]) -> Result:
    """Diagnostics of a sampled tree (ArviZ's summary of the variables ``names``)."""
    summary = az.summary(tree, var_names=names, kind="diagnostics", round_to="none")
    return result_row(case, tool, tree, summary, times, note="")
