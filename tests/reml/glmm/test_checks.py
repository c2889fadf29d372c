"""Rows named by their labels in the user's data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeshier.errors import DataError
from bayeshier.reml.glmm.checks import check_trials, rows_text


def test_rows_text_names_labels_and_counts():
    index = pd.Index([f"r{i}" for i in range(10)])
    assert rows_text(index, np.array([1, 4])) == "r1, r4 (index labels; 2 of 10 rows used)"
    long = rows_text(index, np.arange(8))
    assert long.startswith("r0, r1, r2, r3, r4 and 3 more")


def test_fractional_successes():
    with pytest.raises(DataError, match=r"successes are not whole numbers at row\(s\) 1 "):
        check_trials(pd.RangeIndex(3), np.array([1.0, 1.5, 2.0]), np.array([2.0, 3.0, 2.0]), "s")
