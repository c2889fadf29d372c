"""bayeshier.cli.modelfile: the schema of model files, and every shipped file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bayeshier import datasets
from bayeshier.bayes.model import Model
from bayeshier.cli import modelfile
from bayeshier.cli.model_data import read_data
from bayeshier.cli.model_run import build_model
from bayeshier.errors import FormulaError, ModelFileError

MODELS = Path(__file__).parents[2] / "models"
SHIPPED = sorted(MODELS.glob("*.toml"))

MINIMAL = """
[[model]]
data = "dyestuff"
formula = "Yield ~ 1 + (1|Batch)"
"""


def _write(tmp_path: Path, text: str, name: str = "m.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ModelFileError) as info:
        modelfile.load(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    return message


# ------------------------------------------------------------ shipped files
def test_the_promised_files_are_shipped():
    names = {p.stem for p in SHIPPED}
    assert {
        "seed_shrinkage", "mpg_class", "sleepstudy", "dyestuff", "penicillin", "pastes",
        "binary_outcomes",
    } <= names  # fmt: skip


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_file_validates_and_builds(path):
    model_file = modelfile.load(path)
    assert model_file.models
    for entry in model_file.models:
        model = build_model(entry, read_data(entry.data, path.parent, entry.na_values))
        # a prior per fixed effect, per group sd, and sigma for a Gaussian model
        expected = model.spec.n_fixed + len(model.spec.factors) + (entry.family == "gaussian")
        assert len(model.priors) >= expected


def test_seed_file_holds_the_four_scenarios():
    model_file = modelfile.load(MODELS / "seed_shrinkage.toml")
    assert [m.name for m in model_file.models] == [
        "seed_model1", "seed_model1b", "seed_model2", "seed_model3"
    ]  # fmt: skip
    assert {m.formula for m in model_file.models} == {"y ~ 1 + (1|g)"}
    assert "seed_scenarios" in model_file.output.plots


def test_mpg_file_has_the_lm_vs_lmer_model():
    (entry,) = modelfile.load(MODELS / "mpg_class.toml").models
    assert entry.formula == "hwy ~ displ + year + (1|class)"
    assert entry.data == "mpg"


# ------------------------------------------------------------------ parsing
def test_minimal_file_gets_defaults(tmp_path):
    model_file = modelfile.load(_write(tmp_path, MINIMAL, "dye.toml"))
    (entry,) = model_file.models
    assert entry.name == "dye"  # the file's stem
    assert model_file.title == "dye"
    assert entry.sampler == modelfile.SamplerSettings()
    assert model_file.output == modelfile.OutputSettings()
    assert entry.parameterization == "auto"
    assert entry.likelihood == "auto"


def test_model_sampler_overrides_single_settings(tmp_path):
    text = """
