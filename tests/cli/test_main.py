"""bayeshier.cli.main: argument parsing, dispatch, exit statuses and the small commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bayeshier.cli
from bayeshier.cli.main import main

MODELS = Path(__file__).parents[2] / "models"


# ------------------------------------------------------------- bad input
def test_missing_model_file(bad_input, tmp_path):
    err = bad_input(["run", str(tmp_path / "absent.toml")])
    assert "bayeshier: error: No model file at" in err


def test_schema_error_names_file_and_key(bad_input, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[sampler]\ndraws = 0\n[[model]]\ndata = 'dyestuff'\nformula = 'Yield ~ 1'\n")
    err = bad_input(["run", str(path)])
    assert f"{path}: key 'sampler.draws' must be an integer from 1 to 1_000_000, got 0." in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--draws", "0"], "--draws: must be an integer from 1 to 1_000_000, got 0"),
        (["--draws", "99999999999999999"], "--draws: must be an integer from 1 to 1_000_000"),
        (["--tune", "-1"], "--tune: must be an integer from 0 to 1_000_000, got -1"),
        (["--chains", "100000"], "--chains: must be an integer from 1 to 64, got 100000"),
        (["--seed", str(2**65)], "--seed: must be an integer from 0 to 4_294_967_295"),
        (["--chains", "two"], "--chains: expected an integer, got 'two'"),
        (["--seed", "-1"], "--seed: must be an integer from 0 to 4_294_967_295, got -1"),
        (["--quik"], "unrecognized arguments: --quik"),
        (["--likelihood", "colapsed"], "--likelihood: invalid choice: 'colapsed'"),
    ],
)
def test_bad_flags(bad_input, flags, message):
    err = bad_input(["run", str(MODELS / "dyestuff.toml"), *flags])
    assert message in err


def test_reml_with_unknown_data_is_bad_input(bad_input, tmp_path):
    err = bad_input(["reml", "y ~ 1 + (1|g)", "--data", "dyestuf"])
    assert "bayeshier: error: --data 'dyestuf' is neither a bundled data set" in err
    err = bad_input(["reml", "y ~ 1 + (1|g)", "--data", str(tmp_path / "absent.csv")])
    assert "bayeshier: error: No CSV file at" in err


def test_a_missing_command_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "usage: bayeshier" in capsys.readouterr().err


# ------------------------------------------------------ other commands
def test_existing_commands_still_work(capsys):
    assert main(["datasets"]) == 0
    listing = capsys.readouterr().out
    assert "sleepstudy" in listing
    assert "cbind(incidence, nonincidence) ~ period + (1|herd)  (family = binomial)" in listing
    assert main(["reml", "Yield ~ 1 + (1|Batch)", "--data", "dyestuff"]) == 0
    assert "REML criterion" in capsys.readouterr().out


def test_help_lists_the_commands_and_exits_zero(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("examples", "reml", "datasets", "run"):
        assert command in out


def test_run_help_shows_the_quick_settings_and_likelihoods(capsys):
    assert main(["run", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "2 chains x 200 draws (200 tuning)" in out
    assert "{auto,full,collapsed}" in out


def test_the_console_script_entry_point_is_main():
    assert bayeshier.cli.main is main


# ---------------------------------------------------------- reml --family
SEED_BINARY = Path(__file__).parents[1] / "fixtures" / "glmer" / "seed_binary.csv"


def test_reml_with_a_family_prints_glmers_summary(capsys):
    argv = ["reml", "y ~ 1 + (1|g)", "--data", str(SEED_BINARY), "--family", "binomial"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "fit by maximum likelihood (Laplace Approximation) ['glmerMod']" in out
    assert " Family: binomial  ( logit )" in out
    # lme4 1.1-31 (shared/reference/seed_binary.json): fixef -0.187987, se 0.482554,
    # variance 0.917022, sd 0.957613
    fixed = re.search(r"^\(Intercept\)\s+(\S+)\s+(\S+)\s", out, re.MULTILINE)
    assert fixed is not None
    assert float(fixed[1]) == pytest.approx(-0.187987, abs=1e-4)
    assert float(fixed[2]) == pytest.approx(0.482554, abs=1e-3)
    group = re.search(r"^ g\s+\(Intercept\)\s+(\S+)\s+(\S+)", out, re.MULTILINE)
    assert group is not None
    assert float(group[2]) == pytest.approx(0.957613, abs=1e-3)


def test_reml_family_link_and_nagq_are_checked(bad_input):
    data = ["--data", str(SEED_BINARY)]
    err = bad_input(["reml", "y ~ 1 + (1|g)", *data, "--link", "probit"])
    assert "--link and --nagq are for a generalized model: add --family binomial" in err
    err = bad_input(["reml", "y ~ 1 + (1|g)", *data, "--family", "binomial", "--link", "log"])
    assert "The binomial family has no link 'log'" in err
    err = bad_input(["reml", "y ~ 1 + (1|g)", *data, "--family", "bernoulli"])
    assert "invalid choice: 'bernoulli'" in err


def test_reml_reads_stray_missing_markers_only_when_told(bad_input, tmp_path, capsys):
    values = ["1.5", "2.0", "3.1", "4.2", ".", "6.3", "7.1", "8.0", "9.9", "1.0", "2.2", "3.3"]
    path = tmp_path / "rows.csv"
    path.write_text(
        "y,g\n" + "".join(f"{v},{g}\n" for v, g in zip(values, "aabbccddeeff", strict=True))
    )
    err = bad_input(["reml", "y ~ 1 + (1|g)", "--data", str(path)])
    assert "but 1 value(s) that are not: '.' (row 5)" in err and "--na-values ." in err
    assert main(["reml", "y ~ 1 + (1|g)", "--data", str(path), "--na-values", "."]) == 0
    assert "Number of obs: 11" in capsys.readouterr().out


def test_examples_fit_every_bundled_data_set_with_its_family(capsys):
    """Gaussian examples print lmer's summary, binomial and Poisson ones glmer's."""
    from bayeshier import datasets

    assert main(["examples"]) == 0
    out = capsys.readouterr().out
    blocks = dict(re.findall(r"=== (\w+): .*?\n(.*?)(?==== |\Z)", out, flags=re.DOTALL))
    assert set(blocks) == set(datasets.names())
    for name, text in blocks.items():
        family = datasets.family(name)
        if family == "gaussian":
            assert text.startswith("Linear mixed model fit by REML"), name
        else:
            assert text.startswith("Generalized linear mixed model fit by maximum likelihood"), name
            assert f"Family: {family}" in text, name


def test_reml_takes_weights_as_lme4(capsys):
    """`bayeshier reml --weights w` on lme4's weighted sleepstudy (rform_sleep_weights)."""
    fixtures = Path(__file__).parents[1] / "fixtures" / "lme4"
    data = str(fixtures / "rform_sleep_weights.csv")
    assert main(["reml", "Reaction ~ Days + (1|Subject)", "--data", data, "--weights", "w"]) == 0
    out = capsys.readouterr().out
    days = re.search(r"^Days\s+(\S+)\s+(\S+)", out, flags=re.MULTILINE)
    assert float(days.group(1)) == pytest.approx(10.2946770062198, abs=1e-4)
    assert float(days.group(2)) == pytest.approx(0.793456730820244, abs=1e-4)
