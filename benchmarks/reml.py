"""Benchmark bayeshier's REML solver against statsmodels MixedLM (and lme4, if installed).

Run from the repository root::

    python benchmarks/reml.py            # full sizes (a few minutes)
    python benchmarks/reml.py --quick    # shrunken sizes, a smoke run

Every tool fits the SAME simulated data, generated once per case with numpy
from a fixed seed and known parameters:

1. One random intercept, ``y ~ x1 + x2 + x3 + x4 + (1|g)``, with ``g`` held as
   strings (``"g0042"``, object dtype): 1,000,000 rows / 10,000 groups, and a
   100,000 rows / 1,000 groups version from the same generator on which
   statsmodels also runs (it is far too slow on the large one), so that the
   comparison is like for like.
2. An InstEval-shaped crossed problem, ``y ~ service + (1|s) + (1|d) + (1|dept)``:
   73,421 ratings, 2,972 students, 1,128 lecturers nested in 14 departments,
   each student rating about 25 lecturers chosen by unequal popularity.

bayeshier is timed end to end from the in-memory DataFrame (formula parsing,
design, fit, BLUPs) after one warm-up call; the table reports the best and
the median of the timed runs. lme4 is run through ``Rscript`` when
``library(lme4)`` loads, on a CSV of the same data (reading it is not timed).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import multiprocessing as mp
import os
import platform
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SEED = 20240611
REPEATS = 3
STATSMODELS_BUDGET_S = 60.0
STATSMODELS_CROSSED_LIMIT_S = 120.0
RSCRIPT_TIMEOUT_S = 1800.0

#: lme4 timings quoted in the issue (not measured here).
LME4_QUOTED = (
    ("1a one factor", "1,000,000", "10,000", 6.9, "lme4 on the 1M/10k shape"),
    ("2 crossed", "73,421", "2,972/1,128/14", 17.0, "lme4 on the real InstEval"),
)

#: (rows, groups) of the large and the small one-factor cases, and the scale of the crossed one.
FULL_SIZES = ((1_000_000, 10_000), (100_000, 1_000), 1.0)
QUICK_SIZES = ((100_000, 1_000), (20_000, 200), 0.1)

ONE_FACTOR_FORMULA = "y ~ x1 + x2 + x3 + x4 + (1|g)"
CROSSED_FORMULA = "y ~ service + (1|s) + (1|d) + (1|dept)"


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One benchmark problem: the data, the formula and the true parameters.

    Attributes
    ----------
    name : str
        Short label used in the table.
    formula : str
        lme4-style formula.
    data : pandas.DataFrame
        The simulated data.
    groups : dict of str to int
        Number of levels of each grouping factor.
    beta : dict of str to float
        True fixed effects, in design-column order.
    sd : dict of str to float
        True standard deviations of the random effects and of the residual
        (key ``"Residual"``).
    target_s : float or None
        bayeshier's time target for this case, if any.
    """

    name: str
    formula: str
    data: pd.DataFrame
    groups: dict[str, int]
    beta: dict[str, float]
    sd: dict[str, float]
    target_s: float | None = None

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(self.data)

    @property
    def string_columns(self) -> list[str]:
        """Columns holding strings (grouping factors, categorical predictors)."""
        return [
            name for name, dtype in self.data.dtypes.items() if pd.api.types.is_object_dtype(dtype)
        ]

    @property
    def groups_label(self) -> str:
        """Level counts of the grouping factors, e.g. ``"2,972/1,128/14"``."""
        return "/".join(f"{n:,}" for n in self.groups.values())


def level_labels(prefix: str, n_levels: int) -> np.ndarray:
    """Zero-padded string labels ``prefix0000 ...`` as an object array.

    Parameters
    ----------
    prefix : str
        Text before the number.
    n_levels : int
        Number of labels.

    Returns
    -------
    numpy.ndarray
        Object array of ``n_levels`` strings.
    """
    width = len(str(n_levels - 1))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(n_levels)], dtype=object)


