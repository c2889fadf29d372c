"""bayeshier.present.posterior_summary: reading and summarising the draws behind each row."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr
from reference_cases import fitted_case

from bayeshier.errors import DataError
from bayeshier.present.intervals import CredibleInterval
from bayeshier.present.posterior_summary import (
    POSTERIOR_COLUMNS,
    level_draws,
    posterior_dataset,
    posterior_summary,
    posterior_variable,
    scalar_summary,
    select_draws,
)


@pytest.fixture(scope="module")
def posterior(mpg_tree) -> xr.Dataset:
    return mpg_tree["posterior"].to_dataset()


def _draws(values: np.ndarray) -> xr.DataArray:
    """Draws of one scalar per entry of the last axis: (chain, draw[, entry])."""
    dims = ("chain", "draw", "entry")[: values.ndim]
    return xr.DataArray(values, dims=dims)


# ----------------------------------------------------------- the posterior
def test_posterior_dataset_reads_every_container(mpg_tree, posterior):
    assert posterior_dataset(None) is None
    assert posterior_dataset(posterior) is posterior
    xr.testing.assert_identical(posterior_dataset(mpg_tree), posterior)
    # an InferenceData-like object: a posterior attribute, a Dataset or a DataTree node
    xr.testing.assert_identical(posterior_dataset(SimpleNamespace(posterior=posterior)), posterior)
    node = SimpleNamespace(posterior=mpg_tree["posterior"])
    xr.testing.assert_identical(posterior_dataset(node), posterior)


def test_posterior_dataset_refuses_what_holds_no_posterior(mpg_tree):
    with pytest.raises(DataError, match="no posterior group"):
        posterior_dataset(xr.DataTree.from_dict({"prior": mpg_tree["posterior"].to_dataset()}))
    with pytest.raises(DataError, match="from a list"):
        posterior_dataset([1, 2])


def test_posterior_dataset_gives_text_coordinates_as_str(posterior):
    """A zarr round trip returns numpy StringDType coordinates: they are read as str."""
    levels = posterior["class_level"].to_numpy().astype(np.dtypes.StringDType())
    reloaded = posterior.assign_coords(class_level=levels)
    assert reloaded["class_level"].dtype.kind == "T"
    labels = posterior_dataset(reloaded)["class_level"].to_numpy()
    assert labels.dtype == object and all(type(label) is str for label in labels)


def test_posterior_variable_lists_the_variables_it_has(posterior):
    assert posterior_variable(posterior, "sigma").dims == ("chain", "draw")
    with pytest.raises(DataError, match=r"no variable 'tau' \(it has: beta, sigma, class"):
        posterior_variable(posterior, "tau")


def test_select_draws_by_name_or_by_name_and_coordinates(posterior):
    xr.testing.assert_identical(select_draws(posterior, "sigma"), posterior["sigma"])
    displ = select_draws(posterior, ("beta", {"fixed": "displ"}))
    assert displ.dims == ("chain", "draw")
    np.testing.assert_array_equal(displ, posterior["beta"].sel(fixed="displ"))


# ------------------------------------------------------------- level draws
def test_level_draws_add_the_fixed_term_draw_by_draw(posterior):
    factor = fitted_case("mpg_class").spec.factor("class")
    combined = level_draws(posterior, factor, add_fixed=True)
    expected = posterior["class"] + posterior["beta"].sel(fixed="Intercept", drop=True)
    np.testing.assert_array_equal(combined, expected)
    alone = level_draws(posterior, factor, add_fixed=False)
    np.testing.assert_array_equal(alone, posterior["class"])


def test_level_draws_follow_the_factor_level_order(posterior):
    factor = fitted_case("mpg_class").spec.factor("class")
    shuffled = posterior.isel(class_level=slice(None, None, -1))
    draws = level_draws(shuffled, factor, add_fixed=False)
    assert list(draws["class_level"].to_numpy()) == list(factor.levels)
    np.testing.assert_array_equal(draws, posterior["class"])


def test_level_draws_match_numeric_level_labels_as_text():
    fit = fitted_case("seed_model2")
    effects = xr.DataArray(
        np.zeros((1, 3, 5)), dims=("chain", "draw", "g_level"), coords={"g_level": [1, 2, 3, 4, 5]}
    )
    draws = level_draws(xr.Dataset({"g": effects}), fit.spec.factor("g"), add_fixed=False)
    assert list(draws["g_level"].to_numpy()) == ["1", "2", "3", "4", "5"]


def test_level_draws_refuse_other_shapes(posterior):
    factor = fitted_case("mpg_class").spec.factor("class")
    with pytest.raises(DataError, match="no dimension 'class_level'"):
        level_draws(posterior.rename({"class_level": "level"}), factor, add_fixed=False)
    with pytest.raises(DataError, match="lacks level"):
        level_draws(posterior.isel(class_level=slice(0, 3)), factor, add_fixed=False)
    slopes = fitted_case("sleepstudy_slopes").spec.factor("Subject")
    flat = xr.Dataset({"Subject": (("chain", "draw", "Subject_level"), np.zeros((1, 2, 18)))})
    with pytest.raises(DataError, match="no dimension 'Subject_term' for the random slopes"):
        level_draws(flat, slopes, add_fixed=False)


# ------------------------------------------------------------- summaries
def test_posterior_summary_has_one_row_per_entry():
    rng = np.random.default_rng(2)
    values = rng.normal([0.0, 10.0], [1.0, 2.0], size=(2, 2000, 2))
    summary = posterior_summary(_draws(values), CredibleInterval(0.9, "hdi"))
    assert (
        list(summary.columns) == POSTERIOR_COLUMNS == ["post_mean", "post_sd", "ci_low", "ci_high"]
    )
    flat = values.reshape(-1, 2)
    np.testing.assert_allclose(summary["post_mean"], flat.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(summary["post_sd"], flat.std(axis=0, ddof=1), rtol=1e-12)
    inside = (flat >= summary["ci_low"].to_numpy()) & (flat <= summary["ci_high"].to_numpy())
    np.testing.assert_allclose(inside.mean(axis=0), 0.9, atol=0.005)


def test_posterior_summary_eti_is_the_equal_tailed_quantiles():
    values = np.random.default_rng(3).gamma(2.0, size=(2, 3000))  # skewed: ETI != HDI
    eti = posterior_summary(_draws(values), CredibleInterval(0.8, "eti")).iloc[0]
    np.testing.assert_allclose(
        [eti["ci_low"], eti["ci_high"]], np.quantile(values, [0.1, 0.9]), rtol=1e-12
    )
    hdi = posterior_summary(_draws(values), CredibleInterval(0.8, "hdi")).iloc[0]
    assert hdi["ci_low"] < eti["ci_low"] and hdi["ci_high"] < eti["ci_high"]  # skewed right


def test_posterior_summary_of_a_scalar_is_one_row():
    values = np.linspace(0.0, 1.0, 1000).reshape(2, 500)
    summary = posterior_summary(_draws(values), CredibleInterval(0.5, "hdi"))
    assert len(summary) == 1
    assert summary.loc[0, "post_mean"] == pytest.approx(0.5)
    assert summary.loc[0, "ci_high"] - summary.loc[0, "ci_low"] == pytest.approx(0.5, abs=0.01)


def test_scalar_summary_adds_the_median():
    values = np.exp(np.linspace(-2.0, 2.0, 1000)).reshape(2, 500)
    summary = scalar_summary(_draws(values), CredibleInterval(0.94, "hdi"))
    assert list(summary) == ["post_mean", "post_median", "ci_low", "ci_high"]
    assert summary["post_median"] == pytest.approx(np.median(values))
    assert summary["post_mean"] == pytest.approx(values.mean())
    assert summary["ci_low"] < summary["post_median"] < summary["ci_high"]
