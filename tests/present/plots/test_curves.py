"""bayeshier.present.plots.curves: lambda against group size, and the seed scenarios on it."""

from __future__ import annotations

from reference_cases import fitted_case

from bayeshier import plots, shrinkage
from bayeshier.present.comparison import compare


def _legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


# ------------------------------------------------------------- curves
def test_shrinkage_curves_with_the_data_groups(mpg_cmp):
    lines = shrinkage.curves([0.1, 1.0, 2.2])
    fig = plots.shrinkage_curves(lines, mpg_cmp.groups)
    ax = fig.axes[0]
    assert len(ax.lines) == 3
    assert ax.get_xscale() == "log"
    assert len(_legend_texts(ax)) == 4
    assert len(ax.collections[0].get_offsets()) == 7  # seven classes, sizes differ
    assert {t.get_text() for t in ax.texts} >= {"2seater", "suv"}


def test_groups_of_equal_size_share_one_labeled_marker():
    groups = compare(fitted_case("sleepstudy_intercept")).groups
    ax = plots.shrinkage_curves(shrinkage.curves([1.0]), groups).axes[0]
    assert len(ax.collections[0].get_offsets()) == 1
    assert [t.get_text() for t in ax.texts] == ["18 groups"]


def test_seed_scenarios_on_one_figure():
    ax = plots.seed_scenarios().axes[0]
    assert len([line for line in ax.lines if len(line.get_xdata()) > 2]) == 3  # 3 ratios
    labels = " ".join(t.get_text() for t in ax.texts)
    for name in ("seed_model1:", "seed_model1b:", "seed_model2:", "seed_model3:"):
        assert name in labels
    assert "5 x 500" in labels
    assert any("true" in text for text in _legend_texts(ax))