def simulate_one_factor(
    name: str, n_rows: int, n_groups: int, seed: int, target_s: float | None
) -> Case:
    """Simulate ``y = X beta + b_g + e`` with four standard-normal covariates.

    Rows are assigned to groups uniformly at random (unequal group sizes).

    Parameters
    ----------
    name : str
        Label of the case.
    n_rows, n_groups : int
        Size of the problem.
    seed : int
        Seed of the numpy generator.
    target_s : float or None
        bayeshier's time target for the case.

    Returns
    -------
    Case
    """
    rng = np.random.default_rng(seed)
    beta = {"Intercept": 1.0, "x1": 0.5, "x2": -0.3, "x3": 0.2, "x4": 0.8}
    sd = {"g": 0.7, "Residual": 1.2}
    X = rng.standard_normal((n_rows, 4))
    codes = rng.integers(n_groups, size=n_rows)
    effects = sd["g"] * rng.standard_normal(n_groups)
    noise = sd["Residual"] * rng.standard_normal(n_rows)
    y = beta["Intercept"] + X @ np.array(list(beta.values())[1:]) + effects[codes] + noise
    data = pd.DataFrame({"y": y, **{f"x{j + 1}": X[:, j] for j in range(4)}})
    data["g"] = pd.Series(level_labels("g", n_groups)[codes], dtype=object)
    groups = {"g": int(np.unique(codes).size)}
    return Case(name, ONE_FACTOR_FORMULA, data, groups, beta, sd, target_s)


def capped_counts(rng: np.random.Generator, total: int, n: int, cap: int) -> np.ndarray:
    """Split ``total`` into ``n`` unequal counts, each between 1 and ``cap``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    total, n, cap : int
        Sum of the counts, number of counts and their maximum.

    Returns
    -------
    numpy.ndarray
        Integer counts summing to ``total``.
    """
    weights = rng.gamma(2.0, size=n)
    counts = 1 + rng.multinomial(total - n, weights / weights.sum())
    while counts.max() > cap:
        excess = int(np.sum(np.maximum(counts - cap, 0)))
        counts = np.minimum(counts, cap)
        room = np.flatnonzero(counts < cap)
        np.add.at(counts, rng.choice(room, size=excess), 1)
    return counts


