"""Benchmark bayeshier's GLMM solver (Laplace) against lme4's glmer on the same data.

Run from the repository root::

    python benchmarks/glmm.py            # all four cases
    python benchmarks/glmm.py --quick    # the 100k case shrunk to 20k rows

Cases:

1. contraception: ``use ~ age10 + I(age10^2) + urban + ch + (1|urban:district)``
   (1,934 Bernoulli rows, 102 groups), the glmer reference data.
2. grouseticks: ``TICKS ~ YEAR + sHEIGHT + (1|BROOD) + (1|LOCATION)`` (403 Poisson
   counts, two crossed factors), the glmer reference data.
3. VerbAgg shape: 316 subjects x 24 items = 7,584 simulated Bernoulli rows,
   ``r2 ~ Anger + Gender + btype + situ + (1|id) + (1|item)`` (crossed).
4. 100,000 simulated Bernoulli rows in 2,000 groups, ``y ~ x1 + x2 + (1|g)``.

bayeshier is timed end to end from the in-memory DataFrame (formula, design,
fit, conditional modes) after one warm-up call: the best of three runs.
glmer (default settings: bobyqa then Nelder-Mead, nAGQ = 1) is timed through
``Rscript`` on a CSV of the same data when ``library(lme4)`` loads (reading
the CSV is not timed): the best of three ``system.time`` runs.
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bayeshier.reml.glmm import fit_glmm  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "glmer"
SEED = 20240614
REPEATS = 3

R_SCRIPT = r"""
suppressMessages(library(lme4))
args <- commandArgs(TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
for (column in strsplit(args[4], ",")[[1]]) if (nzchar(column)) d[[column]] <- factor(d[[column]])
family <- get(args[3])
best <- Inf
for (i in seq_len(as.integer(args[5]))) {
  t <- system.time(fit <- glmer(as.formula(args[2]), d, family))[["elapsed"]]
  best <- min(best, t)
}
cat(sprintf("%.6f %.8f\n", best, as.numeric(logLik(fit))))
"""


def _reference_case(name: str) -> tuple[str, pd.DataFrame, str, list[str]]:
    reference = json.loads((FIXTURES / f"{name}.json").read_text())
    levels = reference["factor_levels"]
    levels = ast.literal_eval(levels) if isinstance(levels, str) else levels
    data = pd.read_csv(FIXTURES / f"{name}.csv", dtype=str)
    for column in data.columns:
        if column in levels:
            data[column] = pd.Categorical(data[column], categories=levels[column])
        else:
            data[column] = pd.to_numeric(data[column])
    return reference["formula"], data, reference["family"], list(levels)


def verbagg_shape(rng: np.random.Generator) -> pd.DataFrame:
    """316 subjects x 24 items of simulated Bernoulli responses, VerbAgg's design."""
    ids, items = (a.ravel() for a in np.meshgrid(np.arange(316), np.arange(24), indexing="ij"))
    anger = rng.normal(0.0, 1.0, 316)[ids]
    male = rng.integers(0, 2, 316)[ids]
    btype = np.array(["curse", "scold", "shout"])[items % 3]
    situ = np.where(items % 2 == 1, "self", "other")
    eta = (
        0.2 + 0.06 * anger + 0.3 * male - 0.9 * (btype == "scold") - 1.9 * (btype == "shout")
        - 1.0 * (situ == "self")
        + rng.normal(0.0, 1.34, 316)[ids] + rng.normal(0.0, 0.7, 24)[items]
    )  # fmt: skip
    return pd.DataFrame(
        {
            "r2": (rng.random(ids.size) < 1.0 / (1.0 + np.exp(-eta))).astype(int),
            "Anger": anger,
            "Gender": np.where(male == 1, "M", "F"),
            "btype": btype,
            "situ": situ,
            "id": [f"s{i:03d}" for i in ids],
            "item": [f"i{i:02d}" for i in items],
        }
    )


def many_groups(rng: np.random.Generator, rows: int, groups: int) -> pd.DataFrame:
    """Simulated Bernoulli rows, one random intercept (sd 0.8) over ``groups`` groups."""
    group = rng.integers(0, groups, rows)
    x1, x2 = rng.normal(size=(2, rows))
    eta = -0.5 + 0.5 * x1 - 0.3 * x2 + rng.normal(0.0, 0.8, groups)[group]
    return pd.DataFrame(
        {
            "y": (rng.random(rows) < 1.0 / (1.0 + np.exp(-eta))).astype(int),
            "x1": x1,
            "x2": x2,
            "g": [f"g{i:04d}" for i in group],
        }
    )


def cases(quick: bool) -> list[tuple[str, str, pd.DataFrame, str, list[str]]]:
    """(label, formula, data, family, factor columns) of every case."""
    rng = np.random.default_rng(SEED)
    rows = 20_000 if quick else 100_000
    return [
        ("contraception", *_reference_case("contraception_bernoulli")),
        ("grouseticks", *_reference_case("grouseticks_poisson")),
        (
            "VerbAgg shape (7,584 rows, crossed)",
            "r2 ~ Anger + Gender + btype + situ + (1|id) + (1|item)",
            verbagg_shape(rng),
            "binomial",
            ["Gender", "btype", "situ", "id", "item"],
        ),
        (f"{rows:,} rows / 2,000 groups", "y ~ x1 + x2 + (1|g)", many_groups(rng, rows, 2000),
         "binomial", ["g"]),
    ]  # fmt: skip


def time_bayeshier(formula: str, data: pd.DataFrame, family: str) -> tuple[float, float]:
    """Best of :data:`REPEATS` runs after a warm-up, and the logLik."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_glmm(formula, data, family)
        best = np.inf
        for _ in range(REPEATS):
            started = time.perf_counter()
            fit = fit_glmm(formula, data, family)
            best = min(best, time.perf_counter() - started)
    return best, fit.loglik


def lme4_available() -> bool:
    """Whether ``Rscript`` runs and loads lme4."""
    if shutil.which("Rscript") is None:
        return False
    done = subprocess.run(
        ["Rscript", "-e", "suppressMessages(library(lme4))"], capture_output=True, check=False
    )
    return done.returncode == 0


def time_glmer(
    formula: str, data: pd.DataFrame, family: str, factors: list[str]
) -> tuple[float, float]:
    """glmer's best time of :data:`REPEATS` and its logLik, through Rscript."""
    with tempfile.TemporaryDirectory() as folder:
        csv, script = Path(folder) / "data.csv", Path(folder) / "fit.R"
        data.to_csv(csv, index=False)
        script.write_text(R_SCRIPT)
        command = ["Rscript", str(script), str(csv), formula, family, ",".join(factors)]
        done = subprocess.run(
            [*command, str(REPEATS)], capture_output=True, text=True, timeout=1800, check=True
        )
    seconds, loglik = done.stdout.split()[-2:]
    return float(seconds), float(loglik)


def markdown(table: pd.DataFrame) -> str:
    """The table in Markdown (empty cells for missing values)."""
    cells = [[("" if v is None or v != v else str(v)) for v in row] for row in table.to_numpy()]
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * table.shape[1]]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shrink the 100k case to 20k rows")
    args = parser.parse_args()
    with_r = lme4_available()
    rows = []
    for label, formula, data, family, factors in cases(args.quick):
        ours, loglik = time_bayeshier(formula, data, family)
        theirs, their_loglik = time_glmer(formula, data, family, factors) if with_r else (None,) * 2
        rows.append(
            {
                "case": label,
                "rows": len(data),
                "bayeshier s": round(ours, 3),
                "glmer s": None if theirs is None else round(theirs, 3),
                "speed-up": None if theirs is None else round(theirs / ours, 1),
                "logLik bayeshier": round(loglik, 5),
                "logLik glmer": None if their_loglik is None else round(their_loglik, 5),
            }
        )
        print(f"done: {label}", file=sys.stderr, flush=True)
    print(markdown(pd.DataFrame(rows)))
    if not with_r:
        print("\n(Rscript with lme4 not found: glmer columns left empty.)")


if __name__ == "__main__":
    main()
