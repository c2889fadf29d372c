"""Levels of a factor: distinct values must make distinct labels (``1`` and ``"1"`` do not)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeshier import fit_reml
from bayeshier.errors import DataError
from bayeshier.spec.levels import check_distinct_labels, label
from bayeshier.spec.model_spec import build_spec


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    codes = np.repeat(np.arange(8), 5)
    return pd.DataFrame(
        {
            "y": rng.normal(size=codes.size) + codes,
            "x": rng.normal(size=codes.size),
            "g": codes.astype(object),
        }
    )


def test_labels_of_numbers_and_text() -> None:
    assert [label(v) for v in (2008.0, 2.5, 3, "a")] == ["2008", "2.5", "3", "a"]


def test_distinct_labels_pass() -> None:
    check_distinct_labels(["1", "2"], np.array([1, 2], dtype=object), "g")


def test_one_label_for_two_values_names_both_and_their_types() -> None:
    values = np.array([1, "1", 2, 2.0 + 1, "3"], dtype=object)
    with pytest.raises(DataError) as caught:
        check_distinct_labels([label(v) for v in values], values, "site")
    message = str(caught.value)
    assert "Column 'site' holds values of different types" in message
    assert "1 (int) and '1' (str); 3.0 (float) and '3' (str)" in message
    assert "data['site'] = data['site'].astype(str)" in message


def test_mixed_labels_in_a_grouping_column(frame: pd.DataFrame) -> None:
    frame.loc[frame.index[:5], "g"] = "1"  # the number 1 is level 1 of rows 5..9
    with pytest.raises(DataError, match=r"Column 'g' holds.*1 \(int\) and '1' \(str\)"):
        fit_reml("y ~ x + (1|g)", frame)
    frame["g"] = frame["g"].astype(str)  # what the message says: one level "1" again
    assert build_spec("y ~ x + (1|g)", frame).factor("g").n_levels == 7


def test_mixed_labels_in_a_fixed_factor(frame: pd.DataFrame) -> None:
    frame["dose"] = np.tile(np.array(["low", 1, "1", "high"], dtype=object), 10)
    with pytest.raises(DataError, match=r"Column 'dose' holds.*1 \(int\) and '1' \(str\)"):
        build_spec("y ~ dose + (1|g)", frame)