def choose_lecturers(
    rng: np.random.Generator, per_student: np.ndarray, popularity: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Let each student rate distinct lecturers, drawn by popularity.

    Sampling without replacement uses the Gumbel top-k trick: one noisy key
    per (student, lecturer), and each student takes their top ``k`` keys.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    per_student : numpy.ndarray
        Number of ratings of each student.
    popularity : numpy.ndarray
        Positive weight of each lecturer.

    Returns
    -------
    students, lecturers : numpy.ndarray
        Codes of the student and the lecturer of each rating.
    """
    n_students, n_lecturers = per_student.size, popularity.size
    keys = np.log(popularity) + rng.gumbel(size=(n_students, n_lecturers))
    ranked = np.argsort(-keys, axis=1)
    taken = np.arange(n_lecturers) < per_student[:, None]
    students = np.repeat(np.arange(n_students), per_student)
    return students, ranked[taken]


def cover_every_lecturer(
    rng: np.random.Generator, students: np.ndarray, lecturers: np.ndarray, n_lecturers: int
) -> np.ndarray:
    """Reassign a few ratings so that every lecturer has at least one.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    students, lecturers : numpy.ndarray
        Codes per rating; ``lecturers`` is modified in place and returned.
    n_lecturers : int
        Number of lecturers.

    Returns
    -------
    numpy.ndarray
        The lecturer codes.
    """
    pairs = set(zip(students.tolist(), lecturers.tolist(), strict=True))
    counts = np.bincount(lecturers, minlength=n_lecturers)
    for missing in np.flatnonzero(counts == 0):
        for row in rng.permutation(lecturers.size):
            donor = lecturers[row]
            if counts[donor] > 1 and (students[row], missing) not in pairs:
                pairs.discard((students[row], donor))
                pairs.add((students[row], missing))
                counts[donor] -= 1
                counts[missing] += 1
                lecturers[row] = missing
                break
    return lecturers


def simulate_insteval_like(scale: float, seed: int, target_s: float | None) -> Case:
    """Simulate an InstEval-shaped crossed design with three random intercepts.

    The true parameters are close to lme4's fit of the real InstEval. The
    response is continuous (not rounded to 1-5), so that the true parameters
    are exactly those of the model fitted.

    Parameters
    ----------
    scale : float
        1.0 for the real sizes (73,421 ratings, 2,972 students, 1,128
        lecturers, 14 departments); smaller for a smoke run.
    seed : int
        Seed of the numpy generator.
    target_s : float or None
        bayeshier's time target for the case.

    Returns
    -------
    Case
    """
    rng = np.random.default_rng(seed)
    n_rows, n_students, n_lecturers = (round(n * scale) for n in (73_421, 2_972, 1_128))
    n_depts = 14
    beta = {"Intercept": 3.2, "service[T.1]": -0.07}
    sd = {"s": 0.32, "d": 0.52, "dept": 0.08, "Residual": 1.18}
    extra_lecturers = rng.integers(n_depts, size=n_lecturers - n_depts)
    dept_of = np.concatenate([np.arange(n_depts), extra_lecturers])
    per_student = capped_counts(rng, n_rows, n_students, cap=n_lecturers // 2)
    students, lecturers = choose_lecturers(rng, per_student, rng.gamma(1.5, size=n_lecturers))
    lecturers = cover_every_lecturer(rng, students, lecturers, n_lecturers)
    order = rng.permutation(n_rows)
    students, lecturers = students[order], lecturers[order]
    service = (rng.random(n_rows) < 0.43).astype(int)
    y = (
        beta["Intercept"]
        + beta["service[T.1]"] * service
        + sd["s"] * rng.standard_normal(n_students)[students]
        + sd["d"] * rng.standard_normal(n_lecturers)[lecturers]
        + sd["dept"] * rng.standard_normal(n_depts)[dept_of[lecturers]]
        + sd["Residual"] * rng.standard_normal(n_rows)
    )
    data = pd.DataFrame({"y": y})
    data["service"] = pd.Series(np.array(["0", "1"], dtype=object)[service], dtype=object)
    data["s"] = pd.Series(level_labels("s", n_students)[students], dtype=object)
    data["d"] = pd.Series(level_labels("d", n_lecturers)[lecturers], dtype=object)
    data["dept"] = pd.Series(level_labels("dept", n_depts)[dept_of[lecturers]], dtype=object)
    groups = {name: int(data[name].nunique()) for name in ("s", "d", "dept")}
    return Case("2 crossed", CROSSED_FORMULA, data, groups, beta, sd, target_s)


# --------------------------------------------------------------------------
# Timing and results
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Wall times of repeated calls.

    Attributes
    ----------
    seconds : list of float
        One entry per timed call.
    """

    seconds: list[float]

    @property
    def best(self) -> float:
        """Fastest call."""
        return min(self.seconds)

    @property
    def median(self) -> float:
        """Median call."""
        return statistics.median(self.seconds)


@dataclass(frozen=True)
class Estimates:
    """Fixed effects and variance components of one fit, in a common layout.

    Attributes
    ----------
    beta : dict of str to float
        Fixed effects in design-column order (names as each tool writes them).
    variances : dict of str to float
        Variance of each grouping factor and ``"Residual"``.
    """

    beta: dict[str, float]
    variances: dict[str, float]


@dataclass
class Row:
    """One line of the results table."""

    case: str
    rows: str
    groups: str
    tool: str
    best: float | None = None
    median: float | None = None
    target: str = "-"
    evaluations: str = ""
    note: str = ""
    estimates: Estimates | None = field(default=None, repr=False)


def case_row(case: Case, tool: str, **fields: Any) -> Row:
    """A table row for ``tool`` on ``case``; ``fields`` fill the other columns."""
    return Row(case.name, f"{case.n_rows:,}", case.groups_label, tool, **fields)


def time_calls(call: Callable[[], Any], repeats: int, warmup: int) -> tuple[Timing, Any]:
    """Time ``call`` ``repeats`` times after ``warmup`` untimed calls.

    Parameters
    ----------
    call : callable
        Function of no argument.
    repeats, warmup : int
        Number of timed and untimed calls.

    Returns
    -------
    timing : Timing
    result : object
        What the last call returned.
    """
    result = None
    for _ in range(warmup):
        result = call()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - start)
    return Timing(seconds), result


def time_within_budget(
    call: Callable[[], Any], repeats: int, budget_s: float
) -> tuple[Timing, Any]:
    """Time ``call`` once, then up to ``repeats`` times if they fit in ``budget_s``.

    Parameters
    ----------
    call : callable
        Function of no argument.
    repeats : int
        Maximum number of timed calls.
    budget_s : float
        Total time the repeated calls may take.

    Returns
    -------
    timing : Timing
    result : object
        What the last call returned.
    """
    first, result = time_calls(call, repeats=1, warmup=0)
    more = repeats - 1 if first.best * repeats <= budget_s else 0
    rest, result = time_calls(call, repeats=more, warmup=0) if more else (Timing([]), result)
    return Timing(first.seconds + rest.seconds), result


