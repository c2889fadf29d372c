"""bayeshier.present.plots.style: the pieces every plot shares."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from reference_cases import fitted_case

from bayeshier.errors import DataError
from bayeshier.present.comparison import compare
from bayeshier.present.plots.style import (
    COLORS,
    draw_arrow,
    figure_and_axes,
    group_block,
    legend_below,
    level_labels,
    marker_sizes,
    population_line,
)


# ------------------------------------------------------------ group_block
def test_group_block_of_a_comparison_is_its_first_factor_and_intercept(mpg_cmp):
    block, center, name = group_block(mpg_cmp, None, None)
    assert name == "class" and center == mpg_cmp.population
    pd.testing.assert_frame_equal(block, mpg_cmp.group_block("class").reset_index(drop=True))
    assert group_block(mpg_cmp, "class", 1.5)[1] == 1.5


def test_group_block_of_a_bare_table_picks_the_factor_and_the_first_term():
    groups = compare(fitted_case("sleepstudy_slopes")).groups
    block, center, name = group_block(groups, None, None)
    assert name == "Subject"
    assert set(block["term"]) == {"Intercept"} and len(block) == 18
    assert center == pytest.approx(block["blup"].mean())
    with pytest.raises(DataError, match="no rows for factor 'nope'"):
        group_block(groups, "nope", None)


def test_group_block_of_a_table_without_group_and_term_columns():
    table = pd.DataFrame({"level": ["a", "b"], "n": [2, 4], "blup": [1.0, 3.0]})
    block, center, name = group_block(table, None, None)
    assert name == "group" and center == 2.0
    pd.testing.assert_frame_equal(block, table)
    assert group_block(table, "school", 0.5)[1:] == (0.5, "school")


# ---------------------------------------------------------- small pieces
def test_marker_sizes_grow_with_the_group_size():
    sizes = marker_sizes(pd.Series([5, 10, 25]))
    np.testing.assert_allclose(sizes, [20.0, 55.0, 160.0])
    np.testing.assert_allclose(marker_sizes(pd.Series([4, 4])), [90.0, 90.0])


def test_level_labels_carry_the_rows():
    block = pd.DataFrame({"level": ["a", "b"], "n": [5, 62]})
    assert level_labels(block) == ["a (n=5)", "b (n=62)"]


def test_population_line_is_dashed_and_labeled():
    _, ax = plt.subplots()
    population_line(ax, 12.3456)
    population_line(ax, 2.0, vertical=False)
    vertical, horizontal = ax.lines
    assert vertical.get_label() == "population mean 12.35"
    assert vertical.get_linestyle() == "--" and vertical.get_color() == COLORS["population"]
    assert list(vertical.get_xdata()) == [12.3456, 12.3456]
    assert list(horizontal.get_ydata()) == [2.0, 2.0]


def test_figure_and_axes_reuses_given_axes_or_makes_a_figure():
    fig, ax = plt.subplots()
    assert figure_and_axes(ax, (1.0, 1.0)) == (fig, ax)
    new_fig, new_ax = figure_and_axes(None, (3.0, 2.0))
    assert tuple(new_fig.get_size_inches()) == (3.0, 2.0)
    assert new_fig.axes == [new_ax]


def test_draw_arrow_points_from_start_to_end():
    _, ax = plt.subplots()
    draw_arrow(ax, (0.0, 1.0), (2.0, 1.0))
    (arrow,) = ax.texts
    assert arrow.xyann == (0.0, 1.0) and arrow.xy == (2.0, 1.0)
    assert arrow.arrow_patch is not None


def test_legend_below_draws_every_marker_at_one_size():
    _, ax = plt.subplots()
    ax.scatter([0, 1], [0, 1], s=[10, 300], label="points")
    ax.plot([0, 1], [1, 0], label="line")
    ax.set_xlabel("x")
    legend_below(ax, ncols=2)
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["points", "line"]
    assert list(legend.legend_handles[0].get_sizes()) == [40.0]
    assert legend.get_bbox_to_anchor().y0 < ax.get_window_extent().y0  # under the axes
