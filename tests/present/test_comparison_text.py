"""bayeshier.present.comparison_text: the text and HTML views and what they say in words.

The readings and the OLS-vs-GLS explanation are checked sentence by sentence against the
numbers of the tables they read, including tables written by hand.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reference_cases import fitted_case
from synthetic import synthetic_posterior

from bayeshier import datasets, fit_reml
from bayeshier.present import comparison_text as comparison_text_module
from bayeshier.present.baselines import within_slopes
from bayeshier.present.comparison import Comparison, compare
from bayeshier.present.comparison_text import (
    comparison_html,
    comparison_text,
    explain_ols_vs_gls,
    readings,
)
from bayeshier.present.shrinkage import factor_sd


def _with_fixed(cmp: Comparison, **columns: list) -> Comparison:
    """``cmp`` with a fixed-effects table written by hand (terms of its fit)."""
    table = pd.DataFrame({"term": list(cmp.fit.fixef.index), **columns})
    return dataclasses.replace(cmp, fixed=table)


@pytest.fixture(scope="module")
def unbalanced_slopes() -> Comparison:
    """(Days|Subject) with the last five days of three subjects removed."""
    data = datasets.load("sleepstudy")
    subjects = list(data["Subject"].cat.categories[:3])
    short = data[~(data["Subject"].isin(subjects) & (data["Days"] > 4))]
    return compare(fit_reml("Reaction ~ Days + (Days|Subject)", short))


# ------------------------------------------------ text and HTML (moved)
def test_text_lists_every_table_with_a_reading(mpg_cmp):
    text = str(mpg_cmp)
    assert text == mpg_cmp.to_text()
    for header in ("ols_se", "no_pooling", "kept", "pooling", "post_median", "ci_high"):
        assert header in text
    assert "shrinkage" not in text and "hdi" not in text.lower()
    assert text.count("-> ") == 3
    assert "lm(hwy ~ 0 + class + displ + year)" in text
    assert text.count("89% ETI") == 5  # header, the three titles, the variance reading


def test_text_orders_levels_by_shrinkage_or_size(mpg_cmp):
    def level_order(text: str) -> list[str]:
        levels = mpg_cmp.groups["level"].tolist()
        rows = [line.split()[0] for line in text.splitlines() if line.split()[:1]]
        return [r for r in rows if r in levels]

    by_lambda = mpg_cmp.groups.sort_values("kept")["level"].tolist()
    assert level_order(mpg_cmp.to_text(order="shrinkage")) == by_lambda
    assert level_order(mpg_cmp.to_text(order="level")) == mpg_cmp.groups["level"].tolist()
    assert by_lambda[0] == "2seater"  # the smallest class is shrunk most


def test_text_columns_are_aligned(mpg_cmp):
    lines = mpg_cmp.to_text().splitlines()
    start = lines.index(next(line for line in lines if line.startswith("level")))
    block = lines[start : start + 8]
    ends = {len(line) for line in block}
    assert len(ends) == 1  # right-aligned numbers end in the same column


def test_readings_say_what_the_table_shows():
    singular = compare(fitted_case("seed_model1"))
    assert "singular" in singular.readings()["g"]
    balanced = compare(fitted_case("seed_model2"))
    assert "n = 5" in balanced.readings()["g"]
    assert "agree" in balanced.readings()["fixed"]
    mpg = compare(fitted_case("mpg_class"))
    assert re.search(r"2seater, n = 5\) to 0\.993 \(suv, n = 62\)", mpg.readings()["class"])
    assert "displ" in mpg.readings()["fixed"]


def test_html_has_one_table_per_block_with_right_aligned_numbers(mpg_cmp):
    html = mpg_cmp._repr_html_()
    assert html.count("<table>") == 3
    assert html.count("<tr>") == 3 + 3 + 7 + 2  # header rows + fixed + levels + variances
    assert "text-align:right" in html
    assert "2seater" in html
    assert html.count("<i>") == 3


def test_html_escapes_level_labels():
    data = datasets.load("dyestuff")
    data["Batch"] = data["Batch"].cat.rename_categories(lambda c: f"<{c}>")
    cmp = compare(fit_reml("Yield ~ 1 + (1|Batch)", data))
    assert "&lt;A&gt;" in cmp._repr_html_()
    assert "<A>" not in cmp._repr_html_()


def test_html_orders_levels_by_size_or_level(mpg_cmp):
    def level_order(page: str) -> list[str]:
        first_cells = re.findall(r"<tr><td style='[^']*'>([^<]*)</td>", page)
        return [cell for cell in first_cells if cell in set(mpg_cmp.groups["level"])]

    by_size = ["2seater", "minivan", "pickup", "subcompact", "midsize", "compact", "suv"]
    by_label = ["2seater", "compact", "midsize", "minivan", "pickup", "subcompact", "suv"]
    assert level_order(mpg_cmp.to_html(order="size")) == by_size  # n = 5, 11, 33, ..., 62
    assert level_order(mpg_cmp.to_html(order="level")) == by_label
    assert "smallest first" in mpg_cmp.to_html(order="size")
    assert "level order" in mpg_cmp.to_html(order="level")
    assert mpg_cmp._repr_html_() == mpg_cmp.to_html(order="shrinkage", digits=5)


# ------------------------------------------------- OLS vs GLS (moved)
def test_explanation_names_terms_factor_and_sizes():
    cmp = compare(fitted_case("mpg_class"))
    text = explain_ols_vs_gls(cmp)
    assert text == cmp.explain_ols_vs_gls()
    fixed = cmp.fixed.set_index("term")
    for term in ("displ", "year"):
        assert term in text
        assert f"{fixed.loc[term, 'ols']:.4g}" in text
        assert f"{fixed.loc[term, 'reml']:.4g}" in text
    assert "class" in text and "234 rows" in text
    assert "independent" in text and "correlat" in text
    assert "5.8 GLS standard errors" in text  # displ moves by 5.8 REML se
    assert "lm(hwy ~ 0 + class + displ + year)" in text


def test_explanation_of_a_balanced_intercept_only_model():
    text = compare(fitted_case("seed_model2")).explain_ols_vs_gls()
    assert "the same estimate" in text
    assert "se 1.51" in text and "se 3" in text


def test_explanation_with_random_slopes_names_the_slope_not_an_intercept_share():
    cmp = compare(fitted_case("sleepstudy_slopes"))
    text = cmp.explain_ols_vs_gls()
    assert "the correlation changes with Days (random slopes" in text
    assert "within-Subject" not in text  # no fixed-effect within estimate of a random slope
    fixed = cmp.fixed.set_index("term")
    assert f"se {fixed.loc['Days', 'reml_se']:.3g}" in text
    assert f"{fixed.loc['Days', 'ols_se']:.3g}" in text


# ------------------------------------------------------------------ views
def test_this_module_imports_the_comparison_for_type_hints_only():
    """No import cycle: ``comparison`` imports this module, this one only its type."""
    tree = ast.parse(Path(comparison_text_module.__file__).read_text())
    hints = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
    ]
    hint_nodes = {id(node) for block in hints for node in ast.walk(block)}
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and id(node) not in hint_nodes:
            imported |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import) and id(node) not in hint_nodes:
            imported |= {alias.name for alias in node.names}
    assert "bayeshier.present.baselines" in imported
    assert "bayeshier.present.comparison" not in imported


def test_the_comparison_methods_are_these_views(mpg_cmp):
    assert mpg_cmp.to_text() == comparison_text(mpg_cmp, "shrinkage", 5)
    assert mpg_cmp.to_html(order="size", digits=3) == comparison_html(mpg_cmp, "size", 3)
    assert mpg_cmp.readings() == readings(mpg_cmp)
    assert mpg_cmp.explain_ols_vs_gls() == explain_ols_vs_gls(mpg_cmp)


def test_header_says_formula_rows_method_and_posterior(mpg_cmp):
    assert str(mpg_cmp).splitlines()[0] == (
        "hwy ~ displ + year + (1|class): 234 rows; REML vs OLS vs posterior (mean, sd, 89% ETI)"
    )
    hdi = compare(mpg_cmp.fit, synthetic_posterior(mpg_cmp.fit), hdi_prob=0.94)
    assert str(hdi).splitlines()[0].endswith("posterior (mean, sd, 94% HDI)")
    assert "94% HDI" in hdi.to_html()
    ml = compare(fitted_case("dyestuff_ml"))
    assert str(ml).splitlines()[0] == "Yield ~ 1 + (1|Batch): 30 rows; ML vs OLS vs no posterior"


def test_titles_name_the_lm_calls_and_the_order(mpg_cmp):
    lines = mpg_cmp.to_text().splitlines()
    posterior = "posterior: mean, sd, 89% ETI (ci_low to ci_high)"
    assert f"Fixed effects (ols: lm(hwy ~ displ + year); reml: GLS; {posterior})" in lines
    assert (
        "Group intercepts: class (7 levels, most pooled first); "
        "no_pooling: lm(hwy ~ 0 + class + displ + year); blup: intercept + BLUP; "
        f"kept: share of its own deviation the BLUP keeps, pooling = 1 - kept; {posterior}"
    ) in lines
    assert (
        "Standard deviations of the random effects and of the residual "
        "(posterior: mean, median, 89% ETI (ci_low to ci_high))"
    ) in lines
    slopes = compare(fitted_case("sleepstudy_slopes")).to_text(order="level").splitlines()
    assert "Fixed effects (ols: lm(Reaction ~ Days); reml: GLS)" in slopes
    assert (
        "Group slopes of Days: Subject (18 levels, level order); "
        "no_pooling: lm(Reaction ~ 0 + Subject/(1 + Days)); blup: Days + BLUP; "
        "kept: share of its own deviation the BLUP keeps, pooling = 1 - kept"
    ) in slopes
    assert "Standard deviations of the random effects and of the residual" in slopes


def test_the_several_factors_note_only_with_several_factors(mpg_cmp):
    note = "Several grouping factors: each factor's no_pooling ignores the other random factors"
    crossed = compare(fitted_case("penicillin_crossed"))
    assert note in crossed.to_text()
    assert f"<p><i>{escape(note)}" in crossed.to_html()
    assert note not in mpg_cmp.to_text()


# --------------------------------------------------------------- readings
def test_readings_have_one_key_per_table_and_slope_term():
    slopes = compare(fitted_case("sleepstudy_slopes")).readings()
    assert list(slopes) == ["fixed", "Subject", "Subject:Days", "variances"]
    crossed = compare(fitted_case("penicillin_crossed")).readings()
    assert list(crossed) == ["fixed", "plate", "sample", "variances"]


def test_fixed_reading_names_the_term_that_moves_most_in_reml_se():
    cmp = compare(fitted_case("mpg_class"))
    moved = _with_fixed(
        cmp,
        ols=[1.0, 2.0, 3.0],
        ols_se=[0.1, 0.1, 0.1],
        reml=[1.1, 2.5, 3.0],
        reml_se=[0.1, 0.1, 0.1],
    )
    assert readings(moved)["fixed"] == (
        "OLS and REML (GLS) differ most for displ: 2 vs 2.5 (5 REML se); "
        "explain_ols_vs_gls() says why."
    )


def test_fixed_reading_when_ols_and_gls_agree_compares_the_standard_errors():
    cmp = compare(fitted_case("mpg_class"))
    same = _with_fixed(
        cmp, ols=[1.0, 2.0, 3.0], ols_se=[0.1, 0.2, 0.3], reml=[1.0, 2.0, 3.0],
        reml_se=[0.25, 0.2, 0.3],
    )  # fmt: skip
    assert readings(same)["fixed"] == (
        "OLS and REML (GLS) estimates agree (balanced groups); the REML se of Intercept is "
        "2.5 times OLS's, which ignores the correlation within groups."
    )


def test_fixed_reading_measures_the_posterior_in_posterior_sd(mpg_cmp):
    with_posterior = _with_fixed(
        mpg_cmp, ols=[1.0, 2.0, 3.0], ols_se=[0.1, 0.1, 0.1], reml=[1.0, 2.0, 3.0],
        reml_se=[0.1, 0.1, 0.1], post_mean=[1.02, 1.97, 3.0], post_sd=[0.01, 0.01, 0.01],
    )  # fmt: skip
    assert readings(with_posterior)["fixed"].endswith(
        " Posterior means are within 3 posterior sd of REML."
    )


def test_group_reading_of_a_singular_fit_is_complete_pooling():
    cmp = compare(fitted_case("seed_model1"))
    center = cmp.fit.fixef["Intercept"]
    assert cmp.readings()["g"] == (
        f"sd of g is 0 (singular fit): every level has kept = 0, pooling = 1: every BLUP "
        f"equals the population mean {center:.4g} (complete pooling); no_pooling keeps each "
        "level's own."
    )


def test_group_reading_of_equal_groups_gives_the_one_share_kept():
    cmp = compare(fitted_case("seed_model2"))
    lam = cmp.groups["kept"].iloc[0]
    assert np.allclose(cmp.groups["kept"], lam, rtol=1e-12)
    assert cmp.readings()["g"] == (
        f"Every level has n = 5 rows, so every BLUP keeps the same share kept = {lam:.3f} "
        f"of its level's own deviation from {cmp.fit.fixef['Intercept']:.4g} (pooling "
        f"{1 - lam:.3f})."
    )


def test_group_reading_runs_from_the_most_to_the_least_pooled_level(mpg_cmp):
    block = mpg_cmp.groups.sort_values("kept")
    low, high = block.iloc[0], block.iloc[-1]
    moved = (block["post_mean"] - block["blup"]).abs().max()
    assert mpg_cmp.readings()["class"] == (
        f"kept runs from {low['kept']:.3f} (2seater, n = 5) to {high['kept']:.3f} "
        f"(suv, n = 62): the smaller the level, the less of its own deviation its BLUP keeps "
        f"and the more it is pooled toward {mpg_cmp.population:.4g}. Posterior means are "
        f"within {moved:.3g} of the BLUPs."
    )


def test_group_reading_of_slopes_on_one_design_says_the_weight_is_a_matrix():
    cmp = compare(fitted_case("sleepstudy_slopes"))
    days = cmp.group_block("Subject", "level", "Days")["kept"].iloc[0]
    reading = cmp.readings()["Subject:Days"]
    assert reading.startswith(f"Every level has the same design, so the same kept = {days:.3f}")
    assert "prior variance of the Days effects" in reading
    assert "The weight is a matrix" in reading


def test_group_reading_of_slopes_on_unequal_designs(unbalanced_slopes):
    block = unbalanced_slopes.group_block("Subject", "shrinkage", "Days")
    low, high = block.iloc[0], block.iloc[-1]
    assert low["kept"] < high["kept"]
    assert unbalanced_slopes.readings()["Subject:Days"] == (
        f"kept (1 - condVar / sd^2) runs from {low['kept']:.3f} ({low['level']}) to "
        f"{high['kept']:.3f} ({high['level']}): the less a level's own rows pin its slope "
        f"of Days, the more its BLUP is pooled toward {unbalanced_slopes.fit.fixef['Days']:.4g}."
    )
    # the intercepts of unequal groups read like a random intercept's
    assert unbalanced_slopes.readings()["Subject"].startswith("kept runs from ")


def test_variance_reading_gives_sd_ratios_and_correlations(mpg_cmp):
    fit = mpg_cmp.fit
    ratio = factor_sd(fit, "class") / fit.sigma
    row = mpg_cmp.variances.iloc[0]
    assert mpg_cmp.readings()["variances"] == (
        f"REML: class sd / residual sd = {ratio:.3g}. The posterior of sd_class (median "
        f"{row['post_median']:.3g}, 89% ETI {row['ci_low']:.3g} to {row['ci_high']:.3g}) shows "
        "how well the data pin it."
    )
    slopes = compare(fitted_case("sleepstudy_slopes"))
    sds = slopes.variances.set_index("term")["reml_sd"]
    assert slopes.readings()["variances"] == (
        f"REML: Subject sd / residual sd = {sds['Intercept'] / sds['']:.3g}; "
        f"Subject Days sd / residual sd = {sds['Days'] / sds['']:.3g}; "
        "Subject corr(Intercept, Days) = 0.0656."
    )


# ------------------------------------------------------------- OLS vs GLS
def test_explanation_gives_the_correlation_within_a_level():
    cmp = compare(fitted_case("mpg_class"))
    fit = cmp.fit
    sd = factor_sd(fit, "class")
    share = sd**2 / (sd**2 + fit.sigma**2)
    assert (
        f"within a class the correlation is {share:.2f} (sd {sd:.3g} of class effects "
        f"against a residual sd {fit.sigma:.3g})."
    ) in cmp.explain_ols_vs_gls()


def test_explanation_of_crossed_factors_names_each():
    text = compare(fitted_case("penicillin_crossed")).explain_ols_vs_gls()
    assert "rows sharing a level of plate or sample share that level's effect" in text
    assert "within a plate the correlation is" in text
    assert "; within a sample the correlation is" in text
    assert "within-plate" not in text  # no within estimate with several factors


def test_explanation_sentences_follow_the_fixed_table():
    cmp = compare(fitted_case("mpg_class"))
    handmade = _with_fixed(
        cmp, ols=[-200.0, -3.0, 0.1], ols_se=[10.0, 0.2, 0.05], reml=[-200.0, -2.5, 0.1],
        reml_se=[10.0, 0.25, 0.04],
    )  # fmt: skip
    lines = explain_ols_vs_gls(handmade).splitlines()
    within = within_slopes(cmp.fit.spec, "class")
    kept = cmp.groups["kept"]
    assert lines[2:6] == [
        "displ: OLS -3 (se 0.2) vs GLS -2.5 (se 0.25): a difference of +0.5 = 2 GLS "
        "standard errors.",
        "year: OLS 0.1 (se 0.05) vs GLS 0.1 (se 0.04): the same estimate (the groups are "
        "balanced for it).",
        "The largest change, in standard errors, is in displ.",
        f"For comparison, the within-class estimates (class as a fixed effect, "
        f"lm(hwy ~ 0 + class + displ + year)) are displ {within['displ']:.4g}, year "
        f"{within['year']:.4g}. GLS equals OLS when every class is pooled completely "
        f"(kept = 0) and the within estimates when none is (kept = 1); here kept runs from "
        f"{kept.min():.2f} to {kept.max():.2f}, and GLS goes "
        f"{round(100 * 0.5 / (within['displ'] + 3.0))}% of the way from OLS to the within "
        "estimate for displ and goes 0% of the way from OLS to the within estimate for year.",
    ]


def test_explanation_says_where_gls_lands_on_the_real_fit():
    """On mpg GLS lands a little past the within estimate of displ: not 'between' them."""
    cmp = compare(fitted_case("mpg_class"))
    fixed = cmp.fixed.set_index("term")
    within = within_slopes(cmp.fit.spec, "class")
    shares = (fixed["reml"] - fixed["ols"])[["displ", "year"]] / (within - fixed["ols"])
    assert shares["displ"] > 1.005  # past the within estimate
    last = cmp.explain_ols_vs_gls().splitlines()[-2]
    assert last.endswith(
        f"and GLS goes {round(100 * shares['displ'])}% of the way from OLS to the within "
        f"estimate for displ (past it) and goes {round(100 * shares['year'])}% of the way "
        "from OLS to the within estimate for year."
    )
    assert "compromises" not in cmp.explain_ols_vs_gls()


def test_explanation_when_gls_stays_at_ols_or_moves_away():
    cmp = compare(fitted_case("mpg_class"))
    same = _with_fixed(
        cmp, ols=[-200.0, -3.0, 0.1], ols_se=[10.0, 0.2, 0.05], reml=[-200.0, -3.1, 0.1],
        reml_se=[10.0, 0.2, 0.05],
    )  # fmt: skip
    text = explain_ols_vs_gls(same)
    assert "moves away from the within estimate for displ (" in text
    assert "goes 0% of the way from OLS to the within estimate for year." in text
    within = within_slopes(cmp.fit.spec, "class")
    agree = _with_fixed(
        cmp, ols=[-200.0, within["displ"], 0.1], ols_se=[10.0, 0.2, 0.05],
        reml=[-200.0, within["displ"], 0.1], reml_se=[10.0, 0.2, 0.05],
    )  # fmt: skip
    assert "matches OLS and the within estimate for displ, which agree" in (
        explain_ols_vs_gls(agree)
    )


def test_explanation_of_an_intercept_only_model_has_no_slope_sentences():
    text = compare(fitted_case("seed_model2")).explain_ols_vs_gls()
    assert text.splitlines()[2].startswith("Intercept: OLS 14.35 (se 1.51) vs GLS 14.35")
    assert "largest change" not in text and "within-g" not in text
    assert len(text.splitlines()) == 4
