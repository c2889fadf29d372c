"""Data in: pandas, dicts of columns, frames with ``to_pandas()`` or ``__dataframe__``."""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from bayeshier.errors import DataError
from bayeshier.spec.frames import as_frame, check_unique_columns
from bayeshier.spec.model_spec import build_spec

FORMULA = "y ~ x + (1|g)"


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    codes = np.repeat(np.arange(6), 4)
    return pd.DataFrame(
        {
            "y": rng.normal(size=codes.size),
            "x": rng.normal(size=codes.size),
            "g": [f"g{c}" for c in codes],
        }
    )


class _InterchangeOnly:
    """A frame that offers only the dataframe interchange protocol."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table

    def __dataframe__(self, *args: object, **kwargs: object) -> object:
        return self._table.__dataframe__(*args, **kwargs)


class _ToPandasNeedsMissingPackage(_InterchangeOnly):
    """Like polars without pyarrow: ``to_pandas()`` raises ImportError."""

    def to_pandas(self) -> pd.DataFrame:
        raise ImportError("pyarrow is required")


def _same_spec(data: object, expected: pd.DataFrame) -> None:
    spec, reference = build_spec(FORMULA, data), build_spec(FORMULA, expected)
    np.testing.assert_array_equal(spec.X, reference.X)
    np.testing.assert_array_equal(spec.y, reference.y)
    np.testing.assert_array_equal(spec.factor("g").codes, reference.factor("g").codes)
    assert spec.factor("g").levels == reference.factor("g").levels


def test_pandas_is_taken_as_it_is(frame: pd.DataFrame) -> None:
    assert as_frame(frame) is frame


@pytest.mark.parametrize(
    "convert",
    [
        lambda f: f.to_dict("list"),
        lambda f: {name: f[name].to_numpy() for name in f.columns},
        pa.Table.from_pandas,
        lambda f: _InterchangeOnly(pa.Table.from_pandas(f, preserve_index=False)),
        lambda f: _ToPandasNeedsMissingPackage(pa.Table.from_pandas(f, preserve_index=False)),
    ],
    ids=["dict-of-lists", "dict-of-arrays", "pyarrow-to_pandas", "interchange", "fallback"],
)
def test_other_frames_give_the_same_spec(frame: pd.DataFrame, convert) -> None:
    _same_spec(convert(frame), frame)


@pytest.mark.parametrize(
    ("data", "type_name"),
    [(np.zeros((4, 3)), "numpy.ndarray"), ([[1.0, "a"]], "builtins.list"), ("y,x", "builtins.str")],
)
def test_anything_else_names_its_type_and_what_to_pass(data: object, type_name: str) -> None:
    with pytest.raises(DataError) as caught:
        build_spec(FORMULA, data)
    message = str(caught.value)
    assert f"not {type_name}" in message
    assert "pandas DataFrame, a dict of columns, a frame with a to_pandas()" in message


def test_to_pandas_that_gives_no_frame_is_refused() -> None:
    class Odd:
        def to_pandas(self) -> list:
            return [1, 2]

    with pytest.raises(DataError, match=r"not .*Odd\. Convert it to a pandas DataFrame"):
        as_frame(Odd())


def test_dict_of_unequal_columns_gives_the_lengths() -> None:
    with pytest.raises(DataError, match=r"lengths are \{'y': 3, 'g': 2\}"):
        as_frame({"y": [1.0, 2.0, 3.0], "g": ["a", "b"]})


def test_duplicated_column_names_are_named(frame: pd.DataFrame) -> None:
    doubled = pd.concat([frame, frame[["x"]]], axis=1)
    with pytest.raises(DataError, match=r"more than one column named 'x'.*Rename or drop"):
        build_spec(FORMULA, doubled)


def test_duplicated_names_in_a_foreign_frame_are_named(frame: pd.DataFrame) -> None:
    table = pa.Table.from_arrays(
        [pa.array(frame["y"]), pa.array(frame["x"]), pa.array(frame["x"]), pa.array(frame["g"])],
        names=["y", "x", "x", "g"],
    )
    with pytest.raises(DataError, match="more than one column named 'x'"):
        build_spec(FORMULA, table)


def test_unique_columns_pass_and_new_data_are_called_so() -> None:
    check_unique_columns(pd.Index(["a", "b"]))
    with pytest.raises(DataError, match="The new data hold more than one column named 'a', 'b'"):
        check_unique_columns(pd.Index(["a", "b", "a", "b", "a"]), "new data")


def test_dask_frame_is_left_lazy(frame: pd.DataFrame) -> None:
    lazy = dd.from_pandas(frame, npartitions=2)
    assert as_frame(lazy) is lazy
