"""Benchmark bayeshier's sampling against bambi 0.21, both with nutpie, on the same data.

Run from the repository root (needs ``pip install bambi==0.21.0``)::

    python benchmarks/sampling.py                 # every case (15-35 minutes on 2 cores)
    python benchmarks/sampling.py --quick         # mpg and 4,000 rows only
    python benchmarks/sampling.py --cases 1m      # one case (mpg, 4k, 100k, 1m)

Cases (data generated once from a fixed seed, shared by every tool):

1. ``mpg``: ``hwy ~ displ + year + (1|class)`` (bundled data; ``year`` is
   1999/2008, a badly conditioned raw design).
2. ``sim 4k``: ``y ~ x1 + x2 + (1|g)``, 4,000 rows in 65 groups.
3. ``sim 100k``: ``y ~ x1 + x2 + x3 + x4 + (1|g)``, 100,000 rows in 1,000 groups.
4. ``sim 1M``: the same formula, 1,000,000 rows in 10,000 groups.

Tools: bayeshier with ``likelihood="collapsed"`` (the group effects
integrated out of the sampled likelihood, then drawn from their exact
conditional posterior) and with ``likelihood="full"`` (every group effect
sampled by NUTS; both evaluate the likelihood from per-group sums), and
bambi. bambi is run on cases of at most ``--bambi-max-rows`` rows (default
100,000): its likelihood visits every row at every gradient, so at 1,000,000
rows one run would take about ten times its 100,000-row time; the table says
so instead of running it.

Every tool samples 4 chains x 1,000 draws after 1,000 tuning steps with
nutpie on the same cores. Warm cache: each model is compiled once (the
``compile s`` column) and run once untimed for a few iterations; the table
reports the next, full sampling. For bambi the PyMC model it builds is
compiled with ``nutpie.compile_pymc_model`` (bambi's own
``fit(inference_method="nutpie")`` recompiles on every call, so it cannot be
timed warm); bambi's defaults are kept (its priors, non-centered group
effects). bayeshier runs its default ``sample()``: its time includes its
post-processing (drawing the integrated-out effects, assembling the
DataTree) and the log-likelihood it stores by default, which bambi does not
compute: pointwise when it fits the 512 MiB memory budget (mpg, 4k), else one
value per group (100k, 1M; the pointwise one would take 3 and 30 GiB). Each
bayeshier row's note names the one stored.

Reported: ``setup s``, the time from the DataFrame to a model ready to compile
(bayeshier: the specification, REML fit, internal scale and per-group sums;
bambi: ``Model`` and ``build``); ``compile s``; ``wall s``, the wall time of
the timed sampling; the smallest bulk ESS over the fixed effects, the group
sd, the residual sd and every group effect; ESS per second of ``wall s``;
divergences; the largest R-hat; ``steps/draw``, the mean number of leapfrog
steps (gradient evaluations) per draw; ``vs bambi``, a row's ESS/s over
bambi's on the same case, and ``vs full``, the collapsed likelihood's ESS/s
over the full one's.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sampling_common import (
    SEED,
    Result,
    cells,
    not_run,
    print_header,
    ratio,
    sample_bambi,
    sample_bayeshier,
    summarize,
)

from bayeshier import datasets
from bayeshier.bayes.model import Model

#: bambi is run only on cases up to this many rows (``--bambi-max-rows``).
BAMBI_MAX_ROWS = 100_000


@dataclass(frozen=True)
class Case:
    """One benchmark data set: its label, the formula and how to make the data."""

    key: str
    label: str
    formula: str
    make: Callable[[], pd.DataFrame]


def simulate(rows: int, groups: int, covariates: int, seed: int = SEED) -> pd.DataFrame:
    """``y = 1 + x @ b + u_g + e`` with sd(u) = 0.8, sd(e) = 1.5; groups of unequal size."""
    rng = np.random.default_rng(seed)
    sizes = rng.dirichlet(np.full(groups, 5.0)) * (rows - 2 * groups)
    g = np.repeat(np.arange(groups), 2 + np.floor(sizes).astype(int))
    g = np.concatenate([g, rng.integers(0, groups, rows - len(g))])
    x = rng.normal(size=(rows, covariates))
    slopes = np.linspace(0.5, -0.5, covariates)
    effects = rng.normal(0.0, 0.8, groups)
    y = 1.0 + x @ slopes + effects[g] + rng.normal(0.0, 1.5, rows)
    data = pd.DataFrame(x, columns=[f"x{k + 1}" for k in range(covariates)])
    data["g"] = pd.Categorical([f"g{k:04d}" for k in g])
    data["y"] = y
    return data


CASES = (
    Case("mpg", "mpg", "hwy ~ displ + year + (1|class)", lambda: datasets.load("mpg")),
    Case("4k", "sim 4k / 65", "y ~ x1 + x2 + (1|g)", lambda: simulate(4_000, 65, 2)),
    Case(
        "100k",
        "sim 100k / 1k",
        "y ~ x1 + x2 + x3 + x4 + (1|g)",
        lambda: simulate(100_000, 1_000, 4),
    ),
    Case(
        "1m",
        "sim 1M / 10k",
        "y ~ x1 + x2 + x3 + x4 + (1|g)",
        lambda: simulate(1_000_000, 10_000, 4),
    ),
)
QUICK_CASES = ("mpg", "4k")


def run_bayeshier(case: Case, data: pd.DataFrame, likelihood: str) -> Result:
    """bayeshier with ``likelihood`` (``"collapsed"`` or ``"full"``): setup, compile, sample."""
    start = time.perf_counter()
    model = Model(case.formula, data, likelihood=likelihood)
    model.plan, model.cells  # noqa: B018 - the REML fit, internal scale and per-group sums
    setup_s = time.perf_counter() - start
    tree, times = sample_bayeshier(model)
    assert model.likelihood == likelihood
    times["setup_s"] = setup_s
    result = summarize(case.label, f"bayeshier {likelihood}", tree, None, times)
    result.note = f"log-likelihood stored: {tree.attrs['log_likelihood']}"
    return result


def run_bambi(case: Case, data: pd.DataFrame) -> Result:
    """bambi's PyMC model, compiled and sampled by nutpie."""
    tree, names, times = sample_bambi(case.formula, data)
    return summarize(case.label, "bambi", tree, names, times)


