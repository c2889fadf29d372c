"""bayeshier.present.plots.ols_gls: pooled OLS, within-group and REML lines (ols_vs_within)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reference_cases import FIXTURES, fitted_case, load_reference

from bayeshier import fit_reml, plots
from bayeshier.errors import DataError
from bayeshier.present.comparison import compare

LM = json.loads((Path(__file__).parents[1] / "fixtures" / "lm_baselines.json").read_text())


def _legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _slope(line) -> float:
    x, y = line.get_xdata(), line.get_ydata()
    return float((y[-1] - y[0]) / (x[-1] - x[0]))


def test_hwy_against_displ_draws_ols_within_and_reml_lines():
    fit = fitted_case("mpg_class")
    ax = plots.ols_vs_within(fit).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("displ", "hwy")
    lines = {line.get_label(): line for line in ax.lines}
    ols = next(line for label, line in lines.items() if label.startswith("pooled OLS"))
    reml = next(line for label, line in lines.items() if label.startswith("REML"))
    within = [line for line in ax.lines if line not in (ols, reml)]
    assert len(within) == 7  # one line per class
    # slopes pinned against lm and lme4 (not against the code under test)
    assert _slope(ols) == pytest.approx(load_reference("mpg_class")["lm"]["coef"]["displ"])
    assert _slope(reml) == pytest.approx(load_reference("mpg_class")["fixef"]["displ"], rel=1e-5)
    within_slope = LM["mpg_within"]["coef"]["displ"]
    for line in within:
        assert _slope(line) == pytest.approx(within_slope, rel=1e-9)
    legend = _legend_texts(ax)
    assert "pooled OLS, lm(hwy ~ displ + year): slope -3.611" in legend
    assert any(text.startswith("within class") and "-2.403" in text for text in legend)
    assert "year = 2003.5" in ax.get_title()


def test_the_within_slope_is_the_one_explain_ols_vs_gls_gives():
    cmp = compare(fitted_case("mpg_class"))
    legend = " ".join(_legend_texts(plots.ols_vs_within(cmp).axes[0]))
    assert "displ -2.403" in cmp.explain_ols_vs_gls() and "slope -2.403" in legend


def test_a_within_line_passes_through_its_level_at_the_other_terms_means():
    """At the level's mean displ (and year held at the mean) each line is lm's fitted value."""
    fit = fitted_case("mpg_class")
    ax = plots.ols_vs_within(fit).axes[0]
    coef = LM["mpg_within"]["coef"]
    year = fit.spec.X[:, fit.spec.fixed_names.index("year")].mean()
    x0 = 4.0
    expected = {
        level: coef[f"class{level}"] + coef["displ"] * x0 + coef["year"] * year
        for level in fit.spec.factors[0].levels
    }
    within = [line for line in ax.lines if not line.get_label().startswith(("pooled", "REML"))]
    heights = sorted(np.polyval(np.polyfit(line.get_xdata(), line.get_ydata(), 1), x0)
                     for line in within)  # fmt: skip
    np.testing.assert_allclose(heights, sorted(expected.values()), rtol=1e-9)


def test_an_offset_model_is_drawn_as_response_minus_offset():
    data = pd.read_csv(FIXTURES / "rform_sleep_offset.csv").astype({"Subject": str})
    fit = fit_reml("Reaction ~ Days + offset(2*Days) + (1|Subject)", data)
    ax = plots.ols_vs_within(fit).axes[0]
    assert ax.get_ylabel() == "Reaction \u2212 offset"
    points = ax.collections[0].get_offsets()
    np.testing.assert_allclose(points[:, 1], data["Reaction"] - 2 * data["Days"])
    ols = next(line for line in ax.lines if line.get_label().startswith("pooled OLS"))
    assert _slope(ols) == pytest.approx(LM["offset_ols"]["coef"]["Days"], rel=1e-9)


def test_bad_requests_say_what_to_draw_instead():
    with pytest.raises(DataError, match="random slopes"):
        plots.ols_vs_within(fitted_case("sleepstudy_slopes"))
    with pytest.raises(DataError, match="no fixed-effect term besides the intercept"):
        plots.ols_vs_within(fitted_case("dyestuff"))
    with pytest.raises(DataError, match="one of the fixed-effect terms displ, year"):
        plots.ols_vs_within(fitted_case("mpg_class"), "Intercept")
