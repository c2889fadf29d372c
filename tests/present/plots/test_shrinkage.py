"""bayeshier.present.plots.shrinkage: arrows from no pooling to the BLUP, the normal-normal view."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure
from reference_cases import fitted_case

from bayeshier import plots, shrinkage
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


# ------------------------------------------------------------ analogy
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
