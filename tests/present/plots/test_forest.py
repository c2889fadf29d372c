"""bayeshier.present.plots.forest: intervals per level, REML and posterior."""

from __future__ import annotations

import numpy as np
from matplotlib.container import ErrorbarContainer
from reference_cases import fitted_case
from synthetic import synthetic_posterior

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
    assert len(bars) == 2  # BLUP +- 2 cond. sd and the posterior interval
    assert len(_tick_labels(ax)) == 7
    legend = _legend_texts(ax)
    assert "posterior mean, 89% ETI" in legend and "no pooling (lm)" in legend  # ArviZ's default
    assert any("cond. sd" in text for text in legend)
    # the bars are the comparison's ci_low to ci_high
    posterior = bars[1].lines[2][0].get_segments()
    block = mpg_cmp.group_block("class", "level")
    lows = sorted(segment[0][0] for segment in posterior)
    np.testing.assert_allclose(lows, sorted(block["ci_low"]), rtol=1e-12)


def test_forest_names_the_interval_it_was_given(mpg_cmp):
    hdi = compare(mpg_cmp.fit, synthetic_posterior(mpg_cmp.fit), ci_prob=0.94, ci_kind="hdi")
    assert "posterior mean, 94% HDI" in _legend_texts(plots.forest(hdi).axes[0])
    table = hdi.groups  # a bare table names it from its attrs
    assert "posterior mean, 94% HDI" in _legend_texts(plots.forest(table).axes[0])
    table = table.copy()
    table.attrs = {}
    legend = _legend_texts(plots.forest(table).axes[0])
    assert "posterior mean, credible interval (ci_low to ci_high)" in legend


def test_forest_without_posterior():
    ax = plots.forest(compare(fitted_case("dyestuff"))).axes[0]
    assert len([c for c in ax.containers if isinstance(c, ErrorbarContainer)]) == 1
    assert len(_tick_labels(ax)) == 6
