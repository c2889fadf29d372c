"""Text and HTML views of a :class:`~bayeshier.reml.glmm.results.GlmmFit`, in glmer's layout.

The random-effects block, the correlation of the fixed effects and the
number formatting are those of the REML summary
(:mod:`bayeshier.reml.summary`), called, not copied; the header, the
criterion table, the Pearson residuals and the fixed effects with ``z
value`` and ``Pr(>|z|)`` follow ``summary(glmerMod)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import special

from bayeshier.reml.summary import (
    _correlation_block,
    _lme4_name,
    _random_block,
    _significant,
    criteria_block,
    html_summary,
    notes,
    scaled_residuals_block,
)

if TYPE_CHECKING:
    from bayeshier.reml.glmm.results import GlmmFit

__all__ = ["fixed_effects_table", "summary_html", "summary_text"]

_CODES = ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, "."), (1.0, " "))
_LEGEND = "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"
_QUADRATURE_NOTE = (
    "logLik by quadrature is on glmer's deviance-residual scale: it leaves out the "
    "saturated model's log-likelihood, so it is not comparable with a Laplace fit's.",
)


def method_text(fit: GlmmFit) -> str:
    """``Laplace Approximation`` or ``Adaptive Gauss-Hermite Quadrature, nAGQ = k``."""
    if fit.nagq == 1:
        return "Laplace Approximation"
    return f"Adaptive Gauss-Hermite Quadrature, nAGQ = {fit.nagq}"


def fixed_effects_table(fit: GlmmFit) -> pd.DataFrame:
    """Estimate, Std. Error, z value and Pr(>|z|) (two-sided normal) of the fixed effects."""
    z = fit.fixef / fit.se
    table = pd.DataFrame(
        {
            "Estimate": fit.fixef,
            "Std. Error": fit.se,
            "z value": z,
            "Pr(>|z|)": 2.0 * special.ndtr(-np.abs(z.to_numpy())),
        }
    )
    table.index = [_lme4_name(name) for name in table.index]
    return table


def summary_text(fit: GlmmFit) -> str:
    """Return the glmer-style summary of ``fit``."""
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


def _header(fit: GlmmFit) -> str:
    lines = [
        f"Generalized linear mixed model fit by maximum likelihood ({method_text(fit)}) "
        "['glmerMod'] (bayeshier)",
        f" Family: {fit.family}",
        f"Formula: {fit.formula}",
        f"   Data: {fit.nobs + fit.n_dropped} rows, {fit.nobs} used",
    ]
    return "\n".join(lines)


def _criterion_block(fit: GlmmFit) -> str:
    return criteria_block(fit, fit.deviance)


def _residuals_block(fit: GlmmFit) -> str:
    return scaled_residuals_block(fit.residuals("pearson"))


def _stars(p: float) -> str:
    return next(code for bound, code in _CODES if p < bound or bound == 1.0)


def _p_value(p: float) -> str:
    return "< 2e-16" if p < 2e-16 else f"{p:.3g}"


def _fixed_block(fit: GlmmFit) -> str:
    table = fixed_effects_table(fit)
    formatted = pd.DataFrame(
        {
            "Estimate": table["Estimate"].map(lambda v: _significant(v, 6)),
            "Std. Error": table["Std. Error"].map(lambda v: _significant(v, 5)),
            "z value": table["z value"].map(lambda v: f"{v:.3f}"),
            "Pr(>|z|)": table["Pr(>|z|)"].map(_p_value),
            "": table["Pr(>|z|)"].map(_stars),
        },
        index=table.index,
    )
    return "Fixed effects:\n" + formatted.to_string() + "\n---\n" + _LEGEND


def _notes_block(fit: GlmmFit) -> str:
    return "\n".join(notes(fit, extra=_QUADRATURE_NOTE if fit.nagq > 1 else ()))


def summary_html(fit: GlmmFit) -> str:
    """Return the summary as an HTML fragment for notebooks."""
    return html_summary(
        fit,
        css_class="bayeshier-glmmfit",
        title=f"Generalized linear mixed model fit by maximum likelihood ({method_text(fit)})",
        subtitle=f"Family: {fit.family}",
        criteria=f"logLik {fit.loglik:.2f}, deviance {fit.deviance:.2f}",
        fixed=fixed_effects_table(fit),
        note_lines=_notes_block(fit).splitlines(),
    )
