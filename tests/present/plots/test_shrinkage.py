"""bayeshier.present.plots.shrinkage: arrows from no pooling to the BLUP (analogy: test_analogy)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure
from reference_cases import fitted_case

from bayeshier import plots
from bayeshier.errors import DataError
from bayeshier.present.comparison import compare


def _legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def _tick_labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_yticklabels()]


# ------------------------------------------------------------- arrows
def test_shrinkage_arrows_draws_every_level(mpg_cmp):
    fig = plots.shrinkage_arrows(mpg_cmp)
    ax = fig.axes[0]
    assert isinstance(fig, Figure)
    labels = _tick_labels(ax)
    assert len(labels) == 7 and "2seater (n=5)" in labels
    arrows = [c for c in ax.texts if getattr(c, "arrow_patch", None) is not None]
    assert len(arrows) == 7
    legend = _legend_texts(ax)
    assert legend == [
        "population mean -214.3", "no pooling (lm)", "BLUP (REML)", "posterior mean"
    ]  # fmt: skip
    sizes = ax.collections[0].get_sizes()
    assert sizes.max() > sizes.min()  # marker area follows group size
    assert "class" in ax.get_title()


def test_shrinkage_arrows_without_posterior_and_on_given_axes():
    cmp = compare(fitted_case("seed_model2"))
    fig, ax = plt.subplots()
    assert plots.shrinkage_arrows(cmp, ax=ax) is fig
    assert "posterior mean" not in _legend_texts(ax)
    assert len(ax.collections) == 2


def test_shrinkage_arrows_from_a_bare_table_picks_the_factor():
    fit = fitted_case("penicillin_crossed")
    groups = compare(fit).groups
    ax = plots.shrinkage_arrows(groups, factor="sample", population=22.97).axes[0]
    assert len(_tick_labels(ax)) == 6
    with pytest.raises(DataError, match="no rows"):
        plots.shrinkage_arrows(groups, factor="nope")
