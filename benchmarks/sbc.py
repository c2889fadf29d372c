"""Simulation-based calibration of bayeshier's posterior on small random-intercept problems.

Not run in CI. From the repository root::

    python benchmarks/sbc.py                                # 20 simulations: a 5-minute check
    python benchmarks/sbc.py --n-sims 100 --likelihood both  # about 25 minutes per likelihood

Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari & Gelman
2018, "Validating Bayesian inference algorithms with simulation-based
calibration", arXiv:1804.06788): draw the parameters from the prior, simulate
a data set from them, fit it, and count how many of ``L`` (nearly
independent, thinned) posterior draws fall below the true value. If the
model, its likelihood (collapsed or full), the draws of the integrated-out
group effects and the sampler are right, that rank is uniform on ``0..L``;
a U-shape says the posterior is too narrow, a hump too wide, a slope biased.

The problem: ``y ~ x + (1|g)``, 8 groups of 5 rows by default, ``x`` standard
normal and centered (so the prior on ``Intercept``, which bayeshier places on
the intercept at the predictors' means, is a prior on ``beta[Intercept]``).
The priors are stated explicitly (bayeshier's defaults are scaled to the
observed ``y``, so they would change from one simulated data set to the
next) and the truth is drawn from the same distributions with NumPy, an
implementation independent of the model's PyMC graph:

    beta[Intercept] ~ Normal(0, 2)     beta[x] ~ Normal(0, 1)
    sd_g ~ HalfNormal(1)               sigma ~ HalfNormal(1)
    g[j] ~ Normal(0, sd_g)             y ~ Normal(beta0 + beta1 x + g[group], sigma)

Ranks are reported for ``beta[Intercept]``, ``beta[x]``, ``sd_g``, ``sigma``
and the first group's effect ``g[g0]``: a histogram in ``--bins`` bins (by
default the most, of 10, 5, 4 and 2, that leave at least 5 simulations per
bin, as the chi-square test needs) and the p-value of Pearson's chi-square
test of uniformity. With 5 parameters, one p-value below 0.05 in a run is
expected by chance now and then; 20 simulations (the default) only catch
gross miscalibration, 100 or more make a check.

Each fit builds a new :class:`bayeshier.Model` whose graph holds the data as
constants, so every fit compiles its model (about 9 s with nutpie's numba
backend, then 0.3 s of sampling; PyMC's own NUTS is no faster, its numba
functions are compiled on the first call). The simulations are spread over
``--jobs`` worker processes (default: one per CPU); every simulation has its
own seed, so the result does not depend on ``--jobs``. On a 2-CPU machine
shared with other work, 100 simulations took 23 minutes (full) and 39
minutes (collapsed), about 14-23 s each.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from bayeshier.bayes.model import Model

SEED = 20240612
FORMULA = "y ~ x + (1|g)"

#: Term -> (prior string given to the model, NumPy draw of the same distribution).
PRIORS: dict[str, tuple[str, Callable[[np.random.Generator], float]]] = {
    "Intercept": ("normal(0, 2)", lambda rng: rng.normal(0.0, 2.0)),
    "x": ("normal(0, 1)", lambda rng: rng.normal(0.0, 1.0)),
    "sd_g": ("halfnormal(1)", lambda rng: abs(rng.normal(0.0, 1.0))),
    "sigma": ("halfnormal(1)", lambda rng: abs(rng.normal(0.0, 1.0))),
}
#: The ranked quantities, in table order.
PARAMETERS = ("beta[Intercept]", "beta[x]", "sd_g", "sigma", "g[g0]")


@dataclass(frozen=True)
class Settings:
    """One SBC run: problem size, sampler and ranking settings."""

    n_sims: int = 20
    groups: int = 8
    rows: int = 5
    draws: int = 1000
    chains: int = 4
    thin_to: int = 99
    bins: int = 4
    sampler: str = "nutpie"
    seed: int = SEED
    jobs: int = os.cpu_count() or 1


# ------------------------------------------------------------ simulation
def draw_truth(rng: np.random.Generator, groups: int) -> dict[str, float]:
    """Parameters from the prior: the four terms of :data:`PRIORS`, then the group effects."""
    truth = {term: float(draw(rng)) for term, (_, draw) in PRIORS.items()}
    effects = rng.normal(0.0, truth["sd_g"], groups)
    truth.update({f"g{j}": float(effect) for j, effect in enumerate(effects)})
    return truth


def simulate(truth: dict[str, float], rng: np.random.Generator, settings: Settings) -> pd.DataFrame:
    """``settings.groups`` groups of ``settings.rows`` rows from the parameters ``truth``."""
    group = np.repeat(np.arange(settings.groups), settings.rows)
    x = rng.normal(size=group.size)
    x -= x.mean()
    effects = np.array([truth[f"g{j}"] for j in range(settings.groups)])
    mean = truth["Intercept"] + truth["x"] * x + effects[group]
    y = mean + rng.normal(0.0, truth["sigma"], group.size)
    levels = [f"g{j}" for j in range(settings.groups)]
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical.from_codes(group, levels)})


def true_values(truth: dict[str, float]) -> dict[str, float]:
    """The truth under the names of :data:`PARAMETERS`."""
    return {
        "beta[Intercept]": truth["Intercept"],
        "beta[x]": truth["x"],
        "sd_g": truth["sd_g"],
        "sigma": truth["sigma"],
        "g[g0]": truth["g0"],
    }


# ------------------------------------------------------------ fitting
def fit(data: pd.DataFrame, likelihood: str, settings: Settings, seed: int) -> xr.Dataset:
    """The posterior of one simulated data set (priors of :data:`PRIORS`)."""
    priors = {term: spec for term, (spec, _) in PRIORS.items()}
    model = Model(FORMULA, data, priors=priors, likelihood=likelihood)  # type: ignore[arg-type]
    tree = model.sample(
        draws=settings.draws,
        chains=settings.chains,
        random_seed=seed,
        sampler=settings.sampler,  # type: ignore[arg-type]
        progressbar=False,
        log_likelihood=False,
    )
    divergences = int(tree["sample_stats"]["diverging"].sum())
    return tree["posterior"].to_dataset().assign_attrs(divergences=divergences)


def posterior_draws(posterior: xr.Dataset) -> dict[str, np.ndarray]:
    """All draws (chains concatenated) of each quantity of :data:`PARAMETERS`."""
    beta = posterior["beta"]
    group = posterior["g"]
    first = group.isel({group.dims[-1]: 0})
    return {
        "beta[Intercept]": beta.sel(fixed="Intercept").to_numpy().ravel(),
        "beta[x]": beta.sel(fixed="x").to_numpy().ravel(),
        "sd_g": posterior["sd_g"].to_numpy().ravel(),
        "sigma": posterior["sigma"].to_numpy().ravel(),
        "g[g0]": first.to_numpy().ravel(),
    }


def rank(draws: np.ndarray, true: float, thin_to: int) -> int:
    """How many of ``thin_to`` evenly spaced draws lie below ``true`` (0 .. ``thin_to``).

    Thinning the 4,000 draws to about 100, 40 iterations apart, leaves them
    nearly independent, which the uniformity of the rank assumes.
    """
    keep = np.round(np.linspace(0, draws.size - 1, thin_to)).astype(int)
    return int(np.sum(draws[keep] < true))


# ------------------------------------------------------------ the run
def one_simulation(sim: int, likelihood: str, settings: Settings) -> tuple[dict[str, int], int]:
    """Simulation ``sim``: the ranks of the true values and the divergences of its fit."""
    _quiet()
    rng = np.random.default_rng([settings.seed, sim])
    truth = draw_truth(rng, settings.groups)
    posterior = fit(simulate(truth, rng, settings), likelihood, settings, seed=sim)
    draws = posterior_draws(posterior)
    ranks = {p: rank(draws[p], v, settings.thin_to) for p, v in true_values(truth).items()}
    return ranks, int(posterior.attrs["divergences"])


def run(likelihood: str, settings: Settings) -> tuple[pd.DataFrame, int]:
    """Ranks of every simulation (one row per simulation) and the total divergences."""
    rows, divergences = [], 0
    started = time.perf_counter()
    task = partial(one_simulation, likelihood=likelihood, settings=settings)
    context = multiprocessing.get_context("spawn")  # no fork under nutpie's and numba's threads
    with ProcessPoolExecutor(settings.jobs, mp_context=context) as pool:
        for done, (ranks, diverging) in enumerate(pool.map(task, range(settings.n_sims)), 1):
            rows.append(ranks)
            divergences += diverging
            if done % 10 == 0:
                elapsed = time.perf_counter() - started
                print(f"  {likelihood}: {done}/{settings.n_sims} ({elapsed:.0f} s)", flush=True)
    return pd.DataFrame(rows, columns=list(PARAMETERS)), divergences


def _quiet() -> None:
    """Silence the warnings (singular REML fits are expected) and PyMC's progress lines."""
    warnings.filterwarnings("ignore")
    logging.getLogger("pymc").setLevel(logging.ERROR)


