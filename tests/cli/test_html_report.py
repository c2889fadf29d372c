"""bayeshier.cli.html_report: the self-contained HTML page, built from precomputed objects."""

from __future__ import annotations

import base64
import dataclasses
import io
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from reference_cases import fitted_case
from synthetic import synthetic_posterior

from bayeshier.bayes.priors import prior_table, resolve_priors
from bayeshier.cli import html_report as report
from bayeshier.present.comparison import compare

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png() -> bytes:
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def section() -> report.ModelSection:
    fit = fitted_case("mpg_class")
    tree = synthetic_posterior(fit)
    return report.ModelSection(
        name="mpg_class",
        description="Cars <grouped> by class & year.",
        meta={"formula": fit.spec.formula.text, "rows": "234"},
        settings={"sampler": "nutpie, 2 chains x 200 draws"},
        priors=prior_table(resolve_priors(fit.spec, None)),
        comparison=compare(fit, tree),
        diagnostics=_diagnostics_table(),
        images=[report.Image("forest", "Level intercepts", _png())],
        warnings=["tail ESS is below 200 for 2 parameter(s)"],
    )


def test_page_is_one_complete_document(section):
    page = report.render_report("Highway mpg", [section], source="models/mpg_class.toml")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<title>Highway mpg</title>" in page
    assert "models/mpg_class.toml" in page
    # self-contained: no external scripts, styles or images
    assert not re.search(r"(src|href)=['\"](?!data:|#)", page)


def test_page_holds_the_model_priors_comparison_and_diagnostics(section):
    page = report.render_report("Highway mpg", [section])
    assert "hwy ~ displ + year + (1|class)" in page
    for term in ("Intercept", "displ", "year", "sigma", "sd_class"):
        assert f"<td class='text'>{term}</td>" in page  # the priors table
    assert "autoscaled: Normal(0, 2.5 sd(y) / sd(displ))" in page
    headers = ("ols_se", "reml_se", "no_pooling", "blup", "kept", "pooling", "post_mean", "reml_sd")
    for header in headers:
        assert f">{header}</th>" in page  # the comparison tables
    assert ">shrinkage</th>" not in page  # the old name of kept, which read backwards
    assert "89% ETI" in page  # the interval convention, stated
    assert "2seater" in page and "suv" in page
    assert "(5.8 REML se)" in page  # the comparison's readings
    assert ">r_hat</th>" in page and ">ess_bulk</th>" in page  # diagnostics
    assert ">divergences</th>" in page and "chain 0" in page


def test_images_are_embedded_as_base64_png(section):
    page = report.render_report("t", [section])
    (data,) = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert base64.b64decode(data) == section.images[0].png
    assert base64.b64decode(data).startswith(PNG_SIGNATURE)
    assert "<figcaption>Level intercepts</figcaption>" in page


def test_text_is_escaped(section):
    page = report.render_report("a < b", [section])
    assert "<title>a &lt; b</title>" in page
    assert "Cars &lt;grouped&gt; by class &amp; year." in page


def test_warnings_are_listed_or_their_absence_said(section):
    page = report.render_report("t", [section])
    assert "<li>tail ESS is below 200 for 2 parameter(s)</li>" in page
    assert "No warnings" not in page
    assert "No warnings" in report.warnings_html([])


def test_notes_and_file_images_come_first(section):
    page = report.render_report(
        "t",
        [section],
        notes=["Quick run (--quick): 2 chains x 200 draws"],
        images=[report.Image("seed_scenarios", "Seeds", _png())],
    )
    assert "class='note'>Quick run (--quick)" in page
    assert page.index("Seeds") < page.index("Model mpg_class")


def test_several_models_get_a_contents_list_with_anchors(section):
    other = report.ModelSection(**{**section.__dict__, "name": "second", "warnings": []})
    page = report.render_report("t", [section, other])
    assert "<a href='#model-mpg_class'>mpg_class</a>" in page
    assert "id='model-second'" in page
    assert "(1 warning)" in page
    assert report.render_report("t", [section]).count("<ul>") == 1  # no contents for one model


def _diagnostics_table() -> pd.DataFrame:
    """Shaped like bayeshier.diagnose's result."""
    return pd.DataFrame(
        {
            "kind": ["parameter", "chain"],
            "r_hat": [1.00234, float("nan")],
            "ess_bulk": [812.4, float("nan")],
            "ess_tail": [640.6, float("nan")],
            "mcse": [0.012345, float("nan")],
            "mcse_sd": [0.00871, float("nan")],
            "divergences": [float("nan"), 0.0],
            "bfmi": [float("nan"), 1.0567],
        },
        index=["sigma", "chain 0"],
    )


def test_diagnostics_are_formatted_per_column():
    html = report.diagnostics_html(_diagnostics_table())
    for cell in ("1.002", "812", "641", "0.0123", "0.00871", ">0<", "1.06"):
        assert cell in html
    assert "nan" not in html


def test_comparison_levels_follow_the_requested_order(section):
    comparison = section.comparison
    assert comparison.to_html(order="shrinkage") in report.model_section_html(section)
    by_level = report.model_section_html(dataclasses.replace(section, order="level"))
    assert comparison.to_html(order="level") in by_level
    assert comparison.to_html(order="shrinkage") not in by_level


def test_the_section_has_a_posterior_predictive_part_and_names_figures_not_drawn(section):
    predictive = pd.DataFrame({"statistic": ["sd"], "observed": [5.9], "p_at_least": [0.4]})
    predictive.attrs["interval"] = "89% ETI"
    with_ppc = dataclasses.replace(
        section,
        images=[*section.images, report.Image("ppc", "Posterior predictive check", _png())],
        predictive=predictive,
        not_drawn={"ols_vs_within": "it needs a fixed-effect term besides the intercept"},
    )
    page = report.model_section_html(with_ppc)
    ppc_part = page.split("<h3>Posterior predictive check</h3>")[1].split("<h3>")[0]
    assert ">p_at_least</th>" in ppc_part and "alt='ppc'" in ppc_part  # the figure moved here
    assert page.count("alt='ppc'") == 1
    assert "<li>ols_vs_within: it needs a fixed-effect term besides the intercept</li>" in page


def test_without_predictive_draws_the_section_says_so(section):
    page = report.model_section_html(section)
    assert "<h3>Posterior predictive check</h3>" in page
    assert "Not drawn: the posterior predictive was not drawn." in page
    assert "Figures not drawn" not in page
