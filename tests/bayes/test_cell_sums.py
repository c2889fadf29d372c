"""Per-cell sufficient statistics and the Gaussian likelihood computed from them."""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
import pytest
import scipy.stats as st

from bayeshier import datasets
from bayeshier.bayes.cell_sums import (
    CellSums,
    cell_statistics,
    levels_in_order,
    residual_statistics,
    sufficient_loglik,
)
from bayeshier.bayes.fixed_scale import internal_design
from bayeshier.bayes.model import Model
from bayeshier.spec.model_spec import ModelSpec, build_spec

SLOPES = "Reaction ~ Days + (Days|Subject)"
UNCORRELATED = "Reaction ~ Days + (Days||Subject)"
CROSSED = "y ~ x + (1|h) + (x|g)"
CATEGORICAL = "y ~ x + c + (0 + c|g)"


def _random_effects(spec: ModelSpec, rng: np.random.Generator) -> list[np.ndarray]:
    return [
        rng.normal(0, 1, f.n_levels if f.intercept_only else (f.n_levels, f.n_columns))
        for f in spec.factors
    ]


def _linear_predictor(spec: ModelSpec, beta: np.ndarray, effects: list[np.ndarray]) -> np.ndarray:
    mu = spec.X @ beta
    for factor, effect in zip(spec.factors, effects, strict=True):
        if factor.intercept_only:
            mu = mu + effect[factor.codes]
        else:
            mu = mu + np.sum(effect[factor.codes] * factor.design, axis=1)
    return mu


@pytest.mark.parametrize(
    ("name", "formula"),
    [
        ("sleepstudy", "Reaction ~ Days + (1|Subject)"),
        ("penicillin", "diameter ~ 1 + (1|plate) + (1|sample)"),
        ("pastes", "strength ~ 1 + (1|batch/cask)"),
        ("sleepstudy", "Reaction ~ 0 + Days + (1|Subject)"),
        ("sleepstudy", SLOPES),
    ],
)
def test_sufficient_loglik_is_the_sum_of_the_pointwise_normal_densities(name, formula):
    spec = build_spec(formula, datasets.load(name))
    design = internal_design(spec)
    cells = cell_statistics(spec, design)
    rng = np.random.default_rng(0)
    nu = design.ols + rng.normal(0, 0.1, spec.n_fixed)
    effects = _random_effects(spec, rng)
    sigma = float(spec.y.std())
    got = sufficient_loglik(
        design, cells, pt.as_tensor(nu), [pt.as_tensor(e) for e in effects], pt.as_tensor(sigma)
    ).eval()
    mu = _linear_predictor(spec, design.to_user @ nu, effects)
    assert float(got) == pytest.approx(st.norm.logpdf(spec.y, mu, sigma).sum(), rel=1e-10)


def test_residual_statistics_sum_the_residual_by_cell():
    spec = build_spec("diameter ~ 1 + (1|plate) + (1|sample)", datasets.load("penicillin"))
    design = internal_design(spec)
    cells = cell_statistics(spec, design)
    rng = np.random.default_rng(1)
    nu = design.ols + rng.normal(0, 0.5, spec.n_fixed)
    effects = _random_effects(spec, rng)
    rss, cell_sums = residual_statistics(
        design, cells, pt.as_tensor(nu), [pt.as_tensor(effects[0]), None]
    )
    residual = spec.y - spec.X @ (design.to_user @ nu)
    residual = residual - effects[0][spec.factors[0].codes]  # the second factor is left out
    cell_of_row = {tuple(c): k for k, c in enumerate(zip(*cells.codes, strict=True))}
    rows = [cell_of_row[(p, s)] for p, s in zip(*(f.codes for f in spec.factors), strict=True)]
    expected = np.bincount(rows, weights=residual, minlength=len(cells.counts))
    np.testing.assert_allclose(cell_sums.eval(), expected, rtol=1e-10, atol=1e-9)
    assert float(rss.eval()) == pytest.approx(residual @ residual, rel=1e-10)