def max_abs_difference(a: dict[str, float], b: dict[str, float]) -> float:
    """Largest ``|a[k] - b[k]|`` over the keys, matched by position.

    Parameters
    ----------
    a, b : dict of str to float
        Values in the same order (names may be spelt differently by each tool).

    Returns
    -------
    float
    """
    if len(a) != len(b):
        raise ValueError(f"cannot compare {list(a)} with {list(b)}")
    return float(np.max(np.abs(np.array(list(a.values())) - np.array(list(b.values())))))


# --------------------------------------------------------------------------
# bayeshier
# --------------------------------------------------------------------------


def import_bayeshier() -> Any:
    """Import bayeshier, from the checkout this script lives in if it is not installed."""
    try:
        import bayeshier
    except ImportError:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        import bayeshier
    return bayeshier


def bayeshier_estimates(fit: Any) -> Estimates:
    """Fixed effects and variance components of a bayeshier ``RemlFit``.

    Parameters
    ----------
    fit : bayeshier.reml.results.RemlFit

    Returns
    -------
    Estimates
    """
    variances = dict(zip(fit.varcorr["group"], fit.varcorr["variance"], strict=True))
    return Estimates({str(k): float(v) for k, v in fit.fixef.items()}, variances)


def bench_bayeshier(case: Case, repeats: int, quick: bool) -> Row:
    """Time ``bayeshier.fit_reml`` (REML) end to end on ``case``.

    Parameters
    ----------
    case : Case
    repeats : int
        Timed calls, after one warm-up call.
    quick : bool
        Smoke run: targets do not apply to the shrunken sizes.

    Returns
    -------
    Row
    """
    bayeshier = import_bayeshier()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        timing, fit = time_calls(
            lambda: bayeshier.fit_reml(case.formula, case.data, reml=True), repeats, warmup=1
        )
    notes = [f"best of {repeats} after 1 warm-up; spec {spec_seconds(case, repeats):.3f} s"]
    target = "-"
    if case.target_s is not None:
        target = "n/a (quick)" if quick else f"<= {case.target_s:g} s"
        if not quick:
            notes.append("target met" if timing.best <= case.target_s else "TARGET MISSED")
    if not fit.optimization.converged:
        notes.append(f"not converged: {fit.optimization.message}")
    notes.extend(sorted({type(w.message).__name__ for w in caught}))
    return case_row(
        case,
        "bayeshier",
        best=timing.best,
        median=timing.median,
        target=target,
        evaluations=str(fit.optimization.evaluations),
        note="; ".join(notes),
        estimates=bayeshier_estimates(fit),
    )


# --------------------------------------------------------------------------
# statsmodels
# --------------------------------------------------------------------------


def statsmodels_one_factor(data: pd.DataFrame) -> Any:
    """Fit ``y ~ x1 + x2 + x3 + x4`` with a random intercept per ``g`` by REML.

    Parameters
    ----------
    data : pandas.DataFrame

    Returns
    -------
    statsmodels.regression.mixed_linear_model.MixedLMResults
    """
    import statsmodels.formula.api as smf

    model = smf.mixedlm("y ~ x1 + x2 + x3 + x4", data, groups=data["g"])
    return model.fit(reml=True)


def statsmodels_crossed(data: pd.DataFrame) -> Any:
    """Fit the crossed model as statsmodels variance components in a single group.

    Parameters
    ----------
    data : pandas.DataFrame

    Returns
    -------
    statsmodels.regression.mixed_linear_model.MixedLMResults
    """
    import statsmodels.formula.api as smf

    components = {name: f"0 + C({name})" for name in ("s", "d", "dept")}
    model = smf.mixedlm(
        "y ~ service",
        data,
        groups=np.zeros(len(data)),
        re_formula="0",
        vc_formula=components,
        use_sparse=True,
    )
    return model.fit(reml=True)


def statsmodels_estimates(result: Any) -> Estimates:
    """Fixed effects and variance components of a statsmodels MixedLM fit.

    Parameters
    ----------
    result : statsmodels.regression.mixed_linear_model.MixedLMResults

    Returns
    -------
    Estimates
    """
    beta = {str(k): float(v) for k, v in result.fe_params.items()}
    names = result.model.exog_vc.names
    if names:
        variances = dict(zip(names, map(float, result.vcomp), strict=True))
    else:
        variances = {"g": float(result.cov_re.iloc[0, 0])}
    variances["Residual"] = float(result.scale)
    return Estimates(beta, variances)


