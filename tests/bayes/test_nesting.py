"""Which grouping factors are nested in which."""

from __future__ import annotations

import numpy as np

from bayeshier import datasets
from bayeshier.bayes.nesting import nesting_parents
from bayeshier.spec.model_spec import build_spec


def test_cask_is_nested_in_batch():
    spec = build_spec("strength ~ 1 + (1|batch/cask)", datasets.load("pastes"))
    parents = nesting_parents(spec, "cask:batch")
    assert list(parents) == ["batch"]
    casks = spec.factor("cask:batch").levels
    batches = np.array(spec.factor("batch").levels)
    np.testing.assert_array_equal(batches[parents["batch"]], [c.split(":")[1] for c in casks])
    assert nesting_parents(spec, "batch") == {}


def test_crossed_factors_are_not_nested():
    spec = build_spec("diameter ~ 1 + (1|plate) + (1|sample)", datasets.load("penicillin"))
    assert nesting_parents(spec, "plate") == {}
    assert nesting_parents(spec, "sample") == {}


def test_a_three_level_nesting_has_two_parents():
    rows = [
        (f"a{a}", f"b{b}", f"c{c}")
        for a in range(2)
        for b in range(3)
        for c in range(2)
        for _ in range(2)  # two rows per cell
    ]
    data = datasets.load("pastes").iloc[: len(rows)].copy()
    data[["a", "b", "c"]] = rows
    spec = build_spec("strength ~ 1 + (1|a/b/c)", data)
    child = spec.factors[0].name
    assert child == "c:b:a"
    assert set(nesting_parents(spec, child)) == {"b:a", "a"}
