"""bayeshier.present.plots.diagnostics: ArviZ plots of the model's parameters."""

from __future__ import annotations

import pytest
from synthetic import slope_posterior

from bayeshier import datasets, plots
from bayeshier.bayes.model import Model
from bayeshier.errors import DataError


# ----------------------------------------------------------- diagnostics
def test_model_var_names(mpg_tree):
    assert plots.model_var_names(mpg_tree) == ["beta", "sd_class", "sigma"]
    assert plots.model_var_names(mpg_tree, groups=True) == ["beta", "class", "sd_class", "sigma"]


def test_trace_has_a_row_per_scalar(mpg_tree):
    fig = plots.trace(mpg_tree)
    labels = " ".join(ax.get_ylabel() + ax.get_xlabel() for ax in fig.axes)
    assert len([ax for ax in fig.axes if ax.has_data()]) == 2 * 5  # 3 beta + sd + sigma
    for name in ("Intercept", "displ", "year", "sd_class", "sigma"):
        assert name in labels


def test_rank_energy_and_pair(mpg_tree):
    rank = plots.rank(mpg_tree)
    titles = " ".join(ax.get_title() for ax in rank.axes)
    assert "sd_class" in titles and "displ" in titles
    energy = plots.energy(mpg_tree)
    assert "Energy" in energy.get_suptitle()
    pair = plots.pair_variances(mpg_tree)
    labels = {ax.get_xlabel() for ax in pair.axes} | {ax.get_ylabel() for ax in pair.axes}
    assert {"sd_class", "sigma"} <= labels and "beta" not in labels


def test_ppc_from_the_tree_or_a_model(mpg_tree):
    fig = plots.ppc(mpg_tree, num_samples=10)
    assert "10 posterior predictive" in fig.get_suptitle()
    bare = mpg_tree.copy()
    del bare["posterior_predictive"]
    with pytest.raises(DataError, match="model="):
        plots.ppc(bare)
    model = Model("hwy ~ displ + year + (1|class)", datasets.load("mpg"))
    fig = plots.ppc(bare, model, num_samples=10, seed=1)
    drawn = [ax for ax in fig.axes if ax.has_data()]
    assert len(drawn) == 1 and len(drawn[0].lines) >= 11  # 10 replicates + observed


@pytest.mark.parametrize("draw", [plots.trace, plots.rank, plots.pair_variances])
def test_diagnostic_plots_show_each_correlation_once(draw):
    fig = draw(slope_posterior())
    labels = " ".join(
        " ".join(text.get_text() for text in (ax.xaxis.label, ax.yaxis.label, ax.title))
        for ax in fig.axes
    )
    assert labels.count("corr_Subject") >= 1
    assert "Intercept, Days" in labels
    assert "Intercept, Intercept" not in labels
    assert "Days, Days" not in labels