def statsmodels_note(result: Any, caught: list[warnings.WarningMessage]) -> str:
    """Convergence and warnings of a statsmodels fit, for the table.

    Parameters
    ----------
    result : statsmodels.regression.mixed_linear_model.MixedLMResults
    caught : list of warnings.WarningMessage

    Returns
    -------
    str
    """
    notes = ["converged" if result.converged else "NOT converged"]
    notes.extend(sorted({type(w.message).__name__ for w in caught}))
    return "; ".join(notes)


def bench_statsmodels(case: Case, repeats: int) -> Row:
    """Time statsmodels MixedLM (REML, default optimizer) on the one-factor ``case``.

    Parameters
    ----------
    case : Case
    repeats : int
        Maximum number of timed calls (fewer if they would exceed the budget).

    Returns
    -------
    Row
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        timing, result = time_within_budget(
            lambda: statsmodels_one_factor(case.data), repeats, STATSMODELS_BUDGET_S
        )
    note = f"{len(timing.seconds)} run(s), no warm-up; {statsmodels_note(result, caught)}"
    return case_row(
        case,
        "statsmodels MixedLM",
        best=timing.best,
        median=timing.median,
        note=note,
        estimates=statsmodels_estimates(result),
    )


def crossed_worker(data: pd.DataFrame, results: mp.Queue) -> None:
    """Fit the crossed statsmodels model in a child process and report back.

    Parameters
    ----------
    data : pandas.DataFrame
    results : multiprocessing.Queue
        Receives ``(seconds, Estimates, note)``.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        timing, result = time_calls(lambda: statsmodels_crossed(data), repeats=1, warmup=0)
    results.put((timing.best, statsmodels_estimates(result), statsmodels_note(result, caught)))


def wait_for_worker(worker: Any, results: Any, limit_s: float) -> tuple | str:
    """Wait for the child's result; stop the child at ``limit_s``.

    Parameters
    ----------
    worker : multiprocessing.Process
        The started child.
    results : multiprocessing.Queue
        Where the child puts its result.
    limit_s : float
        Wall-time limit.

    Returns
    -------
    tuple or str
        The child's result, or why there is none.
    """
    deadline = time.perf_counter() + limit_s
    while time.perf_counter() < deadline:
        try:
            return results.get(timeout=1.0)
        except queue.Empty:
            if not worker.is_alive():
                return f"failed: the fitting process exited with code {worker.exitcode}"
    worker.terminate()
    worker.join(timeout=30)
    return f"not run to the end: stopped at the {limit_s:.0f} s limit"


def bench_statsmodels_crossed(case: Case, limit_s: float) -> Row:
    """Try statsmodels' variance-component formulation of ``case`` within ``limit_s``.

    The fit runs in a child process that is stopped when the limit is reached.

    Parameters
    ----------
    case : Case
    limit_s : float
        Wall-time limit of the attempt.

    Returns
    -------
    Row
    """
    row = case_row(case, "statsmodels MixedLM (vc)")
    context = mp.get_context("spawn")
    results = context.Queue()
    worker = context.Process(target=crossed_worker, args=(case.data, results), daemon=True)
    worker.start()
    outcome = wait_for_worker(worker, results, limit_s)
    worker.join(timeout=30)
    how = "single group + vc_formula (sparse)"
    if isinstance(outcome, str):
        row.note = f"{outcome}; {how}"
        return row
    seconds, row.estimates, note = outcome
    row.best = row.median = seconds
    row.note = f"1 run; {how}; {note}"
    return row


# --------------------------------------------------------------------------
# lme4 through Rscript (optional)
# --------------------------------------------------------------------------

