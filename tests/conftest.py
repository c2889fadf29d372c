"""Shared fixtures: the lme4 reference cases as parameters (see ``reference_cases``)."""

from __future__ import annotations

import pytest
from reference_cases import ALL_CASES, INTERCEPT_CASES


@pytest.fixture(params=INTERCEPT_CASES)
def case(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=ALL_CASES)
def any_case(request: pytest.FixtureRequest) -> str:
    """Every lme4 reference case, random slopes included."""
    return request.param