def test_cell_statistics_count_rows_and_hold_the_ols_residual():
    spec = build_spec("strength ~ 1 + (1|batch/cask)", datasets.load("pastes"))
    design = internal_design(spec)
    cells = cell_statistics(spec, design)
    assert len(cells.codes) == 2 and len(cells.counts) == 30  # 30 casks, each in one batch
    assert cells.counts.sum() == spec.nobs and np.all(cells.counts == 2)
    ols_residual = spec.y - spec.X @ np.linalg.lstsq(spec.X, spec.y, rcond=None)[0]
    assert cells.resid_ss == pytest.approx(ols_residual @ ols_residual, rel=1e-10)
    assert cells.sum_resid.sum() == pytest.approx(0.0, abs=1e-9)  # orthogonal to the intercept
    assert cells.slopes is None


def test_cell_sums_of_two_chunks_add_up():
    a = CellSums(np.ones(2), np.ones((2, 1)), np.zeros(2), np.ones(1), 1.0)
    b = CellSums(2 * np.ones(2), np.ones((2, 1)), np.ones(2), np.ones(1), 2.5)
    total = a + b
    np.testing.assert_array_equal(total.counts, [3.0, 3.0])
    np.testing.assert_array_equal(total.sum_e, [1.0, 1.0])
    assert total.e_ss == 3.5 and total.cross is None


def test_levels_in_order():
    assert levels_in_order(np.arange(4), 4)
    assert not levels_in_order(np.array([0, 2, 1, 3]), 4)
    assert not levels_in_order(np.arange(3), 4)


# ---------------------------------------- the graph's "sufficient" density
def test_sufficient_statistics_give_the_same_log_density(mpg_model, random_point):
    pointwise = mpg_model.build()
    sufficient = mpg_model.build("sufficient")
    assert [v.name for v in sufficient.value_vars] == [v.name for v in pointwise.value_vars]
    f, g = pointwise.compile_logp(), sufficient.compile_logp()
    rng = np.random.default_rng(0)
    for _ in range(3):
        point = random_point(pointwise, rng)
        assert g(point) == pytest.approx(f(point), rel=1e-10)


@pytest.mark.parametrize(
    ("name", "formula"),
    [
        ("penicillin", "diameter ~ 1 + (1|plate) + (1|sample)"),
        ("pastes", "strength ~ 1 + (1|batch/cask)"),
        ("sleepstudy", "Reaction ~ 0 + Days + (1|Subject)"),
    ],
)
def test_sufficient_likelihood_matches_for_crossed_nested_and_no_intercept(
    name, formula, random_point
):
    m = Model(formula, datasets.load(name), parameterization="noncentered")
    f, g = m.build().compile_logp(), m.build("sufficient").compile_logp()
    point = random_point(m.build(), np.random.default_rng(1))
    assert g(point) == pytest.approx(f(point), rel=1e-10)


@pytest.mark.parametrize(
    ("formula", "choice"),
    [
        (SLOPES, "noncentered"),
        (UNCORRELATED, "auto"),
        (CROSSED, "auto"),
        (CATEGORICAL, "auto"),
    ],
)
def test_sufficient_statistics_with_slopes_give_the_pointwise_log_density(
    sleep, crossed_data, random_point, formula, choice
):
    data = sleep if formula.startswith("Reaction") else crossed_data()
    m = Model(formula, data, parameterization=choice)
    pointwise, sufficient = m.build(), m.build("sufficient")
    f, g = pointwise.compile_logp(), sufficient.compile_logp()
    rng = np.random.default_rng(1)
    for _ in range(2):
        point = random_point(pointwise, rng)
        assert g(point) == pytest.approx(f(point), rel=1e-10)


# ------------------------------------------------- prior weights and offsets
#: id -> (formula, options, weighted, with an offset)
WEIGHTED_CASES = {
    "intercept": ("Reaction ~ Days + (1|Subject)", {"weights": "w"}, True, False),
    "intercept, offset=": (
        "Reaction ~ Days + (1|Subject)",
        {"weights": "w", "offset": "off"},
        True,
        True,
    ),
    "intercept, offset()": (
        "Reaction ~ Days + offset(off) + (1|Subject)",
        {"weights": "w"},
        True,
        True,
    ),
    "slopes": ("Reaction ~ Days + (Days|Subject)", {"weights": "w"}, True, False),
    "slopes, offset=": (
        "Reaction ~ Days + (Days|Subject)",
        {"weights": "w", "offset": "off"},
        True,
        True,
    ),
    "offset alone": ("Reaction ~ Days + (Days|Subject)", {"offset": "off"}, False, True),
}


