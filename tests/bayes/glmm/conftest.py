"""The glmer reference cases (tests/fixtures/glmer) as data and models, built once per run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bayeshier.bayes.glmm import GlmmModel

FIXTURES = Path(__file__).parents[2] / "fixtures" / "glmer"


def load_glmer_case(name: str) -> tuple[dict, pd.DataFrame]:
    """glmer's record of a case and its data (factors in R's level order)."""
    reference = json.loads((FIXTURES / f"{name}.json").read_text())
    levels = reference["factor_levels"]
    data = pd.read_csv(FIXTURES / f"{name}.csv", dtype={k: str for k in levels})
    for column, categories in levels.items():
        data[column] = pd.Categorical(data[column], categories=categories)
    return reference, data


@pytest.fixture(scope="session")
def seed_case() -> tuple[dict, pd.DataFrame]:
    return load_glmer_case("seed_binary")


@pytest.fixture(scope="session")
def seed_model(seed_case) -> GlmmModel:
    reference, data = seed_case
    return GlmmModel(reference["formula"], data, reference["family"])


@pytest.fixture(scope="session")
def cbpp_case() -> tuple[dict, pd.DataFrame]:
    return load_glmer_case("cbpp_binomial")


@pytest.fixture(scope="session")
def cbpp_model(cbpp_case) -> GlmmModel:
    reference, data = cbpp_case
    return GlmmModel(reference["formula"], data, reference["family"])


@pytest.fixture(scope="session")
def grouse_case() -> tuple[dict, pd.DataFrame]:
    return load_glmer_case("grouseticks_poisson")


@pytest.fixture(scope="session")
def glmer_case():
    """:func:`load_glmer_case`, for tests that pick their case by name."""
    return load_glmer_case
