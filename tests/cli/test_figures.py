"""bayeshier.cli.figures: the one plot registry, its applicability rules, and drawing from it."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import xarray as xr
from synthetic import synthetic_posterior

from bayeshier import datasets
from bayeshier.bayes.glmm import GlmmModel
from bayeshier.bayes.model import Model
from bayeshier.cli import figures, modelfile
from bayeshier.errors import ModelFileError
from bayeshier.present.comparison import compare

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The plot names as model files have always spelled them, in the order errors list them.
NAMES = (
    "shrinkage_arrows",
    "shrinkage_2d",
    "prior_likelihood_posterior",
    "forest",
    "ols_vs_within",
    "trace",
    "rank",
    "energy",
    "pair_variances",
    "ppc",
    "seed_scenarios",
)
MINIMAL = "[[model]]\ndata = 'dyestuff'\nformula = 'Yield ~ 1 + (1|Batch)'\n"
DEFAULTS = (
    "shrinkage_arrows",
    "shrinkage_2d",
    "prior_likelihood_posterior",
    "forest",
    "ols_vs_within",
    "trace",
    "energy",
    "ppc",
)


def _results(formula: str, data: str, posterior: bool = True) -> figures.ModelResults:
    """A model fitted by REML, with a synthetic posterior (or none): no sampler needed."""
    model = Model(formula, datasets.load(data))
    tree = synthetic_posterior(model.reml) if posterior else None
    idata = tree if tree is not None else xr.DataTree()
    return figures.ModelResults(model, idata, compare(model.reml, tree), seed=1)


@pytest.fixture(scope="module")
def intercepts() -> figures.ModelResults:
    """``Yield ~ 1 + (1|Batch)`` with a synthetic posterior."""
    return _results("Yield ~ 1 + (1|Batch)", "dyestuff")


@pytest.fixture(scope="module")
def slopes() -> figures.ModelResults:
    """``Reaction ~ Days + (Days|Subject)``, REML only (the comparison has no posterior)."""
    return _results("Reaction ~ Days + (Days|Subject)", "sleepstudy", posterior=False)


# -------------------------------------------------------------- registry
def test_every_registered_plot_has_a_name_scope_caption_and_drawer():
    for plot in figures.PLOTS:
        assert plot.name and plot.name.isidentifier()
        assert plot.scope in ("file", "model", "factor")
        assert plot.caption and not plot.caption.endswith(".")
        assert callable(plot.draw)
    assert len(set(figures.names())) == len(figures.PLOTS)


def test_names_keep_the_order_model_files_and_errors_use():
    assert figures.names() == NAMES
    assert figures.names("file") == ("seed_scenarios",)
    assert figures.names("factor") == NAMES[:5]
    assert figures.names("model") == NAMES[5:10]


def test_defaults_come_from_the_registry():
    assert figures.default_names() == DEFAULTS
    assert modelfile.OutputSettings().plots == DEFAULTS


def test_the_scope_is_the_class():
    for plot in figures.PLOTS:
        kind = {"file": figures.FilePlot, "model": figures.ModelPlot, "factor": figures.FactorPlot}
        assert isinstance(plot, kind[plot.scope])


def test_plot_named_finds_an_entry_or_says_what_there_is():
    assert figures.plot_named("forest").scope == "factor"
    with pytest.raises(KeyError, match="registered: shrinkage_arrows, "):
        figures.plot_named("forrest")


def test_a_factor_plot_that_skips_factors_says_why():
    for plot in figures.PLOTS:
        if isinstance(plot, figures.FactorPlot) and plot.skipped_because:
            assert plot.applies_to is not figures.FactorPlot.applies_to
    for name in ("shrinkage_2d", "prior_likelihood_posterior", "ols_vs_within"):
        assert figures.plot_named(name).skipped_because


# ----------------------------------------------------------- applicability
@pytest.mark.parametrize(
    ("name", "on_intercepts", "on_slopes"),
    [
        ("shrinkage_arrows", True, True),
        ("forest", True, True),
        ("shrinkage_2d", False, True),
        ("prior_likelihood_posterior", True, False),
        ("ols_vs_within", True, False),
    ],
)
def test_which_factors_each_per_factor_plot_applies_to(
    intercepts, slopes, name, on_intercepts, on_slopes
):
    plot = figures.plot_named(name)
    assert isinstance(plot, figures.FactorPlot)
    (batch,) = intercepts.model.spec.factors
    (subject,) = slopes.model.spec.factors
    assert plot.applies_to(batch) is on_intercepts
    assert plot.applies_to(subject) is on_slopes


def test_factors_for_names_each_factor_left_out(slopes, intercepts, capsys):
    prior_plot = figures.plot_named("prior_likelihood_posterior")
    assert figures.factors_for(prior_plot, slopes.model) == []
    err = capsys.readouterr().err
    assert (
        "bayeshier:   plot prior_likelihood_posterior not drawn for 'Subject': "
        "it has random slopes (shrinkage_2d shows them)"
    ) in err
    assert figures.factors_for(figures.plot_named("shrinkage_2d"), intercepts.model) == []
    assert "it has a single random term (shrinkage_arrows shows it)" in capsys.readouterr().err
    assert figures.factors_for(figures.plot_named("forest"), slopes.model) == ["Subject"]
    assert capsys.readouterr().err == ""


# --------------------------------------------------------- the model file
def test_an_unknown_plot_name_lists_the_registry(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text("[output]\nplots = ['forest', 'traces']\n" + MINIMAL)
    with pytest.raises(ModelFileError) as info:
        modelfile.load(path)
    listed = ", ".join(f'"{name}"' for name in NAMES)
    assert f"{path}: key 'output.plots[1]' must be one of {listed}, got 'traces'." in str(
        info.value
    )
    assert "Did you mean 'trace'" in str(info.value)


def test_plots_that_are_not_a_list_get_the_registry_too(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text("[output]\nplots = 'forest'\n" + MINIMAL)
    with pytest.raises(ModelFileError, match='a list of plot names from "shrinkage_arrows"'):
        modelfile.load(path)


def test_a_new_entry_is_all_a_new_plot_needs(monkeypatch, tmp_path, intercepts):
    def blank(results: figures.ModelResults) -> plt.Figure:
        figure, ax = plt.subplots(figsize=(2, 1))
        ax.set_title(results.model.spec.formula.text)
        return figure

    extra = figures.ModelPlot(name="blank", caption="A blank figure", draw=blank)
    monkeypatch.setattr(figures, "PLOTS", (*figures.PLOTS, extra))
    path = tmp_path / "m.toml"
    path.write_text("[output]\nplots = ['blank']\n" + MINIMAL)
    plots = modelfile.load(path).output.plots
    assert plots == ("blank",)
    (image,) = figures.model_images(plots, intercepts, tmp_path)
    assert (image.name, image.caption) == ("blank", "A blank figure")
    assert (tmp_path / "blank.png").read_bytes() == image.png


# ---------------------------------------------------------------- drawing
@pytest.fixture(scope="module")
def with_slope_term() -> figures.ModelResults:
    """``hwy ~ displ + year + (1|class)``: a fixed term to plot the response against."""
    return _results("hwy ~ displ + year + (1|class)", "mpg")


@pytest.mark.parametrize("name", NAMES[:10])
def test_every_per_model_plot_draws_from_the_results(
    intercepts, slopes, with_slope_term, tmp_path, name
):
    results = {"shrinkage_2d": slopes, "ols_vs_within": with_slope_term}.get(name, intercepts)
    (image,) = figures.model_images([name], results, tmp_path)
    assert image.name == name
    assert image.png.startswith(PNG_SIGNATURE)
    assert (tmp_path / f"{name}.png").read_bytes() == image.png
    plot = figures.plot_named(name)
    factor = f" ({results.model.spec.factors[0].name})" if plot.scope == "factor" else ""
    assert image.caption == plot.caption.format(interval="89% ETI") + factor


def test_captions_name_the_interval_of_the_comparison(tmp_path):
    model = Model("Yield ~ 1 + (1|Batch)", datasets.load("dyestuff"))
    tree = synthetic_posterior(model.reml)
    cmp = compare(model.reml, tree, ci_prob=0.5, ci_kind="hdi")
    results = figures.ModelResults(model, tree, cmp, seed=1)
    (image,) = figures.model_images(["forest"], results, tmp_path)
    assert "posterior mean and 50% HDI" in image.caption
    assert "{interval}" not in image.caption


def test_plots_not_drawn_for_a_model_say_why(intercepts, with_slope_term):
    requested = ["forest", "ols_vs_within", "trace", "seed_scenarios"]
    reasons = figures.not_drawn(requested, intercepts.model)
    assert list(reasons) == ["ols_vs_within"]
    assert "needs a fixed-effect term besides the intercept" in reasons["ols_vs_within"]
    assert figures.not_drawn(requested, with_slope_term.model) == {}


def test_plots_of_the_gaussian_comparison_are_not_drawn_for_a_glmm():
    data = datasets.load("dyestuff").assign(high=lambda d: (d["Yield"] > 1527).astype(int))
    glmm = GlmmModel("high ~ 1 + (1|Batch)", data, "binomial")
    reasons = figures.not_drawn(figures.names(), glmm)
    gaussian_only = ["shrinkage_arrows", "shrinkage_2d", "prior_likelihood_posterior", "forest",
                     "ols_vs_within", "ppc"]  # fmt: skip
    assert list(reasons) == gaussian_only
    assert all(reason.startswith("the model is a binomial GLMM: ") for reason in reasons.values())


def test_model_images_follow_the_requested_order_and_leave_file_plots(intercepts, tmp_path):
    requested = ["forest", "seed_scenarios", "shrinkage_arrows", "shrinkage_2d"]
    images = figures.model_images(requested, intercepts, tmp_path)
    assert [image.name for image in images] == ["forest", "shrinkage_arrows"]
    assert not (tmp_path / "seed_scenarios.png").exists()


def test_several_factors_get_one_file_each(tmp_path):
    results = _results("diameter ~ 1 + (1|plate) + (1|sample)", "penicillin", posterior=False)
    images = figures.model_images(["forest"], results, tmp_path)
    assert [image.name for image in images] == ["forest_plate", "forest_sample"]
    assert images[1].caption.endswith(" (sample)")
    assert (tmp_path / "forest_plate.png").is_file() and (tmp_path / "forest_sample.png").is_file()


def test_file_images_draw_only_the_per_file_plots(tmp_path, capsys):
    (image,) = figures.file_images(["trace", "seed_scenarios"], tmp_path)
    assert image.name == "seed_scenarios"
    assert image.caption == figures.plot_named("seed_scenarios").caption
    assert (tmp_path / "seed_scenarios.png").read_bytes().startswith(PNG_SIGNATURE)
    assert "bayeshier: plot seed_scenarios" in capsys.readouterr().err
    assert figures.file_images(["trace"], tmp_path) == []


def test_the_file_names_of_factors_are_made_safe():
    assert figures._file_safe("cask:batch") == "cask_batch"
    assert figures._file_safe("a.b-c_d") == "a.b-c_d"
