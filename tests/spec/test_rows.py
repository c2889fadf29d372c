"""Complete rows (lme4's na.omit), unused levels, what is learned and from which rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeshier import datasets
from bayeshier.errors import DataError
from bayeshier.spec.formula import parse_formula
from bayeshier.spec.model_spec import build_spec
from bayeshier.spec.recipe import Recipe
from bayeshier.spec.rows import complete_rows, encode_rows, learn_rows


@pytest.fixture
def mpg() -> pd.DataFrame:
    return datasets.load("mpg")


def test_no_complete_row_names_the_gaps(mpg: pd.DataFrame) -> None:
    mpg["w"] = np.nan
    mpg.loc[::2, "displ"] = np.nan
    with pytest.raises(DataError, match=r"each of the 234 rows .*'displ': 117 missing, 'w': 234"):
        build_spec("hwy ~ displ + w + (1|class)", mpg)
    with pytest.raises(DataError, match="an expression of the formula is NaN on every row"):
        build_spec("hwy ~ log(-displ) + (1|class)", mpg.assign(displ=1.0))


def test_rows_missing_any_variable_are_dropped(mpg: pd.DataFrame) -> None:
    mpg["w"] = 1.0 + mpg["year"] % 3
    mpg.loc[1, "w"] = np.nan
    mpg.loc[2, "displ"] = np.nan
    mpg.loc[4, "class"] = np.nan
    spec = build_spec("hwy ~ log(displ) + offset(log(w)) + (1|class)", mpg)
    assert spec.n_dropped == 3
    assert not {1, 2, 4} & set(spec.row_index)


def test_nan_made_by_a_transform_drops_the_row_as_r_does(mpg: pd.DataFrame) -> None:
    mpg["z"] = mpg["displ"] - 2.05
    spec = build_spec("hwy ~ log(z) + sqrt(z) + (1|class)", mpg)
    assert spec.n_dropped == int((mpg["z"] <= 0).sum())
    mask = complete_rows(Recipe(parse_formula("hwy ~ log(z) + (1|class)")), mpg)
    np.testing.assert_array_equal(mask, mpg["z"] > 0)


def test_an_infinite_transform_is_an_error_naming_the_term(mpg: pd.DataFrame) -> None:
    mpg["z"] = mpg["displ"] - mpg["displ"].min()
    with pytest.raises(DataError, match=r"'log\(z\)' has 5 infinite value"):
        build_spec("hwy ~ log(z) + (1|class)", mpg)


def test_unused_levels_are_dropped(mpg: pd.DataFrame) -> None:
    mpg["size"] = pd.Categorical(
        np.where(mpg["displ"] > 3, "big", "small"), categories=["tiny", "small", "big"]
    )
    spec = build_spec("hwy ~ size + (1|class)", mpg)
    assert spec.fixed_names == ("Intercept", "size[T.big]")
    mpg.loc[mpg["size"] == "big", "hwy"] = np.nan  # big only in dropped rows: not a level
    assert build_spec("hwy ~ size + (1|class)", mpg).fixed_names == ("Intercept",)


def test_stateful_transforms_learn_from_every_row_with_their_argument(mpg: pd.DataFrame) -> None:
    """R's model.frame evaluates scale(x) before na.omit drops rows missing another variable."""
    mpg.loc[:9, "hwy"] = np.nan
    spec = build_spec("hwy ~ scale(displ) + (1|class)", mpg)
    expected = (mpg["displ"] - mpg["displ"].mean()) / mpg["displ"].std()
    np.testing.assert_allclose(spec.X[:, 1], expected[10:])


def test_chunks_are_encoded_with_the_learned_recipe(mpg: pd.DataFrame) -> None:
    mpg["drv"] = np.where(mpg["displ"] > 4, "r", "f")
    recipe = Recipe(parse_formula("hwy ~ scale(displ) * drv + (displ|class)"))
    learned = learn_rows(recipe, mpg)
    chunk = encode_rows(
        learned.recipe, learned.factors, mpg.iloc[100:150], learned.recipe.fixed.names
    )
    np.testing.assert_allclose(chunk.X, learned.X[100:150])
    np.testing.assert_array_equal(chunk.factors[0].codes, learned.factors[0].codes[100:150])
    np.testing.assert_allclose(chunk.factors[0].design, learned.factors[0].design[100:150])


def test_a_chunk_with_a_level_the_spec_never_saw(mpg: pd.DataFrame) -> None:
    mpg["drv"] = np.where(mpg["displ"] > 4, "r", "f")
    spec = build_spec("hwy ~ drv + (1|class)", mpg)
    chunk = mpg.iloc[:5].assign(drv="awd")
    with pytest.raises(DataError, match="'awd' of 'drv'"):
        spec.with_rows(chunk)
    chunk = mpg.iloc[:5].assign(**{"class": "spaceship"})
    with pytest.raises(DataError, match="level 'spaceship' of 'class'"):
        spec.with_rows(chunk)


def test_a_response_that_is_an_expression(mpg: pd.DataFrame) -> None:
    spec = build_spec("log(hwy) ~ displ + (1|class)", mpg)
    np.testing.assert_allclose(spec.y, np.log(mpg["hwy"]))
    assert spec.response == "log(hwy)"
