"""REML end to end on a Parquet dataset through Dask: time split and client memory.

Run from the repository root::

    python benchmarks/dask_reml.py                   # 20,000,000 rows (~1 GB of Parquet in /tmp)
    python benchmarks/dask_reml.py --rows 2000000    # a smaller run
    python benchmarks/dask_reml.py --rows 2000000 --check-pandas   # and compare with pandas
    python benchmarks/dask_reml.py --groups 10000 --sample  # and sample bayeshier.Model on it

The data, ``y ~ x1 + x2 + x3 + x4 + (1|g)`` with ``g`` held as strings
(``"g000042"``) and 0.1% of ``x1`` missing, are generated chunk by chunk
(one Parquet file per partition, never the whole table in memory) by a
child process, so that the peak memory of this process, the Dask client,
is the fit's alone. A ``dask.distributed.LocalCluster`` (two worker
processes, one thread each by default) reads the files; ``fit_reml``
reduces the partitions to sufficient statistics in three passes (levels,
fixed-effects R, per-level sums) and optimizes on the client. The table
gives the wall time of each pass, the optimization, the peak resident
memory of the client and of each worker, and the size of the data.

With ``--sample``, ``bayeshier.Model`` is then built on the same Dask
DataFrame in the same cluster and sampled (4 chains x 1000 draws, the
collapsed likelihood): its passes over the partitions (it builds its own
spec and REML fit, then the columns' moments and the per-group sums),
the sampling time, the smallest bulk ESS, the divergences and the client's
memory. The group effects are drawn after sampling, chains x draws x groups
numbers (3 GiB for 100,000 groups), so ``--groups 10000`` suits it.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing as mp
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SEED = 20240611
FORMULA = "y ~ x1 + x2 + x3 + x4 + (1|g)"
BETA = np.array([10.0, 1.0, -2.0, 0.5, 3.0])
SD_GROUP, SD_RESIDUAL = 2.0, 4.0
MISSING_SHARE = 0.001

PASS_LABELS = {
    "partition_levels": "pass 1: levels of g (distinct values)",
    "fixed_sums": "pass 2: R of X (TSQR), X'y, counts",
    "row_sums": "pass 3: per-level sums (sufficient statistics)",
    "row_moments": "pass: means and sds of y and X (the priors)",
    "chunk_cell_sums": "pass: per-group sums of the likelihood",
}


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


def chunk(index: int, rows: int, groups: int) -> pd.DataFrame:
    """Rows of partition ``index``: the same group effects in every partition."""
    effects = np.random.default_rng(SEED).normal(0.0, SD_GROUP, groups)
    rng = np.random.default_rng([SEED, index])
    codes = rng.integers(0, groups, rows)
    X = rng.standard_normal((rows, 4))
    y = BETA[0] + X @ BETA[1:] + effects[codes] + rng.normal(0.0, SD_RESIDUAL, rows)
    frame = pd.DataFrame(X, columns=["x1", "x2", "x3", "x4"])
    frame.loc[rng.random(rows) < MISSING_SHARE, "x1"] = np.nan
    frame["y"] = y
    labels = np.array([f"g{i:06d}" for i in range(groups)], dtype=object)
    frame["g"] = labels[codes]
    return frame


def write_dataset(directory: Path, rows: int, groups: int, partition_rows: int) -> None:
    """One Parquet file per partition, generated and written one at a time."""
    directory.mkdir(parents=True, exist_ok=True)
    for index, start in enumerate(range(0, rows, partition_rows)):
        part = chunk(index, min(partition_rows, rows - start), groups)
        part.to_parquet(directory / f"part.{index:05d}.parquet", index=False)


def generate(directory: Path, rows: int, groups: int, partition_rows: int) -> float:
    """Write the dataset in a child process; return its wall time."""
    started = time.perf_counter()
    context = mp.get_context("spawn")
    child = context.Process(target=write_dataset, args=(directory, rows, groups, partition_rows))
    child.start()
    child.join()
    if child.exitcode != 0:
        sys.exit(f"generating the data failed (exit code {child.exitcode})")
    return time.perf_counter() - started


def disk_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.glob("*.parquet"))


def memory_bytes(rows: int, groups: int) -> int:
    """In-memory size of the whole table as pandas holds it (from a sample)."""
    sample = chunk(0, 100_000, groups)
    return int(sample.memory_usage(deep=True).sum() * rows / len(sample))


# --------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------


def peak_rss() -> int:
    """Peak resident memory of this process, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


# --------------------------------------------------------------------------
# Fit
# --------------------------------------------------------------------------


@dataclass
class Run:
    """One fit on a LocalCluster and what it cost."""

    result: Any
    seconds: float
    partitions: int
    warmup: float
    rss_before: int
    peak: int
    worker_peaks: list[int]


@contextmanager
def local_cluster(workers: int) -> Iterator[tuple[Any, float]]:
    """A fresh LocalCluster's client, once its workers have imported bayeshier (and how long)."""
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        started = time.perf_counter()
        client.run(importlib.import_module, "bayeshier.spec.dask_rows")
        yield client, time.perf_counter() - started


def fit(directory: Path, workers: int) -> Run:
    """Fit on a fresh LocalCluster, after the workers have imported bayeshier."""
    import dask.dataframe as dd

    from bayeshier import fit_reml

    with local_cluster(workers) as (client, warmup):
        frame = dd.read_parquet(directory)
        rss_before = current_rss()
        started = time.perf_counter()
        result = fit_reml(FORMULA, frame)
        seconds = time.perf_counter() - started
        peak = peak_rss()
        worker_peaks = list(client.run(peak_rss).values())
    return Run(result, seconds, frame.npartitions, warmup, rss_before, peak, worker_peaks)


