"""GLMM likelihood profiles and profile intervals, against lme4's ``profile`` / ``confint``.

``fixtures/glmer/<case>_profile.json`` (``make_profile.R``): glmer fits with
tight tolerances, then ``profile(fit)`` and ``confint(profile)`` with lme4's
defaults; ``contraception_slopes`` has a correlated random slope
``(urban|district)``, whose correlation profile neither lme4 (``non-monotonic
profile``) nor bayeshier (``bad spline fit``) can invert by a spline.
lme4's profile minimizes the deviance at each held value with
bobyqa's default tolerance, so its profiled deviances sit up to 0.015 above
the minimum (grouseticks); bayeshier's must never be above them, and its
intervals must agree to a small fraction of their width.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from bayeshier.reml.glmm import GlmmFit, fit_glmm
from bayeshier.reml.glmm.profile_criterion import GlmmCriterion

PROFILED = {
    "cbpp": "cbpp_binomial",
    "cbpp_agq": "cbpp_binomial",
    "seed_binary": "seed_binary",
    "grouseticks": "grouseticks_poisson",
    "contraception_slopes": "contraception_bernoulli",
}
#: Largest interval end difference, as a fraction of lme4's interval width (measured: 2e-4).
WIDTH_TOLERANCE = 1e-3
#: lme4's profiled deviances are at most this far above the true minimum (measured: 0.0144).
LME4_SLACK = 0.03
_FITS: dict[str, tuple[GlmmFit, dict]] = {}


def profiled_case(glmer, case: str) -> tuple[GlmmFit, dict]:
    """The fit of a profiled case and lme4's profile record, fitted once per run."""
    if case not in _FITS:
        reference = json.loads((glmer.fixtures / f"{case}_profile.json").read_text())
        data_case = "cbpp_agq" if case == "cbpp_agq" else PROFILED[case]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fit = fit_glmm(
                reference["formula"],
                glmer.case_data(data_case),
                reference["family"],
                nagq=reference["nAGQ"],
            )
        _FITS[case] = (fit, reference)
    return _FITS[case]


def lme4_profile(reference: dict) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """lme4's profile table: held parameter and zeta per row, parameter names and values."""
    table = reference["profile"]
    names = [k for k in table["values"] if k != ".focal"]
    values = np.array([table["values"][k] for k in names], dtype=float).T
    return table["parameter"], np.asarray(table["zeta"], dtype=float), names, values


@pytest.mark.parametrize("case", list(PROFILED))
def test_profile_intervals_match_lme4(glmer, case: str) -> None:
    fit, reference = profiled_case(glmer, case)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        profile = fit.profile()
        intervals = {level: profile.confint(level) for level in (0.95, 0.9)}
    messages = [str(w.message) for w in caught]
    if case == "contraception_slopes":
        assert (
            messages
            == [
                "bad spline fit for 'cor_urban[T.Y].(Intercept)|district': falling back to linear "
                "interpolation"
            ]
            * 2
        )  # once per level
    else:
        assert messages == []
    for level, suffix in ((0.95, ""), (0.9, "90")):
        ours = intervals[level]
        lower = np.asarray(reference[f"lower{suffix}"], dtype=float)
        upper = np.asarray(reference[f"upper{suffix}"], dtype=float)
        width = upper - lower
        assert len(ours) == len(reference["rows"])
        assert np.max(np.abs(ours["lower"] - lower) / width) < WIDTH_TOLERANCE
        assert np.max(np.abs(ours["upper"] - upper) / width) < WIDTH_TOLERANCE


@pytest.mark.parametrize("case", list(PROFILED))
def test_profiled_deviance_is_at_most_lme4s(glmer, case: str) -> None:
    """At every value lme4 held a parameter, bayeshier's minimum over the rest is <= lme4's."""
    fit, reference = profiled_case(glmer, case)
    criterion = GlmmCriterion.from_fit(fit)
    assert criterion.deviance == pytest.approx(reference["deviance"], abs=1e-4)
    held, zeta, names, values = lme4_profile(reference)
    assert len(names) == len(criterion.names)
    every = 3 if len(zeta) > 60 else 1  # a third of the long profiles' points keeps it quick
    rows = zip(held[::every], zeta[::every], values[::every], strict=True)
    for parameter, lme4_zeta, row in rows:
        w = names.index(parameter)
        ours = criterion.point(w, row[w], row)
        ours_deviance = criterion.deviance + ours[0] ** 2
        lme4_deviance = reference["deviance"] + lme4_zeta**2
        assert ours_deviance <= lme4_deviance + 1e-5
        assert ours_deviance >= lme4_deviance - LME4_SLACK
        assert np.sign(ours[0]) == np.sign(lme4_zeta) or lme4_zeta == 0
        assert ours[1 + w] == row[w]


def test_profile_table_names_and_start(glmer) -> None:
    fit, _ = profiled_case(glmer, "seed_binary")
    profile = fit.profile("theta_")
    assert profile.parameters == ["sd_(Intercept)|g"]
    assert list(profile.table.columns) == ["parameter", "zeta", "sd_(Intercept)|g", "Intercept"]
    at_estimate = profile.table[profile.table["zeta"] == 0.0]
    assert at_estimate["sd_(Intercept)|g"].tolist() == pytest.approx([fit.theta[0]])
    assert profile.lower.to_dict() == {"sd_(Intercept)|g": 0.0}
    assert np.all(np.diff(profile.table["zeta"].to_numpy()) > 0)


def test_confint_defaults_to_profile_as_lme4(glmer) -> None:
    fit, reference = profiled_case(glmer, "seed_binary")
    table = fit.confint()
    assert table.attrs["method"] == "profile"
    assert table.loc["sd_(Intercept)|g"].notna().all()
    lower = pd.Series(np.asarray(reference["lower"], dtype=float), index=table.index)
    assert np.allclose(table["lower"], lower, atol=1e-3)
    wald = fit.confint(method="wald")
    assert wald.loc["sd_(Intercept)|g"].isna().all()
