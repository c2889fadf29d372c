"""bayeshier.cli.run: ``bayeshier run`` on model files, in process; the settings it merges."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from synthetic import synthetic_posterior

from bayeshier.bayes.glmm import GlmmModel
from bayeshier.bayes.model import Model
from bayeshier.cli import modelfile, output_folder, run
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
    # drawn by default: one replicate of the 30 rows per draw, in ArviZ's layout
    assert tree["posterior_predictive"]["Yield"].sizes == {"chain": 2, "draw": 200, "obs": 30}


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
    predictive = page.split("<h3>Posterior predictive check</h3>")[1].split("<h3>")[0]
    assert "their mean and 89% ETI (ci_low to ci_high)" in predictive
    assert ">p_at_least</th>" in predictive
    assert "posterior predictive" in page.split("<h3>Warnings</h3>")[0]  # its time, in settings


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
    # the library's convention, ArviZ's default: an 89% equal-tailed interval
    assert "Yield ~ 1 + (1|Batch): 30 rows; REML vs OLS vs posterior (mean, sd, 89% ETI)" in stdout
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


def _rows_with_a_dot(folder: Path) -> Path:
    """A CSV whose numeric response has one '.' (a missing marker) in row 5."""
    values = ["1.5", "2.0", "3.1", "4.2", ".", "6.3", "7.1", "8.0", "9.9", "1.0", "2.2", "3.3"]
    pd.DataFrame({"y": values, "g": list("aabbccddeeff")}).to_csv(folder / "rows.csv", index=False)
    path = folder / "dot.toml"
    path.write_text("[[model]]\nname = 'm'\ndata = 'rows.csv'\nformula = 'y ~ 1 + (1|g)'\n")
    return path


def test_a_stray_missing_marker_lists_it_and_says_how_to_mark_it(bad_input, tmp_path):
    path = _rows_with_a_dot(tmp_path)
    err = bad_input(["run", str(path), "--out", str(tmp_path / "out")])
    assert "column 'y' holds numbers (92% of its values) but 1 value(s) that are not: '.'" in err
    assert 'na_values = ["."] in the model file' in err and "--na-values . on the" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("how", ["flag", "key"])
def test_na_values_from_the_flag_or_the_file_mark_it_missing(tmp_path, how):
    path = _rows_with_a_dot(tmp_path)
    if how == "key":
        path.write_text("na_values = '.'\n" + path.read_text())
    model_file = modelfile.load(path)
    if how == "flag":  # --na-values .
        model_file = run.with_na_values(model_file, (".",))
    prepared = run.prepare(model_file, model_file.models[0])
    assert prepared.model.spec.nobs == 11  # the row with '.' dropped as missing
    assert prepared.model.reml.n_dropped == 1


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


def test_the_likelihood_option_leaves_glmms_alone(tmp_path):
    path = tmp_path / "two.toml"
    path.write_text(
        "[[model]]\nname = 'a'\ndata = 'dyestuff'\nformula = 'Yield ~ 1 + (1|Batch)'\n"
        "[[model]]\nname = 'b'\ndata = 'b.csv'\nformula = 'y ~ 1 + (1|g)'\n"
        "family = 'binomial'\n"
    )
    full = run.with_likelihood(modelfile.load(path), "full")
    assert [entry.likelihood for entry in full.models] == ["full", "auto"]


# ----------------------------------------------------------------- GLMM
@pytest.fixture(scope="module")
def binary_run(tmp_path_factory) -> tuple[Path, int, str, str]:
    """The bundled ``models/binary_outcomes.toml``, with few draws: out, status, stdout, stderr."""
    out = tmp_path_factory.mktemp("binary") / "binary"
    argv = ["run", str(MODELS / "binary_outcomes.toml"), "--out", str(out)]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main([*argv, "--draws", "200", "--tune", "200", "--chains", "2"])
    return out, status, stdout.getvalue(), stderr.getvalue()


@pytest.mark.sampling
def test_the_bundled_binary_example_runs_laplace_and_posterior(binary_run):
    out, status, stdout, stderr = binary_run
    assert status == 0, stderr
    assert "Traceback" not in stderr
    assert "Laplace fit:" in stderr and "with nutpie, binomial (logit) likelihood" in stderr
    assert "Groups (link scale); posterior interval ci_low to ci_high: 89% ETI" in stdout
    table = pd.read_csv(out / "comparison.csv")
    fixed = table[(table["table"] == "fixed") & (table["model"] == "seed_binary")].iloc[0]
    assert fixed["laplace"] == pytest.approx(-0.187987241794183, abs=1e-4)  # glmer's fixef
    cbpp = table[(table["table"] == "variances") & (table["model"] == "cbpp")].iloc[0]
    assert cbpp["laplace_sd"] == pytest.approx(0.642064309689732, abs=1e-3)  # glmer's sd
    for model in ("seed_binary", "cbpp"):
        assert (out / model / "trace.png").read_bytes().startswith(PNG_SIGNATURE)
        tree = xr.open_datatree(out / model / "posterior.zarr", engine="zarr")
        assert tree["posterior"].sizes["draw"] == 200


@pytest.mark.sampling
def test_the_glmm_report_shows_modes_and_says_what_it_leaves_out(binary_run):
    out, *_ = binary_run
    page = (out / "report.html").read_text()
    assert "glm, Laplace (glmer) and posterior side by side" in page
    assert "binomial (logit link): 100 rows aggregated into 5 cells" in page
    assert ">mode</th>" in page and ">cond_sd</th>" in page
    assert "Not drawn: bayeshier draws no posterior predictive for a GLMM yet." in page
    assert "lm, REML/BLUP" not in page


def test_a_glmm_skips_the_gaussian_plots_with_their_reason_in_the_report(tmp_path, monkeypatch):
    """The run of a GLMM, its sampler replaced by draws around the Laplace fit."""
    data = pd.read_csv(Path(__file__).parents[1] / "fixtures" / "glmer" / "seed_binary.csv")
    data.to_csv(tmp_path / "rows.csv", index=False)
    path = tmp_path / "glmm.toml"
    path.write_text(
        "[sampler]\ndraws = 100\nchains = 2\n[output]\nplots = ['forest', 'ppc']\n"
        "[[model]]\nname = 'm'\ndata = 'rows.csv'\nformula = 'y ~ 1 + (1|g)'\n"
        "family = 'binomial'\n"
    )
    monkeypatch.setattr(GlmmModel, "sample", _glmm_draws)
    stderr = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
        status = main(["run", str(path), "--out", str(tmp_path / "out")])
    assert status == 0, stderr.getvalue()
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<li>forest: the model is a binomial GLMM: it reads the REML/BLUP columns" in page
    assert "<li>ppc: the model is a binomial GLMM: bayeshier draws no posterior" in page
    assert not list((tmp_path / "out" / "m").glob("*.png"))


def _glmm_draws(model: GlmmModel, **settings: Any) -> xr.DataTree:
    """Draws shaped like ``GlmmModel.sample``'s, 2 chains x 100, around the Laplace fit."""
    rng = np.random.default_rng(0)
    levels = [str(level) for level in model.fit.ranef["g"].index]
    shape = (2, 100)
    posterior = xr.Dataset(
        {
            "beta": (("chain", "draw", "fixed"), rng.normal(-0.2, 0.5, (*shape, 1))),
            "g": (("chain", "draw", "g_level"), rng.normal(0.0, 0.9, (*shape, len(levels)))),
            "sd_g": (("chain", "draw"), np.abs(rng.normal(1.0, 0.3, shape))),
        },
        coords={"fixed": ["Intercept"], "g_level": levels},
    )
    stats = xr.Dataset(
        {
            "diverging": (("chain", "draw"), np.zeros(shape, dtype=bool)),
            "energy": (("chain", "draw"), rng.standard_normal(shape)),
        }
    )
    return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})


