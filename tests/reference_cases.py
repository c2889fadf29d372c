"""The lme4 reference cases shared by the tests, and their fits, computed once per run.

Imported by test modules as ``from reference_cases import ...`` (``tests/`` is on
pytest's ``pythonpath``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from bayeshier import datasets, fit_reml
from bayeshier.reml import RemlFit

TESTS = Path(__file__).parent
FIXTURES = TESTS / "fixtures" / "lme4"
GLMER_FIXTURES = TESTS / "fixtures" / "glmer"

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
#: Reference cases with random slopes, fitted on the same bundled data sets.
SLOPE_CASE_DATA = {
    "sleepstudy_slopes": "sleepstudy",
    "sleepstudy_slopes_ml": "sleepstudy",
    "sleepstudy_uncorrelated": "sleepstudy",
}
CASE_DATA.update(SLOPE_CASE_DATA)
SLOPE_CASES = sorted(SLOPE_CASE_DATA)
ALL_CASES = sorted(CASE_DATA)


def load_glmer_case(name: str) -> tuple[dict, pd.DataFrame]:
    """glmer's record of a case in ``fixtures/glmer`` and its data (factors in R's level order)."""
    reference = json.loads((GLMER_FIXTURES / f"{name}.json").read_text())
    levels = reference["factor_levels"]
    data = pd.read_csv(GLMER_FIXTURES / f"{name}.csv", dtype={k: str for k in levels})
    for column, categories in levels.items():
        data[column] = pd.Categorical(data[column], categories=categories)
    return reference, data


def load_reference(case: str) -> dict:
    """The lme4 1.1-31 results of ``case``, with lme4's names mapped to bayeshier's."""
    reference = json.loads((FIXTURES / f"{case}.json").read_text())
    for key in ("fixef", "se"):
        reference[key] = {_name(k): v for k, v in reference[key].items()}
    reference["ranef"] = {factor: _by_term(values) for factor, values in reference["ranef"].items()}
    if reference["condVar"]:
        reference["condVar"] = {
            factor: _by_term(values) for factor, values in reference["condVar"].items()
        }
    return reference


def _by_term(values: dict) -> dict:
    """``{term: {level: value}}``; intercept-only fixtures store ``{level: value}``."""
    if all(isinstance(v, dict) for v in values.values()):
        return {_name(term): levels for term, levels in values.items()}
    return {"Intercept": values}


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


def factor_at(cp, spec, theta):
    """The blocked factor of ``cp`` at ``theta`` in lme4's layout."""
    from bayeshier.reml.covariance import theta_layout
    from bayeshier.reml.factor import factorize

    return factorize(cp, theta_layout(spec.factors).relative_factors(np.asarray(theta, float)))
