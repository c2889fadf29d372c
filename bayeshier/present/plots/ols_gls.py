"""Why ``lm`` and ``lmer`` give different slopes, in one picture.

:func:`ols_vs_within` draws the response against one fixed-effect term with
three fitted lines: the pooled OLS line (``lm(y ~ fixed part)``, every row
independent, so it learns the slope partly *between* groups), one line per
level with the common within-group slope (``lm(y ~ 0 + g + fixed part)``:
the group as a fixed effect, so the slope comes only from differences
*within* groups; :func:`bayeshier.present.baselines.within_slopes`), and the
REML (GLS) population line, which sits where
:meth:`~bayeshier.present.comparison.Comparison.explain_ols_vs_gls` says. It
is the picture of that explanation: for ``hwy ~ displ + year + (1|class)``
on ``mpg``, big-engine classes (SUVs, pickups) sit low for reasons beyond
the engine, which steepens the pooled slope.

A model with an offset is drawn as ``y - offset`` (what all three lines
fit); a weighted model's OLS and within lines are weighted least squares, as
``lm(..., weights = w)`` (their labels say so).
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bayeshier.errors import DataError
from bayeshier.present.baselines import (
    lm_extras,
    no_pooling,
    no_pooling_formula,
    within_slopes,
)
from bayeshier.present.comparison import Comparison, compare
from bayeshier.present.plots.style import COLORS, figure_and_axes, legend_below
from bayeshier.reml import RemlFit
from bayeshier.spec.model_spec import GroupingFactor, ModelSpec

__all__ = ["ols_vs_within"]

#: Levels are written at the end of their within line up to this many levels.
MAX_LEVEL_LABELS = 12
#: Color, line style and width of the pooled OLS and the REML (GLS) lines.
LINE_STYLES = {"ols": ("black", "--", 2.0), "reml": (COLORS["blup"], "-", 2.6)}


def ols_vs_within(
    cmp: Comparison | RemlFit,
    term: str | None = None,
    *,
    factor: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The response against ``term``: pooled OLS, within-group and REML (GLS) lines.

    Parameters
    ----------
    cmp : Comparison or RemlFit
        From :func:`bayeshier.compare` (or the REML fit, compared here) of a
        model with a random intercept and at least one fixed-effect term
        besides the intercept, fitted to rows in memory.
    term : str, optional
        The fixed-effect term on the horizontal axis (default: the first
        one that is not the intercept), as it enters the design (e.g.
        ``displ``, or ``log(displ)`` for a transformed column).
    factor : str, optional
        The grouping factor whose within-group lines are drawn (default: the
        first); it must have a random intercept only.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        The rows coloured by level; the pooled OLS line (black, dashed); per
        level, the line with its own intercept and the within slope, over the
        level's own range of ``term``; the REML (GLS) population line (blue).
        The other fixed terms are held at their means (the title says at
        what values); the legend gives each slope.

    Raises
    ------
    DataError
        An unknown or intercept ``term``, a model without another fixed
        term, or a factor with random slopes.

    Examples
    --------
    >>> from bayeshier import datasets, fit_reml, plots
    >>> fit = fit_reml("hwy ~ displ + year + (1|class)", datasets.load("mpg"))
    >>> fig = plots.ols_vs_within(fit)  # hwy against displ, three slopes

    """
    cmp = cmp if isinstance(cmp, Comparison) else compare(cmp)
    fit = cmp.fit
    grouping = _factor(cmp, factor)
    term = _term(cmp, term)
    spec = fit.spec
    x, y = spec.X[:, spec.fixed_names.index(term)], _response(spec)
    at_means = _other_means(cmp, term)
    fig, ax = figure_and_axes(ax, (8.0, 6.2))
    colors = _level_colors(grouping)
    ax.scatter(
        x,
        y,
        s=14,
        c=colors[grouping.codes],
        alpha=0.45,
        linewidths=0,
        label=f"rows, coloured by {grouping.name}",
    )
    _within_lines(ax, cmp, grouping, term, at_means, colors)
    span = np.array([x.min(), x.max()])
    for column, (color, dash, width) in LINE_STYLES.items():
        coefficients = cmp.fixed.set_index("term")[column]
        offset = sum(coefficients[name] * value for name, value in at_means.items())
        ax.plot(
            span,
            offset + coefficients[term] * span,
            color=color,
            linestyle=dash,
            linewidth=width,
            label=_line_label(cmp, column, coefficients[term]),
            zorder=5,
        )
    ax.set_xlabel(term)
    ax.set_ylabel(spec.response if spec.offset is None else f"{spec.response} \u2212 offset")
    ax.set_title(_title(cmp, term, grouping.name, at_means), fontsize="medium")
    legend_below(ax, ncols=2)
    return fig