@pytest.mark.parametrize(
    ("formula", "options", "weighted", "offset"), WEIGHTED_CASES.values(), ids=WEIGHTED_CASES
)
def test_weighted_sufficient_loglik_is_the_weighted_normal_density(
    weighted_sleep, formula, options, weighted, offset
):
    """Row i is Normal(x_i'beta + z_i'b + offset_i, sigma / sqrt(w_i)), from the data's columns."""
    spec = build_spec(formula, weighted_sleep, **options)
    design = internal_design(spec)
    cells = cell_statistics(spec, design)
    rng = np.random.default_rng(5)
    for _ in range(3):
        nu = design.ols + rng.normal(0, 2.0, spec.n_fixed)
        effects = [e * 10.0 for e in _random_effects(spec, rng)]
        sigma = np.float64(rng.uniform(15.0, 40.0))
        got = sufficient_loglik(
            design, cells, pt.as_tensor(nu), [pt.as_tensor(e) for e in effects], pt.as_tensor(sigma)
        ).eval()
        mu = _linear_predictor(spec, design.to_user @ nu, effects)
        if offset:
            mu = mu + weighted_sleep["off"].to_numpy()
        w = weighted_sleep["w"].to_numpy() if weighted else 1.0
        expected = st.norm.logpdf(weighted_sleep["Reaction"], mu, sigma / np.sqrt(w)).sum()
        assert float(got) == pytest.approx(expected, rel=1e-10)


def test_weighted_cells_sum_the_weights_and_keep_the_row_count(weighted_sleep):
    spec = build_spec("Reaction ~ Days + (1|Subject)", weighted_sleep, weights="w")
    cells = cell_statistics(spec, internal_design(spec))
    w = weighted_sleep["w"].to_numpy()
    by_subject = weighted_sleep.groupby("Subject", sort=True)["w"].sum().to_numpy()
    np.testing.assert_allclose(cells.counts, by_subject, rtol=1e-12)
    assert cells.n_rows == 180.0
    assert cells.log_weights == pytest.approx(np.log(w).sum(), rel=1e-12)
    X = np.column_stack([np.ones(180), weighted_sleep["Days"]])
    root = np.sqrt(w)
    wls = np.linalg.lstsq(root[:, None] * X, root * weighted_sleep["Reaction"], rcond=None)[0]
    residual = weighted_sleep["Reaction"].to_numpy() - X @ wls
    assert cells.resid_ss == pytest.approx(np.sum(w * residual**2), rel=1e-10)
    assert cells.sum_resid.sum() == pytest.approx(0.0, abs=1e-8)  # sum w e = 0 with an intercept


def test_weighted_cell_sums_add_up_rows_and_log_weights():
    a = CellSums(
        np.ones(1), np.ones((1, 1)), np.zeros(1), np.ones(1), 1.0, rows=3.0, log_weights=0.5
    )
    b = CellSums(
        np.ones(1), np.ones((1, 1)), np.zeros(1), np.ones(1), 1.0, rows=2.0, log_weights=-1.0
    )
    total = a + b
    assert total.rows == 5.0 and total.log_weights == -0.5


@pytest.mark.parametrize("formula", ["Reaction ~ Days + (1|Subject)", SLOPES])
def test_weighted_cell_sums_of_a_dask_frame_equal_those_in_memory(weighted_sleep, formula):
    """The partitions' weighted sums add up to the same density as the rows in memory."""
    dd = pytest.importorskip("dask.dataframe")
    lazy = dd.from_pandas(weighted_sleep, npartitions=3)
    density = []
    rng = np.random.default_rng(2)
    nu = None
    effects: list[np.ndarray] = []
    for data in (weighted_sleep, lazy):
        m = Model(formula, data, weights="w", offset="off")
        if nu is None:
            nu = m.plan.fixed_loc + rng.normal(0, 1.0, 2)
            effects = [10.0 * e for e in _random_effects(m.spec, rng)]
        loglik = sufficient_loglik(
            m.design,
            m.cells,
            pt.as_tensor(nu),
            [pt.as_tensor(e) for e in effects],
            pt.as_tensor(np.float64(30.0)),
        )
        density.append(float(loglik.eval()))
    assert density[1] == pytest.approx(density[0], rel=1e-12)
