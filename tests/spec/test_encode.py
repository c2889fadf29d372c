"""The design against R's ``model.matrix`` (``tests/fixtures/model_matrix``, see its R script)."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayeshier.errors import DataError
from bayeshier.spec.build import spec_from_rows
from bayeshier.spec.formula import FormulaWarning, parse_formula
from bayeshier.spec.model_spec import build_spec
from bayeshier.spec.recipe import Recipe

FOLDER = Path(__file__).parents[1] / "fixtures" / "model_matrix"
CASES = json.loads((FOLDER / "model_matrix.json").read_text())


def r_name(name: str) -> str:
    """bayeshier's column name as R writes it (``a[T.q]`` -> ``aq``, ``t[T.True]`` -> ``tTRUE``)."""
    if name == "Intercept":
        return "(Intercept)"
    name = re.sub(r"\[T\.(.*?)\]", r"\1", name)
    name = re.sub(r"\[(.*?)\]", r"\1", name)
    return name.replace("True", "TRUE").replace("False", "FALSE")


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    frame = pd.read_csv(FOLDER / "data.csv")
    frame["g"] = (np.arange(len(frame)) % 3).astype(str)
    return frame


def design(formula: str, data: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FormulaWarning)
        return spec_from_rows(Recipe(parse_formula(f"{formula} + (1|g)")), data)


@pytest.mark.parametrize("case", CASES, ids=[case["formula"] for case in CASES])
def test_design_equals_r_model_matrix(case: dict, data: pd.DataFrame) -> None:
    columns = case["columns"] if isinstance(case["columns"], list) else [case["columns"]]
    spec = design(case["formula"], data)
    assert [r_name(name) for name in spec.fixed_names] == columns
    assert list(spec.row_index) == case["rows"]
    expected = np.array(case["values"], dtype=float).reshape(len(columns), -1).T
    np.testing.assert_allclose(spec.X, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(spec.y, case["response"], rtol=1e-14)


def test_design_is_column_major_for_the_solver(data: pd.DataFrame) -> None:
    assert design("y ~ x + z", data).X.flags.f_contiguous


def _small_frame() -> pd.DataFrame:
    rng = np.random.default_rng(8)
    n = 24
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "Intercept": rng.normal(size=n),
            "f": np.tile(["a", "b"], n // 2),
            "g": np.repeat(list("abcd"), n // 4),
        }
    )


def test_a_column_named_intercept_is_refused_beside_the_intercept() -> None:
    frame = _small_frame()
    with pytest.raises(DataError, match=r"column named 'Intercept'.*Rename the column"):
        build_spec("y ~ Intercept + x + (1|g)", frame)
    assert build_spec("y ~ 0 + Intercept + x + (1|g)", frame).fixed_names == ("Intercept", "x")
    assert build_spec("y ~ x + (1|g)", frame).fixed_names == ("Intercept", "x")  # unused: fine
