"""Text and HTML views of a :class:`~bayeshier.reml.results.RemlFit`.

The text view follows the layout of lme4's ``summary(lmerMod)``: fit
criterion, scaled residuals, random effects, fixed effects and their
correlations, and the notes lme4 prints (singular fit, dropped columns),
plus the number of rows dropped for missing values.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from bayeshier.reml.results import RemlFit

__all__ = ["fixed_effects_table", "random_effects_table", "summary_html", "summary_text"]

_INTERCEPT = "Intercept"


def _lme4_name(term: str | None) -> str:
    """Print the intercept as lme4 does, ``(Intercept)``."""
    if term is None or pd.isna(term):
        return ""
    return "(Intercept)" if term == _INTERCEPT else term


def _significant(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}g}" if abs(value) < 1e6 else f"{value:.{digits}e}"


def random_effects_table(fit: RemlFit) -> pd.DataFrame:
    """Random effects as lme4 prints them: Groups, Name, Variance, Std.Dev. (and Corr).

    A ``Corr`` column appears when a factor has correlated terms: on the row
    of each term after the first of its block, the correlations with the
    terms before it (lme4's lower triangle), blank elsewhere. The group name
    is written on the first row of each factor only, as lme4 does.
    """
    table = fit.varcorr
    single = table[table["term2"].isna()]
    pairs = table[table["term2"].notna()]
    correlations = {(row.group, row.term2, row.term1): row.sd_cor for row in pairs.itertuples()}
    result = pd.DataFrame(
        {
            "Groups": [
                g if g != prev else ""
                for g, prev in zip(single["group"], [None, *single["group"][:-1]], strict=True)
            ],
            "Name": [_lme4_name(term) for term in single["term1"]],
            "Variance": single["variance"].to_numpy(),
            "Std.Dev.": single["sd_cor"].to_numpy(),
        }
    )
    if correlations:
        result["Corr"] = [
            _correlation_cells(correlations, group, term, single)
            for group, term in zip(single["group"], single["term1"], strict=True)
        ]
    return result


def _correlation_cells(correlations: dict, group: str, term: object, single: pd.DataFrame) -> str:
    """The correlations of ``term`` with the earlier terms of its factor, as lme4 prints them."""
    earlier = single.loc[single["group"] == group, "term1"].tolist()
    earlier = earlier[: earlier.index(term)] if term in earlier else []
    cells = [
        f"{correlations[(group, term, other)]:.2f}"
        for other in earlier
        if (group, term, other) in correlations
    ]
    return " ".join(cells)


def fixed_effects_table(fit: RemlFit) -> pd.DataFrame:
    """Estimate, Std. Error and t value of the fixed effects."""
    table = pd.DataFrame(
        {"Estimate": fit.fixef, "Std. Error": fit.se, "t value": fit.fixef / fit.se}
    )
    table.index = [_lme4_name(name) for name in table.index]
    return table


def summary_text(fit: RemlFit) -> str:
    """Return the lme4-style summary of ``fit``."""
    sections = [
        _header(fit),
        _criterion_block(fit),
        _residuals_block(fit),
        _random_block(fit),
        _fixed_block(fit),
        _correlation_block(fit),
        _notes_block(fit),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _header(fit: RemlFit) -> str:
    method = "REML" if fit.reml else "maximum likelihood "
    lines = [
        f"Linear mixed model fit by {method} ['lmerMod'] (bayeshier)",
        f"Formula: {fit.spec.formula.text}",
        f"   Data: {fit.nobs + fit.n_dropped} rows, {fit.nobs} used",
    ]
    return "\n".join(lines)


def _criterion_block(fit: RemlFit) -> str:
    if fit.reml:
        return f"REML criterion at convergence: {fit.criterion:.1f}"
    return criteria_block(fit, fit.criterion)


def criteria_block(fit: RemlFit, deviance: float) -> str:
    """lme4's AIC, BIC, logLik, deviance and df.resid table of a maximum likelihood fit."""
    labels = ["AIC", "BIC", "logLik", "deviance", "df.resid"]
    values = [
        f"{fit.aic:.1f}",
        f"{fit.bic:.1f}",
        f"{fit.loglik:.1f}",
        f"{deviance:.1f}",
        str(fit.nobs - fit.df),
    ]
    width = max(8, *(len(v) for v in values))
    return (
        " ".join(f"{lab:>{width}}" for lab in labels)
        + "\n"
        + " ".join(f"{val:>{width}}" for val in values)
    )


def _residuals_block(fit: RemlFit) -> str:
    if not fit.spec.holds_rows:
        return (
            "Scaled residuals: not computed (the rows are in a Dask DataFrame; "
            "fit.residuals is a lazy Dask Series)"
        )
    return scaled_residuals_block(fit.residuals / fit.sigma)


def scaled_residuals_block(scaled: np.ndarray) -> str:
    """lme4's "Scaled residuals" block: the quantiles of ``scaled``."""
    quantiles = np.quantile(scaled, [0.0, 0.25, 0.5, 0.75, 1.0])
    labels = ["Min", "1Q", "Median", "3Q", "Max"]
    values = [f"{q:.4f}" for q in quantiles]
    width = max(len(v) for v in values)
    header = " ".join(f"{lab:>{width}}" for lab in labels)
    return "Scaled residuals:\n" + header + "\n" + " ".join(f"{v:>{width}}" for v in values)


def _random_block(fit: RemlFit) -> str:
    table = random_effects_table(fit)
    rows = [list(table.columns)] + [
        [group, name, _significant(variance), _significant(sd), *rest]
        for group, name, variance, sd, *rest in table.itertuples(index=False)
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        " "
        + " ".join(
            f"{cell:<{w}}" if i < 2 or i > 3 else f"{cell:>{w}}"
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    groups = ", ".join(f"{f.name}, {f.n_levels}" for f in fit.spec.factors)
    lines.append(f"Number of obs: {fit.nobs}, groups:  {groups}")
    return "Random effects:\n" + "\n".join(lines)


def _fixed_block(fit: RemlFit) -> str:
    table = fixed_effects_table(fit)
    formatted = pd.DataFrame(
        {
            "Estimate": table["Estimate"].map(lambda v: _significant(v, 6)),
            "Std. Error": table["Std. Error"].map(lambda v: _significant(v, 5)),
            "t value": table["t value"].map(lambda v: f"{v:.3f}"),
        },
        index=table.index,
    )
    return "Fixed effects:\n" + formatted.to_string()


def _correlation_block(fit: RemlFit) -> str:
    if fit.spec.n_fixed < 2:
        return ""
    sd = np.sqrt(np.diag(fit.vcov.to_numpy()))
    correlation = fit.vcov.to_numpy() / np.outer(sd, sd)
    names = [_lme4_name(n) for n in fit.fixef.index]
    short = [_abbreviate(n) for n in names]
    width = max(6, *(len(s) for s in short))
    name_width = max(len(n) for n in names)
    lines = [" " * name_width + " " + " ".join(f"{s:<{width}}" for s in short[:-1])]
    for i in range(1, len(names)):
        cells = " ".join(f"{correlation[i, j]:>{width}.3f}" for j in range(i))
        lines.append(f"{names[i]:<{name_width}} {cells}")
    return "Correlation of Fixed Effects:\n" + "\n".join(lines)


def _abbreviate(name: str) -> str:
    return "(Intr)" if name == "(Intercept)" else name[:6]


def _notes_block(fit: RemlFit) -> str:
    singular = "the group effects are shrunk all the way to the mean, or onto a line."
    return "\n".join(notes(fit, singular_detail=singular))


def notes(fit: RemlFit, singular_detail: str = "", extra: Sequence[str] = ()) -> list[str]:
    """The notes under a summary: dropped rows, aliased columns, a singular fit, the optimizer.

    ``singular_detail`` ends the singular-fit note; ``extra`` notes go
    before the optimizer's line.
    """
    lines = []
    if fit.n_dropped:
        lines.append(f"{fit.n_dropped} row(s) dropped for missing values (na.omit).")
    if fit.spec.aliased:
        lines.append(
            "fixed-effect model matrix is rank deficient so dropping "
            f"{len(fit.spec.aliased)} column(s): {', '.join(fit.spec.aliased)}"
        )
    if fit.is_singular:
        lines.append(
            "boundary (singular) fit: a random-effect standard deviation is estimated as 0 "
            "or a correlation as +-1 (lme4's isSingular)"
            + (f"; {singular_detail}" if singular_detail else ".")
        )
    lines.extend(extra)
    opt = fit.optimization
    status = "converged" if opt.converged else f"NOT converged: {opt.message}"
    lines.append(f"optimizer ({opt.method}): {status} after {opt.evaluations} evaluations")
    return lines


def summary_html(fit: RemlFit) -> str:
    """Return the summary as an HTML fragment for notebooks."""
    method = "REML" if fit.reml else "maximum likelihood"
    crit_name = "REML criterion" if fit.reml else "deviance"
    return html_summary(
        fit,
        css_class="bayeshier-remlfit",
        title=f"Linear mixed model fit by {method}",
        criteria=f"{crit_name} {fit.criterion:.2f}, logLik {fit.loglik:.2f}",
        fixed=fixed_effects_table(fit),
        note_lines=_notes_block(fit).splitlines(),
    )


def html_summary(
    fit: RemlFit,
    *,
    css_class: str,
    title: str,
    criteria: str,
    fixed: pd.DataFrame,
    note_lines: Sequence[str],
    subtitle: str = "",
) -> str:
    """The HTML summary of a fit (REML or GLMM): title, criteria, both tables and the notes."""
    parts = [
        f"<div class='{css_class}'>",
        f"<p><b>{html.escape(title)}</b><br>"
        + (f"{html.escape(subtitle)}<br>" if subtitle else "")
        + f"<code>{html.escape(fit.spec.formula.text)}</code><br>"
        f"{fit.nobs} rows used"
        + (f", {fit.n_dropped} dropped for missing values" if fit.n_dropped else "")
        + f"; {criteria}, AIC {fit.aic:.2f}, BIC {fit.bic:.2f}</p>",
        "<p><b>Random effects</b></p>",
        random_effects_table(fit).to_html(index=False, float_format=_significant),
        "<p><b>Fixed effects</b></p>",
        fixed.to_html(float_format=lambda v: f"{v:.5g}"),
    ]
    parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in note_lines) + "</ul>")
    parts.append("</div>")
    return "\n".join(parts)
