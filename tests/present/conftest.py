"""Fixtures of the present/ tests: the mpg comparison with a synthetic posterior."""

from __future__ import annotations

import pytest
import xarray as xr
from reference_cases import fitted_case
from synthetic import synthetic_posterior

from bayeshier.present.comparison import Comparison, compare


@pytest.fixture(scope="module")
def mpg_tree() -> xr.DataTree:
    """A synthetic posterior of ``hwy ~ displ + year + (1|class)``, centered on the REML fit."""
    return synthetic_posterior(fitted_case("mpg_class"))


@pytest.fixture(scope="module")
def mpg_cmp(mpg_tree: xr.DataTree) -> Comparison:
    """The comparison of the mpg REML fit with ``mpg_tree``."""
    return compare(fitted_case("mpg_class"), mpg_tree)
