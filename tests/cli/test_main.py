"""bayeshier.cli.main: argument parsing, dispatch, exit statuses and the small commands."""

from __future__ import annotations

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
    assert f"{path}: key 'sampler.draws' must be an integer >= 1, got 0." in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--draws", "0"], "--draws: must be at least 1, got 0"),
        (["--chains", "two"], "--chains: expected an integer, got 'two'"),
        (["--seed", "-1"], "--seed: must be at least 0, got -1"),
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
    assert "sleepstudy" in capsys.readouterr().out
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
