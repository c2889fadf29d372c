"""The glmer reference cases (tests/fixtures/glmer) as data and models, built once per run."""

from __future__ import annotations

import numpy as np
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


def unbalanced_counts(groups: int = 150, seed: int = 5) -> pd.DataFrame:
    """Poisson counts in ``groups`` groups of 2 to 150 rows (Pareto sizes), ``y ~ x + (1|g)``.

    Each group also has a group-level predictor ``z`` (constant within it).
    """
    rng = np.random.default_rng(seed)
    sizes = np.maximum(2, (rng.pareto(1.2, groups) * 6).astype(int)).clip(2, 150)
    g = np.repeat(np.arange(groups), sizes)
    x = rng.normal(size=g.size)
    z = rng.normal(size=groups)
    eta = -0.3 + 0.6 * x + 0.3 * z[g] + rng.normal(0.0, 0.7, groups)[g]
    return pd.DataFrame({"y": rng.poisson(np.exp(eta)), "x": x, "z": z[g], "g": g.astype(str)})


@pytest.fixture(scope="session")
def counts_model() -> GlmmModel:
    """150 unbalanced Poisson groups: a centered factor of many levels, not nested."""
    return GlmmModel("y ~ x + z + (1|g)", unbalanced_counts(), "poisson")
