"""Text and HTML views of a :class:`~bayeshier.present.comparison.Comparison`, in words.

Nothing is estimated here: every function reads the tables that
:func:`bayeshier.present.comparison.compare` computed and returns text.

:func:`comparison_text` and :func:`comparison_html`
    The three tables (fixed effects, one block per grouping factor, standard
    deviations), each with its one-line reading (:func:`readings`), laid out
    by :mod:`bayeshier.present.table_format`.
:func:`explain_ols_vs_gls`
    A few sentences on why ``lm`` and ``lmer`` give different fixed effects.

:mod:`bayeshier.present.comparison` imports this module (``Comparison.to_text``
and the others call it); this module needs ``Comparison`` only for type hints.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bayeshier._choices import Order
from bayeshier.present.baselines import lm_extras, no_pooling_formula, within_slopes
from bayeshier.present.shrinkage import factor_sd
from bayeshier.present.table_format import TableBlock, html_block, text_block

if TYPE_CHECKING:
    from bayeshier.present.comparison import Comparison
    from bayeshier.reml import RemlFit
    from bayeshier.spec.model_spec import GroupingFactor

__all__ = [
    "comparison_html",
    "comparison_text",
    "explain_ols_vs_gls",
    "readings",
]

#: OLS and GLS estimates closer than this many REML standard errors count as equal.
AGREE_IN_SE = 1e-6


# ================================================================ views
def comparison_text(cmp: Comparison, order: Order = "shrinkage", digits: int = 5) -> str:
    """The three tables as aligned text, each with its one-line reading.

    Parameters
    ----------
    cmp : Comparison
        From :func:`bayeshier.present.comparison.compare`.
    order : {"shrinkage", "size", "level"}
        Order of the levels within each factor's block.
    digits : int
        Significant digits of the largest number in each column.

    """
    parts = [_header(cmp), ""]
    for item in _blocks(cmp, order):
        parts += [item, ""] if isinstance(item, str) else text_block(item, digits)
    return "\n".join(parts).rstrip() + "\n"


def comparison_html(cmp: Comparison, order: Order = "shrinkage", digits: int = 5) -> str:
    """The three tables as HTML (numbers right-aligned), each with its one-line reading.

    Parameters are those of :func:`comparison_text`.
    """
    parts = [f"<div class='bayeshier-compare'><p><b>{html.escape(_header(cmp))}</b></p>"]
    for item in _blocks(cmp, order):
        if isinstance(item, str):
            parts.append(f"<p><i>{html.escape(item)}</i></p>")
        else:
            parts.append(html_block(item, digits))
    parts.append("</div>")
    return "\n".join(parts)


def readings(cmp: Comparison) -> dict[str, str]:
    """One plain-language line per table.

    Keys ``fixed``, each factor (its first term), ``<factor>:<term>`` for
    each further term of a factor with random slopes, and ``variances``.
    """
    lines = {"fixed": _fixed_reading(cmp)}
    for factor in cmp.fit.spec.factors:
        for term in factor.terms:
            key = factor.name if term == factor.terms[0] else f"{factor.name}:{term}"
            lines[key] = _group_reading(cmp, factor.name, term)
    lines["variances"] = _variance_reading(cmp)
    return lines


def _blocks(cmp: Comparison, order: Order) -> list[TableBlock | str]:
    """The tables in display order; a ``str`` is a note between them."""
    lines = readings(cmp)
    fixed = TableBlock(_fixed_title(cmp), cmp.fixed, lines["fixed"], "row")
    items: list[TableBlock | str] = [fixed]
    for factor in cmp.fit.spec.factors:
        for term in factor.terms:
            block = cmp.group_block(factor.name, order, term).drop(columns=["group", "term"])
            key = factor.name if term == factor.terms[0] else f"{factor.name}:{term}"
            items.append(TableBlock(_group_title(cmp, factor, order, term), block, lines[key]))
    if len(cmp.fit.spec.factors) > 1:
        items.append(_several_factors_note(cmp))
    items.append(TableBlock(_variance_title(cmp), cmp.variances, lines["variances"]))
    return items


# ===================================================== OLS vs GLS in words
def explain_ols_vs_gls(cmp: Comparison) -> str:
    """Why ``lm`` (OLS) and ``lmer`` (REML/GLS) give different fixed effects, for this model.

    Parameters
    ----------
    cmp : Comparison
        From :func:`compare`.

    Returns
    -------
    str
        A few sentences naming the terms, the grouping factor(s) and the size
        of the differences (in REML standard errors).

    """
    fit = cmp.fit
    spec = fit.spec
    response = spec.response
    fixed_part = spec.formula.fixed_formula + lm_extras(spec)
    factors = [f.name for f in spec.factors]
    lines = [
        f"OLS (lm({fixed_part})) treats all {spec.nobs} rows as independent. The mixed "
        f"model says rows sharing a level of {_join(factors)} share that level's effect, "
        f"so their {response} values are correlated: {_correlation_phrase(fit)}",
        "GLS (what lmer's REML fit reports) weights the rows by that correlation: a group "
        "of correlated rows counts for less than as many independent rows, and a term's "
        "effect is learnt more from differences within groups, less from differences "
        "between group means (which the group effects also explain).",
    ]
    lines += _difference_sentences(cmp)
    lines.append(
        "Neither is a mistake in the arithmetic: they answer with different assumptions "
        "about the rows, and with grouped data OLS's standard errors are the ones to distrust."
    )
    return "\n".join(lines)


def _correlation_phrase(fit: RemlFit) -> str:
    parts = []
    for factor in fit.spec.factors:
        if factor.intercept_only:
            sd = factor_sd(fit, factor.name)
            share = sd**2 / (sd**2 + fit.sigma**2)
            parts.append(
                f"within a {factor.name} the correlation is {share:.2f} (sd {sd:.3g} of "
                f"{factor.name} effects against a residual sd {fit.sigma:.3g})"
            )
        else:
            slopes = _join([t for t in factor.terms if t != "Intercept"], "and")
            parts.append(
                f"within a {factor.name} the correlation changes with {slopes} "
                f"(random slopes: each {factor.name} has its own line)"
            )
    return "; ".join(parts) + "."


def _difference_sentences(cmp: Comparison) -> list[str]:
    table = cmp.fixed.set_index("term")
    slopes = [t for t in table.index if t != "Intercept"] or list(table.index)
    sentences = [_term_sentence(term, table.loc[term]) for term in slopes]
    if len(slopes) > 1:
        gaps = (table.loc[slopes, "reml"] - table.loc[slopes, "ols"]).abs() / table.loc[
            slopes, "reml_se"
        ]
        sentences.append(f"The largest change, in standard errors, is in {gaps.idxmax()}.")
    factors = cmp.fit.spec.factors
    if len(factors) == 1 and factors[0].intercept_only and "Intercept" not in slopes:
        sentences.append(_within_sentence(cmp, table, slopes))
    return sentences


def _term_sentence(term: str, row: pd.Series) -> str:
    difference = row["reml"] - row["ols"]
    if abs(difference) < AGREE_IN_SE * row["reml_se"]:
        change = "the same estimate (the groups are balanced for it)"
    else:
        change = (
            f"a difference of {difference:+.3g} = {abs(difference) / row['reml_se']:.2g} "
            "GLS standard errors"
        )
    return (
        f"{term}: OLS {row['ols']:.4g} (se {row['ols_se']:.3g}) vs GLS {row['reml']:.4g} "
        f"(se {row['reml_se']:.3g}): {change}."
    )


def _within_sentence(cmp: Comparison, table: pd.DataFrame, slopes: list[str]) -> str:
    """Where GLS lands between OLS (complete pooling) and the within estimates (none)."""
    factor = cmp.fit.spec.factors[0].name
    within = within_slopes(cmp.fit.spec, factor)
    values = ", ".join(f"{t} {within[t]:.4g}" for t in slopes)
    kept = cmp.group_block(factor)["kept"]
    ways = [_way_to_within(t, table.loc[t], float(within[t])) for t in slopes]
    return (
        f"For comparison, the within-{factor} estimates ({factor} as a fixed effect, "
        f"{no_pooling_formula(cmp.fit.spec, factor)}) are {values}. GLS equals OLS when "
        f"every {factor} is pooled completely (kept = 0) and the within estimates when none "
        f"is (kept = 1); here kept runs from {kept.min():.2f} to {kept.max():.2f}, and GLS "
        f"{_join(ways, 'and')}."
    )


def _way_to_within(term: str, row: pd.Series, within: float) -> str:
    """How far GLS moved from OLS toward the within estimate of ``term``, in words."""
    span = within - row["ols"]
    if abs(span) < AGREE_IN_SE * row["reml_se"]:
        return f"matches OLS and the within estimate for {term}, which agree"
    percent = round(100 * (row["reml"] - row["ols"]) / span)
    if percent > 100:
        return f"goes {percent}% of the way from OLS to the within estimate for {term} (past it)"
    if percent < 0:
        return f"moves away from the within estimate for {term} ({percent}% of the way)"
    return f"goes {percent}% of the way from OLS to the within estimate for {term}"


def _join(names: list[str], conjunction: str = "or") -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + f" {conjunction} " + names[-1]


# ============================================================= readings
def _fixed_reading(cmp: Comparison) -> str:
    table = cmp.fixed.set_index("term")
    gaps = ((table["reml"] - table["ols"]) / table["reml_se"]).abs()
    term = str(gaps.idxmax())
    row = table.loc[term]
    if gaps[term] < AGREE_IN_SE:
        text = (
            f"OLS and REML (GLS) estimates agree (balanced groups); the REML se of {term} is "
            f"{row['reml_se'] / row['ols_se']:.3g} times OLS's, which ignores the correlation "
            "within groups."
        )
    else:
        text = (
            f"OLS and REML (GLS) differ most for {term}: {row['ols']:.4g} vs {row['reml']:.4g} "
            f"({gaps[term]:.2g} REML se); explain_ols_vs_gls() says why."
        )
    if cmp.has_posterior:
        z = ((table["post_mean"] - table["reml"]) / table["post_sd"]).abs()
        text += f" Posterior means are within {z.max():.2g} posterior sd of REML."
    return text


def _group_reading(cmp: Comparison, name: str, term: str = "Intercept") -> str:
    block = cmp.group_block(name, "shrinkage", term)
    sd = float(np.sqrt(cmp.fit.covariances[name].loc[term, term]))
    center = float(cmp.fit.fixef.get(term, 0.0))
    if sd == 0.0:
        what = "" if term == "Intercept" else f" of {term}"
        return (
            f"sd{what} of {name} is 0 (singular fit): every level has kept = 0, pooling = 1: "
            f"every BLUP equals the population {'mean' if term == 'Intercept' else 'slope'} "
            f"{center:.4g} (complete pooling); no_pooling keeps each level's own."
        )
    text = _kept_sentence(cmp, block, name, term, center)
    if cmp.has_posterior:
        moved = (block["post_mean"] - block["blup"]).abs().max()
        text += f" Posterior means are within {moved:.3g} of the BLUPs."
    return text


def _kept_sentence(
    cmp: Comparison, block: pd.DataFrame, name: str, term: str, center: float
) -> str:
    """What the ``kept`` column of one factor and term shows (its sd is not 0)."""
    low, high = block.iloc[0], block.iloc[-1]
    same = np.isclose(low["kept"], high["kept"], rtol=1e-12)
    if same and not cmp.fit.spec.factor(name).intercept_only:
        return (
            f"Every level has the same design, so the same kept = {low['kept']:.3f}: its data "
            f"remove that share of the prior variance of the {term} effects. The weight is a "
            "matrix: a level's BLUP mixes its own intercept and slope deviations, so some move "
            "away from the fixed value while the spread shrinks."
        )
    if same:
        return (
            f"Every level has n = {low['n']} rows, so every BLUP keeps the same share kept = "
            f"{low['kept']:.3f} of its level's own deviation from {center:.4g} (pooling "
            f"{low['pooling']:.3f})."
        )
    if term == "Intercept":
        return (
            f"kept runs from {low['kept']:.3f} ({low['level']}, n = {low['n']}) to "
            f"{high['kept']:.3f} ({high['level']}, n = {high['n']}): the smaller the level, "
            f"the less of its own deviation its BLUP keeps and the more it is pooled toward "
            f"{center:.4g}."
        )
    return (
        f"kept (1 - condVar / sd^2) runs from {low['kept']:.3f} ({low['level']}) to "
        f"{high['kept']:.3f} ({high['level']}): the less a level's own rows pin its slope of "
        f"{term}, the more its BLUP is pooled toward {center:.4g}."
    )


def _variance_reading(cmp: Comparison) -> str:
    table = cmp.variances
    sigma = float(table.loc[table["component"] == "Residual", "reml_sd"].iloc[0])
    parts = []
    for row in table[table["component"] != "Residual"].itertuples():
        if row.term.startswith("corr("):
            parts.append(f"{row.component} {row.term} = {row.reml_sd:.3g}")
        else:
            label = row.component if row.term == "Intercept" else f"{row.component} {row.term}"
            parts.append(f"{label} sd / residual sd = {row.reml_sd / sigma:.3g}")
    text = "REML: " + "; ".join(parts) + "."
    if cmp.has_posterior:
        row = table.iloc[0]
        term = "" if row["term"] == "Intercept" else f"[{row['term']}]"
        text += (
            f" The posterior of sd_{row['component']}{term} (median {row['post_median']:.3g}, "
            f"{cmp.interval_label} {row['ci_low']:.3g} to {row['ci_high']:.3g}) shows how well "
            "the data pin it."
        )
    return text


def _header(cmp: Comparison) -> str:
    method = "REML" if cmp.fit.reml else "ML"
    source = f"posterior (mean, sd, {cmp.interval_label})" if cmp.has_posterior else "no posterior"
    return f"{cmp.fit.spec.formula.text}: {cmp.fit.nobs} rows; {method} vs OLS vs {source}"


def _fixed_title(cmp: Comparison) -> str:
    spec = cmp.fit.spec
    title = f"Fixed effects (ols: lm({spec.formula.fixed_formula}{lm_extras(spec)}); reml: GLS"
    return title + (_posterior_phrase(cmp, "sd") if cmp.has_posterior else "") + ")"


def _posterior_phrase(cmp: Comparison, spread: str) -> str:
    """``"; posterior: mean, sd, 89% ETI (ci_low to ci_high)"``."""
    return f"; posterior: mean, {spread}, {cmp.interval_label} (ci_low to ci_high)"


def _group_title(
    cmp: Comparison, factor: GroupingFactor, order: Order, term: str = "Intercept"
) -> str:
    by = {"shrinkage": "most pooled first", "size": "smallest first", "level": "level order"}
    what = "intercepts" if term == "Intercept" else f"slopes of {term}"
    fixed = "intercept" if term == "Intercept" else term
    title = (
        f"Group {what}: {factor.name} ({factor.n_levels} levels, {by[order]}); "
        f"no_pooling: {no_pooling_formula(cmp.fit.spec, factor.name)}; blup: {fixed} + BLUP; "
        "kept: share of its own deviation the BLUP keeps, pooling = 1 - kept"
    )
    return title + (_posterior_phrase(cmp, "sd") if cmp.has_posterior else "")


def _variance_title(cmp: Comparison) -> str:
    title = "Standard deviations of the random effects and of the residual"
    return title + (f" ({_posterior_phrase(cmp, 'median')[2:]})" if cmp.has_posterior else "")


def _several_factors_note(cmp: Comparison) -> str:
    return (
        "Several grouping factors: each factor's no_pooling ignores the other random factors; "
        "its kept = lambda_j = sd^2/(sd^2 + sigma^2/n_j) is the weight given the other "
        "factors' BLUPs."
    )
