"""bayeshier.cli.run: ``bayeshier run`` on model files, in process; the settings it merges."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest
import xarray as xr

from bayeshier.cli import modelfile, run
from bayeshier.cli.main import main
from bayeshier.errors import DataError

MODELS = Path(__file__).parents[2] / "models"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[Path, int, str, str]:
    """``bayeshier run models/dyestuff.toml --quick`` once: out dir, status, stdout, stderr."""
    out = tmp_path_factory.mktemp("run") / "dyestuff"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main(["run", str(MODELS / "dyestuff.toml"), "--quick", "--out", str(out)])
    return out, status, stdout.getvalue(), stderr.getvalue()


FULL_FILE = """
[sampler]
draws = 50
tune = 50
chains = 2
seed = 3
[output]
plots = []
[[model]]
name = "dye_full"
data = "dyestuff"
formula = "Yield ~ 1 + (1|Batch)"
likelihood = "full"
"""


def _run_model_file(folder: Path, text: str) -> tuple[Path, int, str]:
    """Write ``text`` as a model file in ``folder`` and run it: out dir, status, stderr."""
    path = folder / "models.toml"
    path.write_text(text)
    stderr = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
        status = main(["run", str(path), "--out", str(folder / "out")])
    return folder / "out", status, stderr.getvalue()


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> tuple[Path, int, str]:
    """A model file asking for ``likelihood = "full"``, run once: out dir, status, stderr."""
    return _run_model_file(tmp_path_factory.mktemp("full"), FULL_FILE)


SLOPES_FILE = """
[sampler]
draws = 50
tune = 50
chains = 2
seed = 5
[[model]]
name = "slopes"
data = "sleepstudy"
formula = "Reaction ~ Days + (Days|Subject)"
"""


@pytest.fixture(scope="module")
def slopes_run(tmp_path_factory) -> tuple[Path, int, str]:
    """A random-slope model with the default plots, run once: out dir, status, stderr."""
    return _run_model_file(tmp_path_factory.mktemp("slopes"), SLOPES_FILE)


# ------------------------------------------------------------------- run
@pytest.mark.sampling
def test_run_writes_every_output(quick_run):
    out, status, _, _ = quick_run
    assert status == 0
    assert (out / "report.html").is_file()
    assert (out / "comparison.csv").is_file()
    for plot in ("shrinkage_arrows", "prior_likelihood_posterior", "forest", "trace", "energy",
                 "pair_variances"):  # fmt: skip
        assert (out / "dyestuff" / f"{plot}.png").read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.sampling
def test_default_plots_of_a_slope_model(slopes_run):
    out, status, stderr = slopes_run
    assert status == 0
    for plot in ("shrinkage_2d", "shrinkage_arrows", "forest", "trace", "energy"):
        assert (out / "slopes" / f"{plot}.png").read_bytes().startswith(PNG_SIGNATURE)
    assert not (out / "slopes" / "prior_likelihood_posterior.png").exists()
    assert "prior_likelihood_posterior not drawn for 'Subject': it has random slopes" in stderr
    report = (out / "report.html").read_text()
    assert "Shrinkage in two dimensions" in report


@pytest.mark.sampling
def test_posterior_reads_back_from_zarr(quick_run):
    out, *_ = quick_run
    tree = xr.open_datatree(out / "dyestuff" / "posterior.zarr", engine="zarr")
    posterior = tree["posterior"]
    assert posterior.sizes["chain"] == 2 and posterior.sizes["draw"] == 200  # --quick
    assert {"beta", "Batch", "sd_Batch", "sigma"} <= set(posterior.data_vars)
    assert tree.attrs["formula"] == "Yield ~ 1 + (1|Batch)"
    assert tree.attrs["likelihood"] == "collapsed"  # "auto" in the file


@pytest.mark.sampling
def test_comparison_csv_holds_the_three_tables(quick_run):
    out, *_ = quick_run
    table = pd.read_csv(out / "comparison.csv")
    assert list(table.columns[:3]) == ["model", "table", "term"]
    counts = table.groupby("table").size().to_dict()
    assert counts == {"fixed": 1, "groups": 6, "variances": 2}
    fixed = table[table["table"] == "fixed"].iloc[0]
    assert fixed["reml"] == pytest.approx(1527.5, abs=0.01)  # lme4: 1527.50
    assert fixed["post_mean"] == pytest.approx(1527.5, abs=40)


@pytest.mark.sampling
def test_report_has_tables_images_and_the_quick_note(quick_run):
    out, *_ = quick_run
    page = (out / "report.html").read_text()
    assert "Yield ~ 1 + (1|Batch)" in page
    assert ">reml_se</th>" in page and ">blup</th>" in page and ">reml_sd</th>" in page
    assert ">distribution</th>" in page  # priors
    assert ">r_hat</th>" in page  # diagnostics
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 6
    assert all(base64.b64decode(i).startswith(PNG_SIGNATURE) for i in images)
    assert "Quick run (--quick): 2 chains x 200 draws" in page
    assert "Warning" not in page.split("<h3>Warnings</h3>")[0]  # nothing spilled above
    assert "collapsed (asked: auto): effects of Batch integrated out" in page


@pytest.mark.sampling
def test_report_images_follow_the_order_of_output_plots(quick_run):
    out, *_ = quick_run
    page = (out / "report.html").read_text()
    names = re.findall(r"<img alt='([^']+)'", page)
    assert names == ["shrinkage_arrows", "prior_likelihood_posterior", "forest", "trace",
                     "energy", "pair_variances"]  # fmt: skip


@pytest.mark.sampling
def test_likelihood_key_of_the_file_reaches_sampling_and_report(full_run):
    out, status, stderr = full_run
    assert status == 0, stderr
    assert "with nutpie, full likelihood" in stderr
    page = (out / "report.html").read_text()
    assert "full: every group effect sampled by NUTS" in page
    tree = xr.open_datatree(out / "dye_full" / "posterior.zarr", engine="zarr")
    assert tree.attrs["likelihood"] == "full"
    assert json.loads(tree.attrs["parameterization"])["Batch"] != "collapsed"


@pytest.mark.sampling
def test_run_prints_the_table_and_progress(quick_run):
    _, _, stdout, stderr = quick_run
    assert "Yield ~ 1 + (1|Batch): 30 rows; REML vs OLS vs posterior with 94% HDI" in stdout
    assert re.search(r"^Intercept +1527\.5", stdout, re.MULTILINE)
    assert "[1/1] model dyestuff" in stderr
    assert "sampling 2 chains x 200 draws (200 tuning) with nutpie, collapsed likelihood" in stderr
    assert "wrote " in stderr and "report.html" in stderr
    assert "Traceback" not in stderr


# ------------------------------------------------------------- bad input
def test_missing_data_names_file_and_model(bad_input, tmp_path):
    path = tmp_path / "nodata.toml"
    path.write_text("[[model]]\nname = 'm'\ndata = 'rows.csv'\nformula = 'y ~ 1 + (1|g)'\n")
    err = bad_input(["run", str(path), "--out", str(tmp_path / "out")])
    assert f"{path}: model 'm': No data file at" in err


def test_bad_formula_names_file_and_model(bad_input, tmp_path):
    path = tmp_path / "formula.toml"
    path.write_text("[[model]]\nname = 'm'\ndata = 'dyestuff'\nformula = 'Yeld ~ 1 + (1|Batch)'\n")
    err = bad_input(["run", str(path), "--out", str(tmp_path / "out")])
    assert f"{path}: model 'm':" in err and "Yeld" in err


FORCED = """
[[model]]
name = 'm'
data = 'dyestuff'
formula = 'Yield ~ 1 + (1|Batch)'
parameterization = {Batch = 'centered'}
"""


def test_collapsed_with_a_forced_factor_names_file_and_model(bad_input, tmp_path):
    path = tmp_path / "forced.toml"
    path.write_text(FORCED + "likelihood = 'collapsed'\n")
    err = bad_input(["run", str(path), "--out", str(tmp_path / "out")])
    assert f"{path}: model 'm': likelihood='collapsed'" in err
    assert not (tmp_path / "out").exists()


def test_likelihood_flag_overrides_the_file(bad_input, tmp_path):
    path = tmp_path / "forced.toml"
    path.write_text(FORCED)  # valid as it stands: likelihood "auto" samples Batch
    err = bad_input(["run", str(path), "--likelihood", "collapsed", "--out", str(tmp_path)])
    assert f"{path}: model 'm': likelihood='collapsed'" in err


def test_a_bad_later_model_fails_before_any_sampling(bad_input, tmp_path):
    path = tmp_path / "two.toml"
    good = "[[model]]\nname = 'a'\ndata = 'dyestuff'\nformula = 'Yield ~ 1 + (1|Batch)'\n"
    bad = "[[model]]\nname = 'b'\ndata = 'dyestuff'\nformula = 'Yield ~ 1 + (1|Bach)'\n"
    path.write_text(good + bad)
    err = bad_input(["run", str(path), "--out", str(tmp_path / "out")])
    assert f"{path}: model 'b':" in err and "Bach" in err
    assert not (tmp_path / "out").exists()


def test_prepare_errors_keep_their_class(tmp_path):
    path = tmp_path / "nodata.toml"
    path.write_text("[[model]]\nname = 'm'\ndata = 'rows.csv'\nformula = 'y ~ 1 + (1|g)'\n")
    model_file = modelfile.load(path)
    with pytest.raises(DataError, match=r"model 'm': No data file at"):
        run.prepare(model_file, model_file.models[0])


# ------------------------------------------------------------ settings
def test_sampler_settings_are_the_file_then_quick_then_flags():
    in_file = modelfile.SamplerSettings(draws=1000, tune=900, chains=4, seed=1)
    assert run.sampler_settings(in_file, run.RunOptions()) == in_file
    quick = run.sampler_settings(in_file, run.RunOptions(quick=True))
    assert (quick.draws, quick.tune, quick.chains, quick.seed) == (200, 200, 2, 1)
    flags = run.RunOptions(quick=True, draws=30, chains=3, seed=9)
    merged = run.sampler_settings(in_file, flags)
    assert (merged.draws, merged.tune, merged.chains, merged.seed) == (30, 200, 3, 9)


def test_likelihood_option_overrides_every_model(tmp_path):
    path = tmp_path / "two.toml"
    path.write_text(
        "[[model]]\nname = 'a'\ndata = 'dyestuff'\nformula = 'Yield ~ 1 + (1|Batch)'\n"
        "likelihood = 'full'\n"
        "[[model]]\nname = 'b'\ndata = 'dyestuff'\nformula = 'Yield ~ 1 + (1|Batch)'\n"
    )
    model_file = modelfile.load(path)
    assert run.with_likelihood(model_file, None) is model_file
    collapsed = run.with_likelihood(model_file, "collapsed")
    assert [entry.likelihood for entry in collapsed.models] == ["collapsed", "collapsed"]
    assert [entry.likelihood for entry in model_file.models] == ["full", "auto"]