def bambi_not_run(case: Case, rows: int, max_rows: int) -> Result:
    """A table row saying why bambi was not run on ``case``."""
    note = (
        f"not run: {rows:,} rows > --bambi-max-rows {max_rows:,}. bambi's likelihood visits "
        f"every row at every gradient step, so a run costs at least {rows / max_rows:g} times "
        f"its wall time at {max_rows:,} rows; pass --bambi-max-rows {rows} to run it anyway."
    )
    return not_run(case.label, "bambi", note)


def run_case(case: Case, bambi_max_rows: int) -> list[Result]:
    """Every tool on one case (bambi only up to ``bambi_max_rows`` rows)."""
    data = case.make()
    results = []
    for likelihood in ("collapsed", "full"):
        results.append(run_bayeshier(case, data, likelihood))
        _done(results[-1])
    if len(data) <= bambi_max_rows:
        results.append(run_bambi(case, data))
        _done(results[-1])
    else:
        results.append(bambi_not_run(case, len(data), bambi_max_rows))
    return results


def _done(result: Result) -> None:
    print(f"  done: {result.case} {result.tool} ({result.wall_s:.1f} s)", flush=True)


def table(results: list[Result]) -> pd.DataFrame:
    """The results as one table, with ESS/s ratios to bambi and to the full likelihood.

    A tool that was not run shows ``-``.
    """
    bambi = {r.case: r.ess_per_s for r in results if r.tool == "bambi"}
    full = {r.case: r.ess_per_s for r in results if r.tool == "bayeshier full"}
    rows = [
        cells(r, setup=True)
        | {
            "vs bambi": ratio(r, bambi) if r.tool != "bambi" else "-",
            "vs full": ratio(r, full) if r.tool == "bayeshier collapsed" else "-",
        }
        for r in results
    ]
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only mpg and the 4,000-row case")
    parser.add_argument(
        "--cases",
        nargs="+",
        choices=[c.key for c in CASES],
        help="run only these cases (default: all, or the --quick ones)",
    )
    parser.add_argument(
        "--bambi-max-rows",
        type=int,
        default=BAMBI_MAX_ROWS,
        help="run bambi only on cases with at most this many rows (default: %(default)s)",
    )
    args = parser.parse_args()
    keys = args.cases or (QUICK_CASES if args.quick else [c.key for c in CASES])
    warnings.filterwarnings("ignore")
    results = []
    for case in CASES:
        if case.key in keys:
            results.extend(run_case(case, args.bambi_max_rows))
    print_header()
    print(table(results).to_string(index=False))
    for r in results:
        if r.note:
            print(f"{r.case}, {r.tool}: {r.note}")


if __name__ == "__main__":
    main()
