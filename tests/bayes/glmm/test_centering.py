"""Hierarchical centering: the fixed columns and the parent a centered factor absorbs."""

from __future__ import annotations

import numpy as np

from bayeshier.bayes.glmm import GlmmModel
from bayeshier.bayes.glmm.centering import hierarchies, level_constant_columns


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


def test_a_factor_that_is_not_nested_is_not_centred_on_anything(cbpp_model) -> None:
    assert hierarchies(cbpp_model.spec, {"herd": "centered"}) == {}


def test_effects_are_reported_uncentred(grouse_case) -> None:
    reference, data = grouse_case
    model = GlmmModel(reference["formula"], data, "poisson", likelihood="full").build()
    point = model.initial_point()
    effects = model.replace_rvs_by_values([model["BROOD"]])[0]
    values = model.compile_fn(effects, inputs=model.value_vars, on_unused_input="ignore")(point)
    modes = np.array(list(reference["ranef"]["BROOD"]["(Intercept)"].values()))
    np.testing.assert_allclose(values, modes, atol=1e-3)
