"""Benchmark bayeshier's sampling against bambi 0.21, both with nutpie, on the same data.

Run from the repository root (needs ``pip install bambi==0.21.0``)::

    python benchmarks/sampling.py            # mpg, 4,000 rows, 100,000 rows
    python benchmarks/sampling.py --quick    # mpg and 4,000 rows only

Cases (data generated once from a fixed seed, shared by both tools):

1. ``mpg``: ``hwy ~ displ + year + (1|class)`` (bundled data; ``year`` is
   1999/2008, a badly conditioned raw design).
2. ``sim 4k``: ``y ~ x1 + x2 + (1|g)``, 4,000 rows in 65 groups.
3. ``sim 100k``: ``y ~ x1 + x2 + x3 + x4 + (1|g)``, 100,000 rows in 1,000 groups.

Both tools sample 4 chains x 1,000 draws after 1,000 tuning steps with
nutpie on the same cores. Warm cache: each model is compiled once and
sampled once untimed; the table reports the second sampling. For bambi the
PyMC model it builds is compiled with ``nutpie.compile_pymc_model`` (bambi's
own ``fit(inference_method="nutpie")`` recompiles on every call, so it
cannot be timed warm); bambi's defaults are kept (its priors, non-centred
group effects). bayeshier's time includes its post-processing (drawing the
integrated-out effects, assembling the DataTree) but not the pointwise
log-likelihood (``log_likelihood=False``; bambi does not compute it either).

Reported: wall time of the timed sampling, the smallest bulk ESS over the
fixed effects, the group sd, the residual sd and every group effect, ESS per
second, divergences and the largest R-hat.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd

from bayeshier import datasets
from bayeshier.model import Model

SEED = 20240611
DRAWS, TUNE, CHAINS = 1000, 1000, 4
CORES = min(CHAINS, os.cpu_count() or 1)


@dataclass
class Result:
    case: str
    tool: str
    compile_s: float
    wall_s: float
    min_ess: float
    divergences: int
    max_rhat: float

    @property
    def ess_per_s(self) -> float:
        return self.min_ess / self.wall_s


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


def cases(quick: bool) -> list[tuple[str, str, pd.DataFrame]]:
    out = [
        ("mpg", "hwy ~ displ + year + (1|class)", datasets.load("mpg")),
        ("sim 4k / 65", "y ~ x1 + x2 + (1|g)", simulate(4_000, 65, 2)),
    ]
    if not quick:
        out.append(("sim 100k / 1k", "y ~ x1 + x2 + x3 + x4 + (1|g)", simulate(100_000, 1_000, 4)))
    return out


def summarise(case: str, tool: str, compile_s: float, wall: float, tree, names) -> Result:
    summary = az.summary(tree, var_names=names, kind="diagnostics", round_to="none")
    divergences = int(tree["sample_stats"]["diverging"].sum())
    return Result(
        case,
        tool,
        compile_s,
        wall,
        float(summary["ess_bulk"].min()),
        divergences,
        float(summary["r_hat"].max()),
    )


def run_bayeshier(case: str, formula: str, data: pd.DataFrame) -> Result:
    model = Model(formula, data)
    start = time.perf_counter()
    model.compile_nutpie()
    compile_s = time.perf_counter() - start
    settings = {
        "draws": DRAWS,
        "tune": TUNE,
        "chains": CHAINS,
        "progressbar": False,
        "log_likelihood": False,
    }
    model.sample(random_seed=1, **settings)
    start = time.perf_counter()
    tree = model.sample(random_seed=2, **settings)
    wall = time.perf_counter() - start
    return summarise(case, "bayeshier", compile_s, wall, tree, None)


def run_bambi(case: str, formula: str, data: pd.DataFrame) -> Result:
    import bambi as bmb
    import nutpie

    model = bmb.Model(formula, data)
    model.build()
    start = time.perf_counter()
    compiled = nutpie.compile_pymc_model(model.backend.model)
    compile_s = time.perf_counter() - start
    settings = {
        "draws": DRAWS,
        "tune": TUNE,
        "chains": CHAINS,
        "cores": CORES,
        "progress_bar": False,
    }
    nutpie.sample(compiled, seed=1, **settings)
    start = time.perf_counter()
    tree = nutpie.sample(compiled, seed=2, **settings)
    wall = time.perf_counter() - start
    names = [str(v) for v in tree["posterior"].data_vars if not str(v).endswith("_offset")]
    return summarise(case, "bambi", compile_s, wall, tree, names)


def table(results: list[Result]) -> pd.DataFrame:
    rows = [
        {
            "case": r.case,
            "tool": r.tool,
            "compile s": round(r.compile_s, 1),
            "wall s": round(r.wall_s, 2),
            "min bulk ESS": round(r.min_ess),
            "ESS/s": round(r.ess_per_s, 1),
            "divergences": r.divergences,
            "max r_hat": round(r.max_rhat, 4),
        }
        for r in results
    ]
    frame = pd.DataFrame(rows)
    ours = frame[frame.tool == "bayeshier"].set_index("case")["ESS/s"]
    theirs = frame[frame.tool == "bambi"].set_index("case")["ESS/s"]
    frame["speed-up"] = frame["case"].map((ours / theirs).round(1)).where(frame.tool == "bayeshier")
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 100,000-row case")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    results = []
    for case, formula, data in cases(args.quick):
        for run in (run_bayeshier, run_bambi):
            result = run(case, formula, data)
            results.append(result)
            print(f"  done: {case} {result.tool} ({result.wall_s:.1f} s)", flush=True)
    print(f"\nnutpie, {CHAINS} chains x {DRAWS} draws (+{TUNE} tune), {CORES} cores, warm cache\n")
    print(table(results).to_string(index=False))


if __name__ == "__main__":
    main()
