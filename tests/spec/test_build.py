from __future__ import annotations

import functools
import operator

import numpy as np
import pytest

from bayeshier import datasets
from bayeshier.spec.build import fixed_sums, thin_r, weighted_rows
from bayeshier.spec.model_spec import build_spec


def test_weighted_sums_of_chunks_add_up() -> None:
    sleep = datasets.load("sleepstudy")
    sleep["w"] = np.linspace(0.5, 2.0, len(sleep))
    spec = build_spec("Reaction ~ Days + offset(Days) + (1|Subject)", sleep, weights="w")
    chunks = [spec.with_rows(sleep.iloc[i : i + 50]) for i in range(0, len(sleep), 50)]
    total = functools.reduce(operator.add, [fixed_sums(chunk) for chunk in chunks])
    whole = fixed_sums(spec)
    np.testing.assert_allclose(np.abs(total.r), np.abs(whole.r), rtol=1e-12)
    np.testing.assert_allclose(total.xty, whole.xty, rtol=1e-12)
    assert total.log_weights == pytest.approx(np.log(sleep["w"]).sum())
    X, y = weighted_rows(spec)
    root = np.sqrt(sleep["w"].to_numpy())
    np.testing.assert_allclose(y, root * (sleep["Reaction"] - sleep["Days"]))
    np.testing.assert_allclose(np.abs(thin_r(X)), np.abs(spec.fixed_r), rtol=1e-12)
