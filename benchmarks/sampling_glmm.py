"""Benchmark the Bayesian GLMM twin against bambi 0.21, both with nutpie, on the same data.

Run from the repository root (needs ``pip install bambi==0.21.0``)::

    python benchmarks/sampling_glmm.py                  # every case (about a minute on 2 cores)
    python benchmarks/sampling_glmm.py --cases cbpp     # some cases
    python benchmarks/sampling_glmm.py --no-bambi       # bayeshier only

Cases: the glmer reference fits of ``tests/fixtures/glmer`` (lme4 1.1-31),
with their formulas as stored: ``seed_binary`` (Bernoulli, 5 groups x 20),
``cbpp`` (binomial ``cbind``), ``grouseticks`` (Poisson, broods nested in
locations) and ``contraception`` (Bernoulli, 1,934 rows). bambi gets the same
rows: its binomial response is ``p(incidence, size)`` and a 0/1 column
replaces ``use``'s N/Y.

Both tools sample 4 chains x 1,000 draws after 1,000 tuning steps with
nutpie, default settings (bayeshier: ``GlmmModel(...).sample()``; bambi:
its priors and non-centered effects, its PyMC model compiled by
``nutpie.compile_pymc_model``), warm (compiled once, run once untimed).
Reported as in ``benchmarks/sampling.py``; the smallest bulk ESS is over the
fixed effects, the group sds and every group effect; ``vs bambi`` is
bayeshier's ESS/s over bambi's. The targets (issue 14) are zero divergences,
``r_hat <= 1.01``, a smallest bulk ESS >= 1000 and >= 5x bambi's ESS/s.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sampling_common import (
    Result,
    cells,
    not_run,
    print_header,
    ratio,
    sample_bambi,
    sample_bayeshier,
    summarize,
)

from bayeshier.bayes.glmm import GlmmModel

FIXTURES = Path(__file__).parents[1] / "tests" / "fixtures" / "glmer"


@dataclass(frozen=True)
class Case:
    """A reference case: its fixture, bambi's formula and family."""

    key: str
    fixture: str
    bambi_formula: str
    bambi_family: str


CASES = (
    Case("seed_binary", "seed_binary", "y ~ 1 + (1|g)", "bernoulli"),
    Case("cbpp", "cbpp_binomial", "p(incidence, size) ~ period + (1|herd)", "binomial"),
    Case(
        "grouseticks",
        "grouseticks_poisson",
        "TICKS ~ YEAR + sHEIGHT + (1|BROOD) + (1|LOCATION)",
        "poisson",
    ),
    Case(
        "contraception",
        "contraception_bernoulli",
        "use01 ~ age10 + I(age10**2) + urban + ch + (1|urban:district)",
        "bernoulli",
    ),
)


def load(fixture: str) -> tuple[dict, pd.DataFrame]:
    """The fixture's glmer record and its data, factors in R's level order."""
    reference = json.loads((FIXTURES / f"{fixture}.json").read_text())
    levels = reference["factor_levels"]
    data = pd.read_csv(FIXTURES / f"{fixture}.csv", dtype={k: str for k in levels})
    for column, categories in levels.items():
        data[column] = pd.Categorical(data[column], categories=categories)
    return reference, data


def bambi_data(case: Case, data: pd.DataFrame) -> pd.DataFrame:
    """The same rows as bambi reads them (trials column, 0/1 response)."""
    data = data.copy()
    if case.key == "cbpp":
        data["size"] = data["incidence"] + data["nonincidence"]
    if case.key == "contraception":
        data["use01"] = (data["use"] == "Y").astype(int)
    return data


def run_bayeshier(case: Case) -> Result:
    reference, data = load(case.fixture)
    start = time.perf_counter()
    model = GlmmModel(reference["formula"], data, reference["family"])
    _ = model.plan  # the Laplace fit and the plan are part of the setup
    setup_s = time.perf_counter() - start
    tree, times = sample_bayeshier(model)
    names = [str(v) for v in tree["posterior"].data_vars]
    result = summarize(case.key, "bayeshier", tree, names, times)
    result.setup_s = setup_s
    result.note = ", ".join(f"{k}: {v}" for k, v in model.parameterization.items())
    return result


def run_bambi(case: Case) -> Result:
    _, data = load(case.fixture)
    tree, names, times = sample_bambi(
        case.bambi_formula, bambi_data(case, data), case.bambi_family, derived=("p", "mu")
    )
    return summarize(case.key, "bambi", tree, names, times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=[c.key for c in CASES])
    parser.add_argument("--no-bambi", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    rows: list[Result] = []
    for case in CASES:
        if case.key not in args.cases:
            continue
        rows.append(run_bayeshier(case))
        try:
            rows.append(
                not_run(case.key, "bambi", "--no-bambi") if args.no_bambi else run_bambi(case)
            )
        except ImportError:
            rows.append(not_run(case.key, "bambi", "bambi not installed"))
        print(f"done: {case.key}", flush=True)
    bambi = {r.case: r.ess_per_s for r in rows if r.tool == "bambi"}
    table = []
    for r in rows:
        row = cells(r, setup=True)
        row["vs bambi"] = ratio(r, bambi) if r.tool == "bayeshier" else "-"
        row["note"] = r.note
        table.append(row)
    print_header()
    print(pd.DataFrame(table).to_string(index=False))


if __name__ == "__main__":
    main()