# ------------------------------------------------------- interruption
PYMC_FILE = """
[sampler]
draws = 20
tune = 20
chains = 2
sampler = "pymc"
[output]
plots = []
[[model]]
name = "a"
data = "dyestuff"
formula = "Yield ~ 1 + (1|Batch)"
[[model]]
name = "b"
data = "dyestuff"
formula = "Yield ~ 1 + (1|Batch)"
"""


def _earlier_output(out: Path, checksums) -> dict[str, str]:
    """A complete earlier output in ``out`` (with a file the user added); its checksums."""
    with output_folder.staged_output(out) as staging:
        (staging.folder / "report.html").write_text("the earlier report")
        (staging.folder / "a").mkdir()
        (staging.folder / "a" / "trace.png").write_bytes(b"\x89PNG earlier")
        staging.publish()
    (out / "my_notes.txt").write_text("not bayeshier's")
    return checksums(out)


def _interrupted_tree(model, **settings):
    tree = synthetic_posterior(model.reml)
    tree.attrs = {**tree.attrs, "interrupted": "true", "interruption": "after 7 of 20 draws"}
    return tree


@pytest.mark.parametrize(
    "sample",
    [_interrupted_tree, lambda model, **settings: (_ for _ in ()).throw(KeyboardInterrupt())],
    ids=["partial-draws", "keyboard-interrupt"],
)
def test_an_interrupted_sample_exits_130_and_writes_nothing(
    tmp_path, monkeypatch, sample, checksums
):
    path = tmp_path / "two.toml"
    path.write_text(PYMC_FILE)
    out = tmp_path / "out"
    before = _earlier_output(out, checksums)
    monkeypatch.setattr(Model, "sample", sample)
    stderr = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
        status = main(["run", str(path), "--out", str(out)])
    assert status == 130
    assert (
        "interrupted during model 'a' (1 of 2): nothing of this run was kept" in stderr.getvalue()
    )
    assert f"{out} is unchanged" in stderr.getvalue()
    assert checksums(out) == before  # no report of the partial run, byte for byte
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bayeshier-")]


