"""glmer reference cases for the GLMM solver's tests, loaded and fitted once per run.

``tests/fixtures/glmer/<case>.json`` are glmer's fits (lme4 1.1-31, bobyqa,
default settings) from ``/work/shared/reference``; ``<case>.csv`` their data.
glmer's default settings stop a little short of the optimum (its logLik is
up to 3e-4 below the maximum on cbpp and contraception, so its fixed
effects move by up to 6e-4 and its standard errors by up to 1%). The
``<case>_exact.json`` fixtures hold the optimum of glmer's own deviance
function found to rhoend = 1e-12 (with glmer's Hessian there), and
``<case>_tight.json`` a glmer fit with tight tolerances (with ``ranef`` and
``condVar``): estimates are pinned to those, logLik to glmer's default fit
(ours must be at least as high).
"""

from __future__ import annotations

import ast
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayeshier.reml.glmm import GlmmFit, fit_glmm

FIXTURES = Path(__file__).parents[2] / "fixtures" / "glmer"
CASES = (
    "cbpp_binomial",
    "cbpp_agq",
    "grouseticks_poisson",
    "contraception_bernoulli",
    "seed_binary",
)
_FITS: dict[str, GlmmFit] = {}


def parsed(value: object) -> object:
    """Some fixture entries are stored as the text of a Python literal."""
    return ast.literal_eval(value) if isinstance(value, str) else value


def read_json(name: str) -> dict:
    """A fixture file, or an empty dict if there is none."""
    path = FIXTURES / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def case_data(case: str) -> pd.DataFrame:
    """The data of ``case``, with its factors as R had them (levels in R's order)."""
    reference = read_json(case)
    data = pd.read_csv(FIXTURES / f"{case.replace('cbpp_agq', 'cbpp_binomial')}.csv", dtype=str)
    levels = parsed(reference.get("factor_levels", {}))
    for column in data.columns:
        if column in levels:
            data[column] = pd.Categorical(data[column], categories=levels[column])
        else:
            data[column] = pd.to_numeric(data[column])
    return data


def fitted(case: str) -> GlmmFit:
    """The fit of a reference case with the formula as stored, computed once per run."""
    if case not in _FITS:
        reference = read_json(case)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _FITS[case] = fit_glmm(
                reference["formula"], case_data(case), reference["family"], nagq=reference["nAGQ"]
            )
    return _FITS[case]


def lme4_values(values: dict | list) -> np.ndarray:
    """Fixture values of the fixed effects (or SEs, thetas) in lme4's order, as ``fit.fixef``."""
    if isinstance(values, list):
        return np.asarray(values, dtype=float)
    return np.asarray(list(values.values()), dtype=float)


def by_level(values: dict) -> dict:
    """``{factor: {level: value}}`` of an intercept-only ``ranef`` / ``condVar`` entry."""
    result = {}
    for factor, entry in parsed(values).items():
        entry = parsed(entry)
        result[factor] = entry.get("(Intercept)", entry)
    return result


class GlmerCases:
    """The helpers above, handed to the tests by the :func:`glmer` fixture."""

    cases = CASES
    fixtures = FIXTURES
    read_json = staticmethod(read_json)
    case_data = staticmethod(case_data)
    fitted = staticmethod(fitted)
    lme4_values = staticmethod(lme4_values)
    by_level = staticmethod(by_level)
    parsed = staticmethod(parsed)


@pytest.fixture(scope="session")
def glmer() -> type[GlmerCases]:
    """The reference-case helpers."""
    return GlmerCases


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest) -> str:
    """Every reference case in turn."""
    return request.param
