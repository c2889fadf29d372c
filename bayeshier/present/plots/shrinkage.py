"""The BLUP as shrinkage: arrows from no pooling to the BLUP, and the normal-normal analogy."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats

from bayeshier.errors import DataError
from bayeshier.present.comparison import Comparison
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


def prior_likelihood_posterior(
    table: pd.DataFrame,
    levels: Sequence[str] | None = None,
    *,
    center: float | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Prior, likelihood and posterior of chosen levels: the BLUP as a posterior mean.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`bayeshier.present.shrinkage.normal_prior_posterior`.
    levels : sequence of str, optional
        Levels to draw, one panel each (default: up to three: the most shrunk,
        the least shrunk and the one farthest from the mean).
    center : float, optional
        Population mean the prior is centered on (default: ``table.attrs["center"]``,
        the fixed intercept).
    ax : matplotlib.axes.Axes, optional
        Draw one level (the first of ``levels``) on it.

    Returns
    -------
    matplotlib.figure.Figure
        Per panel: the prior ``N(center, prior_sd^2)``, the data's likelihood
        ``N(center + data_mean, data_var)``, the posterior ``N(center +
        posterior_mean, posterior_var)`` and a vertical line at the BLUP. A
        zero variance (singular fit) is drawn as a spike.

    """
    chosen = list(levels) if levels is not None else _default_levels(table)
    unknown = [level for level in chosen if level not in table.index]
    if unknown:
        raise DataError(f"No level(s) {', '.join(map(repr, unknown))} in the table.")
    shift = float(table.attrs.get("center", 0.0) if center is None else center)
    if ax is not None:
        chosen = chosen[:1]
        fig, axes = ax.get_figure(), [ax]
    else:
        fig, grid = plt.subplots(
            1, len(chosen), figsize=(4.3 * len(chosen), 3.6), layout="constrained", squeeze=False
        )
        axes = list(grid[0])
    for level, panel in zip(chosen, axes, strict=True):
        _draw_analogy(panel, table.loc[level], str(level), shift, table.attrs.get("factor", ""))
    handles, labels = axes[0].get_legend_handles_labels()
    if ax is not None:
        ax.legend(handles, labels, loc="upper left", fontsize="x-small")
    else:
        ncols = 4 if len(chosen) >= 3 else 2
        fig.legend(handles, labels, loc="outside lower center", ncols=ncols, frameon=False)
    return fig


def _default_levels(table: pd.DataFrame) -> list[str]:
    picks = [
        table["weight"].idxmin(),
        table["data_mean"].abs().idxmax(),
        table["weight"].idxmax(),
    ]
    return list(dict.fromkeys(picks))


def _draw_analogy(ax: Axes, row: pd.Series, level: str, shift: float, factor: str) -> None:
    pieces = [
        ("prior", shift, row["prior_sd"] ** 2, r"prior $N(\mu,\ \hat\sigma_b^2)$", "--"),
        (
            "likelihood",
            shift + row["data_mean"],
            row["data_var"],
            r"data $N(\mu + \bar r_j,\ \hat\sigma^2/n_j)$",
            ":",
        ),
        (
            "posterior",
            shift + row["posterior_mean"],
            row["posterior_var"],
            r"posterior (precision-weighted)",
            "-",
        ),
    ]
    spread = max(np.sqrt(v) for _, _, v, _, _ in pieces)
    means = [m for _, m, _, _, _ in pieces]
    grid = np.linspace(min(means) - 3.5 * spread, max(means) + 3.5 * spread, 400)
    for key, mean, variance, label, style in pieces:
        _draw_normal(ax, grid, mean, variance, label, style, COLORS[key])
    blup = shift + row["posterior_mean"]
    ax.axvline(blup, color=COLORS["blup"], linewidth=1.2, label="BLUP = posterior mean")
    ax.annotate(
        f"BLUP {blup:.4g}",
        xy=(blup, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(3, -12),
        textcoords="offset points",
        color=COLORS["blup"],
        fontsize="small",
    )
    singular = " (sd of groups 0: posterior = prior)" if row["prior_sd"] == 0 else ""
    title = f"{factor} {level}: $\\lambda_j$ = {row['weight']:.2f}{singular}"
    ax.set_title(title, fontsize="medium")
    ax.set_xlabel(f"intercept of {factor} {level}" if factor else "level intercept")
    ax.set_yticks([])
    ax.set_ylim(0, ax.get_ylim()[1] * 1.12)


def _draw_normal(
    ax: Axes, grid: np.ndarray, mean: float, variance: float, label: str, style: str, color: str
) -> None:
    if variance <= 0:
        ax.axvline(mean, color=color, linestyle=style, linewidth=2, label=f"{label} (sd 0)")
        return
    density = stats.norm.pdf(grid, mean, np.sqrt(variance))
    ax.plot(grid, density, linestyle=style, color=color, linewidth=1.8, label=label)
    if style == "-":
        ax.fill_between(grid, density, color=color, alpha=0.15)
