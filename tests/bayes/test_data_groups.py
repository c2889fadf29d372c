"""constant_data: the model's data columns, laid out as tests/synthetic.py's reference says."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr
from synthetic import constant_data as reference_constant_data

from bayeshier import datasets
from bayeshier.bayes.data_groups import constant_data, model_rows, row_argument_attrs
from bayeshier.spec.model_spec import build_spec


def _same(got: xr.Dataset, expected: xr.Dataset) -> None:
    assert set(got.data_vars) == set(expected.data_vars)
    for name in expected.data_vars:
        assert got[name].dims == ("obs",)
        np.testing.assert_array_equal(got[name].to_numpy(), expected[name].to_numpy())
        np.testing.assert_array_equal(got["obs"].to_numpy(), expected["obs"].to_numpy())
    assert json.loads(got.attrs["factor_levels"]) == json.loads(expected.attrs["factor_levels"])


def test_sleepstudy_matches_the_reference_layout():
    data = datasets.load("sleepstudy")
    spec = build_spec("Reaction ~ Days + (1|Subject)", data)
    got = constant_data(spec, data)
    _same(got, reference_constant_data(spec, data))
    assert json.loads(got.attrs["factor_levels"])["Subject"][:2] == ["308", "309"]
    assert row_argument_attrs(spec) == {}


def test_dropped_rows_and_text_columns_match_the_reference():
    data = pd.DataFrame(
        {
            "y": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 7.0, 8.0],
            "x": [0.1, 0.2, 0.3, np.nan, 0.5, 0.6, 0.7, 0.8],
            "f": pd.Categorical(list("bbaabbaa"), categories=["b", "a"]),
            "g": ["u", "v", "u", "v", "w", "w", "u", "v"],
        },
        index=[10, 11, 12, 13, 14, 15, 16, 17],
    )
    spec = build_spec("y ~ x + f + (1|g)", data)
    got = constant_data(spec, data)
    _same(got, reference_constant_data(spec, data))
    assert list(got["obs"].to_numpy()) == [10, 11, 14, 15, 16, 17]
    assert json.loads(got.attrs["factor_levels"])["f"] == ["b", "a"]  # the categories' order
    assert model_rows(spec, data).index.tolist() == [10, 11, 14, 15, 16, 17]


def test_rows_that_cannot_be_told_apart_give_no_group():
    data = pd.DataFrame(
        {"y": [1.0, np.nan, 3.0, 4.0], "g": ["a", "b", "a", "b"]}, index=[0, 0, 1, 1]
    )
    spec = build_spec("y ~ 1 + (1|g)", data)
    assert constant_data(spec, data) is None
