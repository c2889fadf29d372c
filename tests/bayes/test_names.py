"""Variable and dimension names shared by the PyMC graph and the DataTree."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from bayeshier import datasets
from bayeshier.bayes import names
from bayeshier.bayes.model import Model
from bayeshier.errors import ModelError
from bayeshier.spec.model_spec import build_spec


@pytest.fixture(scope="module")
def slope_spec(sleep):
    return build_spec("Reaction ~ Days + (Days|Subject)", sleep)


@pytest.fixture(scope="module")
def interaction_spec():
    return build_spec("strength ~ 1 + (1|batch/cask)", datasets.load("pastes"))


def test_a_slope_factor_has_level_and_term_dims(slope_spec):
    factor = slope_spec.factor("Subject")
    assert names.effect_dims(factor) == ("Subject_level", "Subject_term")
    assert names.term_dim("Subject") == "Subject_term"
    assert names.term_bis_dim("Subject") == "Subject_term_bis"
    assert names.has_correlation(factor)
    assert names.corr_name("Subject") == "corr_Subject"
    coords = names.model_coords(slope_spec)
    assert list(coords) == ["fixed", "Subject_level", "Subject_term", "Subject_term_bis", "obs"]
    assert coords["fixed"] == ["Intercept", "Days"]
    assert coords["Subject_term"] == coords["Subject_term_bis"] == ["Intercept", "Days"]
    assert coords["Subject_level"][:2] == ["308", "309"] and len(coords["obs"]) == 180


def test_uncorrelated_slopes_have_no_second_term_dim(sleep):
    spec = build_spec("Reaction ~ Days + (Days||Subject)", sleep)
    assert not names.has_correlation(spec.factors[0])
    coords = names.model_coords(spec)
    assert coords["Subject_term"] == ["Intercept", "Days"]
    assert "Subject_term_bis" not in coords


def test_an_interaction_factor_keeps_its_colon(interaction_spec):
    child, parent = interaction_spec.factors
    assert (child.name, parent.name) == ("cask:batch", "batch")
    assert names.effect_dims(child) == ("cask:batch_level",)
    assert names.level_dim(child.name) == "cask:batch_level"
    assert not names.has_correlation(child)
    coords = names.model_coords(interaction_spec)
    assert list(coords) == ["fixed", "cask:batch_level", "batch_level", "obs"]
    assert coords["cask:batch_level"][:2] == ["a:A", "a:B"]
    assert len(coords["cask:batch_level"]) == 30 and len(coords["batch_level"]) == 10


def test_internal_names_start_with_an_underscore():
    internal = [
        names.FIXED_RV,
        names.noncentered_name("g"),
        names.means_name("g"),
        names.sd_component_name("g", 1),
        names.corr_chol_name("g", 0),
    ]
    assert internal == ["_fixed", "_g_z", "_g_mean", "_sd_g_1", "_g_corr_chol0"]


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("Reaction ~ Days + (1|Subject)", "Reaction"),
        ("log(Reaction) ~ Days + (1|Subject)", "y"),  # not an identifier
    ],
)
def test_observed_name_is_the_response_when_it_can_be(sleep, formula, expected):
    assert names.observed_name(build_spec(formula, sleep)) == expected


def test_observed_name_avoids_parameter_names(sleep):
    data = sleep.rename(columns={"Reaction": "sigma"})
    assert names.observed_name(build_spec("sigma ~ Days + (1|Subject)", data)) == "y"


def test_obs_labels_are_the_row_labels_when_unique(sleep):
    data = sleep.iloc[:40].copy()
    data.index = [f"r{k}" for k in range(40)]
    assert names.obs_labels(build_spec("Reaction ~ Days + (1|Subject)", data))[:2] == ["r0", "r1"]
    data.index = [0] * 40
    assert names.obs_labels(build_spec("Reaction ~ Days + (1|Subject)", data)) == list(range(40))


@pytest.mark.parametrize("column", ["beta", "sigma", "obs", "corr_g", "sd_g"])
def test_factor_named_like_a_parameter_is_rejected(crossed_data, column):
    data: pd.DataFrame = crossed_data().rename(columns={"g": column})
    with pytest.raises(ModelError, match=f"'{column}' clashes"):
        Model(f"y ~ x + (x|{column})", data)


@pytest.mark.parametrize("name", ["_g", "chain", "draw", "fixed"])
def test_check_factor_names_rejects_internal_and_dimension_names(name):
    spec = SimpleNamespace(factors=[SimpleNamespace(name="g"), SimpleNamespace(name=name)])
    with pytest.raises(ModelError, match=f"'{name}' clashes"):
        names.check_factor_names(spec)
    names.check_factor_names(SimpleNamespace(factors=[SimpleNamespace(name="g_")]))
