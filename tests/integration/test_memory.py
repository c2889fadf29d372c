"""Memory: default ``Model(...).sample()`` on 1,000,000 rows in 10,000 groups stays under 4 GiB.

The pointwise log-likelihood of that run would be 4 chains x 1,000 draws x
1,000,000 rows x 8 bytes = 32 GB; the memory budget (512 MiB by default)
stores the per-group one instead. The run is a subprocess, so that its peak
resident memory (``ru_maxrss``) is its own and not the test session's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

#: The done-when limit of issue 13: peak resident memory of the whole run.
PEAK_LIMIT_BYTES = 4 * 2**30

_CHILD = textwrap.dedent(
    """
    import json, resource, time, warnings
    import numpy as np
    import pandas as pd
    from bayeshier.bayes.budget import MemoryBudgetWarning
    from bayeshier.bayes.model import Model

    rows, groups = 1_000_000, 10_000
    rng = np.random.default_rng(13)
    g = rng.integers(0, groups, rows)
    x = rng.normal(size=(rows, 2))
    y = 1.0 + x @ np.array([0.5, -0.5]) + rng.normal(0.0, 0.8, groups)[g] + rng.normal(0, 1.5, rows)
    data = pd.DataFrame({"y": y, "x1": x[:, 0], "x2": x[:, 1],
                         "g": pd.Categorical([f"g{k:05d}" for k in g])})
    del g, x, y
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = Model("y ~ x1 + x2 + (1|g)", data).sample(random_seed=1, progressbar=False)
    seconds = time.perf_counter() - start
    budget_notes = [str(w.message) for w in caught if issubclass(w.category, MemoryBudgetWarning)]
    print(json.dumps({
        "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "seconds": seconds,
        "stored": idata.attrs["log_likelihood"],
        "loglik_sizes": dict(idata["log_likelihood"].sizes),
        "draws": int(idata["posterior"].sizes["draw"]),
        "chains": int(idata["posterior"].sizes["chain"]),
        "budget_notes": budget_notes,
        "sigma": float(idata["posterior"]["sigma"].mean()),
    }), flush=True)
    """
)


@pytest.mark.sampling
def test_a_million_rows_sample_by_default_under_4_gib(tmp_path: Path) -> None:
    script = tmp_path / "million.py"
    script.write_text(_CHILD)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        timeout=3600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"peak {result['peak_bytes'] / 2**30:.2f} GiB, {result['seconds']:.0f} s")
    assert result["peak_bytes"] < PEAK_LIMIT_BYTES, result
    # the default sample, with the log-likelihood per group (pointwise would be 32 GB)
    assert (result["chains"], result["draws"]) == (4, 1000)
    assert result["stored"] == "group"
    assert result["loglik_sizes"] == {"chain": 4, "draw": 1000, "g_level": 10_000}
    assert len(result["budget_notes"]) == 1
    assert "log_likelihood=True" in result["budget_notes"][0]
    assert abs(result["sigma"] - 1.5) < 0.01  # the simulated residual sd