def test_a_failed_run_leaves_the_earlier_output(tmp_path, monkeypatch, checksums):
    path = tmp_path / "two.toml"
    path.write_text(PYMC_FILE.replace("draws = 20", "draws = 400"))  # the synthetic draws
    out = tmp_path / "out"
    before = _earlier_output(out, checksums)
    calls = []

    def sample(model, **settings):
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError("the second model does not fit")
        return synthetic_posterior(model.reml)

    monkeypatch.setattr(Model, "sample", sample)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        with pytest.raises(MemoryError):
            main(["run", str(path), "--out", str(out)])
    assert checksums(out) == before


def test_each_model_is_let_go_before_the_next(tmp_path, monkeypatch):
    """A file of many models holds one model (its graph, its compiled sampler) at a time."""
    path = tmp_path / "three.toml"
    third = "[[model]]\nname = 'c'\ndata = 'dyestuff'\nformula = 'Yield ~ 1 + (1|Batch)'\n"
    text = PYMC_FILE.replace("draws = 20", "draws = 400").replace(
        "plots = []", "plots = ['energy']"
    )
    path.write_text(text + third)
    alive: list[weakref.ref[Model]] = []
    seen_alive = []

    def sample(model, **settings):
        seen_alive.append(sum(ref() is not None for ref in alive))
        alive.append(weakref.ref(model))
        return synthetic_posterior(model.reml)

    monkeypatch.setattr(Model, "sample", sample)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 0
    assert seen_alive == [0, 0, 0]  # the models sampled before were collected
    assert plt.get_fignums() == []  # and no figure is left open


SLOW_FILE = """
[sampler]
draws = {draws}
tune = 50
chains = 2
seed = 1
[output]
plots = ["trace"]
[[model]]
name = "dye"
data = "dyestuff"
formula = "Yield ~ 1 + (1|Batch)"
"""


def _command(path: Path, out: Path, **popen: Any) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "bayeshier.cli", "run", str(path), "--out", str(out)]
    return subprocess.Popen(
        argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, **popen
    )


@pytest.mark.sampling
def test_ctrl_c_during_sampling_exits_130_and_keeps_the_earlier_output(tmp_path, checksums):
    """A real run, then a re-run interrupted while sampling: the first output is byte for byte kept.

    The re-run starts with SIGINT ignored, as a command started with ``&`` from a
    script does: bayeshier must restore its own handler.
    """
    path, out = tmp_path / "slow.toml", tmp_path / "out"
    path.write_text(SLOW_FILE.format(draws=20))
    first = _command(path, out)
    assert first.wait(timeout=240) == 0, first.stderr.read()
    before = checksums(out)
    assert {"report.html", "comparison.csv", "dye/trace.png"} <= set(before)

    path.write_text(SLOW_FILE.format(draws=1_000_000))
    ignoring = _command(path, out, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    lines = []
    for line in ignoring.stderr:
        lines.append(line)
        if "  sampling 2 chains" in line:  # printed once compiled, as sampling starts
            break
    time.sleep(2)
    ignoring.send_signal(signal.SIGINT)
    status = ignoring.wait(timeout=60)
    stderr = "".join(lines) + ignoring.stderr.read()
    assert status == 130, stderr
    assert "interrupted during model 'dye' (1 of 1): nothing of this run was kept" in stderr
    assert "Traceback" not in stderr
    assert checksums(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bayeshier-")]
