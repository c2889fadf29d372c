"""Benchmark REML with a correlated random slope, ``y ~ x + (x|g)``, against statsmodels and lme4.

Run from the repository root::

    python benchmarks/reml_slopes.py            # 100,000 rows / 1,000 groups
    python benchmarks/reml_slopes.py --quick    # 10,000 rows / 100 groups

Every tool fits the same simulated data (fixed seed, known parameters:
intercept sd 2, slope sd 0.5, correlation 0.3, residual sd 1). bayeshier is
timed end to end from the DataFrame after one warm-up call (best and median
of 3); statsmodels ``MixedLM(re_formula="~x")`` from its formula interface;
lme4 through ``Rscript`` on a CSV of the same data (reading it untimed),
when ``library(lme4)`` loads. The table also shows each tool's REML
criterion (``-2 * REML log-likelihood``) and estimates, so that the times
are for the same answer.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reml import (  # the sibling benchmark script
    import_bayeshier,
    lme4_version,
    load_average,
    time_calls,
)

SEED = 20261122
FORMULA = "y ~ x + (x|g)"
TRUTH = {"sd_intercept": 2.0, "sd_slope": 0.5, "correlation": 0.3, "sigma": 1.0}
TARGET_S = 1.0
REPEATS = 3

LME4_SCRIPT = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
data <- read.csv(args[1], colClasses = c(g = "character"))
seconds <- numeric(3)
for (i in 1:3) {
  start <- proc.time()[["elapsed"]]
  fit <- lmer(y ~ x + (x | g), data = data, REML = TRUE)
  seconds[i] <- proc.time()[["elapsed"]] - start
}
vc <- as.data.frame(VarCorr(fit))
cat("seconds", seconds, "\n")
cat("criterion", format(REMLcrit(fit), digits = 17), "\n")
cat("beta", format(fixef(fit), digits = 17), "\n")
cat("sdcor", format(vc$sdcor, digits = 17), "\n")
"""


@dataclass
class Result:
    """One tool's timing and answer."""

    tool: str
    best: float | None
    median: float | None
    criterion: float | None = None
    beta: tuple[float, ...] = ()
    sdcor: tuple[float, ...] = ()  # sd intercept, sd slope, correlation, sigma
    note: str = ""


def simulate(n_rows: int, n_groups: int, seed: int = SEED) -> pd.DataFrame:
    """``y = 1 + 0.5 x + b0_g + b1_g x + e`` with correlated ``(b0, b1)`` per group."""
    rng = np.random.default_rng(seed)
    sd = np.array([TRUTH["sd_intercept"], TRUTH["sd_slope"]])
    corr = np.array([[1.0, TRUTH["correlation"]], [TRUTH["correlation"], 1.0]])
    effects = rng.multivariate_normal(np.zeros(2), corr * np.outer(sd, sd), size=n_groups)
    g = rng.integers(0, n_groups, n_rows)
    x = rng.normal(size=n_rows)
    y = 1 + 0.5 * x + effects[g, 0] + effects[g, 1] * x + rng.normal(0, TRUTH["sigma"], n_rows)
    labels = np.array([f"g{i:05d}" for i in range(n_groups)], dtype=object)
    return pd.DataFrame({"y": y, "x": x, "g": labels[g]})


def bench_bayeshier(data: pd.DataFrame) -> Result:
    """Time ``bayeshier.fit_reml`` end to end (formula, design, fit, BLUPs)."""
    bayeshier = import_bayeshier()
    timing, fit = time_calls(lambda: bayeshier.fit_reml(FORMULA, data), REPEATS, warmup=1)
    vc = fit.varcorr["sd_cor"].to_numpy()
    note = f"best of {REPEATS} after 1 warm-up; {fit.optimization.evaluations} evaluations"
    return Result(
        "bayeshier",
        timing.best,
        timing.median,
        fit.criterion,
        tuple(fit.fixef),
        tuple(vc),
        note if fit.optimization.converged else note + "; NOT CONVERGED",
    )


def bench_statsmodels(data: pd.DataFrame) -> Result:
    """Time statsmodels ``MixedLM`` with ``re_formula="~x"`` (REML), once."""
    import statsmodels.formula.api as smf

    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = smf.mixedlm("y ~ x", data, groups="g", re_formula="~x").fit(reml=True)
    seconds = time.perf_counter() - start
    cov = np.asarray(result.cov_re)
    sds = np.sqrt(np.diag(cov))
    sdcor = (sds[0], sds[1], cov[0, 1] / (sds[0] * sds[1]), float(np.sqrt(result.scale)))
    kinds = sorted({type(w.message).__name__ for w in caught})
    note = "one run" + (f"; warnings: {', '.join(kinds)}" if kinds else "")
    return Result(
        "statsmodels MixedLM",
        seconds,
        None,
        -2.0 * float(result.llf),
        tuple(result.fe_params),
        sdcor,
        note,
    )


def bench_lme4(data: pd.DataFrame) -> Result:
    """Time ``lme4::lmer`` through ``Rscript`` (best of 3, no warm-up)."""
    with tempfile.TemporaryDirectory(prefix="bayeshier-slopes-") as tmp:
        csv, script = Path(tmp) / "data.csv", Path(tmp) / "bench.R"
        data.to_csv(csv, index=False, float_format="%.17g")
        script.write_text(LME4_SCRIPT)
        done = subprocess.run(
            ["Rscript", str(script), str(csv)], capture_output=True, text=True, check=False
        )
    if done.returncode != 0:
        return Result("lme4 (measured)", None, None, note=f"Rscript failed: {done.stderr[-200:]}")
    fields = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines() if line}
    seconds = [float(v) for v in fields["seconds"]]
    return Result(
        "lme4 (measured)",
        min(seconds),
        float(np.median(seconds)),
        float(fields["criterion"][0]),
        tuple(float(v) for v in fields["beta"]),
        tuple(float(v) for v in fields["sdcor"]),
        "best of 3, no warm-up; CSV read untimed",
    )


def format_table(results: list[Result], rows: int, groups: int) -> str:
    """The results as a Markdown table."""
    lines = [
        f"`{FORMULA}`, {rows:,} rows / {groups:,} groups; target for bayeshier <= {TARGET_S:g} s",
        "",
        "| tool | best s | median s | REML criterion | beta (1, x) "
        "| sd(Int), sd(x), corr, sigma | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        best = "-" if r.best is None else f"{r.best:.3f}"
        median = "-" if r.median is None else f"{r.median:.3f}"
        criterion = "-" if r.criterion is None else f"{r.criterion:.6f}"
        beta = ", ".join(f"{v:.6f}" for v in r.beta)
        sdcor = ", ".join(f"{v:.6f}" for v in r.sdcor)
        cells = [r.tool, best, median, criterion, beta, sdcor, r.note]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Simulate, run every tool, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 rows / 100 groups")
    args = parser.parse_args(argv)
    rows, groups = (10_000, 100) if args.quick else (100_000, 1_000)
    data = simulate(rows, groups)
    results = [bench_bayeshier(data), bench_statsmodels(data)]
    if lme4_version() is not None:
        results.append(bench_lme4(data))
    print(format_table(results, rows, groups))
    print(f"\ntruth: {TRUTH}; load average at the end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
