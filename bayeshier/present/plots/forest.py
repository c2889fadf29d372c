"""Forest plot of the level intercepts: posterior interval, BLUP +- 2 cond. sd, no pooling.

The posterior interval is the comparison's (``ci_low`` to ``ci_high``: ArviZ's
``stats.ci_prob`` / ``stats.ci_kind`` unless ``compare`` was told otherwise),
and the legend names it ("posterior mean, 89% ETI").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bayeshier.present.comparison import Comparison
from bayeshier.present.intervals import interval_label
from bayeshier.present.plots.style import (
    COLORS,
    figure_and_axes,
    group_block,
    legend_below,
    level_labels,
    population_line,
)

__all__ = ["forest"]


def forest(
    source: Comparison | pd.DataFrame,
    *,
    factor: str | None = None,
    population: float | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Per level: posterior mean and credible interval, BLUP +- 2 conditional sd, no pooling.

    Parameters
    ----------
    source : Comparison or pandas.DataFrame
        A comparison or its ``groups`` table (``cond_sd`` needed; posterior
        columns ``post_mean``, ``ci_low``, ``ci_high`` drawn when present,
        the interval named from the comparison or the table's ``attrs``).
    factor : str, optional
        Grouping factor (default: the first).
    population : float, optional
        Population mean to mark (see :func:`shrinkage_arrows`).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure

    """
    block, center, name = group_block(source, factor, population)
    block = block.sort_values("blup", kind="stable").reset_index(drop=True)
    fig, ax = figure_and_axes(ax, (7.0, 1.2 + 0.42 * len(block)))
    rows = np.arange(len(block))
    population_line(ax, center)
    posterior = "post_mean" in block.columns
    offset = 0.15 if posterior else 0.0
    ax.errorbar(
        block["blup"],
        rows - offset,
        xerr=2 * block["cond_sd"],
        fmt="o",
        color=COLORS["blup"],
        capsize=3,
        label=r"BLUP $\pm$ 2 cond. sd ($\beta$ held at $\hat\beta$)",
    )
    if posterior:
        _posterior_intervals(ax, block, rows + offset, _interval_legend(source))
    ax.scatter(
        block["no_pooling"],
        rows,
        marker="x",
        color=COLORS["no_pooling"],
        zorder=5,
        label="no pooling (lm)",
    )
    ax.set_yticks(rows, level_labels(block))
    ax.set_ylim(-0.7, len(block) - 0.3)
    ax.set_xlabel(f"intercept of each {name} level")
    ax.set_title(f"Level intercepts of {name}: REML, posterior and no pooling")
    legend_below(ax, ncols=2)
    return fig


def _posterior_intervals(ax: Axes, block: pd.DataFrame, rows: np.ndarray, label: str) -> None:
    """Posterior mean and credible interval of each level, at heights ``rows``."""
    spans = np.vstack([block["post_mean"] - block["ci_low"], block["ci_high"] - block["post_mean"]])
    ax.errorbar(
        block["post_mean"],
        rows,
        xerr=spans,
        fmt="D",
        markersize=4,
        color=COLORS["posterior"],
        capsize=3,
        label=label,
    )


def _interval_legend(source: Comparison | pd.DataFrame) -> str:
    """``"posterior mean, 89% ETI"``: from the comparison, or the table's ``attrs``."""
    if isinstance(source, Comparison):
        return f"posterior mean, {source.interval_label}"
    prob, kind = source.attrs.get("ci_prob"), source.attrs.get("ci_kind")
    if prob is None or kind is None:
        return "posterior mean, credible interval (ci_low to ci_high)"
    return f"posterior mean, {interval_label(prob, kind)}"