def default_bins(n_sims: int) -> int:
    """The most bins, of 10, 5, 4 and 2 (divisors of the 100 ranks), with >= 5 simulations each."""
    return next((bins for bins in (10, 5, 4) if n_sims >= 5 * bins), 2)


def rank_table(ranks: pd.DataFrame, thin_to: int, bins: int) -> pd.DataFrame:
    """Per parameter: counts of the ranks in ``bins`` equal bins of ``0..thin_to``, chi-square p.

    ``thin_to + 1`` (the number of possible ranks) must be a multiple of ``bins``.
    """
    width = (thin_to + 1) // bins
    if width * bins != thin_to + 1:
        raise ValueError(f"thin_to + 1 = {thin_to + 1} is not a multiple of bins = {bins}")
    labels = [f"{k * width}-{(k + 1) * width - 1}" for k in range(bins)]
    counts = pd.DataFrame(
        {name: np.bincount(ranks[name].to_numpy() // width, minlength=bins) for name in ranks},
        index=labels,
    ).T
    counts["chi2 p"] = [round(float(stats.chisquare(row).pvalue), 3) for row in counts.to_numpy()]
    return counts


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-sims", type=int, default=Settings.n_sims, help="simulations")
    parser.add_argument("--groups", type=int, default=Settings.groups, help="groups per data set")
    parser.add_argument("--rows", type=int, default=Settings.rows, help="rows per group")
    parser.add_argument("--likelihood", choices=("collapsed", "full", "both"), default="collapsed")
    parser.add_argument(
        "--sampler",
        choices=("pymc", "nutpie"),
        default=Settings.sampler,
        help="the NUTS implementation (both compile every model)",
    )
    parser.add_argument(
        "--bins", type=int, help="histogram bins, a divisor of 100 (default: see above)"
    )
    parser.add_argument("--jobs", type=int, default=Settings.jobs, help="worker processes")
    parser.add_argument("--seed", type=int, default=SEED)
    return parser


def main() -> None:
    args = _parser().parse_args()
    settings = Settings(
        n_sims=args.n_sims,
        groups=args.groups,
        rows=args.rows,
        sampler=args.sampler,
        seed=args.seed,
        jobs=args.jobs,
        bins=args.bins or default_bins(args.n_sims),
    )
    _quiet()
    likelihoods = ("collapsed", "full") if args.likelihood == "both" else (args.likelihood,)
    results = {lik: run(lik, settings) for lik in likelihoods}
    print(
        f"\nSBC: {FORMULA}, {settings.groups} groups x {settings.rows} rows, "
        f"{settings.n_sims} simulations, {settings.sampler} {settings.chains} chains x "
        f"{settings.draws} draws thinned to {settings.thin_to}; ranks 0-{settings.thin_to} "
        f"in {settings.bins} bins (uniform: {settings.n_sims / settings.bins:g} per bin)"
    )
    for likelihood, (ranks, divergences) in results.items():
        print(f"\nlikelihood={likelihood!r} ({divergences} divergences in all)")
        print(rank_table(ranks, settings.thin_to, settings.bins).to_string())


if __name__ == "__main__":
    main()
