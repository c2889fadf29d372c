"""The BLUP as shrinkage: arrows from each level's no-pooling estimate to its BLUP.

The normal-normal analogy (:func:`prior_likelihood_posterior`) lives in
:mod:`bayeshier.present.plots.analogy` and is re-exported here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bayeshier.present.comparison import Comparison
from bayeshier.present.plots.analogy import prior_likelihood_posterior
from bayeshier.present.plots.style import (
    COLORS,
    draw_arrow,
    figure_and_axes,
    group_block,
    legend_below,
    level_labels,
    marker_sizes,
    population_line,
)

__all__ = ["prior_likelihood_posterior", "shrinkage_arrows"]


def shrinkage_arrows(
    source: Comparison | pd.DataFrame,
    *,
    factor: str | None = None,
    population: float | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Each level's no-pooling estimate, an arrow to its BLUP, and its posterior mean.

    Parameters
    ----------
    source : Comparison or pandas.DataFrame
        A comparison, or its ``groups`` table (columns ``level``, ``n``,
        ``no_pooling``, ``blup`` and optionally ``post_mean``).
    factor : str, optional
        Grouping factor to draw (default: the first).
    population : float, optional
        Population mean to mark (default: the fixed intercept of a
        comparison, or the mean of the BLUPs for a bare table).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        Levels on the vertical axis (ordered by no-pooling estimate, labeled
        with their size), estimates on the horizontal one; marker area grows
        with the group size.

    """
    block, center, name = group_block(source, factor, population)
    block = block.sort_values("no_pooling", kind="stable").reset_index(drop=True)
    fig, ax = figure_and_axes(ax, (7.0, 1.2 + 0.42 * len(block)))
    rows = np.arange(len(block))
    population_line(ax, center)
    for row, start, end in zip(rows, block["no_pooling"], block["blup"], strict=True):
        draw_arrow(ax, (start, row), (end, row))
    sizes = marker_sizes(block["n"])
    ax.scatter(
        block["no_pooling"],
        rows,
        s=sizes,
        facecolors="white",
        edgecolors=COLORS["no_pooling"],
        linewidths=1.5,
        zorder=3,
        label="no pooling (lm)",
    )
    ax.scatter(block["blup"], rows, s=sizes, color=COLORS["blup"], zorder=4, label="BLUP (REML)")
    if "post_mean" in block.columns:
        ax.scatter(
            block["post_mean"],
            rows,
            s=40,
            marker="D",
            color=COLORS["posterior"],
            zorder=5,
            label="posterior mean",
        )
    ax.set_yticks(rows, level_labels(block))
    ax.set_ylim(-0.7, len(block) - 0.3)
    ax.set_xlabel(f"intercept of each {name} level (marker area grows with rows per level)")
    ax.set_title(f"Shrinkage of the {name} intercepts toward the population mean")
    legend_below(ax, ncols=2)
    return fig
