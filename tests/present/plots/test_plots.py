"""bayeshier.plots: every plot rendered with Agg and its content checked."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from reference_cases import fitted_case
from synthetic import synthetic_posterior

from bayeshier import datasets, plots, shrinkage
from bayeshier.bayes.model import Model
from bayeshier.errors import DataError
from bayeshier.present.comparison import compare


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def mpg_tree():
    return synthetic_posterior(fitted_case("mpg_class"))


@pytest.fixture(scope="module")
def mpg_cmp(mpg_tree):
    return compare(fitted_case("mpg_class"), mpg_tree)


def _legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def _tick_labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_yticklabels()]


# ------------------------------------------------------------- 1. arrows
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


# ------------------------------------------------------------ 2. analogy
def test_analogy_draws_prior_data_posterior_and_blup():
    fit = fitted_case("seed_model2")
    table = shrinkage.normal_prior_posterior(fit)
    fig = plots.prior_likelihood_posterior(table, ["1", "3"])
    assert len(fig.axes) == 2
    for ax, level in zip(fig.axes, ["1", "3"], strict=True):
        assert ax.get_title().startswith(f"g {level}")
        assert len(ax.lines) == 4  # prior, data, posterior curves and the BLUP line
        blup = ax.lines[-1].get_xdata()[0]
        assert blup == pytest.approx(fit.coef()["g"].loc[level, "Intercept"])
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(legend) == 4 and "BLUP = posterior mean" in legend


def test_analogy_default_levels_and_single_axes():
    table = shrinkage.normal_prior_posterior(fitted_case("mpg_class"))
    assert len(plots.prior_likelihood_posterior(table).axes) == 2  # 2seater is both extremes
    _, ax = plt.subplots()
    plots.prior_likelihood_posterior(table, ["suv", "pickup"], ax=ax)
    assert "suv" in ax.get_title() and len(_legend_texts(ax)) == 4
    with pytest.raises(DataError, match="'bus'"):
        plots.prior_likelihood_posterior(table, ["bus"])


def test_analogy_of_a_singular_fit_draws_spikes():
    table = shrinkage.normal_prior_posterior(fitted_case("seed_model1"))
    fig = plots.prior_likelihood_posterior(table, ["1"])
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert sum("(sd 0)" in text for text in legend) == 2
    assert "posterior = prior" in fig.axes[0].get_title()


# ------------------------------------------------------------- 3. curves
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


# ------------------------------------------------------------- 4. forest
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


# -------------------------------------------------------- 5. diagnostics
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
