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
    assert check.integer(0, 0, PATH, "seed") == 0
    with pytest.raises(ModelFileError, match="must be an integer >= 1, got True"):
        check.integer(True, 1, PATH, "chains")
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
