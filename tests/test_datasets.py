from __future__ import annotations

import json

import pandas as pd
import pytest
from reference_cases import CASE_DATA, FIXTURES, INTERCEPT_CASES, load_reference

from bayeshier import datasets, fit_glmm
from bayeshier.errors import DataError

EXPECTED = {
    "seed_model1",
    "seed_model1b",
    "seed_model2",
    "seed_model3",
    "mpg",
    "sleepstudy",
    "dyestuff",
    "dyestuff2",
    "penicillin",
    "pastes",
    "seed_binary",
    "cbpp",
    "grouseticks",
    "contraception",
}
#: The GLMM data sets and the glmer reference fit of each (tests/fixtures/glmer).
GLMM_DATA = {
    "seed_binary": "seed_binary",
    "cbpp": "cbpp_binomial",
    "grouseticks": "grouseticks_poisson",
    "contraception": "contraception_bernoulli",
}


def test_names_lists_every_bundled_data_set() -> None:
    assert set(datasets.names()) == EXPECTED


@pytest.mark.parametrize("case", [c for c in INTERCEPT_CASES if not c.endswith("_ml")])
def test_bundled_data_equal_the_reference_csv(case: str) -> None:
    name = CASE_DATA[case]
    csv = case if (FIXTURES / f"{case}.csv").exists() else case.rsplit("_", 1)[0]
    expected = pd.read_csv(FIXTURES / f"{csv}.csv")
    loaded = datasets.load(name)
    assert list(loaded.columns) == list(expected.columns)
    for column in expected.columns:
        assert loaded[column].astype(str).tolist() == expected[column].astype(str).tolist()


@pytest.mark.parametrize("case", sorted(CASE_DATA))
def test_factor_columns_follow_r_level_order(case: str) -> None:
    levels = load_reference(case).get("factor_levels") or {}
    loaded = datasets.load(CASE_DATA[case])
    for column, expected in levels.items():
        assert isinstance(loaded[column].dtype, pd.CategoricalDtype)
        assert list(loaded[column].cat.categories) == expected


def test_load_returns_a_fresh_copy() -> None:
    first = datasets.load("dyestuff")
    first.loc[0, "Yield"] = -1
    assert datasets.load("dyestuff").loc[0, "Yield"] != -1


def test_describe_gives_a_sentence() -> None:
    assert "sleep" in datasets.describe("sleepstudy").lower()


def test_unknown_name_suggests_close_names() -> None:
    with pytest.raises(DataError, match="Did you mean 'sleepstudy'"):
        datasets.load("sleepstudie")


@pytest.mark.parametrize("name", sorted(GLMM_DATA))
def test_glmm_example_reproduces_glmer(name: str) -> None:
    """The bundled example formula, fitted by fit_glmm, reaches glmer's logLik (or higher)."""
    reference = json.loads((FIXTURES.parent / "glmer" / f"{GLMM_DATA[name]}.json").read_text())
    assert datasets.example_formula(name) == reference["formula"]
    assert datasets.family(name) == reference["family"]
    data = datasets.load(name)
    for column, levels in (reference.get("factor_levels") or {}).items():
        assert list(data[column].cat.categories) == levels
    fit = fit_glmm(datasets.example_formula(name), data, datasets.family(name))
    assert fit.loglik >= reference["logLik"] - 1e-6 * abs(reference["logLik"])
    assert fit.nobs == reference["nobs"]


def test_gaussian_examples_say_gaussian() -> None:
    assert datasets.family("sleepstudy") == "gaussian"
