"""fit_reml and Model on a Dask DataFrame equal pandas, on a real two-worker LocalCluster."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from dask.distributed import Client, LocalCluster, get_task_stream

import bayeshier
from bayeshier import datasets
from bayeshier.bayes.budget import MemoryBudgetWarning
from bayeshier.bayes.group_loglik import group_loglik, group_moments
from bayeshier.errors import DataError, ModelError, RankDeficiencyWarning
from bayeshier.reml import RemlFit, UnseenLevelsWarning, fit_reml, fit_spec
from bayeshier.spec.model_spec import build_spec

RTOL = 1e-10

CASES = {
    "sleepstudy_intercept": ("sleepstudy", "Reaction ~ Days + (1|Subject)"),
    "sleepstudy_slopes": ("sleepstudy", "Reaction ~ Days + (Days|Subject)"),
    "sleepstudy_uncorrelated": ("sleepstudy", "Reaction ~ Days + (Days||Subject)"),
    "penicillin_crossed": ("penicillin", "diameter ~ 1 + (1|plate) + (1|sample)"),
    "pastes_nested": ("pastes", "strength ~ 1 + (1|batch/cask)"),
    "mpg": ("mpg", "hwy ~ displ + year + (1|class)"),
}


@pytest.fixture(scope="module", autouse=True)
def client() -> Iterator[Client]:
    """Two worker processes on this machine; bayeshier runs on the default client."""
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def assert_close(got: object, expected: object) -> None:
    """Equal to relative 1e-10 (of the largest entry, for entries near zero)."""
    expected = np.asarray(expected, dtype=float)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(np.asarray(got, dtype=float), expected, rtol=RTOL, atol=RTOL * scale)


def assert_same_fit(got: RemlFit, expected: RemlFit) -> None:
    assert got.spec.fixed_names == expected.spec.fixed_names
    assert got.spec.aliased == expected.spec.aliased
    assert (got.nobs, got.n_dropped) == (expected.nobs, expected.n_dropped)
    for mine, theirs in zip(got.spec.factors, expected.spec.factors, strict=True):
        assert (mine.name, mine.levels, mine.terms) == (theirs.name, theirs.levels, theirs.terms)
        np.testing.assert_array_equal(mine.counts(), theirs.counts())
    for name in ("fixef", "se", "theta", "sigma", "criterion"):
        assert_close(getattr(got, name), getattr(expected, name))
    assert_close(got.vcov, expected.vcov)
    for name, table in expected.ranef.items():
        assert_close(got.ranef[name], table)
        assert_close(got.condvar[name], expected.condvar[name])


def assert_same_rows(got: RemlFit, expected: RemlFit) -> None:
    fitted = got.fitted.compute()
    assert list(fitted.index) == list(expected.spec.row_index)
    assert_close(fitted, expected.fitted)
    assert_close(got.residuals.compute(), expected.residuals)


@pytest.mark.parametrize("case", list(CASES))
def test_fit_on_partitions_equals_the_pandas_fit(case: str) -> None:
    name, formula = CASES[case]
    data = datasets.load(name)
    # the rows are sorted by group: most levels live in one partition only
    got = fit_reml(formula, dd.from_pandas(data, npartitions=4))
    expected = fit_reml(formula, data)
    assert_same_fit(got, expected)
    assert_same_rows(got, expected)


def test_shuffled_rows_and_maximum_likelihood() -> None:
    data = datasets.load("sleepstudy").sample(frac=1.0, random_state=1)
    formula = "Reaction ~ Days + (Days|Subject)"
    got = fit_reml(formula, dd.from_pandas(data, npartitions=5), reml=False)
    assert_same_fit(got, fit_reml(formula, data, reml=False))


def test_the_passes_run_on_the_workers_of_the_default_client(client: Client) -> None:
    ddf = dd.from_pandas(datasets.load("sleepstudy"), npartitions=3)
    with get_task_stream(client) as stream:
        fit = fit_reml("Reaction ~ Days + (1|Subject)", ddf)
    workers = {task["worker"] for task in stream.data}
    assert workers <= set(client.scheduler_info()["workers"]) and workers
    assert not fit.spec.holds_rows and fit.spec.factors[0].codes is None


def test_missing_values_spread_over_partitions_are_dropped_and_counted() -> None:
    mpg = datasets.load("mpg")
    mpg.loc[[3, 100, 200], "displ"] = np.nan
    mpg.loc[[50, 150], "class"] = np.nan
    mpg.loc[230, "hwy"] = np.nan
    mpg["unused"] = np.nan
    formula = "hwy ~ displ + year + (1|class)"
    got = fit_reml(formula, dd.from_pandas(mpg, npartitions=4))
    expected = fit_reml(formula, mpg)
    assert got.n_dropped == 6
    assert_same_fit(got, expected)
    assert_same_rows(got, expected)


def test_levels_seen_in_one_partition_and_categorical_orders() -> None:
    mpg = datasets.load("mpg").sort_values("displ", ignore_index=True)
    # grouping column: categorical in a non-alphabetic order with an unused category
    order = ["suv", "compact", "2seater", "midsize", "minivan", "pickup", "subcompact", "boat"]
    mpg["kind"] = pd.Categorical(mpg["class"].astype(str), categories=order)
    # fixed predictor held as strings; "big" only in the last partition (sorted by displ)
    mpg["size"] = np.where(mpg["displ"] > 6.0, "big", np.where(mpg["displ"] > 3, "mid", "small"))
    mpg["displ2"] = 2 * mpg["displ"]  # aliased: dropped with a warning on both paths
    formula = "hwy ~ displ + displ2 + size + (1|kind)"
    with pytest.warns(RankDeficiencyWarning, match="'displ2'"):
        got = fit_reml(formula, dd.from_pandas(mpg, npartitions=4))
    with pytest.warns(RankDeficiencyWarning):
        expected = fit_reml(formula, mpg)
    assert got.spec.factors[0].levels == tuple(order[:-1])
    assert got.spec.fixed_names == ("Intercept", "displ", "size[T.mid]", "size[T.small]")
    assert_same_fit(got, expected)


def test_parquet_partitions_with_different_categories(tmp_path) -> None:
    sleep = datasets.load("sleepstudy")
    subjects = list(sleep["Subject"].cat.categories)
    for i, rows in enumerate(np.array_split(np.arange(len(sleep)), 3)):
        chunk = sleep.iloc[rows].copy()  # each file knows only its own subjects, reversed
        own = list(dict.fromkeys(chunk["Subject"].astype(str)))[::-1]
        chunk["Subject"] = pd.Categorical(chunk["Subject"].astype(str), categories=own)
        chunk.to_parquet(tmp_path / f"part.{i}.parquet")
    ddf = dd.read_parquet(tmp_path)
    formula = "Reaction ~ Days + (Days|Subject)"
    got = fit_reml(formula, ddf)
    expected = fit_reml(formula, ddf.compute())  # pandas concatenates the categories in order
    assert got.spec.factors[0].levels != tuple(subjects)
    assert_same_fit(got, expected)


def test_numeric_column_made_categorical_and_transform_giving_nan() -> None:
    mpg = datasets.load("mpg")
    mpg["cyl"] = np.where(mpg["displ"] > 4, 8, np.where(mpg["displ"] > 2.5, 6, 4))
    mpg["z"] = mpg["displ"] - 1.85  # log(z) is NaN for a few rows: dropped, as in pandas
    formula = "hwy ~ C(cyl) + np.log(z) + (1|class)"
    with np.errstate(invalid="ignore"):
        got = fit_reml(formula, dd.from_pandas(mpg, npartitions=3))
        expected = fit_reml(formula, mpg)
    assert got.n_dropped == int((mpg["z"] <= 0).sum()) > 0
    assert_same_fit(got, expected)


def test_categorical_inside_the_bar() -> None:
    mpg = datasets.load("mpg")
    mpg["era"] = np.where(mpg["year"] > 2000, "late", "early")
    formula = "hwy ~ displ + (era|class)"
    got = fit_reml(formula, dd.from_pandas(mpg, npartitions=3))
    assert_same_fit(got, fit_reml(formula, mpg))


def test_predictions_and_unseen_levels_as_in_pandas() -> None:
    sleep = datasets.load("sleepstudy")
    formula = "Reaction ~ Days + (Days|Subject)"
    got = fit_reml(formula, dd.from_pandas(sleep, npartitions=3))
    expected = fit_reml(formula, sleep)
    new = pd.DataFrame({"Days": [1.0, 5.0], "Subject": ["308", "999"]})
    with pytest.warns(UnseenLevelsWarning, match="1 of 2 rows"):
        predicted = got.predict(new)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnseenLevelsWarning)
        assert_close(predicted, expected.predict(new))


def test_spec_path_and_summary() -> None:
    sleep = datasets.load("sleepstudy")
    spec = build_spec("Reaction ~ Days + (1|Subject)", dd.from_pandas(sleep, 2), lazy=True)
    assert spec.nobs == 180 and spec.y is None
    fit = fit_spec(spec)
    assert isinstance(fit.fitted, dd.Series)
    assert "Scaled residuals: not computed" in fit.summary()
    assert "Number of obs: 180" in fit.summary()
    with pytest.raises(DataError, match=r"compare\(\) needs the rows.*pandas sample"):
        bayeshier.compare(fit)


def test_stateful_transform_is_refused_with_what_to_do() -> None:
    ddf = dd.from_pandas(datasets.load("mpg"), npartitions=2)
    with pytest.raises(DataError, match=r"'center\(displ\)'.*Add the transformed column"):
        fit_reml("hwy ~ center(displ) + (1|class)", ddf)


def test_eager_spec_refuses_a_dask_frame_with_what_to_do() -> None:
    ddf = dd.from_pandas(datasets.load("sleepstudy"), npartitions=2)
    with pytest.raises(DataError, match=r"Dask DataFrame.*lazy=True.*\.compute\(\)"):
        build_spec("Reaction ~ Days + (1|Subject)", ddf)


def test_glmm_on_a_dask_frame_says_it_needs_the_rows() -> None:
    ddf = dd.from_pandas(datasets.load("cbpp"), npartitions=2)
    with pytest.raises(DataError, match=r"fit_glmm needs the rows in memory.*data\.compute\(\)"):
        bayeshier.fit_glmm("cbind(incidence, nonincidence) ~ period + (1|herd)", ddf, "binomial")


# ------------------------------------------------------------- Model on Dask
def _dask_and_pandas_models(case: str, **options) -> tuple[bayeshier.Model, bayeshier.Model]:
    dataset, formula = CASES[case]
    data = datasets.load(dataset)
    shuffled = data.sample(frac=1.0, random_state=3)
    on_dask = bayeshier.Model(formula, dd.from_pandas(shuffled, npartitions=3), **options)
    return on_dask, bayeshier.Model(formula, data, **options)


@pytest.mark.parametrize("case", list(CASES))
def test_model_on_partitions_has_the_pandas_priors_cells_and_log_density(case: str) -> None:
    """Same priors, sums and sampled log density as pandas: the posterior is the same."""
    on_dask, in_memory = _dask_and_pandas_models(case)
    assert on_dask.spec.y is None
    pd.testing.assert_frame_equal(on_dask.priors, in_memory.priors)
    assert on_dask.parameterization == in_memory.parameterization
    assert on_dask.likelihood == in_memory.likelihood
    assert_close(on_dask.design.R, in_memory.design.R)
    assert_close(on_dask.design.Qty, in_memory.design.Qty)
    got, expected = on_dask.cells, in_memory.cells
    for mine, theirs in zip(got.codes, expected.codes, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    for name in ("counts", "sum_q", "sum_resid", "resid_ss"):
        assert_close(getattr(got, name), getattr(expected, name))
    if expected.slopes is not None:
        for name in ("sum_w", "cross", "w_resid", "w_q"):
            assert_close(getattr(got.slopes, name), getattr(expected.slopes, name))
    dask_model, pandas_model = on_dask._sampling_model(), in_memory._sampling_model()
    point = pandas_model.initial_point()
    assert_close(dask_model.compile_logp()(point), pandas_model.compile_logp()(point))


def test_model_on_partitions_samples_without_the_rows() -> None:
    on_dask, in_memory = _dask_and_pandas_models("mpg")
    settings = {"draws": 300, "tune": 300, "chains": 2, "random_seed": 5, "progressbar": False}
    with pytest.warns(MemoryBudgetWarning, match=r"per level of 'class'.*Dask DataFrame"):
        tree = on_dask.sample(**settings)
    reference = in_memory.sample(**settings)
    assert on_dask.likelihood == "collapsed"
    # No rows, so no observed_data, constant_data or pointwise log-likelihood; the
    # memory-budget rule then stores the per-group one (it needs only per-cell sums).
    assert set(tree.children) == {"posterior", "sample_stats", "log_likelihood"}
    assert tree.attrs["log_likelihood"] == "group"
    assert tree["log_likelihood"]["hwy"].dims == ("chain", "draw", "class_level")
    posterior, expected = tree["posterior"].to_dataset(), reference["posterior"].to_dataset()
    assert set(posterior.data_vars) == set(expected.data_vars)
    for name in ("beta", "sigma", "sd_class", "class"):
        mean, sd = expected[name].mean(("chain", "draw")), expected[name].std(("chain", "draw"))
        assert (abs(posterior[name].mean(("chain", "draw")) - mean) < 0.25 * sd).all()
    new = datasets.load("mpg").head(3)
    predicted = on_dask.predict(new, tree, random_seed=1)["predictions"]["mu"]
    assert predicted.shape == (2, 300, 3)


def test_group_log_likelihood_on_partitions_equals_the_pandas_one() -> None:
    on_dask, in_memory = _dask_and_pandas_models("mpg")
    tree = in_memory.sample(draws=50, tune=100, chains=1, random_seed=3, progressbar=False)
    posterior = tree["posterior"].to_dataset()
    by_model = [
        group_loglik(m.spec, m.design, group_moments(m.spec, m.design), posterior, "hwy")["hwy"]
        for m in (on_dask, in_memory)
    ]
    np.testing.assert_allclose(by_model[0].values, by_model[1].values, rtol=1e-9)


def test_model_on_partitions_names_what_needs_the_rows() -> None:
    on_dask, _ = _dask_and_pandas_models("sleepstudy_intercept")
    with pytest.raises(ModelError, match=r"log_likelihood=True needs the rows.*\.compute\(\)"):
        on_dask.sample(draws=10, tune=10, log_likelihood=True)
    with pytest.raises(ModelError, match=r"sample_prior_predictive\(\) needs the rows"):
        on_dask.sample_prior_predictive()
    with pytest.raises(ModelError, match=r'build\("pointwise"\).*Use build\("sufficient"\)'):
        on_dask.build()


def test_missing_column_is_named_before_any_pass() -> None:
    ddf = dd.from_pandas(datasets.load("sleepstudy"), npartitions=2)
    with pytest.raises(DataError, match=r"'Dys'.*Did you mean 'Days'"):
        fit_reml("Reaction ~ Dys + (1|Subject)", ddf)


# ------------------------------------------------ R formulas, weights, offsets
def test_r_formulas_on_partitions_equal_pandas() -> None:
    sleep = datasets.load("sleepstudy")
    sleep["w"] = np.linspace(0.5, 2.0, len(sleep))
    sleep["id"] = sleep["Subject"].astype(int)
    sleep["phase"] = np.where(sleep["Days"] > 4, "late", "early")
    formula = (
        "Reaction ~ Days + I(Days^2) + factor(round(Days/3)) + poly(Days, 2, raw = TRUE) + "
        "offset(log1p(Days)) + (phase|factor(id))"
    )
    ddf = dd.from_pandas(sleep.sample(frac=1.0, random_state=2), npartitions=3)
    with pytest.warns(RankDeficiencyWarning):
        got = fit_reml(formula, ddf, weights="w", offset="0.5 * Days")
    with pytest.warns(RankDeficiencyWarning):
        expected = fit_reml(formula, sleep, weights="w", offset="0.5 * Days")
    assert got.spec.factors[0].name == "factor(id)"
    assert_same_fit(got, expected)
    assert_same_rows(got, expected)


def test_weights_given_as_values_are_refused_on_partitions() -> None:
    ddf = dd.from_pandas(datasets.load("sleepstudy"), npartitions=2)
    with pytest.raises(DataError, match=r"weights= must be a column name"):
        fit_reml("Reaction ~ Days + (1|Subject)", ddf, weights=np.ones(180))


def test_hostile_formula_is_refused_before_any_pass() -> None:
    ddf = dd.from_pandas(datasets.load("sleepstudy"), npartitions=2)
    with pytest.raises(bayeshier.FormulaError, match=r"'np\.save' is not allowed"):
        fit_reml("Reaction ~ np.save('x', Days) + (1|Subject)", ddf)