LME4_SCRIPT = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
factors <- strsplit(args[3], ",")[[1]]
classes <- setNames(rep("character", length(factors)), factors)
data <- read.csv(args[1], colClasses = classes)
form <- as.formula(args[2])
repeats <- as.integer(args[4])
seconds <- numeric(repeats)
for (i in seq_len(repeats)) {
  start <- proc.time()[["elapsed"]]
  fit <- lmer(form, data = data, REML = TRUE)
  seconds[i] <- proc.time()[["elapsed"]] - start
}
cat("seconds", seconds, "\n")
cat("feval", fit@optinfo$feval, "\n")
beta <- fixef(fit)
for (k in seq_along(beta)) cat("beta", names(beta)[k], format(beta[k], digits = 17), "\n")
vc <- as.data.frame(VarCorr(fit))
for (k in seq_len(nrow(vc))) cat("var", vc$grp[k], format(vc$vcov[k], digits = 17), "\n")
"""


def lme4_version() -> str | None:
    """R and lme4 versions if ``Rscript`` can load lme4, else ``None``."""
    if shutil.which("Rscript") is None:
        return None
    probe = (
        "suppressPackageStartupMessages(library(lme4));"
        "cat(R.version.string, '| lme4', as.character(packageVersion('lme4')),"
        "'| BLAS', extSoftVersion()[['BLAS']], '\\n')"
    )
    try:
        done = subprocess.run(
            ["Rscript", "-e", probe], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def parse_lme4_output(text: str) -> tuple[Timing, str, Estimates]:
    """Read the timings, evaluations and estimates printed by ``LME4_SCRIPT``.

    Parameters
    ----------
    text : str
        Standard output of the R script.

    Returns
    -------
    timing : Timing
    evaluations : str
    estimates : Estimates
    """
    seconds: list[float] = []
    evaluations = ""
    beta: dict[str, float] = {}
    variances: dict[str, float] = {}
    for line in text.splitlines():
        kind, *fields = line.split()
        if kind == "seconds":
            seconds = [float(v) for v in fields]
        elif kind == "feval":
            evaluations = fields[0]
        elif kind == "beta":
            beta[fields[0]] = float(fields[1])
        elif kind == "var":
            variances[fields[0]] = float(fields[1])
    return Timing(seconds), evaluations, Estimates(beta, variances)


def bench_lme4(case: Case, repeats: int, workdir: Path) -> Row:
    """Time ``lme4::lmer`` (REML) on ``case`` through ``Rscript``.

    Parameters
    ----------
    case : Case
    repeats : int
        Timed calls (no warm-up; the best of them is reported).
    workdir : pathlib.Path
        Where to write the CSV of the data.

    Returns
    -------
    Row
    """
    row = case_row(case, "lme4 (measured)")
    csv = workdir / "data.csv"
    case.data.to_csv(csv, index=False, float_format="%.17g")
    script = workdir / "lme4_bench.R"
    script.write_text(LME4_SCRIPT)
    strings = ",".join(case.string_columns)
    command = ["Rscript", str(script), str(csv), case.formula, strings, str(repeats)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=RSCRIPT_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        row.note = f"not run to the end: Rscript exceeded {RSCRIPT_TIMEOUT_S:.0f} s"
        return row
    if done.returncode != 0:
        row.note = f"Rscript failed: {done.stderr.strip().splitlines()[-1:]}"
        return row
    timing, evaluations, estimates = parse_lme4_output(done.stdout)
    row.best, row.median, row.evaluations = timing.best, timing.median, evaluations
    row.estimates = estimates
    row.note = f"best of {len(timing.seconds)}, no warm-up; CSV read untimed"
    return row


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

HEADERS = ("case", "rows", "groups", "tool", "best s", "median s", "target", "evals", "note")


def log(message: str) -> None:
    """Print a progress message on standard error."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def package_version(name: str) -> str:
    """Installed version of a distribution, or ``"not installed"``."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    """The CPU model from ``/proc/cpuinfo``, or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other work on the machine skews timings)."""
    try:
        return " / ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def blas_lines() -> list[str]:
    """BLAS/OpenMP libraries loaded by numpy and scipy, via threadpoolctl if installed."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["BLAS: threadpoolctl not installed"]
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS)

    return [
        f"{pool['user_api']}: {pool['internal_api']} {pool.get('version')} "
        f"({pool['num_threads']} threads, {Path(pool['filepath']).name})"
        for pool in threadpool_info()
    ]