def _response(spec: ModelSpec) -> np.ndarray:
    """``y``, or ``y - offset`` for a model with an offset (what every line fits)."""
    return spec.y if spec.offset is None else spec.y - np.asarray(spec.offset, dtype=float)


def _factor(cmp: Comparison, name: str | None) -> GroupingFactor:
    grouping = cmp.fit.spec.factor(name) if name is not None else cmp.fit.spec.factors[0]
    if not grouping.intercept_only:
        raise DataError(
            f"ols_vs_within draws within-{grouping.name} lines with one common slope, but "
            f"{grouping.name!r} has random slopes ({', '.join(grouping.terms)}): each level "
            "has its own line there; plots.shrinkage_2d shows them."
        )
    return grouping


def _term(cmp: Comparison, term: str | None) -> str:
    candidates = [t for t in cmp.fit.spec.fixed_names if t != "Intercept"]
    if not candidates:
        raise DataError(
            f"{cmp.fit.spec.formula.text!r} has no fixed-effect term besides the intercept: "
            "there is no slope for OLS and GLS to differ on (see explain_ols_vs_gls())."
        )
    if term is None:
        return candidates[0]
    if term not in candidates:
        raise DataError(
            f"term must be one of the fixed-effect terms {', '.join(candidates)}, got {term!r}."
        )
    return term


def _other_means(cmp: Comparison, term: str) -> dict[str, float]:
    """Each fixed-effect column but ``term`` -> its mean (the intercept's is 1)."""
    spec = cmp.fit.spec
    return {
        name: float(spec.X[:, j].mean()) for j, name in enumerate(spec.fixed_names) if name != term
    }


def _level_colors(grouping: GroupingFactor) -> np.ndarray:
    palette = mpl.colormaps["tab10" if grouping.n_levels <= 10 else "tab20"]
    return np.array([palette(i % palette.N) for i in range(grouping.n_levels)])


def _within_lines(
    ax: Axes,
    cmp: Comparison,
    grouping: GroupingFactor,
    term: str,
    at_means: dict[str, float],
    colors: np.ndarray,
) -> None:
    """Each level's line: its own intercept, the common within slope, over its own range."""
    spec = cmp.fit.spec
    slopes = within_slopes(spec, grouping.name)
    own = no_pooling(spec, grouping.name)
    offset = sum(slopes.get(name, 0.0) * value for name, value in at_means.items())
    x = spec.X[:, spec.fixed_names.index(term)]
    frame = pd.DataFrame({"x": x, "code": grouping.codes})
    ranges = frame.groupby("code")["x"].agg(["min", "max"])
    label = (
        f"within {grouping.name} ({grouping.name} as a fixed effect): slope "
        f"{slopes[term]:.4g}, one line per {grouping.name}"
    )
    for position, (code, (low, high)) in enumerate(ranges.iterrows()):
        level, color = grouping.levels[int(code)], colors[int(code)]
        span = np.array([low, high])
        line = own[level] + offset + slopes[term] * span
        ax.plot(
            span, line, color=color, linewidth=1.6, label=label if position == 0 else "_nolegend_"
        )
        if grouping.n_levels <= MAX_LEVEL_LABELS:
            ax.annotate(
                str(level),
                (high, line[-1]),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize="x-small",
                color=color,
            )


def _line_label(cmp: Comparison, column: str, slope: float) -> str:
    if column == "ols":
        spec = cmp.fit.spec
        return f"pooled OLS, lm({spec.formula.fixed_formula}{lm_extras(spec)}): slope {slope:.4g}"
    return f"REML (GLS) population line: slope {slope:.4g}"


def _title(cmp: Comparison, term: str, factor: str, at_means: dict[str, float]) -> str:
    others = [f"{name} = {value:.6g}" for name, value in at_means.items() if name != "Intercept"]
    held = f"; other terms at their means ({', '.join(others)})" if others else ""
    return (
        f"{cmp.fit.spec.response} against {term}: pooled OLS, within-{factor} and REML (GLS) "
        f"slopes\nwithin: {no_pooling_formula(cmp.fit.spec, factor)}{held}"
    )
