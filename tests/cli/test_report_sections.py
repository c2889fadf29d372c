"""bayeshier.cli.report_sections: the comparison, posterior predictive and not-drawn parts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayeshier import fit_glmm
from bayeshier.cli import report_sections
from bayeshier.cli.html_report import Image
from bayeshier.present.glmm_comparison import compare_glmm

FIXTURES = Path(__file__).parents[1] / "fixtures" / "glmer"


@pytest.fixture(scope="module")
def glmm_comparison():
    """seed_binary's Laplace fit with draws around it (no sampler), compared."""
    fit = fit_glmm("y ~ 1 + (1|g)", pd.read_csv(FIXTURES / "seed_binary.csv"), "binomial")
    rng = np.random.default_rng(0)
    levels = [str(level) for level in fit.ranef["g"].index]
    shape = (2, 100)
    posterior = xr.Dataset(
        {
            "beta": (("chain", "draw", "fixed"), rng.normal(-0.2, 0.5, (*shape, 1))),
            "g": (("chain", "draw", "g_level"), rng.normal(0.0, 0.9, (*shape, len(levels)))),
            "sd_g": (("chain", "draw"), np.abs(rng.normal(1.0, 0.3, shape))),
        },
        coords={"fixed": ["Intercept"], "g_level": levels},
    )
    return compare_glmm(fit, xr.DataTree.from_dict({"posterior": posterior}))


def test_a_glmm_comparison_names_scale_and_interval_in_every_header(glmm_comparison):
    page = report_sections.comparison_html(glmm_comparison, "shrinkage")
    assert "glm, Laplace (glmer) and posterior side by side" in page
    headers = [line for line in page.splitlines() if line.startswith("<p><b>")]
    assert len(headers) == 3
    assert all("89% ETI (ci_low to ci_high)" in header for header in headers)
    assert "link scale" in headers[0] and "conditional mode" in headers[1]
    assert ">mode</th>" in page and ">cond_sd</th>" in page
    assert "-0.188" in page  # glmer's (Intercept): -0.187987


def test_the_predictive_section_shows_the_table_and_the_figure():
    table = pd.DataFrame(
        {"statistic": ["mean"], "observed": [2.5], "replicated": [2.49], "ci_low": [2.1],
         "ci_high": [2.9], "p_at_least": [0.52]}
    )  # fmt: skip
    table.attrs["interval"] = "89% ETI"
    page = report_sections.predictive_html(table, "<figure>ppc</figure>", "")
    assert "<h3>Posterior predictive check</h3>" in page
    assert "their mean and 89% ETI (ci_low to ci_high)" in page
    assert ">p_at_least</th>" in page and "<figure>ppc</figure>" in page


def test_without_a_posterior_predictive_the_section_says_why():
    page = report_sections.predictive_html(None, "", "no replicates for a GLMM yet")
    assert "<p>Not drawn: no replicates for a GLMM yet.</p>" in page


def test_figures_not_drawn_are_listed_with_their_reason():
    assert report_sections.not_drawn_html({}) == ""
    page = report_sections.not_drawn_html({"forest": "the model is a binomial GLMM: <why>"})
    assert "<h3>Figures not drawn</h3>" in page
    assert "<li>forest: the model is a binomial GLMM: &lt;why&gt;</li>" in page


def test_pick_images_splits_by_name():
    images = [Image("trace", "t", b""), Image("ppc", "p", b""), Image("energy", "e", b"")]
    picked, others = report_sections.pick_images(images, "ppc")
    assert [i.name for i in picked] == ["ppc"]
    assert [i.name for i in others] == ["trace", "energy"]
