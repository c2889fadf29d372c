from __future__ import annotations

import functools
import operator

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from bayeshier import datasets
from bayeshier.errors import DataError, ModelError
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


def _grouped(n_groups: int = 6, per_group: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    codes = np.repeat(np.arange(n_groups), per_group)
    x = rng.normal(size=codes.size)
    return pd.DataFrame(
        {
            "y": rng.normal(size=codes.size) + x,
            "x": x,
            "g": [f"g{c}" for c in codes],
            "obs": np.arange(codes.size),
            "b": (x > 0).astype(float),
            "w": np.tile([0.0, 1.0, 2.0, 3.0], n_groups),
        }
    )


def test_a_constant_response_is_a_data_error() -> None:
    data = _grouped().assign(y=4.5)
    data.loc[3, "y"] = np.nan  # the rows used are what count
    with pytest.raises(DataError, match=r"response 'y' is constant: every one of the 23 rows"):
        build_spec("y ~ x + (1|g)", data)


def test_a_response_constant_once_the_offset_is_subtracted() -> None:
    data = _grouped()
    data["y"] = 2.0 + data["obs"]  # whole numbers: y - offset is exactly 2
    with pytest.raises(DataError, match="holds 2 once the offset is subtracted"):
        build_spec("y ~ 1 + offset(obs) + (1|g)", data)


def test_a_constant_response_in_dask_partitions_is_the_same_error() -> None:
    data = dd.from_pandas(_grouped().assign(y=1.0), npartitions=3)
    with pytest.raises(DataError, match=r"response 'y' is constant: every one of the 24 rows"):
        build_spec("y ~ x + (1|g)", data, lazy=True)


def test_response_range_adds_up_over_chunks() -> None:
    data = _grouped()
    spec = build_spec("y ~ x + (1|g)", data)
    chunks = [fixed_sums(spec.with_rows(data.iloc[i : i + 7])) for i in range(0, len(data), 7)]
    total = functools.reduce(operator.add, chunks)
    assert total.response_range == (data["y"].min(), data["y"].max())


def test_observation_level_effect_needs_a_family() -> None:
    data = _grouped()
    with pytest.raises(ModelError, match="'obs' has 24 levels for 24 rows"):
        build_spec("y ~ x + (1|obs) + (1|g)", data)
    spec = build_spec(
        "b ~ x + (1|obs) + (1|g)", data, family="binomial"
    )  # overdispersion, as glmer
    assert spec.factor("obs").n_levels == 24


def test_zero_weights_need_a_family() -> None:
    data = _grouped()
    with pytest.raises(
        DataError, match=r"weights must be positive, but 6 row\(s\) have a weight <= 0"
    ):
        build_spec("y ~ x + (1|g)", data, weights="w")
    spec = build_spec("b ~ x + (1|g)", data, family="binomial", weights="w")
    np.testing.assert_array_equal(spec.weights, data["w"].to_numpy())
    assert fixed_sums(spec).log_weights == pytest.approx(6 * (np.log(2.0) + np.log(3.0)))
    data.loc[5, "w"] = -1.0
    with pytest.raises(DataError, match=r"positive or zero, but 1 row\(s\) have a negative"):
        build_spec("b ~ x + (1|g)", data, family="binomial", weights="w")


def test_a_constant_response_is_left_to_the_family() -> None:
    data = _grouped().assign(b=1.0)  # glmer's own checks decide (e.g. proportions of trials)
    assert build_spec("b ~ x + (1|g)", data, family="binomial").nobs == 24
