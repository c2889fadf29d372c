"""bayeshier.cli.schema_checks: single values of a model file, checked and typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bayeshier import _choices
from bayeshier.cli import schema_checks as check
from bayeshier.errors import ModelFileError

PATH = Path("models/m.toml")


def test_the_error_names_file_key_value_and_hint():
    error = check.schema_error(PATH, "sampler.draws", "must be an integer >= 1", 0, " Hint.")
    assert isinstance(error, ModelFileError)
    assert str(error) == "models/m.toml: key 'sampler.draws' must be an integer >= 1, got 0. Hint."
    missing = check.schema_error(PATH, "model", "is required")
    assert str(missing) == "models/m.toml: key 'model' is required."


def test_strings_are_required_unless_defaulted():
    assert check.string({"title": "t"}, "title", PATH, "") == "t"
    assert check.string({}, "title", PATH, "", default="stem") == "stem"
    assert check.string({"description": ""}, "description", PATH, "m", default="") == ""
    with pytest.raises(ModelFileError, match=r"key 'model\[0\].data' is required \(a string\)"):
        check.string({}, "data", PATH, "model[0]")
    with pytest.raises(ModelFileError, match="must be a non-empty string, got ' '"):
        check.string({"data": " "}, "data", PATH, "model[0]")


def test_numbers():
    assert check.integer(0, (0, 10), PATH, "seed") == 0
    assert check.integer(10, (0, 10), PATH, "seed") == 10
    with pytest.raises(ModelFileError, match="must be an integer from 1 to 64, got True"):
        check.integer(True, (1, 64), PATH, "chains")
    with pytest.raises(ModelFileError, match="must be an integer from 1 to 64, got 100000"):
        check.integer(100_000, (1, 64), PATH, "chains")
    assert check.fraction(0.5, PATH, "output.hdi_prob") == 0.5
    for bad in (0, 1, 1.5, False, "0.5"):
        with pytest.raises(ModelFileError, match="between 0 and 1"):
            check.fraction(bad, PATH, "output.hdi_prob")


@pytest.mark.parametrize(
    ("checker", "allowed"),
    [
        (check.sampler, _choices.SAMPLERS),
        (check.parameterization, _choices.PARAMETERIZATIONS),
        (check.likelihood, _choices.LIKELIHOODS),
        (check.order, _choices.ORDERS),
    ],
)
def test_choices_accept_the_values_of_bayeshier_choices(checker, allowed):
    for value in allowed:
        assert checker(value, PATH, "key") == value
    with pytest.raises(ModelFileError, match=f"must be one of {check.quoted(allowed)}, got 'x'"):
        checker("x", PATH, "key")


def test_a_close_choice_is_suggested():
    with pytest.raises(ModelFileError, match=r"got 'nutpy'\. Did you mean 'nutpie'\?"):
        check.sampler("nutpy", PATH, "sampler.sampler")
    assert check.quoted(("a", "b")) == '"a", "b"'


@pytest.mark.parametrize(
    ("key", "inside", "outside"),
    [
        ("draws", [1, 10**6], [0, 10**6 + 1, 99999999999999999]),
        ("tune", [0, 10**6], [-1, 10**6 + 1]),  # no tuning is allowed
        ("chains", [1, 64], [0, 100_000]),
        ("seed", [0, 2**32 - 1], [-1, 2**65]),
    ],
)
def test_sampler_ranges(key, inside, outside):
    bounds = check.SAMPLER_RANGES[key]
    for value in inside:
        assert check.integer(value, bounds, PATH, f"sampler.{key}") == value
    for value in outside:
        with pytest.raises(ModelFileError, match=f"key 'sampler.{key}' must be an integer from"):
            check.integer(value, bounds, PATH, f"sampler.{key}")


@pytest.mark.parametrize("name", ["..", ".hidden", "a/b", "a\\b", "a..b", "", "a b", "/abs"])
def test_model_names_that_cannot_name_a_folder(name):
    with pytest.raises(ModelFileError, match="must be a plain folder name"):
        check.model_name(name, (), PATH, "model[0].name")


def test_model_names_that_are_plain_or_taken():
    assert check.model_name("sleep-study_2.v1", (), PATH, "n") == "sleep-study_2.v1"
    with pytest.raises(ModelFileError, match="names a file the run writes"):
        check.model_name("Report.HTML", ("report.html",), PATH, "n")


def test_strings_take_one_or_a_list():
    assert check.strings(".", PATH, "na_values") == (".",)
    assert check.strings([".", "n/a"], PATH, "na_values") == (".", "n/a")
    with pytest.raises(ModelFileError, match="must be a string or a list of strings"):
        check.strings([1], PATH, "na_values")
