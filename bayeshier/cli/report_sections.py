"""Parts of a model's section in the report that differ by model: comparison, predictive, figures.

A Gaussian model's comparison renders itself
(:meth:`~bayeshier.present.comparison.Comparison.to_html`); a GLMM's
(:class:`~bayeshier.present.glmm_comparison.GlmmComparison`) is three tables
whose headers name the scale and the posterior interval. The posterior
predictive section shows the table of
:func:`bayeshier.cli.predictive_checks.predictive_checks` and the ``ppc``
figure, or says why there is none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from bayeshier._choices import Order
from bayeshier.cli.html_tables import esc, table_html
from bayeshier.present.comparison import Comparison

if TYPE_CHECKING:
    from bayeshier.present.glmm_comparison import GlmmComparison

__all__ = ["comparison_html", "not_drawn_html", "pick_images", "predictive_html"]


def comparison_html(comparison: Comparison | GlmmComparison, order: Order) -> str:
    """The side-by-side tables, with the heading that says what is compared."""
    if isinstance(comparison, Comparison):
        return (
            "<h3>lm, REML/BLUP and posterior side by side</h3>"
            f"<div class='scroll'>{comparison.to_html(order=order)}</div>"
            f"<p><i>{esc(comparison.explain_ols_vs_gls())}</i></p>"
        )
    label = comparison.interval.label
    parts = ["<h3>glm, Laplace (glmer) and posterior side by side</h3>"]
    for title, table in (
        ("Fixed effects (link scale)", comparison.fixed),
        (f"Groups ({comparison.scale} scale): own glm, conditional mode", comparison.groups),
        ("Group-level standard deviations (link scale)", comparison.variances),
    ):
        spread = "sd" if "post_sd" in table else "median"
        heading = f"{title}; posterior: mean, {spread}, {label} (ci_low to ci_high)"
        parts.append(f"<p><b>{esc(heading)}</b></p>")
        parts.append(f"<div class='scroll'>{table_html(_rounded(table))}</div>")
    parts.append(
        "<p><i>The conditional mode (glmer's ranef) is the most likely value of a group's "
        "effect given the data and the Laplace fit; the posterior mean averages over the "
        "whole posterior, so on the link scale the two differ most for small groups with "
        "extreme rates.</i></p>"
    )
    return "\n".join(parts)


def _rounded(table: pd.DataFrame) -> pd.DataFrame:
    """Numbers to 4 significant digits (integers kept)."""
    shown = table.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = [f"{value:.4g}" for value in shown[column]]
    return shown


def predictive_html(table: pd.DataFrame | None, figure: str, reason: str) -> str:
    """The posterior predictive section: the statistics table and the figure, or why not.

    Parameters
    ----------
    table : pandas.DataFrame or None
        From :func:`~bayeshier.cli.predictive_checks.predictive_checks`.
    figure : str
        The ``ppc`` figure's HTML (empty when it was not drawn).
    reason : str
        Why there is no posterior predictive check (when ``table`` is None).

    """
    parts = ["<h3>Posterior predictive check</h3>"]
    if table is None:
        parts.append(f"<p>Not drawn: {esc(reason)}.</p>")
        return "\n".join(parts)
    label = table.attrs.get("interval", "interval")
    parts.append(
        f"<p>Statistics of the observed response against the same statistics of one replicated "
        f"data set per posterior draw: their mean and {esc(label)} (ci_low to ci_high), and "
        "p_at_least, the share of replicates at or above the observed value (near 0 or 1: "
        "the model misses that feature of the data).</p>"
    )
    parts.append(table_html(_rounded(table)))
    parts.append(figure)
    return "\n".join(parts)


def not_drawn_html(reasons: Mapping[str, str]) -> str:
    """The requested figures that were not drawn for this model, each with its reason."""
    if not reasons:
        return ""
    items = "".join(f"<li>{esc(name)}: {esc(why)}</li>" for name, why in reasons.items())
    return f"<h3>Figures not drawn</h3><ul>{items}</ul>"


def pick_images[T](images: Sequence[T], name: str) -> tuple[list[T], list[T]]:
    """``images`` split into those named ``name`` and the others (images have ``.name``)."""
    named = [image for image in images if getattr(image, "name", None) == name]
    return named, [image for image in images if getattr(image, "name", None) != name]
