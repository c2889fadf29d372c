"""Shared fixtures: lme4 reference fits and fitted models cached for the whole run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bayeshier import datasets, fit_reml
from bayeshier.reml import RemlFit

FIXTURES = Path(__file__).parent / "fixtures" / "lme4"

#: lme4 reference case -> bundled data set it was fitted on.
CASE_DATA = {
    "dyestuff": "dyestuff",
    "dyestuff_ml": "dyestuff",
    "dyestuff2_singular": "dyestuff2",
    "mpg_class": "mpg",
    "mpg_class_ml": "mpg",
    "pastes_nested": "pastes",
    "pastes_nested_ml": "pastes",
    "penicillin_crossed": "penicillin",
    "penicillin_crossed_ml": "penicillin",
    "seed_model1": "seed_model1",
    "seed_model1b": "seed_model1b",
    "seed_model2": "seed_model2",
    "seed_model3": "seed_model3",
    "sleepstudy_intercept": "sleepstudy",
}
INTERCEPT_CASES = sorted(CASE_DATA)


def load_reference(case: str) -> dict:
    """The lme4 1.1-31 results of ``case``, with lme4's names mapped to bayeshier's."""
    reference = json.loads((FIXTURES / f"{case}.json").read_text())
    for key in ("fixef", "se"):
        reference[key] = {_name(k): v for k, v in reference[key].items()}
    return reference


def _name(lme4_name: str) -> str:
    return "Intercept" if lme4_name == "(Intercept)" else lme4_name


_FITS: dict[str, RemlFit] = {}


def fitted_case(case: str) -> RemlFit:
    """The bayeshier fit of an lme4 reference case, computed once per test run."""
    if case not in _FITS:
        reference = load_reference(case)
        data = datasets.load(CASE_DATA[case])
        _FITS[case] = fit_reml(reference["formula"], data, reml=reference["REML"])
    return _FITS[case]


@pytest.fixture(params=INTERCEPT_CASES)
def case(request: pytest.FixtureRequest) -> str:
    return request.param
