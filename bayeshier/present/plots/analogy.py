"""The BLUP as a posterior mean: prior, likelihood and posterior of a few levels.

:func:`prior_likelihood_posterior` draws, per level, the normal prior of the
group effects, the normal likelihood of the level's mean residual and their
precision-weighted product, whose mean is the BLUP. The figure says which
levels it shows and why (by default the most pooled, the least pooled and the
one farthest from the mean), and a singular fit's zero-width prior is drawn
as a tall spike with its own label, not hidden behind the posterior and BLUP
lines.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats

from bayeshier.errors import DataError
from bayeshier.present.plots.style import COLORS

__all__ = ["choose_levels", "prior_likelihood_posterior"]

#: Height of a point mass's spike, as a fraction of the axes' height.
SPIKE_HEIGHT = 0.86
#: Label of the prior's spike when the group sd is 0 (a singular fit).
SPIKE_LABEL = "prior: point mass at 0 (\u03c3_b = 0)"


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
        Levels to draw, one panel each (default: see :func:`choose_levels`).
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
        posterior_mean, posterior_var)`` and a vertical line at the BLUP; the
        panel's title names the level, why it is shown, and its ``kept`` and
        ``pooling``. The figure's title says which levels are shown, of how
        many, and why. A zero prior variance (singular fit) is a tall spike
        labeled as a point mass, the posterior (equal to it) a diamond on it.

    """
    chosen = choose_levels(table, levels)
    shift = float(table.attrs.get("center", 0.0) if center is None else center)
    factor = str(table.attrs.get("factor", ""))
    if ax is not None:
        chosen = dict(list(chosen.items())[:1])
        fig, axes = ax.get_figure(), [ax]
    else:
        fig, grid = plt.subplots(
            1, len(chosen), figsize=(4.6 * len(chosen), 3.9), layout="constrained", squeeze=False
        )
        axes = list(grid[0])
    for (level, reason), panel in zip(chosen.items(), axes, strict=True):
        _draw_analogy(panel, table.loc[level], level, shift, factor)
        of_levels = len(table) if ax is not None else 0
        _title(panel, table.loc[level], level, factor, reason, of_levels)
    handles, labels = axes[0].get_legend_handles_labels()
    if ax is not None:
        ax.legend(handles, labels, loc="upper left", fontsize="x-small")
    else:
        fig.suptitle(shown_levels_caption(table, chosen, levels is not None), fontsize="medium")
        ncols = 3 if len(labels) > 4 else 2
        fig.legend(handles, labels, loc="outside lower center", ncols=ncols, frameon=False)
    return fig


def choose_levels(table: pd.DataFrame, levels: Sequence[str] | None = None) -> dict[str, str]:
    """The levels to draw, each with why it is shown.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`bayeshier.present.shrinkage.normal_prior_posterior`.
    levels : sequence of str, optional
        The caller's choice (reason ``"chosen"``). By default: the most
        pooled level (smallest ``kept``), the one farthest from the mean
        (largest ``|data_mean|``) and the least pooled (largest ``kept``),
        reasons merged when one level is several of them; when every level
        keeps the same share, the farthest from and the closest to the mean.

    Returns
    -------
    dict of str to str
        Level -> reason, in drawing order.

    Raises
    ------
    DataError
        A level that is not in the table.

    """
    if levels is not None:
        chosen = {str(level): "chosen" for level in levels}
        unknown = [level for level in chosen if level not in table.index]
        if unknown:
            known = ", ".join(map(str, table.index[:10]))
            raise DataError(
                f"No level(s) {', '.join(map(repr, unknown))} in the table (its levels: {known})."
            )
        return chosen
    distance = table["data_mean"].abs()
    if np.isclose(table["kept"].min(), table["kept"].max(), rtol=1e-12, atol=0.0):
        picks = [(distance.idxmax(), "farthest from the mean"),
                 (distance.idxmin(), "closest to the mean")]  # fmt: skip
    else:
        picks = [(table["kept"].idxmin(), "the most pooled"),
                 (distance.idxmax(), "farthest from the mean"),
                 (table["kept"].idxmax(), "the least pooled")]  # fmt: skip
    reasons: dict[str, list[str]] = {}
    for level, reason in picks:
        reasons.setdefault(str(level), []).append(reason)
    return {level: ", ".join(why) for level, why in reasons.items()}


