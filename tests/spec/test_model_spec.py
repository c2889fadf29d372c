from __future__ import annotations

import functools
import operator

import numpy as np
import pandas as pd
import pytest

from bayeshier import datasets
from bayeshier.errors import DataError, FormulaError, ModelError, RankDeficiencyWarning
from bayeshier.spec.model_spec import build_spec


@pytest.fixture
def mpg() -> pd.DataFrame:
    return datasets.load("mpg")


def test_design_columns_and_response(mpg: pd.DataFrame) -> None:
    spec = build_spec("hwy ~ displ + year + (1|class)", mpg)
    assert spec.fixed_names == ("Intercept", "displ", "year")
    np.testing.assert_array_equal(spec.X[:, 1], mpg["displ"].to_numpy())
    np.testing.assert_array_equal(spec.y, mpg["hwy"].to_numpy(dtype=float))
    assert spec.nobs == 234 and spec.n_dropped == 0


def test_grouping_factor_levels_codes_and_counts(mpg: pd.DataFrame) -> None:
    factor = build_spec("hwy ~ displ + (1|class)", mpg).factor("class")
    assert factor.levels == tuple(mpg["class"].cat.categories)
    assert list(factor.counts()) == mpg["class"].value_counts(sort=False).tolist()
    assert [factor.levels[c] for c in factor.codes[:3]] == mpg["class"].astype(str)[:3].tolist()


def test_categorical_predictor_uses_first_category_as_reference(mpg: pd.DataFrame) -> None:
    mpg["drv"] = pd.Categorical(np.where(mpg["displ"] > 3, "big", "small"), ["small", "big"])
    spec = build_spec("hwy ~ drv + (1|class)", mpg)
    assert spec.fixed_names == ("Intercept", "drv[T.big]")


def test_factors_ordered_by_number_of_levels_like_lme4() -> None:
    spec = build_spec("diameter ~ 1 + (1|sample) + (1|plate)", datasets.load("penicillin"))
    assert [f.name for f in spec.factors] == ["plate", "sample"]


def test_nested_factor_labels_follow_lme4() -> None:
    spec = build_spec("strength ~ 1 + (1|batch/cask)", datasets.load("pastes"))
    nested = spec.factor("cask:batch")
    assert nested.n_levels == 30
    assert nested.levels[:3] == ("a:A", "a:B", "a:C")
    assert nested.levels[-1] == "c:J"


def test_string_and_numeric_grouping_columns() -> None:
    data = pd.DataFrame({"y": np.arange(8.0), "g": [3, 1, 2, 3, 1, 2, 10, 10]})
    factor = build_spec("y ~ (1|g)", data).factor("g")
    assert factor.levels == ("1", "2", "3", "10")
    data["g"] = data["g"].astype(str)
    assert build_spec("y ~ (1|g)", data).factor("g").levels == ("1", "10", "2", "3")


def test_unused_categories_are_dropped_from_the_levels() -> None:
    data = pd.DataFrame(
        {"y": np.arange(6.0), "g": pd.Categorical(list("aabbaa"), categories=list("abc"))}
    )
    assert build_spec("y ~ (1|g)", data).factor("g").levels == ("a", "b")


def test_missing_values_are_dropped_and_counted(mpg: pd.DataFrame) -> None:
    mpg.loc[[3, 10], "displ"] = np.nan
    mpg.loc[20, "class"] = np.nan
    mpg.loc[30, "hwy"] = np.nan
    mpg["unused"] = np.nan
    spec = build_spec("hwy ~ displ + (1|class)", mpg)
    assert spec.n_dropped == 4
    assert spec.nobs == 230
    assert not {3, 10, 20, 30} & set(spec.row_index)


def test_rows_whose_transform_is_nan_are_dropped_too(mpg: pd.DataFrame) -> None:
    mpg["z"] = mpg["displ"] - 2.05
    with np.errstate(invalid="ignore"):
        spec = build_spec("hwy ~ np.log(z) + (1|class)", mpg)
    assert spec.n_dropped == int((mpg["z"] <= 0).sum())
    assert len(spec.row_index) == spec.nobs


def test_aliased_columns_are_dropped_with_a_warning(mpg: pd.DataFrame) -> None:
    mpg["displ2"] = 2 * mpg["displ"]
    with pytest.warns(RankDeficiencyWarning, match="'displ2'"):
        spec = build_spec("hwy ~ displ + displ2 + year + (1|class)", mpg)
    assert spec.fixed_names == ("Intercept", "displ", "year")
    assert spec.aliased == ("displ2",)


def test_fixed_design_rebuilds_for_new_data(mpg: pd.DataFrame) -> None:
    mpg["size"] = pd.Categorical(np.where(mpg["displ"] > 3, "big", "small"), ["small", "big"])
    spec = build_spec("hwy ~ displ * size + (1|class)", mpg)
    new = mpg.iloc[[0, 200]]
    np.testing.assert_allclose(spec.fixed_design(new), spec.X[[0, 200]])


def test_codes_for_new_data_mark_unseen_levels(mpg: pd.DataFrame) -> None:
    factor = build_spec("hwy ~ displ + (1|class)", mpg).factor("class")
    new = pd.DataFrame({"class": ["suv", "spaceship", "compact"]})
    np.testing.assert_array_equal(factor.codes_for(new), [6, -1, 1])


def test_missing_column_lists_close_matches(mpg: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"'dspl'.*Did you mean 'displ'"):
        build_spec("hwy ~ dspl + (1|class)", mpg)
    with pytest.raises(DataError, match=r"'klass'.*'class'"):
        build_spec("hwy ~ displ + (1|klass)", mpg)


