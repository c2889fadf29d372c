"""Hierarchical centering: the fixed columns and the parent a centered factor absorbs."""

from __future__ import annotations

import numpy as np

from bayeshier.bayes.glmm import GlmmModel
from bayeshier.bayes.glmm.centering import (
    FEW_CENTERED_LEVELS,
    hierarchies,
    level_constant_columns,
)


def test_level_constant_columns() -> None:
    X = np.array([[1.0, 2.0, 0.1], [1.0, 2.0, 0.2], [1.0, 3.0, 0.3], [1.0, 3.0, 0.3]])
    codes = np.array([0, 0, 1, 1])
    columns, values = level_constant_columns(X, codes, 2, np.ones(3, dtype=bool))
    np.testing.assert_array_equal(columns, [0, 1])
    np.testing.assert_array_equal(values, [[1.0, 2.0], [1.0, 3.0]])
    free = np.array([False, True, True])
    columns, _ = level_constant_columns(X, codes, 2, free)
    np.testing.assert_array_equal(columns, [1])


def test_broods_absorb_year_height_and_location(grouse_case) -> None:
    reference, data = grouse_case
    model = GlmmModel(reference["formula"], data, "poisson")
    # year and height are properties of a brood; every brood lies in one location
    assert (
        data.groupby("BROOD", observed=True)[["YEAR", "sHEIGHT", "LOCATION"]].nunique().max().max()
        == 1
    )
    found = hierarchies(model.spec, {"BROOD": "centered", "LOCATION": "noncentered"})
    assert set(found) == {"BROOD"}
    brood = found["BROOD"]
    np.testing.assert_array_equal(brood.columns, np.arange(len(model.spec.fixed_names)))
    assert brood.parent == "LOCATION"
    first = data.groupby("BROOD", observed=True)["LOCATION"].first()
    locations = list(model.spec.factor("LOCATION").levels)
    expected = [locations.index(first[level]) for level in model.spec.factor("BROOD").levels]
    np.testing.assert_array_equal(brood.parent_codes, expected)
    assert hierarchies(model.spec, {"BROOD": "noncentered", "LOCATION": "noncentered"}) == {}


def test_a_factor_of_few_levels_that_is_not_nested_is_not_centred_on_anything(cbpp_model) -> None:
    assert cbpp_model.spec.factor("herd").n_levels == 15 <= FEW_CENTERED_LEVELS
    assert hierarchies(cbpp_model.spec, {"herd": "centered"}) == {}


def test_a_factor_of_many_levels_is_centred_on_its_level_constant_columns(counts_model) -> None:
    spec = counts_model.spec
    assert list(spec.fixed_names) == ["Intercept", "x", "z"]
    found = hierarchies(spec, {"g": "centered"})
    assert set(found) == {"g"} and found["g"].parent is None
    np.testing.assert_array_equal(found["g"].columns, [0, 2])  # the intercept and z, not x
    levels = list(spec.factor("g").levels)
    z_by_level = counts_model.data.groupby("g")["z"].first()
    np.testing.assert_allclose(found["g"].level_values[:, 1], z_by_level[levels].to_numpy())
    assert hierarchies(spec, {"g": "noncentered"}) == {}
    assert counts_model.plan.hierarchy.keys() == {"g"}  # the auto rule centres it


def test_centred_levels_are_reported_as_effects(counts_model) -> None:
    """At the start, ``c_j - (intercept + z_j beta_z)`` is the Laplace mode of each level."""
    model = counts_model.build()
    point = model.initial_point()
    effects = model.replace_rvs_by_values([model["g"]])[0]
    values = model.compile_fn(effects, inputs=model.value_vars, on_unused_input="ignore")(point)
    np.testing.assert_allclose(values, counts_model.fit.ranef["g"].iloc[:, 0], atol=1e-8)


def test_effects_are_reported_uncentred(grouse_case) -> None:
    reference, data = grouse_case
    model = GlmmModel(reference["formula"], data, "poisson", likelihood="full").build()
    point = model.initial_point()
    effects = model.replace_rvs_by_values([model["BROOD"]])[0]
    values = model.compile_fn(effects, inputs=model.value_vars, on_unused_input="ignore")(point)
    modes = np.array(list(reference["ranef"]["BROOD"]["(Intercept)"].values()))
    np.testing.assert_allclose(values, modes, atol=1e-3)