def shown_levels_caption(table: pd.DataFrame, chosen: dict[str, str], given: bool) -> str:
    """``"class: 2 of 7 levels shown: 2seater (the most pooled, ...), suv (the least pooled)"``."""
    factor = str(table.attrs.get("factor", "")) or "levels"
    head = f"{factor}: {len(chosen)} of {len(table)} levels shown"
    if given:
        return f"{head} (chosen): {', '.join(chosen)}"
    parts = ", ".join(f"{level} ({reason})" for level, reason in chosen.items())
    kept = table["kept"]
    same = np.isclose(kept.min(), kept.max(), rtol=1e-12, atol=0.0)
    note = f"; every level keeps the same share, kept = {kept.iloc[0]:.2f}" if same else ""
    return f"{head}: {parts}{note}"


def _title(ax: Axes, row: pd.Series, level: str, factor: str, reason: str, of_levels: int) -> None:
    """``"<factor> <level> (<why>)"``, its kept and pooling (``of_levels``: say "1 of n")."""
    singular = "\n\u03c3_b = 0 (singular fit): posterior = prior" if row["prior_sd"] == 0 else ""
    why = "" if reason == "chosen" else f" ({reason})"
    of = f", 1 of {of_levels} levels" if of_levels else ""
    ax.set_title(
        f"{factor} {level}{why}{of}\nkept \u03bb = {row['kept']:.2f}, pooling "
        f"{row['pooling']:.2f}{singular}",
        fontsize="medium",
    )


def _draw_analogy(ax: Axes, row: pd.Series, level: str, shift: float, factor: str) -> None:
    pieces = [
        ("prior", shift, row["prior_sd"] ** 2, r"prior $N(\mu,\ \hat\sigma_b^2)$", "--"),
        ("likelihood", shift + row["data_mean"], row["data_var"],
         r"data $N(\mu + \bar r_j,\ \hat\sigma^2/n_j)$", ":"),
        ("posterior", shift + row["posterior_mean"], row["posterior_var"],
         r"posterior (precision-weighted)", "-"),
    ]  # fmt: skip
    spread = max(np.sqrt(v) for _, _, v, _, _ in pieces)
    means = [m for _, m, _, _, _ in pieces]
    grid = np.linspace(min(means) - 3.5 * spread, max(means) + 3.5 * spread, 400)
    for key, mean, variance, label, style in pieces:
        if variance > 0:
            _draw_normal(ax, grid, mean, variance, label, style, COLORS[key])
        else:
            _draw_point_mass(ax, key, mean)
    blup = shift + row["posterior_mean"]
    ax.axvline(blup, color=COLORS["blup"], linewidth=1.2, label="BLUP = posterior mean", zorder=4)
    ax.annotate(
        f"BLUP {blup:.4g}",
        xy=(blup, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(3, -12),
        textcoords="offset points",
        color=COLORS["blup"],
        fontsize="small",
    )
    ax.set_xlabel(f"intercept of {factor} {level}" if factor else "level intercept")
    ax.set_yticks([])
    ax.set_ylim(0, ax.get_ylim()[1] * 1.12)


def _draw_normal(
    ax: Axes, grid: np.ndarray, mean: float, variance: float, label: str, style: str, color: str
) -> None:
    density = stats.norm.pdf(grid, mean, np.sqrt(variance))
    ax.plot(grid, density, linestyle=style, color=color, linewidth=1.8, label=label)
    if style == "-":
        ax.fill_between(grid, density, color=color, alpha=0.15)


def _draw_point_mass(ax: Axes, key: str, mean: float) -> None:
    """A zero-variance prior as a tall thick spike; the posterior (equal to it) as a diamond.

    Both stand in axes-fraction heights, so they show whatever the likelihood's
    density scale, and under the thinner BLUP line drawn on top.
    """
    where = ax.get_xaxis_transform()  # x in data, y in axes fraction
    if key == "prior":
        ax.plot(
            [mean, mean],
            [0.0, SPIKE_HEIGHT],
            transform=where,
            color=COLORS["prior"],
            linewidth=5,
            solid_capstyle="butt",
            marker="^",
            markevery=[1],
            markersize=12,
            zorder=3,
            label=SPIKE_LABEL,
        )
        ax.annotate(
            f"b_j = 0: at \u03bc = {mean:.4g}",
            xy=(mean, 0.72 * SPIKE_HEIGHT),
            xycoords=where,
            xytext=(9, 0),
            textcoords="offset points",
            color=COLORS["prior"],
            fontsize="small",
            va="center",
        )
    else:
        ax.plot(
            [mean],
            [SPIKE_HEIGHT / 2],
            transform=where,
            linestyle="none",
            marker="D",
            markersize=8,
            color=COLORS[key],
            zorder=5,
            label=f"{key} = prior: the same point mass (variance 0)",
        )
