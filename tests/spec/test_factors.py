"""Grouping factors: expressions, interactions, several blocks on one factor."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeshier import datasets
from bayeshier.errors import FormulaError
from bayeshier.spec.model_spec import build_spec


@pytest.fixture
def sleep() -> pd.DataFrame:
    return datasets.load("sleepstudy")


def test_grouping_by_factor_of_a_numeric_column(sleep: pd.DataFrame) -> None:
    sleep["id"] = sleep["Subject"].astype(int)
    factor = build_spec("Reaction ~ Days + (1|factor(id))", sleep).factors[0]
    assert factor.name == "factor(id)"
    assert factor.levels == tuple(sorted(sleep["Subject"].astype(str).unique()))
    np.testing.assert_array_equal(factor.codes_for(sleep.iloc[[0, 10]]), [0, 1])
    np.testing.assert_array_equal(factor.encode(sleep.iloc[[0, 10]]), [0, 1])


def test_two_blocks_on_one_factor_keep_lme4_s_columns(sleep: pd.DataFrame) -> None:
    factor = build_spec("Reaction ~ Days + (1|Subject) + (Days|Subject)", sleep).factors[0]
    assert factor.terms == ("Intercept", "Intercept", "Days")
    assert factor.blocks == (1, 2)
    np.testing.assert_array_equal(factor.design[:, 2], sleep["Days"])


def test_uncorrelated_slopes_are_two_blocks(sleep: pd.DataFrame) -> None:
    factor = build_spec("Reaction ~ Days + (Days||Subject)", sleep).factors[0]
    assert factor.terms == ("Intercept", "Days") and factor.blocks == (1, 1)


def test_the_same_block_twice_is_refused(sleep: pd.DataFrame) -> None:
    with pytest.raises(FormulaError, match="'Subject' appears twice"):
        build_spec("Reaction ~ Days + (Days|Subject) + (Days|Subject)", sleep)


def test_transformed_slopes_and_factors_in_the_bar(sleep: pd.DataFrame) -> None:
    sleep["phase"] = np.where(sleep["Days"] > 4, "late", "early")
    spec = build_spec("Reaction ~ Days + (log1p(Days) + phase|Subject)", sleep)
    factor = spec.factors[0]
    assert factor.terms == ("Intercept", "log1p(Days)", "phase[T.late]")
    np.testing.assert_allclose(factor.design[:, 1], np.log1p(sleep["Days"]))
    np.testing.assert_allclose(factor.design_for(sleep.iloc[:3]), factor.design[:3])


def test_interaction_levels_follow_lme4(sleep: pd.DataFrame) -> None:
    sleep["half"] = np.where(sleep["Days"] > 4, "b", "a")
    factor = build_spec("Reaction ~ Days + (1|Subject:half)", sleep).factors[0]
    assert factor.levels[:3] == ("308:a", "308:b", "309:a")
    assert list(factor.labels_for(sleep.iloc[[0, 9]])) == ["308:a", "308:b"]
