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


def _with_marker(frame: pd.DataFrame, column: str, markers: dict[int, str]) -> pd.DataFrame:
    """``column`` as text (as read_csv leaves it), with ``markers`` written in some rows."""
    text = frame[column].map(repr).astype(object)
    for row, marker in markers.items():
        text[row] = marker
    return frame.assign(**{column: text})


@pytest.mark.parametrize("column", ["x", "y"])
def test_a_missing_marker_among_numbers_is_refused_not_a_factor(
    frame: pd.DataFrame, column: str
) -> None:
    data = _with_marker(frame, column, {4: ".", 9: ".", 17: "n/a"})
    with pytest.raises(DataError) as caught:
        build_spec("y ~ x + (1|g)", data)
    message = str(caught.value)
    assert f"Column {column!r} looks numeric: 57 of its 60 non-missing values" in message
    assert "'.' (2 row(s)), 'n/a' (1 row(s))" in message
    assert "na_values=['.', 'n/a']" in message and "--na-values" in message
    assert f"factor({column})" in message


def test_more_markers_than_shown_are_counted(frame: pd.DataFrame) -> None:
    markers = {row: f"m{row}" for row in range(6)}
    with pytest.raises(DataError, match=r"'m4' \(1 row\(s\)\) and 1 more\."):
        build_spec("y ~ x + (1|g)", _with_marker(frame, "x", markers))


def test_marking_them_missing_drops_those_rows(frame: pd.DataFrame) -> None:
    data = _with_marker(frame, "x", {4: ".", 9: "."})
    data["x"] = pd.to_numeric(data["x"], errors="coerce")  # what the message suggests
    spec = build_spec("y ~ x + (1|g)", data)
    assert spec.n_dropped == 2 and spec.fixed_names == ("Intercept", "x")


def test_categorical_text_is_still_a_factor(frame: pd.DataFrame) -> None:
    frame["dose"] = np.tile(["1", "2", "5", "10", "high"], 12)
    spec = build_spec("y ~ dose + (1|g)", frame)  # 20% text: a factor, as written
    assert len(spec.fixed_names) == 5
    frame["code"] = np.tile(["007", "012", "101"], 20)  # all numbers: ID codes stay a factor
    assert build_spec("y ~ code + (1|g)", frame).fixed_names[1:] == ("code[T.012]", "code[T.101]")


@pytest.mark.parametrize("written", ["factor(x)", "C(x)"])
def test_factor_says_the_column_is_categorical(frame: pd.DataFrame, written: str) -> None:
    frame["x"] = np.tile(["1", "2", "3", "4", "5", "6", "7", "8", "9", "."], 6)
    spec = build_spec(f"y ~ {written} + (1|g)", frame)
    assert len(spec.fixed_names) == 10


def test_a_categorical_dtype_is_never_questioned(frame: pd.DataFrame) -> None:
    frame["x"] = pd.Categorical(np.tile(["1", "2", "3", "4", "5", "6", "7", "8", "9", "."], 6))
    assert len(build_spec("y ~ x + (1|g)", frame).fixed_names) == 10


@pytest.mark.parametrize(
    ("formula", "options"),
    [
        ("y ~ log(x) + (1|g)", {}),
        ("y ~ I(x^2) + (1|g)", {}),
        ("y ~ 1 + offset(x) + (1|g)", {}),
        ("y ~ 1 + (1|g)", {"weights": "x"}),
        ("y ~ 1 + (x|g)", {}),
    ],
)
def test_a_marker_in_arithmetic_is_listed_too(frame: pd.DataFrame, formula: str, options) -> None:
    frame["x"] = np.abs(frame["x"]) + 1.0
    data = _with_marker(frame, "x", {4: "."})
    with pytest.raises(DataError, match=r"Column 'x' looks numeric.*'\.' \(1 row\(s\)\)"):
        build_spec(formula, data, **options)