[sampler]
draws = 300
chains = 3
seed = 7
[[model]]
name = "a"
data = "dyestuff"
formula = "Yield ~ 1 + (1|Batch)"
[model.sampler]
draws = 50
target_accept = 0.95
[model.priors]
sd_Batch = "halfnormal(50)"
[[model]]
name = "b"
data = "dyestuff"
formula = "Yield ~ 1 + (1|Batch)"
parameterization = {Batch = "noncentered"}
"""
    a, b = modelfile.load(_write(tmp_path, text)).models
    assert (a.sampler.draws, a.sampler.chains, a.sampler.seed) == (50, 3, 7)
    assert a.sampler.target_accept == 0.95
    assert (b.sampler.draws, b.sampler.target_accept) == (300, None)
    assert a.priors == {"sd_Batch": "halfnormal(50)"}
    assert b.parameterization == {"Batch": "noncentered"}


@pytest.mark.parametrize("choice", ["full", "collapsed"])
def test_likelihood_reaches_the_entry_and_the_model(tmp_path, choice):
    (entry,) = modelfile.load(_write(tmp_path, MINIMAL + f"likelihood = '{choice}'\n")).models
    assert entry.likelihood == choice
    model = Model(entry.formula, datasets.load(entry.data), likelihood=entry.likelihood)
    assert model.likelihood == choice


# ------------------------------------------------------------ schema errors
@pytest.mark.parametrize(
    ("text", "key", "allowed"),
    [
        ("titel = 'x'\n" + MINIMAL, "'titel'", "Did you mean 'title'?"),
        ("[[model]]\ndata = 'dyestuff'\nfromula = 'y ~ 1 + (1|g)'\n", "'model[0].fromula'",
         "Allowed in [model[0]]: name, data, formula"),
        ("[[model]]\ndata = 'dyestuff'\n", "'model[0].formula'", "is required"),
        ("title = 'no models'\n", "'model'", "[[model]]"),
        ("[sampler]\ndraws = 'many'\n" + MINIMAL, "'sampler.draws'",
         "integer from 1 to 1_000_000, got 'many'"),
        ("[sampler]\ntune = -1\n" + MINIMAL, "'sampler.tune'",
         "integer from 0 to 1_000_000, got -1"),
        ("[sampler]\nchains = true\n" + MINIMAL, "'sampler.chains'", "integer from 1 to 64"),
        ("[sampler]\nchains = 100000\n" + MINIMAL, "'sampler.chains'",
         "integer from 1 to 64, got 100000"),
        ("[sampler]\nseed = 36893488147419103232\n" + MINIMAL, "'sampler.seed'",
         "integer from 0 to 4_294_967_295"),
        ("[sampler]\ndraws = 99999999\n" + MINIMAL, "'sampler.draws'",
         "integer from 1 to 1_000_000, got 99999999"),
        ("[sampler]\nsampler = 'nutpy'\n" + MINIMAL, "'sampler.sampler'",
         "\"nutpie\", \"pymc\", got 'nutpy'. Did you mean 'nutpie'?"),
        ("[sampler]\ntarget_accept = 1.5\n" + MINIMAL, "'sampler.target_accept'",
         "between 0 and 1"),
        ("[output]\nplots = ['trace', 'traces']\n" + MINIMAL, "'output.plots[1]'",
         "must be one of \"shrinkage_arrows\""),
        ("[output]\nposterior = 'yes'\n" + MINIMAL, "'output.posterior'", "true or false"),
        ("[output]\norder = 'random'\n" + MINIMAL, "'output.order'", "\"shrinkage\", \"size\""),
        (MINIMAL + "[model.priors]\nsd_Batch = 5\n", "'model[0].priors.sd_Batch'",
         "prior string"),
        (MINIMAL + "parameterization = 'centred'\n", "'model[0].parameterization'",
         "Did you mean 'centered'"),
        (MINIMAL + "likelihood = 'colapsed'\n", "'model[0].likelihood'",
         "must be one of \"auto\", \"full\", \"collapsed\", got 'colapsed'. "
         "Did you mean 'collapsed'?"),
        (MINIMAL + "likelihood = true\n", "'model[0].likelihood'",
         "must be one of \"auto\", \"full\", \"collapsed\", got True."),
        ("[sampler]\nlikelihood = 'full'\n" + MINIMAL, "'sampler.likelihood'",
         "is not allowed here. It belongs in [[model]]. Allowed in [sampler]: draws"),
        (MINIMAL + "plots = ['trace']\n", "'model[0].plots'", "It belongs in [output]."),
        (MINIMAL + MINIMAL, "'model[0].name'", "required when a file holds several models"),
        (MINIMAL.replace("[[model]]", "[[model]]\nname = 'a b'"), "'model[0].name'",
         "letters, digits"),
        (MINIMAL.replace("[[model]]", "[[model]]\nname = 'a'") * 2, "'model.name'",
         "unique, also ignoring case (each names a folder); repeated: a"),
        (MINIMAL.replace("\"dyestuff\"", "3"), "'model[0].data'", "non-empty string, got 3"),
        ("[output]\nci_prob = 89\n" + MINIMAL, "'output.ci_prob'", "between 0 and 1"),
        ("[output]\nci_kind = 'quantile'\n" + MINIMAL, "'output.ci_kind'",
         "must be one of \"eti\", \"hdi\", got 'quantile'"),
        ("[output]\nhdi_prob = 0.9\nci_kind = 'eti'\n" + MINIMAL, "'output.hdi_prob'",
         "former name of ci_prob with ci_kind = \"hdi\""),
        (MINIMAL + "family = 'bernoulli'\n", "'model[0].family'",
         "must be one of \"gaussian\", \"binomial\", \"poisson\", got 'bernoulli'"),
        (MINIMAL + "family = 'poisson'\nlink = 'logit'\n", "'model[0].link'",
         "must be one of \"log\", got 'logit'"),
        (MINIMAL + "link = 'log'\n", "'model[0].link'", "must be one of \"identity\""),
        (MINIMAL + "family = 'binomial'\nlikelihood = 'collapsed'\n", "'model[0].likelihood'",
         "is for family = \"gaussian\" only"),
    ],
)  # fmt: skip
def test_schema_errors_name_file_key_and_what_is_allowed(tmp_path, text, key, allowed):
    message = _error(tmp_path, text)
    assert f"key {key}" in message
    assert allowed in message


def test_bad_toml_names_the_file_and_line(tmp_path):
    message = _error(tmp_path, "[[model]]\ndata = dyestuff\n")
    assert "not valid TOML" in message and "line 2" in message


def test_missing_file_says_so(tmp_path):
    with pytest.raises(ModelFileError, match="No model file at"):
        modelfile.load(tmp_path / "absent.toml")


def test_defaults_of_the_sampler_and_output_sections():
    assert modelfile.SamplerSettings() == modelfile.SamplerSettings(
        draws=1000, tune=1000, chains=4, seed=None, sampler="nutpie", target_accept=None
    )
    output = modelfile.OutputSettings()
    assert (output.posterior, output.order) == (True, "shrinkage")
    assert (output.ci_prob, output.ci_kind) == (None, None)  # ArviZ's rcParams: an 89% ETI


@pytest.mark.parametrize(
    ("lines", "interval"),
    [
        ("", (None, None)),
        ("ci_prob = 0.95\n", (0.95, None)),
        ("ci_prob = 0.9\nci_kind = 'hdi'\n", (0.9, "hdi")),
        ("hdi_prob = 0.94\n", (0.94, "hdi")),  # the former key, an alias
    ],
)
def test_the_posterior_interval_of_the_output(tmp_path, lines, interval):
    output = modelfile.load(_write(tmp_path, "[output]\n" + lines + MINIMAL)).output
    assert (output.ci_prob, output.ci_kind) == interval


def test_family_and_link_of_a_model(tmp_path):
    text = MINIMAL + "family = 'binomial'\nlink = 'probit'\n"
    (entry,) = modelfile.load(_write(tmp_path, text)).models
    assert (entry.family, entry.link) == ("binomial", "probit")
    (entry,) = modelfile.load(_write(tmp_path, MINIMAL)).models
    assert (entry.family, entry.link) == ("gaussian", None)


def test_weights_and_offset_of_a_model_reach_the_model(tmp_path):
    text = MINIMAL + "weights = 'pmax(Yield / 1000, 1)'\noffset = 'log(Yield)'\n"
    (entry,) = modelfile.load(_write(tmp_path, text)).models
    assert (entry.weights, entry.offset) == ("pmax(Yield / 1000, 1)", "log(Yield)")
    model = build_model(entry, datasets.load("dyestuff"))
    expected = np.log(datasets.load("dyestuff")["Yield"].to_numpy())
    np.testing.assert_allclose(model.spec.offset, expected)
    np.testing.assert_allclose(model.spec.weights, 1.5, atol=0.4)
    (plain,) = modelfile.load(_write(tmp_path, MINIMAL)).models
    assert (plain.weights, plain.offset) == (None, None)
    message = _error(tmp_path, MINIMAL + "weights = 3\n")
    assert "key 'model[0].weights' must be a non-empty string" in message


def test_hostile_weights_are_refused_before_anything_runs(tmp_path):
    text = MINIMAL + "weights = \"__import__('os').system('touch marker')\"\n"
    (entry,) = modelfile.load(_write(tmp_path, text)).models
    with pytest.raises(FormulaError):
        build_model(entry, datasets.load("dyestuff"))
    assert not (tmp_path / "marker").exists()
    assert not Path("marker").exists()


def test_a_parameterization_table_is_checked_per_factor(tmp_path):
    message = _error(tmp_path, MINIMAL + "parameterization = {Batch = 'centred'}\n")
    assert "key 'model[0].parameterization.Batch' must be one of" in message
    message = _error(tmp_path, MINIMAL + "parameterization = 3\n")
    assert 'must be one of "auto", "centered", "noncentered" or a table, got 3.' in message


def test_repeated_plots_are_dropped_in_file_order(tmp_path):
    text = "[output]\nplots = ['trace', 'forest', 'trace']\n" + MINIMAL
    assert modelfile.load(_write(tmp_path, text)).output.plots == ("trace", "forest")
