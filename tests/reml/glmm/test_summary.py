"""summary() in glmer's layout."""

from __future__ import annotations

from bayeshier.reml.glmm.summary import fixed_effects_table


def test_summary_layout(glmer):
    fit = glmer.fitted("cbpp_binomial")
    text = fit.summary()
    lines = text.splitlines()
    assert lines[0].startswith(
        "Generalized linear mixed model fit by maximum likelihood (Laplace Approximation)"
    )
    assert " Family: binomial  ( logit )" in lines
    assert "Formula: cbind(incidence, nonincidence) ~ period + (1|herd)" in lines
    header = lines.index("     AIC      BIC   logLik deviance df.resid")
    assert lines[header + 1].split() == ["194.1", "204.2", "-92.0", "184.1", "51"]
    for section in (
        "Scaled residuals:",
        "Random effects:",
        "Fixed effects:",
        "Correlation of Fixed Effects:",
    ):
        assert section in lines
    assert " herd   (Intercept)   0.4125   0.6423" in lines
    assert "Number of obs: 56, groups:  herd, 15" in lines
    assert str(fit) == text
    assert "bayeshier-glmmfit" in fit._repr_html_()


def test_fixed_effects_table_is_walds(glmer):
    fit = glmer.fitted("grouseticks_poisson")
    table = fixed_effects_table(fit)
    assert list(table.columns) == ["Estimate", "Std. Error", "z value", "Pr(>|z|)"]
    assert table.index[0] == "(Intercept)"
    assert abs(table.loc["sHEIGHT", "z value"] - (-6.795)) < 1e-3
    assert table.loc["sHEIGHT", "Pr(>|z|)"] < 1e-10
