"""The memory budget: estimates, the log-likelihood chosen, refusals; 1M rows within 4 GiB."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from bayeshier.bayes import budget
from bayeshier.bayes.budget import (
    MEMORY_BUDGET,
    MemoryBudgetWarning,
    choose_log_likelihood,
    estimate_footprint,
    gib,
    parse_log_likelihood,
    plan_storage,
)
from bayeshier.errors import ModelError


def test_memory_budget_is_512_mib():
    assert MEMORY_BUDGET == 512 * 2**20
    assert (
        gib(MEMORY_BUDGET) == "512 MiB" and gib(32e9) == "30 GiB" and gib(1.5 * 2**30) == "1.5 GiB"
    )


def test_footprint_counts_draws_rows_and_levels(sleep_model):
    """sleepstudy (1|Subject): 2 fixed, sigma, sd and 18 effects per draw; 180 rows."""
    foot = estimate_footprint(sleep_model.spec, 1000, 500, 4, ("Subject",))
    assert foot.shape == "4 chains x 1,000 draws"
    assert foot.posterior == 4 * 1000 * (2 + 1 + 1 + 18) * 8
    assert foot.pointwise == 4 * 1000 * 180 * 8
    assert foot.per_group >= 4 * 1000 * 18 * 8
    assert foot.sampler == 4 * 1500 * (2 * 4 + 16) * 8  # the 18 collapsed effects are not sampled
    assert foot.log_likelihood("pointwise") == foot.pointwise
    assert foot.log_likelihood("none") == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, "pointwise"),
        ("pointwise", "pointwise"),
        ("group", "group"),
        (False, "none"),
    ],
)
def test_log_likelihood_spellings(value, expected):
    assert parse_log_likelihood(value) == expected


@pytest.mark.parametrize("value", ["loo", 1, "True"])
def test_unknown_log_likelihood_is_a_model_error(value):
    with pytest.raises(ModelError, match="log_likelihood must be None"):
        parse_log_likelihood(value)


def test_automatic_choice_follows_the_budget(sleep_model):
    spec = sleep_model.spec
    foot = estimate_footprint(spec, 1000, 1000, 4)
    assert choose_log_likelihood(None, spec, foot, MEMORY_BUDGET).kind == "pointwise"
    group = choose_log_likelihood(None, spec, foot, foot.pointwise - 1)
    assert group.kind == "group"
    assert "per level of 'Subject'" in group.message and "log_likelihood=True" in group.message
    none = choose_log_likelihood(None, spec, foot, 100)
    assert none.kind == "none" and "log_likelihood='group'" in none.message
    assert choose_log_likelihood("pointwise", spec, foot, 100).kind == "pointwise"


def test_plan_storage_warns_once_with_the_choice(sleep_model):
    with pytest.warns(MemoryBudgetWarning, match="per level of 'Subject'") as record:
        choice = plan_storage(sleep_model.spec, (1000, 1000, 4), ("Subject",), None, 600_000)
    assert choice.kind == "group" and len(record) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", MemoryBudgetWarning)
        assert plan_storage(sleep_model.spec, (1000, 1000, 4), (), None).kind == "pointwise"


@pytest.mark.parametrize("value", [0, -5, 1.5, True, "512MiB"])
def test_bad_memory_budget_is_a_model_error(sleep_model, value):
    with pytest.raises(ModelError, match="memory_budget must be a positive integer"):
        plan_storage(sleep_model.spec, (10, 10, 1), (), None, value)


def test_a_request_that_cannot_fit_names_the_estimate(sleep_model, monkeypatch):
    monkeypatch.setattr(budget, "available_memory", lambda: 2**30)
    # 4e6 draws x (180 rows + 22 parameters) + the sampler's 4 x 1,001,000 x 24 numbers
    expected = r"would need about 6.74 GiB .*log-likelihood 5.36 GiB\), but only 1 GiB"
    with pytest.raises(ModelError, match=expected):
        plan_storage(sleep_model.spec, (10**6, 1000, 4), ("Subject",), True)
    with pytest.raises(ModelError, match="would need about"):
        sleep_model.sample(draws=10**7, chains=4, log_likelihood=True, progressbar=False)


_CHILD = textwrap.dedent(
    """
    import json, resource, time, warnings
    import numpy as np, pandas as pd
    from bayeshier.bayes.model import Model

    rng = np.random.default_rng(0)
    n, groups = 1_000_000, 10_000
    g = rng.integers(0, groups, n)
    x = rng.normal(size=n)
    y = 1.0 + 0.5 * x + rng.normal(0, 1.0, groups)[g] + rng.normal(size=n)
    data = pd.DataFrame({"y": y, "x": x, "g": g.astype(str)})
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = Model("y ~ x + (1|g)", data).sample(random_seed=1, progressbar=False)
    print(json.dumps({
        "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "seconds": time.perf_counter() - start,
        "stored": idata.attrs["log_likelihood"],
        "sizes": dict(idata["log_likelihood"].sizes),
        "draws": idata["posterior"].sizes["chain"] * idata["posterior"].sizes["draw"],
        "notes": [str(w.message) for w in caught
                  if type(w.message).__name__ == "MemoryBudgetWarning"],
    }))
    """
)


@pytest.mark.sampling
def test_a_million_rows_sample_by_default_within_4_gib(tmp_path: Path):
    """Default sample() (4 x 1,000 draws): the pointwise log-likelihood (30 GiB) gives way."""
    script = tmp_path / "million.py"
    script.write_text(_CHILD)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"1M rows / 10k groups: peak {result['peak'] / 2**30:.2f} GiB, {result['seconds']:.0f} s")
    assert result["peak"] < 4 * 2**30
    assert result["draws"] == 4000
    assert result["stored"] == "group"
    assert result["sizes"] == {"chain": 4, "draw": 1000, "g_level": 10_000}
    [note] = result["notes"]
    assert "30 GiB" in note and "log_likelihood=True" in note
