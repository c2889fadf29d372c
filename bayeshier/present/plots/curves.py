"""The share a group keeps against its size: the curves of lambda, the seed scenarios on them.

``kept`` is ``lambda_j = sigma_b^2 / (sigma_b^2 + sigma^2 / n_j)``, the share
of its own deviation a group's BLUP keeps; ``pooling = 1 - kept`` is the
share pooled toward the population mean.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bayeshier.errors import DataError
from bayeshier.present.plots.style import figure_and_axes
from bayeshier.present.scenarios import SEED_SCENARIOS, scenario_fits
from bayeshier.present.shrinkage import curves

__all__ = ["seed_scenarios", "shrinkage_curves"]

#: Scenario labels go right of markers below this group size, left of them above it.
LABEL_LEFT_OF_N = 100


def shrinkage_curves(
    lines: pd.DataFrame,
    points: pd.DataFrame | None = None,
    *,
    ax: Axes | None = None,
) -> Figure:
    """The share kept, ``lambda``, against group size, one curve per variance ratio.

    Parameters
    ----------
    lines : pandas.DataFrame
        From :func:`bayeshier.present.shrinkage.curves` (columns ``ratio``, ``n``, ``kept``).
    points : pandas.DataFrame, optional
        Groups to mark: columns ``n``, ``kept`` and optionally ``label``
        (e.g. a comparison's ``groups`` table, whose ``level`` is used as
        label, or :func:`bayeshier.present.shrinkage.level_weights`).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        Log-scaled group size on the horizontal axis.

    """
    _require_kept(lines, "lines")
    fig, ax = figure_and_axes(ax, (7.0, 4.8))
    for ratio, curve in lines.groupby("ratio", sort=True):
        label = rf"$\sigma_b^2 / \sigma^2$ = {ratio:.3g}"
        ax.plot(curve["n"], curve["kept"], linewidth=1.6, label=label)
    if points is not None:
        _require_kept(points, "points")
        _mark_points(ax, points)
    ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.05)
    ax.set_xlabel(r"rows in the group, $n_j$ (log scale)")
    ax.set_ylabel("kept: share of its own mean a group keeps\n(pooling = 1 \u2212 kept)")
    ax.set_title(
        r"Share kept $\lambda_j = \sigma_b^2 / (\sigma_b^2 + \sigma^2 / n_j)$"
        "\n(1: no pooling, 0: complete pooling)",
        fontsize="medium",
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return fig


def _require_kept(table: pd.DataFrame, name: str) -> None:
    """Refuse a table without ``kept`` (naming the column's former name ``shrinkage``)."""
    if "kept" not in table.columns or "n" not in table.columns:
        former = " (the column 'shrinkage' is now 'kept')" if "shrinkage" in table else ""
        raise DataError(
            f"{name} needs columns 'n' and 'kept'{former}, got {', '.join(map(str, table))}: "
            "pass shrinkage.curves(...), a comparison's groups table or shrinkage.level_weights."
        )


def _mark_points(ax: Axes, points: pd.DataFrame) -> None:
    """Mark groups; groups at the same (n, kept) share one marker and one label."""
    labels = points["label"] if "label" in points else points.get("level")
    labels = pd.Series(range(len(points)) if labels is None else labels).astype(str)
    frame = pd.DataFrame(
        {
            "n": points["n"].to_numpy(),
            "kept": points["kept"].round(6).to_numpy(),
            "label": labels.to_numpy(),
        }
    )
    shared = frame.groupby(["n", "kept"], sort=False)["label"].agg(list).reset_index()
    ax.scatter(
        shared["n"],
        shared["kept"],
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
    """The four classic seed scenarios on the curves of their true variance ratios.

    Parameters
    ----------
    data : dict, optional
        Scenario data sets keyed by name (default: the bundled exact ones).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        Curves of the share kept for the true ratios (1/25, 1, 25), an open
        marker at each scenario's true ``lambda``, a filled one at its REML
        estimate, joined by a thin line and labeled with the design.

    """
    fits = scenario_fits(data)
    ratios = sorted({s.variance_ratio for s in SEED_SCENARIOS})
    fig = shrinkage_curves(curves(ratios), ax=ax)
    axes = fig.axes[0] if ax is None else ax
    for row in fits.itertuples(index=False):
        axes.plot([row.n, row.n], [row.true_kept, row.kept], color="black", lw=0.8)
        axes.annotate(
            _scenario_label(row),
            (row.n, row.true_kept),
            xytext=(8, 0) if row.n < LABEL_LEFT_OF_N else (-8, 0),
            textcoords="offset points",
            ha="left" if row.n < LABEL_LEFT_OF_N else "right",
            va="center",
            fontsize="x-small",
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.85, "lw": 0},
        )
    axes.scatter(
        fits["n"],
        fits["true_kept"],
        facecolors="white",
        edgecolors="black",
        s=55,
        zorder=5,
        label=r"true share kept $\lambda$ of the design",
    )
    axes.scatter(
        fits["n"],
        fits["kept"],
        color="black",
        s=28,
        zorder=6,
        label=r"REML estimate $\hat\lambda$ (kept)",
    )
    axes.set_title("The four seed scenarios: true and estimated share kept (1 \u2212 pooling)")
    axes.legend(loc="lower right", fontsize="small")
    return fig


def _scenario_label(row: Any) -> str:
    return (
        f"{row.scenario}: {row.n_groups} x {row.n}, "
        rf"$\sigma_g$={row.sigma_g:g}, $\sigma_e$={row.sigma_e:g}"
    )
