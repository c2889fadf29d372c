"""Rows sharing their linear predictor merge into exact binomial / Poisson cells."""

from __future__ import annotations

import numpy as np
from scipy import stats

from bayeshier.bayes.glmm.aggregate import aggregate_rows
from bayeshier.reml.glmm import make_family
from bayeshier.reml.glmm.response import glmm_data


def test_bernoulli_rows_become_one_cell_per_group(seed_case) -> None:
    reference, data = seed_case
    prepared = glmm_data(reference["formula"], data, make_family("binomial"))
    cells = aggregate_rows(prepared.spec, prepared.y, prepared.n, prepared.offset)
    assert cells.n_cells == 5 and cells.n_rows == 100
    expected = data.groupby("g", observed=True)["y"].sum().to_numpy()
    order = [prepared.spec.factors[0].levels[c] for c in cells.codes[0]]
    assert order == ["1", "2", "3", "4", "5"]
    np.testing.assert_array_equal(cells.successes, expected)
    np.testing.assert_array_equal(cells.trials, np.full(5, 20.0))
    np.testing.assert_array_equal(cells.row_cell, np.repeat(np.arange(5), 20))


def test_distinct_rows_stay_apart(cbpp_case) -> None:
    reference, data = cbpp_case
    prepared = glmm_data(reference["formula"], data, make_family("binomial"))
    cells = aggregate_rows(prepared.spec, prepared.y, prepared.n, prepared.offset)
    assert cells.n_cells == len(data)  # every herd x period row is its own cell
    np.testing.assert_allclose(cells.successes, data["incidence"])
    np.testing.assert_allclose(cells.trials, data["incidence"] + data["nonincidence"])


def test_poisson_cells_have_the_same_log_density_up_to_a_constant(grouse_case) -> None:
    reference, data = grouse_case
    prepared = glmm_data(reference["formula"], data, make_family("poisson"))
    cells = aggregate_rows(prepared.spec, prepared.y, prepared.n, prepared.offset)
    assert cells.n_cells < cells.n_rows  # broods share year, height and location
    rng = np.random.default_rng(0)
    differences = []
    for _ in range(2):
        eta_cells = rng.normal(0.0, 1.0, cells.n_cells)
        eta_rows = eta_cells[cells.row_cell]
        rows = stats.poisson.logpmf(prepared.y, np.exp(eta_rows)).sum()
        merged = np.sum(cells.successes * eta_cells - cells.trials * np.exp(eta_cells))
        differences.append(rows - merged)
    assert abs(differences[0] - differences[1]) < 1e-8
