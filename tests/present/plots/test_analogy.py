"""bayeshier.present.plots.analogy: prior x likelihood = posterior, the BLUP as a posterior mean."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from reference_cases import fitted_case, load_reference

from bayeshier import plots, shrinkage
from bayeshier.errors import DataError
from bayeshier.present.plots.analogy import SPIKE_HEIGHT, choose_levels


def _legend(fig) -> list[str]:
    return [t.get_text() for t in fig.legends[0].get_texts()]


def test_analogy_draws_prior_data_posterior_and_blup():
    fit = fitted_case("seed_model2")
    table = shrinkage.normal_prior_posterior(fit)
    fig = plots.prior_likelihood_posterior(table, ["1", "3"])
    assert len(fig.axes) == 2
    reference = load_reference("seed_model2")
    blups = reference["ranef"]["g"]["Intercept"]
    n = fit.spec.factors[0].counts()[0]  # every group has the same size
    theta = reference["theta"]["g.(Intercept)"]
    kept = theta**2 / (theta**2 + 1 / n)  # lambda at lme4's estimates
    for ax, level in zip(fig.axes, ["1", "3"], strict=True):
        assert ax.get_title() == f"g {level}\nkept \u03bb = {kept:.2f}, pooling {1 - kept:.2f}"
        assert len(ax.lines) == 4  # prior, data, posterior curves and the BLUP line
        blup = ax.lines[-1].get_xdata()[0]
        expected = reference["fixef"]["Intercept"] + blups[level]
        assert blup == pytest.approx(expected, rel=1e-5)
    assert len(_legend(fig)) == 4 and "BLUP = posterior mean" in _legend(fig)
    assert fig.get_suptitle() == "g: 2 of 5 levels shown (chosen): 1, 3"


def test_the_figure_says_which_levels_it_shows_and_why():
    table = shrinkage.normal_prior_posterior(fitted_case("mpg_class"))
    fig = plots.prior_likelihood_posterior(table)
    # 2seater (5 cars) is both the most pooled and the farthest from the mean
    assert fig.get_suptitle() == (
        "class: 2 of 7 levels shown: 2seater (the most pooled, farthest from the mean), "
        "suv (the least pooled)"
    )
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == [
        "class 2seater (the most pooled, farthest from the mean)",
        "class suv (the least pooled)",
    ]
    assert table.loc["2seater", "kept"] == table["kept"].min()
    assert table.loc["suv", "kept"] == table["kept"].max()


def test_equal_groups_are_chosen_by_distance_from_the_mean():
    table = shrinkage.normal_prior_posterior(fitted_case("seed_model2"))
    chosen = choose_levels(table)
    distance = table["data_mean"].abs()
    assert chosen == {
        distance.idxmax(): "farthest from the mean",
        distance.idxmin(): "closest to the mean",
    }


def test_single_axes_says_one_of_how_many_and_unknown_levels_are_named():
    table = shrinkage.normal_prior_posterior(fitted_case("mpg_class"))
    _, ax = plt.subplots()
    plots.prior_likelihood_posterior(table, ["suv", "pickup"], ax=ax)
    assert ax.get_title().startswith("class suv, 1 of 7 levels")
    assert len(ax.get_legend().get_texts()) == 4
    with pytest.raises(DataError, match="'bus'"):
        plots.prior_likelihood_posterior(table, ["bus"])


def test_a_singular_fit_draws_its_zero_width_prior_as_a_visible_spike():
    table = shrinkage.normal_prior_posterior(fitted_case("seed_model1"))
    fig = plots.prior_likelihood_posterior(table, ["1"])
    ax = fig.axes[0]
    legend = _legend(fig)
    assert "prior: point mass at 0 (\u03c3_b = 0)" in legend
    assert "posterior = prior: the same point mass (variance 0)" in legend
    assert "posterior = prior" in ax.get_title() and "kept \u03bb = 0.00, pooling 1.00" in (
        ax.get_title()
    )
    spike = next(line for line in ax.lines if line.get_label().startswith("prior: point mass"))
    blup = next(line for line in ax.lines if line.get_label() == "BLUP = posterior mean")
    center = load_reference("seed_model1")["fixef"]["Intercept"]
    np.testing.assert_allclose(spike.get_xdata(), [center, center], rtol=1e-6)
    # taller than most of the axes, wider than the BLUP line on top of it, so it shows
    assert spike.get_ydata()[1] == SPIKE_HEIGHT > 0.5
    assert spike.get_linewidth() > 2 * blup.get_linewidth()
    assert spike.get_zorder() < blup.get_zorder()
