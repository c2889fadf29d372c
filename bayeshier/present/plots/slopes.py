"""Shrinkage in two dimensions: random intercepts and slopes together.

With ``(x|g)`` each level has an intercept and a slope, and shrinkage acts
on the pair: the BLUP pulls the level's own least-squares line toward the
population line along the population covariance of the effects, so a point
can move sideways as well as inward. :func:`shrinkage_2d` draws, per level,
the no-pooling estimate (the level's own ``lm``), an arrow to the BLUP, the
posterior mean if there is one, and the population covariance ellipses
centered on the fixed effects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse
from scipy import stats

from bayeshier.errors import DataError
from bayeshier.present.comparison import Comparison
from bayeshier.present.plots.style import COLORS, draw_arrow, figure_and_axes

__all__ = ["shrinkage_2d"]

#: Probability mass inside the drawn population ellipses.
ELLIPSE_MASSES = (0.5, 0.95)


def shrinkage_2d(
    cmp: Comparison,
    *,
    factor: str | None = None,
    terms: tuple[str, str] | None = None,
    labels: bool = True,
    ax: Axes | None = None,
) -> Figure:
    """Per level: the own-``lm`` intercept and slope, an arrow to the BLUP, the posterior mean.

    Parameters
    ----------
    cmp : Comparison
        From :func:`bayeshier.present.comparison` on a fit with random slopes (with a
        posterior, its means are drawn too).
    factor : str, optional
        Grouping factor (default: the first with two or more terms).
    terms : tuple of two str, optional
        The two terms on the axes (default: the factor's first two, e.g.
        ``("Intercept", "Days")``).
    labels : bool, default True
        Write each level's label next to its no-pooling point.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        The ellipses hold 50% and 95% of the population distribution of the
        (intercept, slope) pairs, ``N(fixed effects, Sigma)`` with ``Sigma``
        the REML covariance: the prior the BLUPs are shrunk with. Levels
        whose own slope is not estimable (NaN no-pooling) have no arrow.

    Raises
    ------
    DataError
        If the factor has fewer than two random-effect terms.

    """
    name, (first, second) = _choose(cmp, factor, terms)
    x = cmp.group_block(name, "level", first).reset_index(drop=True)
    y = cmp.group_block(name, "level", second).reset_index(drop=True)
    fig, ax = figure_and_axes(ax, (9.5, 6.0))
    center = np.array([cmp.fit.fixef.get(t, 0.0) for t in (first, second)])
    covariance = cmp.fit.covariances[name].loc[[first, second], [first, second]].to_numpy()
    _population_ellipses(ax, center, covariance)
    _arrows(ax, x, y)
    if labels:
        _level_labels(ax, x, y)
    ax.set_xlabel(f"{first} (fixed + group effect)")
    ax.set_ylabel(f"{second} (fixed + group effect)")
    ax.set_title(f"{name}: no pooling \u2192 BLUP (\u2192 posterior mean), two dimensions")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    return fig


def _choose(
    cmp: Comparison, factor: str | None, terms: tuple[str, str] | None
) -> tuple[str, tuple[str, str]]:
    factors = cmp.fit.spec.factors
    if factor is None:
        with_slopes = [f for f in factors if f.n_columns >= 2]
        if not with_slopes:
            raise DataError(
                "shrinkage_2d needs a factor with random slopes, e.g. '(Days|Subject)'; "
                "this model has random intercepts only: use plots.shrinkage_arrows."
            )
        grouping = with_slopes[0]
    else:
        grouping = cmp.fit.spec.factor(factor)
    if grouping.n_columns < 2:
        raise DataError(
            f"The factor {grouping.name!r} has one random-effect term ({grouping.terms[0]}): "
            "shrinkage_2d needs two, e.g. '(Days|Subject)'."
        )
    chosen = tuple(terms) if terms is not None else grouping.terms[:2]
    unknown = [t for t in chosen if t not in grouping.terms]
    if len(chosen) != 2 or unknown:
        raise DataError(
            f"terms must be two of {', '.join(grouping.terms)} (the random-effect terms of "
            f"{grouping.name!r}), got {list(chosen)}."
        )
    return grouping.name, chosen


def _population_ellipses(ax: Axes, center: np.ndarray, covariance: np.ndarray) -> None:
    """Contours of ``N(center, covariance)`` holding :data:`ELLIPSE_MASSES`."""
    values, vectors = np.linalg.eigh(covariance)
    values = np.maximum(values, 0.0)
    angle = float(np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1])))
    for mass, style in zip(ELLIPSE_MASSES, ("-", "--"), strict=True):
        radius = np.sqrt(stats.chi2.ppf(mass, df=2))
        width, height = 2 * radius * np.sqrt(values[-1]), 2 * radius * np.sqrt(values[0])
        ax.add_patch(
            Ellipse(
                tuple(center),
                width,
                height,
                angle=angle,
                fill=False,
                linestyle=style,
                edgecolor=COLORS["population"],
                linewidth=1.0,
                label=f"population, {mass:.0%} of groups (REML)",
            )
        )
    ax.scatter(
        *center, marker="+", s=160, color=COLORS["population"], zorder=5, label="fixed effects"
    )


def _arrows(ax: Axes, x: pd.DataFrame, y: pd.DataFrame) -> None:
    own = np.isfinite(x["no_pooling"].to_numpy()) & np.isfinite(y["no_pooling"].to_numpy())
    for start_x, start_y, end_x, end_y in zip(
        x["no_pooling"][own], y["no_pooling"][own], x["blup"][own], y["blup"][own], strict=True
    ):
        draw_arrow(ax, (start_x, start_y), (end_x, end_y), width=1.1)
    ax.scatter(
        x["no_pooling"][own],
        y["no_pooling"][own],
        s=36,
        facecolors="white",
        edgecolors=COLORS["no_pooling"],
        linewidths=1.4,
        zorder=3,
        label="no pooling (each group's own lm)",
    )
    ax.scatter(x["blup"], y["blup"], s=30, color=COLORS["blup"], zorder=6, label="BLUP (REML)")
    if "post_mean" in x.columns:
        ax.scatter(
            x["post_mean"],
            y["post_mean"],
            s=28,
            marker="D",
            facecolors="none",
            edgecolors=COLORS["posterior"],
            linewidths=1.2,
            zorder=7,
            label="posterior mean",
        )


def _level_labels(ax: Axes, x: pd.DataFrame, y: pd.DataFrame) -> None:
    for level, px, py in zip(x["level"], x["no_pooling"], y["no_pooling"], strict=True):
        if np.isfinite(px) and np.isfinite(py):
            ax.annotate(
                str(level),
                (px, py),
                xytext=(4, 4),
                textcoords="offset points",
                fontsize="x-small",
                color=COLORS["no_pooling"],
            )
