"""bayeshier.cli.model_data: a model's data, bundled by name or a CSV / Parquet path."""

from __future__ import annotations

import pandas as pd
import pytest

from bayeshier import datasets
from bayeshier.cli.model_data import read_data
from bayeshier.errors import DataError


def test_bundled_name_loads_with_factor_levels():
    frame = read_data("dyestuff", ".")
    pd.testing.assert_frame_equal(frame, datasets.load("dyestuff"))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_data_paths_are_relative_to_the_file(tmp_path, suffix):
    folder = tmp_path / "data"
    folder.mkdir()
    frame = datasets.load("dyestuff").astype({"Batch": str})
    target = folder / f"dye{suffix}"
    frame.to_csv(target, index=False) if suffix == ".csv" else frame.to_parquet(target)
    loaded = read_data(f"data/dye{suffix}", tmp_path)
    assert loaded.shape == frame.shape
    assert loaded["Yield"].tolist() == frame["Yield"].tolist()


def test_missing_data_file_and_unknown_name(tmp_path):
    with pytest.raises(DataError, match=r"No data file at .*absent\.csv"):
        read_data("absent.csv", tmp_path)
    with pytest.raises(DataError, match="Did you mean 'dyestuff'"):
        read_data("dyestuf", tmp_path)


def test_a_path_of_another_type_lists_the_bundled_sets(tmp_path):
    with pytest.raises(DataError, match=r"neither a bundled data set nor a \.csv/\.parquet path"):
        read_data("rows.xlsx", tmp_path)


def test_an_unreadable_file_says_so(tmp_path):
    (tmp_path / "broken.parquet").write_text("not parquet")
    with pytest.raises(DataError, match=r"Cannot read .* as parquet"):
        read_data("broken.parquet", tmp_path)
