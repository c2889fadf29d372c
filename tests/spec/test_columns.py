"""Names resolve to columns first: columns named like functions, dotted and backticked names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeshier.errors import DataError, FormulaError
from bayeshier.spec.model_spec import build_spec


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 60
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "g": np.repeat(list("abcdef"), 10),
            "x": rng.normal(size=n),
        }
    )


@pytest.mark.parametrize(
    "name", ["Treatment", "C", "I", "log", "scale", "poly", "center", "bs", "np", "pi", "exp"]
)
def test_a_column_may_be_named_like_a_function(frame: pd.DataFrame, name: str) -> None:
    frame[name] = np.linspace(0.5, 3.0, len(frame))
    spec = build_spec(f"y ~ x + {name} + (1|g)", frame)
    assert spec.fixed_names == ("Intercept", "x", name)
    np.testing.assert_array_equal(spec.X[:, 2], frame[name])


def test_a_text_column_named_treatment_is_a_factor(frame: pd.DataFrame) -> None:
    frame["Treatment"] = np.where(frame["x"] > 0, "nonchilled", "chilled")
    spec = build_spec("y ~ Treatment + (1|g)", frame)
    assert spec.fixed_names == ("Intercept", "Treatment[T.nonchilled]")


def test_a_column_named_np_does_not_hide_numpy_calls(frame: pd.DataFrame) -> None:
    frame["np"] = 2.0 + frame["x"] ** 2
    spec = build_spec("y ~ np + np.log(np) + (1|g)", frame)
    np.testing.assert_allclose(spec.X[:, 2], np.log(frame["np"]))


def test_a_column_named_log_beside_the_function(frame: pd.DataFrame) -> None:
    frame["log"] = 1.0 + frame["x"] ** 2
    spec = build_spec("y ~ log(log) + (1|g)", frame)
    np.testing.assert_allclose(spec.X[:, 1], np.log(frame["log"]))


@pytest.mark.parametrize("written", ["IQ.verb", "`IQ.verb`", "log(IQ.verb)"])
def test_dotted_columns(frame: pd.DataFrame, written: str) -> None:
    frame["IQ.verb"] = 1.0 + np.abs(frame["x"])
    spec = build_spec(f"y ~ {written} + (1|g)", frame)
    expected = frame["IQ.verb"] if "log" not in written else np.log(frame["IQ.verb"])
    np.testing.assert_allclose(spec.X[:, 1], expected)


def test_backticks_hold_spaces_and_symbols(frame: pd.DataFrame) -> None:
    frame["dose (mg)"] = frame["x"] + 10
    frame["my group"] = frame["g"]
    spec = build_spec("`y` ~ sqrt(`dose (mg)`) + (1|`my group`)", frame)
    assert spec.fixed_names == ("Intercept", "sqrt(`dose (mg)`)")
    assert spec.factors[0].name == "my group"


def test_pi_is_a_constant_unless_a_column(frame: pd.DataFrame) -> None:
    spec = build_spec("y ~ I(x * pi) + (1|g)", frame)
    np.testing.assert_allclose(spec.X[:, 1], frame["x"] * np.pi)
    frame["pi"] = 2.0
    spec = build_spec("y ~ I(x * pi) + (1|g)", frame)
    np.testing.assert_allclose(spec.X[:, 1], frame["x"] * 2.0)


def test_missing_columns_are_data_errors_with_close_matches(frame: pd.DataFrame) -> None:
    frame["IQ.verb"] = 1.0
    with pytest.raises(DataError, match=r"'IQ.verbal' is not in the data.*Did you mean 'IQ.verb'"):
        build_spec("y ~ IQ.verbal + (1|g)", frame)


def test_np_attribute_that_is_not_a_column_is_refused(frame: pd.DataFrame) -> None:
    with pytest.raises(FormulaError, match="attribute access is not allowed"):
        build_spec("y ~ np.random + (1|g)", frame)


def test_unsupported_column_dtype(frame: pd.DataFrame) -> None:
    frame["when"] = pd.Timestamp("2024-01-01")
    with pytest.raises(DataError, match="'when' has dtype datetime64"):
        build_spec("y ~ when + (1|g)", frame)
