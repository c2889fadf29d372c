"""The glmer reference cases (tests/fixtures/glmer) as data and models, built once per run."""

from __future__ import annotations

import pandas as pd
import pytest
from reference_cases import load_glmer_case

from bayeshier.bayes.glmm import GlmmModel


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
