"""Shared pieces of the plotting modules: colors, axes, legends, arrows, level rows."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bayeshier.errors import DataError
from bayeshier.present.comparison import Comparison

__all__ = [
    "COLORS",
    "draw_arrow",
    "figure_and_axes",
    "group_block",
    "legend_below",
    "level_labels",
    "marker_sizes",
    "population_line",
]

#: Distance from the axes' bottom edge to a legend placed below them (points).
LEGEND_GAP_POINTS = 30.0

COLORS = {
    "no_pooling": "#7f7f7f",
    "blup": "#1f77b4",
    "posterior": "#d62728",
    "prior": "#2ca02c",
    "likelihood": "#7f7f7f",
    "population": "#444444",
}


def figure_and_axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    """The figure of ``ax``, or a new figure of ``size`` inches with one axes."""
    if ax is not None:
        return ax.get_figure(), ax
    fig, new_ax = plt.subplots(figsize=size, layout="constrained")
    return fig, new_ax


def draw_arrow(
    ax: Axes, start: tuple[float, float], end: tuple[float, float], width: float = 1.3
) -> None:
    """An arrow from a no-pooling estimate to its BLUP."""
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={"arrowstyle": "-|>", "color": COLORS["blup"], "lw": width},
        zorder=6,
    )


def group_block(
    source: Comparison | pd.DataFrame, factor: str | None, population: float | None
) -> tuple[pd.DataFrame, float, str]:
    """One factor's rows of a ``groups`` table, the population mean and the factor name."""
    if isinstance(source, Comparison):
        name = factor or source.fit.spec.factors[0].name
        block = source.group_block(name)
        center = source.population if population is None else population
        return block.reset_index(drop=True), center, name
    table = source
    if "group" in table.columns:
        name = factor or str(table["group"].iloc[0])
        table = table[table["group"] == name]
        if table.empty:
            raise DataError(f"The groups table has no rows for factor {name!r}.")
    if "term" in table.columns:  # random slopes: the first term (the intercept)
        table = table[table["term"] == table["term"].iloc[0]]
    else:
        name = factor or "group"
    center = float(population) if population is not None else float(table["blup"].mean())
    return table.reset_index(drop=True), center, name


def marker_sizes(counts: pd.Series) -> np.ndarray:
    """Marker areas growing linearly with group size (20 to 160 points^2; 90 if all equal)."""
    n = counts.to_numpy(dtype=float)
    span = n.max() - n.min()
    return 20.0 + 140.0 * ((n - n.min()) / span if span > 0 else np.full_like(n, 0.5))


def level_labels(block: pd.DataFrame) -> list[str]:
    """Tick labels of a factor's levels, each with its number of rows.

    Parameters
    ----------
    block : pandas.DataFrame
        One factor's rows of a ``groups`` table (columns ``level`` and ``n``).

    Returns
    -------
    list of str
        ``"<level> (n=<rows>)"`` per row, in the block's order.

    """
    return [f"{level} (n={n})" for level, n in zip(block["level"], block["n"], strict=True)]


def population_line(ax: Axes, center: float, vertical: bool = True) -> None:
    """Mark the population mean the BLUPs shrink toward with a dashed, labeled line.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes to draw on.
    center : float
        The population mean (the fixed intercept, or the mean of the BLUPs).
    vertical : bool, default True
        A vertical line (estimates on the horizontal axis) or a horizontal one.

    """
    style = {"color": COLORS["population"], "linestyle": "--", "linewidth": 1}
    label = f"population mean {center:.4g}"
    if vertical:
        ax.axvline(center, label=label, **style)
    else:
        ax.axhline(center, label=label, **style)


def legend_below(ax: Axes, ncols: int) -> None:
    """A legend under the axes (below the x label), every marker drawn at one size."""
    fig = ax.get_figure()
    height_points = max(ax.get_window_extent().height * 72.0 / fig.dpi, 1.0)
    gap_points = LEGEND_GAP_POINTS if ax.get_xlabel() else LEGEND_GAP_POINTS / 2
    legend = ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -gap_points / height_points),
        ncols=ncols,
        fontsize="small",
        frameon=False,
    )
    for handle in legend.legend_handles:
        if hasattr(handle, "set_sizes"):
            handle.set_sizes([40.0])
