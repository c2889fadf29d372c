from __future__ import annotations

import re

from reference_cases import fitted_case, load_reference


def test_reml_summary_has_lme4_sections_and_numbers() -> None:
    fit = fitted_case("sleepstudy_intercept")
    text = fit.summary()
    reference = load_reference("sleepstudy_intercept")
    for heading in [
        "Linear mixed model fit by REML",
        "Formula: Reaction ~ Days + (1|Subject)",
        "Scaled residuals:",
        "Random effects:",
        "Fixed effects:",
        "Correlation of Fixed Effects:",
        "Number of obs: 180, groups:  Subject, 18",
    ]:
        assert heading in text
    assert f"REML criterion at convergence: {reference['deviance_or_REMLcrit']:.1f}" in text
    assert re.search(r"\(Intercept\)\s+251\.405\s+9\.7467", text)
    assert re.search(r"Subject\s+\(Intercept\)\s+1378\s+37\.12", text)


def test_ml_summary_shows_information_criteria() -> None:
    fit = fitted_case("mpg_class_ml")
    reference = load_reference("mpg_class_ml")
    text = fit.summary()
    assert "fit by maximum likelihood" in text
    assert f"{reference['AIC']:.1f}" in text and f"{reference['logLik']:.1f}" in text
    assert "df.resid" in text and "229" in text


def test_html_repr_holds_the_tables() -> None:
    html = fitted_case("penicillin_crossed")._repr_html_()
    assert html.count("<table") == 2
    assert "plate" in html and "sample" in html and "Residual" in html


def test_str_is_the_summary() -> None:
    fit = fitted_case("dyestuff")
    assert str(fit) == fit.summary()


def test_summary_prints_the_slope_and_its_correlation_like_lme4() -> None:
    """lme4 1.1-31 prints ``Days 35.07 5.922 0.07`` under ``Subject (Intercept)``."""
    from bayeshier import datasets, fit_reml

    fit = fit_reml("Reaction ~ Days + (Days|Subject)", datasets.load("sleepstudy"))
    lines = fit.summary().splitlines()
    header = lines.index(" Groups   Name        Variance Std.Dev. Corr")
    assert lines[header + 1].split() == ["Subject", "(Intercept)", "612.1", "24.74"]
    assert lines[header + 2].split() == ["Days", "35.07", "5.922", "0.07"]
    assert lines[header + 3].split() == ["Residual", "654.9", "25.59"]
