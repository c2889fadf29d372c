"""Shared pieces of the plotting modules: colours, new axes, shrinkage arrows."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["COLORS", "draw_arrow", "figure_and_axes"]

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
