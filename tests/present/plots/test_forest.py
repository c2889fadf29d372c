"""bayeshier.present.plots.forest: intervals per level, REML and posterior."""

from __future__ import annotations

from matplotlib.container import ErrorbarContainer
from reference_cases import fitted_case

from bayeshier import plots
from bayeshier.present.comparison import compare


def _legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def _tick_labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_yticklabels()]


# ------------------------------------------------------------- forest
def test_forest_draws_intervals_per_level(mpg_cmp):
    ax = plots.forest(mpg_cmp).axes[0]
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 2  # BLUP +- 2 cond. sd and posterior HDI
    assert len(_tick_labels(ax)) == 7
    legend = _legend_texts(ax)
    assert "posterior mean, 94% HDI" in legend and "no pooling (lm)" in legend
    assert any("cond. sd" in text for text in legend)


def test_forest_without_posterior():
    ax = plots.forest(compare(fitted_case("dyestuff"))).axes[0]
    assert len([c for c in ax.containers if isinstance(c, ErrorbarContainer)]) == 1
    assert len(_tick_labels(ax)) == 6
