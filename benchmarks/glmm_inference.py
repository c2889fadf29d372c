"""Benchmark GLMM profile and bootstrap intervals against lme4's ``confint`` on the same fits.

Run from the repository root::

    python benchmarks/glmm_inference.py            # every case
    python benchmarks/glmm_inference.py --no-boot  # profile intervals only

For each glmer reference case (``tests/fixtures/glmer``), the model is fitted
once by each tool (not timed), then ``confint`` is timed: the likelihood
profile of every parameter (lme4's default ``method = "profile"``) and, for
cbpp and grouseticks, the parametric bootstrap (``method = "boot"``,
:data:`NSIM` percentile replicates; lme4's ``bootMer``). lme4 runs through
``Rscript`` when ``library(lme4)`` loads. The table gives both times and the
largest difference between the two tools' profile interval ends, as a fraction
of lme4's interval width (bootstrap intervals are random: their ends are not
compared here, see ``tests/reml/glmm/test_bootstrap.py``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from glmm import _reference_case, lme4_available, markdown

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bayeshier.reml.glmm import fit_glmm  # noqa: E402

NSIM = 200

R_SCRIPT = r"""
suppressMessages(library(lme4))
args <- commandArgs(TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
for (column in strsplit(args[4], ",")[[1]]) if (nzchar(column)) d[[column]] <- factor(d[[column]])
fit <- glmer(as.formula(args[2]), d, get(args[3]), nAGQ = as.integer(args[5]))
set.seed(1)
t <- system.time(ci <- suppressWarnings(suppressMessages(
  if (args[6] == "boot") confint(fit, method = "boot", nsim = as.integer(args[7])) else confint(fit)
)))[["elapsed"]]
cat(sprintf("%.6f\n", t)); cat(sprintf("%.10f\n", c(ci[, 1], ci[, 2])))
"""

#: (label, fixture, formula or None for the fixture's, nAGQ, bootstrap too)
CASES = (
    ("seed_binary", "seed_binary", None, 1, False),
    ("cbpp", "cbpp_binomial", None, 1, True),
    ("cbpp, nAGQ = 9", "cbpp_binomial", None, 9, False),
    ("grouseticks", "grouseticks_poisson", None, 1, True),
    (
        "contraception (urban|district)",
        "contraception_bernoulli",
        "use ~ age10 + urban + ch + (urban|district)",
        1,
        False,
    ),
)


def time_bayeshier(fit, method: str) -> tuple[float, pd.DataFrame]:
    """Seconds of ``fit.confint(method=...)`` and its table."""
    start = time.perf_counter()
    table = fit.confint(method=method, nsim=NSIM, random_seed=1, progress=False)
    return time.perf_counter() - start, table


def time_lme4(
    formula: str, data: pd.DataFrame, family: str, factors: list[str], nagq: int, method: str
) -> tuple[float, np.ndarray] | None:
    """lme4's seconds of ``confint`` and its (lower, upper) columns, through Rscript."""
    with tempfile.TemporaryDirectory() as folder:
        csv, script = Path(folder) / "data.csv", Path(folder) / "confint.R"
        data.to_csv(csv, index=False)
        script.write_text(R_SCRIPT)
        command = ["Rscript", str(script), str(csv), formula, family, ",".join(factors)]
        command += [str(nagq), method, str(NSIM)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None
    numbers = [float(v) for v in done.stdout.split()]
    ends = np.array(numbers[1:]).reshape(2, -1).T
    return numbers[0], ends


def rows(with_lme4: bool, boot: bool) -> list[dict[str, object]]:
    """One row per case and interval method."""
    table = []
    for label, fixture, formula, nagq, bootstrap in CASES:
        stored, data, family, factors = _reference_case(fixture)
        formula = formula or stored
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_glmm(formula, data, family, nagq=nagq)
            for method in ["profile", "boot"] if boot and bootstrap else ["profile"]:
                seconds, ours = time_bayeshier(fit, method)
                lme4 = None
                if with_lme4:
                    lme4 = time_lme4(formula, data, family, factors, nagq, method)
                table.append(row(label, method, seconds, ours, lme4))
        print(f"done: {label}", flush=True)
    return table


def row(
    label: str,
    method: str,
    seconds: float,
    ours: pd.DataFrame,
    lme4: tuple[float, np.ndarray] | None,
) -> dict[str, object]:
    """A table row: both times, and for a profile how far apart the interval ends are."""
    cells: dict[str, object] = {"case": label, "method": method, "bayeshier s": round(seconds, 2)}
    cells["lme4 s"] = round(lme4[0], 2) if lme4 else "-"
    cells["speed-up"] = f"{lme4[0] / seconds:.1f}x" if lme4 else "-"
    cells["ends vs lme4 (of width)"] = "-"
    if lme4 and method == "profile":
        width = lme4[1][:, 1] - lme4[1][:, 0]
        gap = np.abs(ours.to_numpy() - lme4[1]).max(axis=1) / width
        cells["ends vs lme4 (of width)"] = f"{gap.max():.1e}"
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-boot", action="store_true", help="profile intervals only")
    args = parser.parse_args()
    with_lme4 = lme4_available()
    table = pd.DataFrame(rows(with_lme4, boot=not args.no_boot))
    print(markdown(table))
    if not with_lme4:
        print("\n(Rscript with lme4 not found: lme4 columns left empty.)")


if __name__ == "__main__":
    main()
