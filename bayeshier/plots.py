"""Plots of shrinkage, of the prior-likelihood-posterior analogy, and of MCMC diagnostics.

Computing stays in :mod:`bayeshier.compare` and :mod:`bayeshier.shrinkage`:
every function here takes their tidy tables (or a
:class:`~bayeshier.compare.Comparison`), draws on ``ax`` when given (else on a
new figure) and returns the :class:`matplotlib.figure.Figure`.

=============================  =================================================
function                       shows
=============================  =================================================
:func:`shrinkage_arrows`       no-pooling estimate -> BLUP -> posterior mean
:func:`prior_likelihood_posterior`  the BLUP as a normal-normal posterior
:func:`shrinkage_curves`       lambda against group size, per variance ratio
:func:`seed_scenarios`         the four classic seed scenarios on those curves
:func:`forest`                 posterior HDI, BLUP +- 2 cond. sd, no pooling
:func:`trace`, :func:`rank`,   ArviZ 1.x diagnostics with bayeshier's names
:func:`energy`,
:func:`pair_variances`,
:func:`ppc`
=============================  =================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats

from bayeshier._plotting import COLORS, draw_arrow
from bayeshier._plotting import figure_and_axes as _figure_and_axes
from bayeshier.compare import Comparison
from bayeshier.errors import DataError
from bayeshier.plots_diagnostics import energy, model_var_names, pair_variances, ppc, rank, trace
from bayeshier.plots_slopes import shrinkage_2d
from bayeshier.shrinkage import SEED_SCENARIOS, curves, scenario_fits

__all__ = [
    "energy",
    "forest",
    "model_var_names",
    "pair_variances",
    "ppc",
    "prior_likelihood_posterior",
    "rank",
    "seed_scenarios",
    "shrinkage_2d",
    "shrinkage_arrows",
    "shrinkage_curves",
    "trace",
]

#: Distance from the axes' bottom edge to a legend placed below them (points).
LEGEND_GAP_POINTS = 30.0
#: Scenario labels go right of markers below this group size, left of them above it.
LABEL_LEFT_OF_N = 100


# ============================================================== helpers


def _group_block(
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


def _sizes(counts: pd.Series) -> np.ndarray:
    """Marker areas proportional to group size (30 to 300 points^2)."""
    n = counts.to_numpy(dtype=float)
    span = n.max() - n.min()
    return 20.0 + 140.0 * ((n - n.min()) / span if span > 0 else np.full_like(n, 0.5))


def _level_labels(block: pd.DataFrame) -> list[str]:
    return [f"{level} (n={n})" for level, n in zip(block["level"], block["n"], strict=True)]


def _population_line(ax: Axes, center: float, vertical: bool = True) -> None:
    style = {"color": COLORS["population"], "linestyle": "--", "linewidth": 1}
    label = f"population mean {center:.4g}"
    if vertical:
        ax.axvline(center, label=label, **style)
    else:
        ax.axhline(center, label=label, **style)


# ====================================================== 1. the arrows
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
        Levels on the vertical axis (ordered by no-pooling estimate, labelled
        with their size), estimates on the horizontal one; marker area grows
        with the group size.

    """
    block, center, name = _group_block(source, factor, population)
    block = block.sort_values("no_pooling", kind="stable").reset_index(drop=True)
    fig, ax = _figure_and_axes(ax, (7.0, 1.2 + 0.42 * len(block)))
    rows = np.arange(len(block))
    _population_line(ax, center)
    for row, start, end in zip(rows, block["no_pooling"], block["blup"], strict=True):
        draw_arrow(ax, (start, row), (end, row))
    sizes = _sizes(block["n"])
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
    ax.set_yticks(rows, _level_labels(block))
    ax.set_ylim(-0.7, len(block) - 0.3)
    ax.set_xlabel(f"intercept of each {name} level (marker area grows with rows per level)")
    ax.set_title(f"Shrinkage of the {name} intercepts toward the population mean")
    _legend_below(ax, ncols=2)
    return fig


def _legend_below(ax: Axes, ncols: int) -> None:
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


# ================================================ 2. the analogy drawn
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
        From :func:`bayeshier.shrinkage.normal_prior_posterior`.
    levels : sequence of str, optional
        Levels to draw, one panel each (default: up to three: the most shrunk,
        the least shrunk and the one farthest from the mean).
    center : float, optional
        Population mean the prior is centred on (default: ``table.attrs["center"]``,
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


# ================================================ 3. λ against group size
def shrinkage_curves(
    lines: pd.DataFrame,
    points: pd.DataFrame | None = None,
    *,
    ax: Axes | None = None,
) -> Figure:
    """The shrinkage weight ``lambda`` against group size, one curve per variance ratio.

    Parameters
    ----------
    lines : pandas.DataFrame
        From :func:`bayeshier.shrinkage.curves` (columns ``ratio``, ``n``, ``shrinkage``).
    points : pandas.DataFrame, optional
        Groups to mark: columns ``n``, ``shrinkage`` and optionally ``label``
        (e.g. a comparison's ``groups`` table, whose ``level`` is used as label).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        Log-scaled group size on the horizontal axis.

    """
    fig, ax = _figure_and_axes(ax, (7.0, 4.8))
    for ratio, curve in lines.groupby("ratio", sort=True):
        label = rf"$\sigma_b^2 / \sigma^2$ = {ratio:.3g}"
        ax.plot(curve["n"], curve["shrinkage"], linewidth=1.6, label=label)
    if points is not None:
        _mark_points(ax, points)
    ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.05)
    ax.set_xlabel(r"rows in the group, $n_j$ (log scale)")
    ax.set_ylabel(r"$\lambda_j$: weight on the group's own mean")
    ax.set_title(r"Shrinkage weight $\lambda_j = \sigma_b^2 / (\sigma_b^2 + \sigma^2 / n_j)$")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return fig


