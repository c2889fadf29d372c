"""Benchmark sampling random slopes: bayeshier (correlated and uncorrelated) against bambi 0.21.

Run from the repository root (needs ``pip install bambi==0.21.0``)::

    python benchmarks/sampling_slopes.py                  # both cases (a few minutes on 2 cores)
    python benchmarks/sampling_slopes.py --cases sleep    # sleepstudy only

Cases:

1. ``sleepstudy``: ``Reaction ~ Days + (Days|Subject)``, 180 rows, 18 subjects.
2. ``sim 2k / 100``: ``y ~ x + (x|g)``, 100 groups x 20 rows, simulated with
   sds 1 and 0.5, correlation 0.3, residual sd 1 (fixed seed).

Tools, all sampled by nutpie (4 chains x 1,000 draws after 1,000 tuning steps):

* ``bayeshier (x|g)``: correlated intercept and slope, LKJ prior on the correlation;
* ``bayeshier (x||g)``: uncorrelated (lme4's expansion into ``(1|g) + (0 + x|g)``);
* ``bambi (x||g)``: bambi 0.21 has no ``||``; its ``(x|g)`` *is* the uncorrelated
  model (independent priors on the intercept and slope effects, no
  correlation), so that formula is what it is given. bambi cannot fit
  the correlated model at all: the table says so in its own row.

Warm cache: each model is compiled once (``compile s``) and run once untimed
for a few iterations; the table reports the next, full sampling. bambi's
PyMC model is compiled with ``nutpie.compile_pymc_model`` (its own
``fit(inference_method="nutpie")`` recompiles on every call) and keeps its
defaults (priors, non-centered effects, nutpie's default adaptation).
bayeshier runs its default ``sample()``: its time includes its
post-processing and the default log-likelihood, which bambi does not compute.

Reported: ``wall s`` of the timed sampling, the smallest bulk ESS over every
parameter (fixed effects, sds, the correlation, residual sd and every group
effect), ESS per second of wall time, divergences, the largest R-hat,
``steps/draw`` (leapfrog steps per draw) and ``vs bambi``, a row's ESS/s over
bambi's on the same case.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
from sampling_common import (
    SEED,
    Result,
    cells,
    not_run,
    print_header,
    ratio,
    result_row,
    sample_bambi,
    sample_bayeshier,
)

from bayeshier import datasets
from bayeshier.bayes.diagnostics import diagnose
from bayeshier.bayes.model import Model


@dataclass(frozen=True)
class Case:
    """A data set, its correlated and uncorrelated lme4 formulas and bambi's uncorrelated one."""

    key: str
    label: str
    correlated: str
    uncorrelated: str
    bambi: str
    make: Callable[[], pd.DataFrame]


def simulate(groups: int = 100, rows: int = 20, seed: int = SEED) -> pd.DataFrame:
    """``y = 2 + 0.5 x + b0_g + b1_g x + e``; sds 1 and 0.5, correlation 0.3, sd(e) = 1."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), rows)
    x = rng.normal(size=g.size)
    cov = np.array([[1.0, 0.15], [0.15, 0.25]])
    b = rng.multivariate_normal([0.0, 0.0], cov, groups)
    y = 2.0 + 0.5 * x + b[g, 0] + b[g, 1] * x + rng.normal(size=g.size)
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical([f"g{k:03d}" for k in g])})


CASES = (
    Case(
        "sleep",
        "sleepstudy",
        "Reaction ~ Days + (Days|Subject)",
        "Reaction ~ Days + (Days||Subject)",
        "Reaction ~ Days + (Days|Subject)",
        lambda: datasets.load("sleepstudy"),
    ),
    Case(
        "sim",
        "sim 2k / 100",
        "y ~ x + (x|g)",
        "y ~ x + (x||g)",
        "y ~ x + (x|g)",
        simulate,
    ),
)


def run_bayeshier(case: Case, data: pd.DataFrame, formula: str, tool: str) -> Result:
    """bayeshier with its defaults: compile, warm up, then the timed sampling."""
    model = Model(formula, data)
    tree, times = sample_bayeshier(model)
    parameters = diagnose(tree, warn=False)  # one row per parameter
    note = f"{formula}: {model.parameterization}, target_accept {model.default_target_accept()}"
    return result_row(case.label, tool, tree, parameters, times, note)


def run_bambi(case: Case, data: pd.DataFrame) -> Result:
    """bambi's (uncorrelated) PyMC model, compiled and sampled by nutpie."""
    tree, names, times = sample_bambi(case.bambi, data)
    del times["setup_s"]  # this table has no setup column
    summary = az.summary(tree, var_names=names, kind="diagnostics", round_to="none")
    note = f"bambi formula {case.bambi!r} (independent intercept and slope effects)"
    return result_row(case.label, "bambi (x||g)", tree, summary, times, note)


def bambi_correlated(case: Case) -> Result:
    """The row saying that bambi cannot fit the correlated model."""
    note = (
        "bambi: cannot fit correlated (x|g): bambi 0.21 has no correlated group effects "
        "(its '(x|g)' gives independent intercept and slope effects)"
    )
    return not_run(case.label, "bambi (x|g)", note)


def run_case(case: Case) -> list[Result]:
    data = case.make()
    results = [
        run_bayeshier(case, data, case.correlated, "bayeshier (x|g)"),
        bambi_correlated(case),
        run_bayeshier(case, data, case.uncorrelated, "bayeshier (x||g)"),
        run_bambi(case, data),
    ]
    for result in results:
        if not np.isnan(result.wall_s):
            print(f"  done: {result.case} {result.tool} ({result.wall_s:.1f} s)", flush=True)
    return results


def table(results: list[Result]) -> pd.DataFrame:
    """The results as one table; ``vs bambi`` is ESS/s over bambi's uncorrelated model's."""
    bambi = {r.case: r.ess_per_s for r in results if r.tool == "bambi (x||g)"}
    rows = [
        cells(r)
        | {
            "vs bambi": ratio(r, bambi)
            if r.tool.startswith("bayeshier")
            else ("cannot fit" if np.isnan(r.wall_s) else "-"),
        }
        for r in results
    ]
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases", nargs="+", choices=[c.key for c in CASES], help="run only these cases"
    )
    args = parser.parse_args()
    keys = args.cases or [c.key for c in CASES]
    warnings.filterwarnings("ignore")
    results = []
    for case in CASES:
        if case.key in keys:
            results.extend(run_case(case))
    print_header()
    print(table(results).to_string(index=False))
    print()
    for r in results:
        print(f"{r.case}, {r.tool}: {r.note}")


if __name__ == "__main__":
    main()
