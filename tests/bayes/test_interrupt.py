"""Ctrl-C during sampling: partial draws, trimmed and marked (unit tests, then a real SIGINT)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from bayeshier.bayes.interrupt import (
    Interruption,
    completed_draws,
    interruption_attrs,
    trim_to_completed,
    was_interrupted,
)


def _padded(lengths: list[int], draws: int = 10) -> tuple[xr.Dataset, xr.Dataset]:
    """A posterior whose chain c holds lengths[c] finite draws, then NaN (nutpie's abort)."""
    chains = len(lengths)
    sigma = np.arange(chains * draws, dtype=float).reshape(chains, draws) + 1.0
    beta = np.ones((chains, draws, 2))
    for c, n in enumerate(lengths):
        sigma[c, n:] = np.nan
        beta[c, n:] = np.nan
    posterior = xr.Dataset(
        {"sigma": (("chain", "draw"), sigma), "beta": (("chain", "draw", "fixed"), beta)},
        coords={"chain": np.arange(chains), "draw": np.arange(draws), "fixed": ["a", "b"]},
    )
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((chains, draws), bool))})
    return posterior, stats


def test_completed_draws_counts_leading_finite_draws():
    posterior, _ = _padded([10, 4, 0])
    np.testing.assert_array_equal(completed_draws(posterior), [10, 4, 0])


def test_a_complete_run_is_returned_unchanged():
    posterior, stats = _padded([10, 10])
    kept, kept_stats, interruption = trim_to_completed(posterior, stats, 10, 2)
    assert interruption is None and kept is posterior and kept_stats is stats
    assert interruption_attrs(None) == {}


def test_an_interrupted_run_keeps_the_most_draws_without_nan():
    # 4 chains of lengths 6, 5, 1, 0: keeping 2 chains x 5 draws (10) beats 1 x 6 or 3 x 1
    posterior, stats = _padded([6, 5, 1, 0])
    kept, kept_stats, interruption = trim_to_completed(posterior, stats, 10, 4)
    assert interruption == Interruption(draws=5, requested_draws=10, chains=2, requested_chains=4)
    assert list(kept["chain"].to_numpy()) == [0, 1]
    assert kept.sizes["draw"] == 5 == kept_stats.sizes["draw"]
    assert not np.isnan(kept["sigma"]).any() and not np.isnan(kept["beta"]).any()
    attrs = interruption_attrs(interruption)
    assert attrs["interrupted"] == "true" and was_interrupted(attrs)
    assert attrs["interruption"] == (
        "interrupted after 5 of 10 draws per chain (2 of 4 chains kept: the others had fewer draws)"
    )


def test_pymc_cut_chains_count_as_interrupted():
    """PyMC returns equal chains shorter than asked: still an interrupted run."""
    posterior, stats = _padded([7, 7], draws=7)
    _, _, interruption = trim_to_completed(posterior, stats, 10, 2)
    assert interruption is not None and interruption.sentence.startswith(
        "interrupted after 7 of 10"
    )


def test_nothing_completed_raises_keyboard_interrupt():
    posterior, stats = _padded([0, 0])
    with pytest.raises(KeyboardInterrupt, match="before any of the 10 draws"):
        trim_to_completed(posterior, stats, 10, 2)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), (b"true", True), (True, True), ("false", False), (None, False), (0, False)],
)
def test_was_interrupted_reads_saved_flags(value, expected):
    attrs = {} if value is None else {"interrupted": value}
    assert was_interrupted(attrs) is expected


_CHILD = textwrap.dedent(
    """
    import json, signal, sys, warnings
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a background child ignores it
    import numpy as np
    from bayeshier import datasets
    from bayeshier.bayes.diagnostics import diagnose
    from bayeshier.bayes.model import Model

    m = Model("Reaction ~ Days + (1|Subject)", datasets.load("sleepstudy"))
    m.compile_nutpie()
    print("SAMPLING", flush=True)
    idata = m.sample(draws=2_000_000, tune=100, chains=2, random_seed=1, progressbar=False,
                     log_likelihood=False)
    posterior = idata["posterior"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        diagnose(idata)
    print(json.dumps({
        "interrupted": idata.attrs.get("interrupted"),
        "sentence": idata.attrs.get("interruption"),
        "draws": int(posterior.sizes["draw"]),
        "nan": bool(any(np.isnan(v).any() for v in posterior.data_vars.values())),
        "first_warning": str(caught[0].message) if caught else "",
    }), flush=True)
    """
)


@pytest.mark.sampling
def test_sigint_during_sampling_returns_trimmed_marked_draws(tmp_path: Path):
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    child = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == "SAMPLING", child.stderr.read() if child.stderr else line
        time.sleep(4.0)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        child.kill()
    assert child.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["interrupted"] == "true"
    assert 0 < result["draws"] < 2_000_000
    assert result["sentence"].startswith(f"interrupted after {result['draws']:,} of 2,000,000")
    assert not result["nan"]
    assert result["first_warning"].startswith("The run was interrupted")