def environment_lines(r_version: str | None) -> list[str]:
    """Facts about the machine and the software the timings depend on.

    Parameters
    ----------
    r_version : str or None
        What :func:`lme4_version` reported.

    Returns
    -------
    list of str
    """
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    packages = ("numpy", "scipy", "pandas", "statsmodels", "bayeshier")
    return [
        f"python {platform.python_version()} on {platform.platform()}",
        f"cpu: {cpu_model()}; cores: {os.cpu_count()} logical, {usable} usable; "
        f"load average at start {load_average()}",
        ", ".join(f"{name} {package_version(name)}" for name in packages),
        *blas_lines(),
        f"R: {r_version}" if r_version else "R/lme4: not available (lme4 rows are quoted only)",
    ]


def format_seconds(value: float | None) -> str:
    """Seconds with 3 decimals below 10 s, 1 decimal above; ``"-"`` if missing."""
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def format_table(rows: list[Row]) -> str:
    """Render ``rows`` as a fixed-width text table.

    Parameters
    ----------
    rows : list of Row

    Returns
    -------
    str
    """
    cells = [
        [
            r.case,
            r.rows,
            r.groups,
            r.tool,
            format_seconds(r.best),
            format_seconds(r.median),
            r.target,
            r.evaluations,
            r.note,
        ]
        for r in rows
    ]
    widths = [max(len(line[j]) for line in [list(HEADERS), *cells]) for j in range(len(HEADERS))]
    numeric = {1, 4, 5, 7}

    def render(line: list[str] | tuple[str, ...]) -> str:
        parts = [
            text.rjust(width) if j in numeric else text.ljust(width)
            for j, (text, width) in enumerate(zip(line, widths, strict=True))
        ]
        return " | ".join(parts).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([render(HEADERS), rule, *(render(line) for line in cells)])


def compare(a: Estimates, b: Estimates) -> tuple[float, float]:
    """Largest absolute differences of fixed effects and of variance components.

    Fixed effects are matched by position (each tool names them its own
    way), variance components by grouping factor.

    Parameters
    ----------
    a, b : Estimates

    Returns
    -------
    beta_diff, variance_diff : float
    """
    if set(a.variances) != set(b.variances):
        raise ValueError(f"variance components differ: {list(a.variances)} vs {list(b.variances)}")
    variances_b = {name: b.variances[name] for name in a.variances}
    return max_abs_difference(a.beta, b.beta), max_abs_difference(a.variances, variances_b)


def agreement_lines(rows: list[Row]) -> list[str]:
    """bayeshier against every other tool measured on the same case.

    Parameters
    ----------
    rows : list of Row

    Returns
    -------
    list of str
    """
    reference = {r.case: r for r in rows if r.tool == "bayeshier" and r.estimates}
    lines = []
    for row in rows:
        ours = reference.get(row.case)
        if row.tool == "bayeshier" or row.estimates is None or ours is None:
            continue
        beta_diff, var_diff = compare(ours.estimates, row.estimates)
        detail = ", ".join(
            f"{name} {ours.estimates.variances[name]:.6g} vs {value:.6g}"
            for name, value in row.estimates.variances.items()
        )
        lines.append(
            f"{row.case}: bayeshier vs {row.tool}: max |d fixef| = {beta_diff:.2e}, "
            f"max |d variance| = {var_diff:.2e}  (variances: {detail})"
        )
    return lines


#: bayeshier must be at least this many times faster than lme4 (measured) on the 1M-row case.
LME4_SPEEDUP_TARGET = 30.0


def speedup_lines(rows: list[Row]) -> list[str]:
    """lme4's best time over bayeshier's, per case, measured in this run.

    Parameters
    ----------
    rows : list of Row

    Returns
    -------
    list of str
    """
    ours = {r.case: r.best for r in rows if r.tool == "bayeshier" and r.best}
    lines = []
    for row in rows:
        if row.tool != "lme4 (measured)" or not row.best or row.case not in ours:
            continue
        ratio = row.best / ours[row.case]
        verdict = ""
        if row.case.startswith("1a"):
            met = ratio >= LME4_SPEEDUP_TARGET
            verdict = f" (target >= {LME4_SPEEDUP_TARGET:g}x: {'met' if met else 'MISSED'})"
        lines.append(
            f"{row.case}: lme4 {row.best:.3f} s / bayeshier {ours[row.case]:.3f} s "
            f"= {ratio:.1f}x{verdict}"
        )
    return lines


def spec_seconds(case: Case, repeats: int) -> float:
    """Best time of building the spec alone (formula, design, grouping codes, QR)."""
    bayeshier = import_bayeshier()
    timing, _ = time_calls(lambda: bayeshier.build_spec(case.formula, case.data), repeats, 1)
    return timing.best


