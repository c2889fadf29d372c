"""What Model.sample returns and what sample_posterior_predictive adds (real sampling runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import arviz as az
import matplotlib
import numpy as np
import pytest
import xarray as xr

import bayeshier
from bayeshier.bayes.assemble import LOG_LIKELIHOOD_ATTR
from bayeshier.bayes.budget import MemoryBudgetWarning
from bayeshier.errors import ModelError

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def run(sleep_model):
    idata = sleep_model.sample(draws=500, tune=500, chains=2, random_seed=3, progressbar=False)
    return sleep_model, idata


@pytest.mark.sampling
def test_groups_and_attrs(run):
    m, idata = run
    assert {"posterior", "sample_stats", "observed_data", "constant_data", "log_likelihood"} <= set(
        idata.children
    )
    assert idata.attrs[LOG_LIKELIHOOD_ATTR] == "pointwise"
    assert "interrupted" not in idata.attrs
    record = json.loads(idata.attrs["reml"])
    assert record["sigma"] == pytest.approx(m.reml.sigma)
    constant = idata["constant_data"]
    assert set(constant.data_vars) == {"Reaction", "Days", "Subject"}
    np.testing.assert_array_equal(constant["obs"], idata["observed_data"]["obs"])


@pytest.mark.sampling
def test_posterior_predictive_follows_arviz_layout(run):
    m, idata = run
    idata = m.sample_posterior_predictive(idata.copy(), random_seed=1)
    replicate, observed = (
        idata["posterior_predictive"]["Reaction"],
        idata["observed_data"]["Reaction"],
    )
    assert replicate.dims == ("chain", "draw", *observed.dims)
    np.testing.assert_array_equal(replicate["obs"], observed["obs"])
    # the replicates' spread around the data is about sigma (REML: 30.99)
    resid_sd = float((replicate - replicate.mean(("chain", "draw"))).std())
    assert 28 < resid_sd < 40
    az.plot_ppc_dist(idata)
    pit = az.loo_pit(idata)["Reaction"].to_numpy()
    assert pit.shape == (m.spec.nobs,) and np.all((pit >= 0) & (pit <= 1 + 1e-12))
    assert 0.35 < pit.mean() < 0.65


@pytest.mark.sampling
def test_posterior_predictive_is_reproducible_and_checked(run):
    m, idata = run
    first = m.sample_posterior_predictive(idata.copy(), random_seed=5)["posterior_predictive"]
    again = m.sample_posterior_predictive(idata.copy(), random_seed=5)["posterior_predictive"]
    xr.testing.assert_identical(first.to_dataset(), again.to_dataset())
    with pytest.raises(ModelError, match="random_seed"):
        m.sample_posterior_predictive(idata.copy(), random_seed=2**65)
    with pytest.raises(ModelError, match="no posterior group"):
        m.sample_posterior_predictive(xr.DataTree(), random_seed=1)


@pytest.mark.sampling
def test_saved_posterior_rebuilds_the_reml_fit(run, tmp_path):
    m, idata = run
    path = tmp_path / "sleep.nc"
    idata.to_netcdf(path)
    reloaded = xr.open_datatree(path)
    table = bayeshier.compare(idata=reloaded)
    again = bayeshier.compare(m.reml, reloaded)
    assert table is not None and again is not None


_SAVE_SCRIPT = """
import sys
import xarray as xr
import bayeshier
from bayeshier import datasets

model = bayeshier.Model("Reaction ~ Days + (1|Subject)", datasets.load("sleepstudy"))
idata = model.sample(draws=50, tune=50, chains=1, random_seed=1, progressbar=False)
idata = model.sample_posterior_predictive(idata, random_seed=1)
folder = sys.argv[1]
idata.to_netcdf(folder + "/sleep.nc")
idata.to_zarr(folder + "/sleep.zarr")
for path, engine in ((folder + "/sleep.nc", "h5netcdf"), (folder + "/sleep.zarr", "zarr")):
    reloaded = xr.open_datatree(path, engine=engine)
    assert set(reloaded.children) == set(idata.children), path
    assert reloaded.attrs == idata.attrs, path
    xr.testing.assert_equal(
        reloaded["posterior_predictive"].to_dataset(), idata["posterior_predictive"].to_dataset()
    )
print("saved")
"""


@pytest.mark.sampling
def test_saving_prints_no_warning_and_round_trips(tmp_path):
    """A user's session (Python's default warning filters): to_netcdf and to_zarr print nothing."""
    script = tmp_path / "save.py"
    script.write_text(_SAVE_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "saved\n"
    assert done.stderr == ""


@pytest.mark.sampling
def test_small_budget_stores_the_per_group_log_likelihood(sleep_model):
    with pytest.warns(MemoryBudgetWarning, match="per level of 'Subject'"):
        idata = sleep_model.sample(
            draws=300, tune=300, chains=2, random_seed=4, progressbar=False, memory_budget=200_000
        )
    assert idata.attrs[LOG_LIKELIHOOD_ATTR] == "group"
    assert "log_likelihood=True" in idata.attrs["log_likelihood_note"]
    assert dict(idata["log_likelihood"].sizes) == {"chain": 2, "draw": 300, "Subject_level": 18}
    assert np.isfinite(az.loo(idata).elpd)
    none = sleep_model.sample(
        draws=50, tune=50, chains=1, random_seed=4, progressbar=False, log_likelihood=False
    )
    assert "log_likelihood" not in none.children and none.attrs[LOG_LIKELIHOOD_ATTR] == "none"
