"""Forest plot of the level intercepts: posterior interval, BLUP +- 2 cond. sd, no pooling."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bayeshier.present.comparison import Comparison
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
    """Per level: posterior HDI and mean, BLUP +- 2 conditional sd, no-pooling estimate.

    Parameters
    ----------
    source : Comparison or pandas.DataFrame
        A comparison or its ``groups`` table (``cond_sd`` needed; posterior
        columns ``post_mean``, ``hdi_low``, ``hdi_high`` drawn when present).
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
        _posterior_intervals(ax, block, rows + offset, _hdi_label(source))
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
    """Posterior mean and HDI of each level, at heights ``rows``."""
    hdi = np.vstack([block["post_mean"] - block["hdi_low"], block["hdi_high"] - block["post_mean"]])
    ax.errorbar(
        block["post_mean"],
        rows,
        xerr=hdi,
        fmt="D",
        markersize=4,
        color=COLORS["posterior"],
        capsize=3,
        label=label,
    )


def _hdi_label(source: Comparison | pd.DataFrame) -> str:
    prob = source.hdi_prob if isinstance(source, Comparison) else None
    return "posterior mean, HDI" if prob is None else f"posterior mean, {prob:.0%} HDI"
