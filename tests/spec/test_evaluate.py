from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeshier import datasets
from bayeshier.errors import DataError
from bayeshier.spec.evaluate import Evaluator
from bayeshier.spec.model_spec import build_spec
from bayeshier.spec.parser import parse_text


@pytest.fixture
def sleep() -> pd.DataFrame:
    return datasets.load("sleepstudy")


@pytest.mark.parametrize("power", ["I(Days^2)", "I(Days**2)", "I(Days ^ 2)"])
def test_caret_is_a_power_inside_i_not_xor(sleep: pd.DataFrame, power: str) -> None:
    spec = build_spec(f"Reaction ~ Days + {power} + (Days|Subject)", sleep)
    assert spec.fixed_names == ("Intercept", "Days", "I(Days^2)")
    np.testing.assert_array_equal(spec.X[:, 2], sleep["Days"].to_numpy() ** 2)


def test_power_on_a_float_column(sleep: pd.DataFrame) -> None:
    sleep["d"] = sleep["Days"] + 0.5
    spec = build_spec("Reaction ~ I(d^2) + I(d^0.5) + (1|Subject)", sleep)
    np.testing.assert_allclose(spec.X[:, 1:], np.column_stack([sleep["d"] ** 2, sleep["d"] ** 0.5]))


def test_arithmetic_is_numpy_arithmetic() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 4.0], "z": [2.0, 0.5, 1.0]})
    evaluator = Evaluator(frame, {}, learn=True)
    value = evaluator.numeric(parse_text("-(x + 1)^2/z * 3 - exp(log(z))"))
    x, z = frame["x"].to_numpy(), frame["z"].to_numpy()
    np.testing.assert_allclose(value, -((x + 1) ** 2) / z * 3 - z)


def test_boolean_columns_are_zero_one_in_arithmetic() -> None:
    frame = pd.DataFrame({"flag": [True, False, True]})
    value = Evaluator(frame, {}, learn=True).numeric(parse_text("I(flag + 1)"))
    np.testing.assert_array_equal(value, [2.0, 1.0, 2.0])


def test_text_in_arithmetic_is_a_data_error() -> None:
    frame = pd.DataFrame({"drv": ["f", "r", "4"]})
    with pytest.raises(DataError, match="'drv' is categorical"):
        Evaluator(frame, {}, learn=True).numeric(parse_text("log(drv)"))


def test_as_numeric_reads_numbers_held_as_text() -> None:
    frame = pd.DataFrame({"n": ["1", "2.5", None]})
    value = Evaluator(frame, {}, learn=True).numeric(parse_text("as.numeric(n)"))
    np.testing.assert_array_equal(value, [1.0, 2.5, np.nan])
    frame = pd.DataFrame({"n": ["1", "two"]})
    with pytest.raises(DataError, match="not numbers"):
        Evaluator(frame, {}, learn=True).numeric(parse_text("as.numeric(n)"))


def test_factor_levels_ref_and_declared_levels() -> None:
    frame = pd.DataFrame({"n": [3, 1, 2, 3, 5]})
    evaluator = Evaluator(frame, {}, learn=True)
    plain = evaluator.factor(parse_text("factor(n)")).restrict(None, "factor(n)")
    assert plain.levels.labels == ("1", "2", "3", "5")
    declared = evaluator.factor(parse_text("factor(n, levels = c(3, 2, 1))"))
    assert declared.levels.labels == ("3", "2", "1")
    np.testing.assert_array_equal(declared.codes, [0, 2, 1, 0, -1])  # 5 is outside: missing
    ref = evaluator.factor(parse_text('C(n, ref = "2")')).restrict(None, "C")
    assert ref.levels.labels == ("2", "1", "3", "5")
    np.testing.assert_array_equal(ref.codes, [2, 1, 0, 2, 3])


def test_unknown_reference_level_is_named() -> None:
    frame = pd.DataFrame({"a": ["x", "y"]})
    factor = Evaluator(frame, {}, learn=True).factor(parse_text('relevel(a, ref = "z")'))
    with pytest.raises(DataError, match=r"reference level 'z'.*x, y"):
        factor.restrict(None, "relevel(a)")


def test_levels_outside_declared_levels_drop_the_rows(sleep: pd.DataFrame) -> None:
    spec = build_spec(
        "Reaction ~ factor(Days, levels = c(0, 1, 2)) + (1|Subject)", sleep[sleep.Days < 4]
    )
    assert spec.n_dropped == 18 and spec.nobs == 54
    assert spec.fixed_names[1:] == (
        "factor(Days, levels = c(0, 1, 2))[T.1]",
        "factor(Days, levels = c(0, 1, 2))[T.2]",
    )


def test_encoding_new_values_marks_unseen_levels() -> None:
    train = pd.DataFrame({"a": ["p", "q", "r"]})
    state: dict = {}
    learned = Evaluator(train, state, learn=True).factor(parse_text("a")).restrict(None, "a")
    state["a"] = learned.levels
    new = pd.DataFrame({"a": ["r", "s", None, "p"]})
    encoded = Evaluator(new, state, learn=False).factor(parse_text("a"))
    np.testing.assert_array_equal(encoded.codes, [2, -2, -1, 0])
    assert encoded.unseen_in(encoded.codes) == ["s"]