def truth_lines(cases: list[Case], rows: list[Row]) -> list[str]:
    """bayeshier's estimates next to the parameters the data were simulated from.

    Parameters
    ----------
    cases : list of Case
    rows : list of Row

    Returns
    -------
    list of str
    """
    fits = {r.case: r.estimates for r in rows if r.tool == "bayeshier" and r.estimates}
    lines = []
    for case in cases:
        fit = fits[case.name]
        beta = ", ".join(
            f"{name} {value:.4f} (true {true:g})"
            for (name, value), true in zip(fit.beta.items(), case.beta.values(), strict=True)
        )
        sds = ", ".join(
            f"{name} {np.sqrt(fit.variances[name]):.4f} (true {true:g})"
            for name, true in case.sd.items()
        )
        lines.append(f"{case.name}: fixef {beta}; sd {sds}")
    return lines


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def build_cases(quick: bool) -> list[Case]:
    """The three simulated cases: one factor large, one factor small, crossed.

    Parameters
    ----------
    quick : bool
        Shrink the sizes about tenfold for a smoke run.

    Returns
    -------
    list of Case
    """
    big, small, scale = QUICK_SIZES if quick else FULL_SIZES
    return [
        simulate_one_factor("1a one factor", *big, seed=SEED, target_s=0.2),
        simulate_one_factor("1b one factor", *small, seed=SEED, target_s=None),
        simulate_insteval_like(scale, seed=SEED, target_s=2.0),
    ]


def quoted_rows() -> list[Row]:
    """lme4 timings quoted from the issue."""
    return [
        Row(
            case,
            rows,
            groups,
            "lme4 (quoted)",
            best=seconds,
            note=f"quoted, not measured here: {what}",
        )
        for case, rows, groups, seconds, what in LME4_QUOTED
    ]


def statsmodels_skipped(case: Case, small: Case) -> Row:
    """The row saying why statsmodels is not run on the large one-factor case."""
    return case_row(
        case,
        "statsmodels MixedLM",
        note=(
            "not run on the largest case: too slow (Python loop over the groups at every "
            f"evaluation); compared on the {small.n_rows:,}-row case instead"
        ),
    )


def run_benchmarks(cases: list[Case], quick: bool, with_lme4: bool) -> list[Row]:
    """Run every tool on every case, in table order.

    Parameters
    ----------
    cases : list of Case
        Large one-factor, small one-factor and crossed, as :func:`build_cases` returns.
    quick : bool
        Smoke run.
    with_lme4 : bool
        Whether ``Rscript`` can run lme4.

    Returns
    -------
    list of Row
    """
    big, small, _ = cases
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bayeshier-bench-") as tmp:
        for case in cases:
            log(f"bayeshier on {case.name} ({case.n_rows:,} rows)")
            rows.append(bench_bayeshier(case, REPEATS, quick))
            log(f"statsmodels on {case.name}")
            if case is big:
                rows.append(statsmodels_skipped(big, small))
            elif case is small:
                rows.append(bench_statsmodels(case, REPEATS))
            else:
                rows.append(bench_statsmodels_crossed(case, STATSMODELS_CROSSED_LIMIT_S))
            if with_lme4:
                log(f"lme4 on {case.name}")
                rows.append(bench_lme4(case, REPEATS, Path(tmp)))
    return [*rows, *quoted_rows()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="shrink the sizes about tenfold (smoke run)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the environment, the table and the checks."""
    args = parse_args(argv)
    r_version = lme4_version()
    print("bayeshier REML benchmark" + (" (--quick: shrunken sizes)" if args.quick else ""))
    print("\n".join(f"  {line}" for line in environment_lines(r_version)))
    log("simulating data")
    cases = build_cases(args.quick)
    rows = run_benchmarks(cases, args.quick, with_lme4=r_version is not None)
    print()
    print(format_table(rows))
    print("\nAgreement on the same data:")
    print("\n".join(f"  {line}" for line in agreement_lines(rows)) or "  (nothing to compare)")
    print("\nSpeed against lme4, measured in this run:")
    print("\n".join(f"  {line}" for line in speedup_lines(rows)) or "  (lme4 not measured)")
    print("\nbayeshier against the simulated truth:")
    print("\n".join(f"  {line}" for line in truth_lines(cases, rows)))
    print(f"\nload average at the end: {load_average()} (on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
