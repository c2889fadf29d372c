"""The frozen spec rebuilds its columns for new rows with what it learned."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeshier import datasets
from bayeshier.errors import DataError, ModelError
from bayeshier.spec.model_spec import build_spec


@pytest.fixture
def mpg() -> pd.DataFrame:
    data = datasets.load("mpg")
    data["drv"] = np.where(data["displ"] > 4, "r", np.where(data["displ"] > 2.5, "4", "f"))
    data["z"], data["u"], data["v"] = np.random.default_rng(2).normal(size=(3, len(data)))
    return data


STATEFUL = (
    "hwy ~ scale(displ) + poly(z, 2) + factor(year) + drv + center(u):drv + "
    "scale(v, center = FALSE) + (1|class)"
)


def test_new_rows_get_the_fitted_columns(mpg: pd.DataFrame) -> None:
    spec = build_spec(STATEFUL, mpg)
    assert not spec.aliased and spec.n_fixed == 11
    rows = [0, 57, 200, 233]
    np.testing.assert_allclose(spec.fixed_design(mpg.iloc[rows]), spec.X[rows], rtol=1e-12)


def test_transforms_keep_the_fitted_state_on_other_data(mpg: pd.DataFrame) -> None:
    spec = build_spec("hwy ~ scale(displ) + center(year) + (1|class)", mpg)
    new = pd.DataFrame({"displ": [10.0], "year": [2020]})
    scaled, centred = spec.fixed_design(new)[0, 1:]
    assert scaled == pytest.approx((10.0 - mpg["displ"].mean()) / mpg["displ"].std())
    assert centred == pytest.approx(2020 - mpg["year"].mean())


def test_unseen_level_in_new_data_names_the_column_and_level(mpg: pd.DataFrame) -> None:
    spec = build_spec("hwy ~ displ + drv + (1|class)", mpg)
    new = pd.DataFrame({"displ": [2.0, 3.0], "drv": ["f", "awd"]})
    with pytest.raises(DataError, match=r"level\(s\) 'awd' of 'drv'.*not fitted on"):
        spec.fixed_design(new)


def test_missing_values_in_new_data_give_rows_of_nan(mpg: pd.DataFrame) -> None:
    spec = build_spec("hwy ~ displ + drv + (displ|class)", mpg)
    new = pd.DataFrame({"displ": [2.0, np.nan, 3.0], "drv": ["f", "r", None], "class": "suv"})
    design = spec.fixed_design(new)
    assert np.isfinite(design[0]).all() and np.isnan(design[1:]).all()
    slopes = spec.factor("class").design_for(new)
    assert np.isnan(slopes[1]).all() and np.isfinite(slopes[2]).all()


def test_offsets_for_new_rows(mpg: pd.DataFrame) -> None:
    spec = build_spec("hwy ~ displ + offset(2 * displ) + (1|class)", mpg, offset="year")
    new = pd.DataFrame({"displ": [1.0, 2.0], "year": [1999, 2008]})
    np.testing.assert_allclose(spec.offset_for(new), [2001.0, 2012.0])
    assert build_spec("hwy ~ displ + (1|class)", mpg).offset_for(new) is None
    from_values = build_spec("hwy ~ displ + (1|class)", mpg, offset=np.zeros(len(mpg)))
    with pytest.raises(DataError, match="offset= was given as values"):
        from_values.offset_for(new)
    np.testing.assert_allclose(from_values.offset_for(new, [0.5, 1.5]), [0.5, 1.5])  # given
    with pytest.raises(DataError, match="offset has 3 values for 2 new rows"):
        spec.offset_for(new, np.zeros(3))


def test_a_numeric_response_passes_with_weights_and_offset(mpg: pd.DataFrame) -> None:
    spec = build_spec("hwy ~ displ + offset(displ) + (1|class)", mpg, weights="year")
    spec.require_numeric_response("Model")


def test_binomial_responses_need_the_binomial_family() -> None:
    data = pd.DataFrame(
        {"s": [1, 2, 0, 3, 1, 2], "f": [3, 2, 4, 1, 2, 2], "g": list("aabbcc"), "x": range(6)}
    )
    with pytest.raises(ModelError, match="family='binomial'"):
        build_spec("cbind(s, f) ~ x + (1|g)", data)
    spec = build_spec("cbind(s, f) ~ x + (1|g)", data, family="binomial")
    assert spec.response_kind == "counts"
    np.testing.assert_array_equal(spec.y, data["s"])
    np.testing.assert_array_equal(spec.trials, data["s"] + data["f"])
    with pytest.raises(ModelError, match="binomial response"):
        spec.require_numeric_response("bayeshier.Model")


def test_a_factor_response_is_binomial_with_the_first_level_as_failure() -> None:
    data = pd.DataFrame({"use": list("NYYNYN"), "g": list("aabbcc"), "x": range(6)})
    with pytest.raises(DataError, match="response 'use' is not numeric"):
        build_spec("use ~ x + (1|g)", data)
    spec = build_spec("use ~ x + (1|g)", data, family="binomial")
    assert spec.response_kind == "factor"
    np.testing.assert_array_equal(spec.y, [0, 1, 1, 0, 1, 0])
    np.testing.assert_array_equal(spec.with_rows(data.iloc[:3]).y, [0, 1, 1])