@dataclass
class Sampled:
    """bayeshier.Model built and sampled on the same Dask DataFrame."""

    model: Any
    tree: Any
    build_seconds: float
    sample_seconds: float
    rss_before: int
    rss_compiled: int
    peak: int


def sample(directory: Path, workers: int) -> Sampled:
    """Build bayeshier.Model on the Parquet files through Dask and sample it."""
    import dask.dataframe as dd

    from bayeshier import Model

    with local_cluster(workers):
        rss_before = current_rss()
        started = time.perf_counter()
        model = Model(FORMULA, dd.read_parquet(directory))
        model.compile_nutpie()  # reads the sums: REML, the per-group sums
        built = time.perf_counter() - started
        rss_compiled = current_rss()
        started = time.perf_counter()
        tree = model.sample(random_seed=SEED, progressbar=False)
        sampled = time.perf_counter() - started
    return Sampled(model, tree, built, sampled, rss_before, rss_compiled, peak_rss())


def sampling_report(run: Sampled) -> str:
    import arviz as az

    passes = run.model.spec.source.passes
    ess = az.ess(run.tree, method="bulk")
    smallest = min(float(ess[name].min()) for name in ("beta", "sigma", "sd_g", "g"))
    divergences = int(run.tree["sample_stats"]["diverging"].sum())
    rows = [(PASS_LABELS.get(name, name), f"{s:.2f} s") for name, s in passes]
    rows += [
        ("Model + compile (passes above, REML, nutpie)", f"{run.build_seconds:.2f} s"),
        (f"sample ({run.model.likelihood} likelihood, 4 x 1000)", f"{run.sample_seconds:.2f} s"),
        ("smallest bulk ESS (beta, sigma, sd_g, g)", f"{smallest:.0f}"),
        ("divergences", f"{divergences}"),
        ("client RSS before Model (after the REML run)", gib(run.rss_before)),
        ("client RSS after Model + compile", gib(run.rss_compiled)),
        ("client peak RSS (process lifetime)", gib(run.peak)),
    ]
    return table(rows)


def check_pandas(directory: Path, result) -> str:
    """Fit the same files with pandas; the largest relative difference."""
    from bayeshier import fit_reml

    expected = fit_reml(FORMULA, pd.read_parquet(directory))
    pairs = [
        (result.fixef, expected.fixef),
        (result.se, expected.se),
        (result.theta, expected.theta),
        ([result.sigma, result.criterion], [expected.sigma, expected.criterion]),
        (result.ranef["g"], expected.ranef["g"]),
    ]
    worst = max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.max(np.abs(np.asarray(b)))))
        for a, b in pairs
    )
    return f"{worst:.1e}"


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def report(args: argparse.Namespace, run: Run, sizes: tuple[int, int], generated: float) -> str:
    result = run.result
    passes = result.spec.source.passes
    passed = sum(s for _, s in passes)
    optimization = result.optimization.seconds
    rows = [
        ("rows (used / dropped for a missing x1)", f"{result.nobs:,} / {result.n_dropped:,}"),
        ("groups", f"{result.spec.factors[0].n_levels:,}"),
        ("partitions (Parquet files)", f"{run.partitions}"),
        ("workers x threads", f"{args.workers} x 1 (LocalCluster, processes)"),
        ("data on disk (Parquet, snappy)", gib(sizes[0])),
        ("data in memory as pandas holds it", gib(sizes[1])),
        ("generation (child process, not in the fit)", f"{generated:.1f} s"),
        ("worker start-up: import bayeshier (not in the fit)", f"{run.warmup:.1f} s"),
    ]
    rows += [(PASS_LABELS.get(name, name), f"{s:.2f} s") for name, s in passes]
    rows += [
        ("optimization (L-BFGS-B + Newton polish)", f"{optimization:.2f} s"),
        ("client: encodings, start, estimates", f"{run.seconds - passed - optimization:.2f} s"),
        ("total fit_reml", f"{run.seconds:.2f} s"),
        ("client RSS before the fit (imports, cluster)", gib(run.rss_before)),
        ("client peak RSS (process lifetime)", gib(run.peak)),
        ("worker peak RSS", ", ".join(gib(p) for p in run.worker_peaks)),
    ]
    return table(rows)


def estimates(result) -> str:
    sd = result.varcorr.set_index("group")["sd_cor"]
    names = list(result.fixef.index)
    lines = [f"{'':<10} {'estimate':>10} {'truth':>8}"]
    for name, truth in zip(names, BETA, strict=True):
        lines.append(f"{name:<10} {result.fixef[name]:>10.4f} {truth:>8.3f}")
    lines.append(f"{'sd g':<10} {sd['g']:>10.4f} {SD_GROUP:>8.3f}")
    lines.append(f"{'sigma':<10} {result.sigma:>10.4f} {SD_RESIDUAL:>8.3f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--groups", type=int, default=100_000)
    parser.add_argument("--partition-rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the Parquet files")
    parser.add_argument("--check-pandas", action="store_true", help="also fit with pandas")
    parser.add_argument("--sample", action="store_true", help="also sample bayeshier.Model")
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="bayeshier-dask-", dir="/tmp"))
    try:
        generated = generate(directory, args.rows, args.groups, args.partition_rows)
        run = fit(directory, args.workers)
        sizes = (disk_bytes(directory), memory_bytes(args.rows, args.groups))
        print(f"REML on a Dask DataFrame: {FORMULA}\n")
        print(report(args, run, sizes, generated))
        print()
        print(estimates(run.result))
        if args.check_pandas:
            difference = check_pandas(directory, run.result)
            print(f"\nlargest relative difference from the pandas fit: {difference}")
        if args.sample:
            print(f"\nbayeshier.Model on the same Dask DataFrame: {FORMULA}\n")
            print(sampling_report(sample(directory, args.workers)))
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