def test_non_numeric_response_is_rejected(mpg: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"response 'class' is not numeric"):
        build_spec("class ~ displ + (1|year)", mpg)


def test_single_level_grouping_factor_is_rejected(mpg: pd.DataFrame) -> None:
    mpg["one"] = "x"
    with pytest.raises(DataError, match=r"'one'.*1 level"):
        build_spec("hwy ~ displ + (1|one)", mpg)


def test_infinite_values_are_rejected_with_the_column(mpg: pd.DataFrame) -> None:
    mpg.loc[5, "displ"] = np.inf
    with pytest.raises(DataError, match=r"'displ' has 1 infinite value"):
        build_spec("hwy ~ displ + (1|class)", mpg)


def test_no_residual_degrees_of_freedom() -> None:
    small = pd.DataFrame({"y": [1.0, 2, 3], "x1": [1.0, 2, 4], "x2": [1.0, 5, 2], "g": list("aba")})
    with pytest.raises(ModelError, match="no residual degrees of freedom"):
        build_spec("y ~ x1 + x2 + (1|g)", small)


def test_grouping_factor_with_one_row_per_level(mpg: pd.DataFrame) -> None:
    mpg["row"] = np.arange(len(mpg)).astype(str)
    with pytest.raises(ModelError, match="'row' has 234 levels for 234 rows"):
        build_spec("hwy ~ displ + (1|row)", mpg)


def test_same_factor_twice_is_rejected(mpg: pd.DataFrame) -> None:
    with pytest.raises(FormulaError, match="'class' appears twice"):
        build_spec("hwy ~ displ + (1|class) + (1|class)", mpg)


def test_data_must_be_a_frame_and_the_error_says_what_to_pass() -> None:
    with pytest.raises(DataError, match=r"pandas DataFrame, a dict of columns.*not builtins\.list"):
        build_spec("y ~ (1|g)", [[1.0, "a"], [2.0, "b"]])


def test_a_dict_of_columns_is_data(mpg: pd.DataFrame) -> None:
    columns = {name: mpg[name].tolist() for name in ("hwy", "displ", "class")}
    spec = build_spec("hwy ~ displ + (1|class)", columns)
    expected = build_spec("hwy ~ displ + (1|class)", mpg)
    np.testing.assert_array_equal(spec.X, expected.X)
    np.testing.assert_array_equal(spec.y, expected.y)
    assert spec.factor("class").levels == expected.factor("class").levels


def test_columns_inside_stateful_transforms_are_used(mpg: pd.DataFrame) -> None:
    mpg.loc[3, "displ"] = np.nan
    spec = build_spec("hwy ~ center(displ) + (1|class)", mpg)
    assert spec.n_dropped == 1
    assert spec.fixed_names == ("Intercept", "center(displ)")
    np.testing.assert_allclose(spec.X[:, 1].mean(), 0.0, atol=1e-12)


def test_text_held_as_the_string_dtype_is_categorical(mpg: pd.DataFrame) -> None:
    mpg["size"] = np.where(mpg["displ"] > 3, "big", "small")
    expected = build_spec("hwy ~ size + (1|class)", mpg)
    mpg["size"] = mpg["size"].astype("string")  # Dask's and Parquet's text dtype (pd.NA)
    spec = build_spec("hwy ~ size + (1|class)", mpg)
    assert spec.fixed_names == expected.fixed_names == ("Intercept", "size[T.small]")
    np.testing.assert_array_equal(spec.X, expected.X)


def test_chunks_encode_and_add_up_like_the_whole(mpg: pd.DataFrame) -> None:
    from bayeshier.reml.crossprod import row_sums
    from bayeshier.spec.model_spec import fixed_sums

    mpg.loc[[5, 150], "displ"] = np.nan
    mpg["era"] = np.where(mpg["year"] > 2000, "late", "early")
    spec = build_spec("hwy ~ displ + year + (displ|class) + (1|era)", mpg)
    chunks = [spec.with_rows(mpg.iloc[i : i + 80]) for i in range(0, len(mpg), 80)]
    np.testing.assert_array_equal(np.concatenate([c.y for c in chunks]), spec.y)
    np.testing.assert_array_equal(np.vstack([c.X for c in chunks]), spec.X)
    for k, factor in enumerate(spec.factors):
        codes = np.concatenate([c.factors[k].codes for c in chunks])
        np.testing.assert_array_equal(codes, factor.codes)
        np.testing.assert_array_equal(
            np.vstack([c.factors[k].columns() for c in chunks]), factor.columns()
        )
    assert sum(c.n_dropped for c in chunks) == spec.n_dropped == 2
    added = functools.reduce(operator.add, [fixed_sums(c) for c in chunks])
    np.testing.assert_allclose(np.abs(added.r), np.abs(fixed_sums(spec).r), rtol=1e-12, atol=1e-9)
    coef = np.linalg.lstsq(spec.X, spec.y, rcond=None)[0]
    total = functools.reduce(operator.add, [row_sums(c, coef) for c in chunks])
    expected = row_sums(spec, coef)
    np.testing.assert_allclose(total.first_sums, expected.first_sums, rtol=1e-12, atol=1e-8)
    np.testing.assert_allclose(total.rest_gram.toarray(), expected.rest_gram.toarray())
    assert total.residual_ss == pytest.approx(expected.residual_ss, rel=1e-12)