def _mark_points(ax: Axes, points: pd.DataFrame) -> None:
    """Mark groups; groups at the same (n, lambda) share one marker and one label."""
    labels = points["label"] if "label" in points else points.get("level")
    labels = pd.Series(range(len(points)) if labels is None else labels).astype(str)
    frame = pd.DataFrame(
        {
            "n": points["n"].to_numpy(),
            "shrinkage": points["shrinkage"].round(6).to_numpy(),
            "label": labels.to_numpy(),
        }
    )
    shared = frame.groupby(["n", "shrinkage"], sort=False)["label"].agg(list).reset_index()
    ax.scatter(
        shared["n"],
        shared["shrinkage"],
        color="black",
        zorder=5,
        s=28,
        label="groups (REML estimate)",
    )
    for n, weight, members in shared.itertuples(index=False):
        text = ", ".join(members) if len(members) <= 3 else f"{len(members)} groups"
        ax.annotate(
            text, (n, weight), xytext=(5, -11), textcoords="offset points", fontsize="x-small"
        )


def seed_scenarios(
    data: dict[str, pd.DataFrame] | None = None, *, ax: Axes | None = None
) -> Figure:
    """The four classic seed scenarios on the shrinkage curves of their true variance ratios.

    Parameters
    ----------
    data : dict, optional
        Scenario data sets keyed by name (default: the bundled exact ones).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        Curves for the true ratios (1/25, 1, 25), an open marker at each
        scenario's true ``lambda``, a filled one at its REML estimate, joined
        by a thin line and labelled with the design.

    """
    fits = scenario_fits(data)
    ratios = sorted({s.variance_ratio for s in SEED_SCENARIOS})
    fig = shrinkage_curves(curves(ratios), ax=ax)
    axes = fig.axes[0] if ax is None else ax
    for row in fits.itertuples(index=False):
        axes.plot([row.n, row.n], [row.true_shrinkage, row.shrinkage], color="black", lw=0.8)
        axes.annotate(
            _scenario_label(row),
            (row.n, row.true_shrinkage),
            xytext=(8, 0) if row.n < LABEL_LEFT_OF_N else (-8, 0),
            textcoords="offset points",
            ha="left" if row.n < LABEL_LEFT_OF_N else "right",
            va="center",
            fontsize="x-small",
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.85, "lw": 0},
        )
    axes.scatter(
        fits["n"],
        fits["true_shrinkage"],
        facecolors="white",
        edgecolors="black",
        s=55,
        zorder=5,
        label=r"true $\lambda$ of the design",
    )
    axes.scatter(
        fits["n"],
        fits["shrinkage"],
        color="black",
        s=28,
        zorder=6,
        label=r"REML estimate $\hat\lambda$",
    )
    axes.set_title("The four seed scenarios: true and estimated shrinkage")
    axes.legend(loc="lower right", fontsize="small")
    return fig


def _scenario_label(row: Any) -> str:
    return (
        f"{row.scenario}: {row.n_groups} x {row.n}, "
        rf"$\sigma_g$={row.sigma_g:g}, $\sigma_e$={row.sigma_e:g}"
    )


# ========================================================== 4. forest
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
    block, center, name = _group_block(source, factor, population)
    block = block.sort_values("blup", kind="stable").reset_index(drop=True)
    fig, ax = _figure_and_axes(ax, (7.0, 1.2 + 0.42 * len(block)))
    rows = np.arange(len(block))
    _population_line(ax, center)
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
        hdi = np.vstack(
            [block["post_mean"] - block["hdi_low"], block["hdi_high"] - block["post_mean"]]
        )
        ax.errorbar(
            block["post_mean"],
            rows + offset,
            xerr=hdi,
            fmt="D",
            markersize=4,
            color=COLORS["posterior"],
            capsize=3,
            label=_hdi_label(source),
        )
    ax.scatter(
        block["no_pooling"],
        rows,
        marker="x",
        color=COLORS["no_pooling"],
        zorder=5,
        label="no pooling (lm)",
    )
    ax.set_yticks(rows, _level_labels(block))
    ax.set_ylim(-0.7, len(block) - 0.3)
    ax.set_xlabel(f"intercept of each {name} level")
    ax.set_title(f"Level intercepts of {name}: REML, posterior and no pooling")
    _legend_below(ax, ncols=2)
    return fig


def _hdi_label(source: Comparison | pd.DataFrame) -> str:
    prob = source.hdi_prob if isinstance(source, Comparison) else None
    return "posterior mean, HDI" if prob is None else f"posterior mean, {prob:.0%} HDI"
