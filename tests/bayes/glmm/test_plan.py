"""Centered or non-centered from the Laplace fit's condVar against theta; start at glmer."""

from __future__ import annotations

import numpy as np
import pytest

from bayeshier.bayes.glmm import GlmmModel
from bayeshier.bayes.glmm.centering import centered_name
from bayeshier.bayes.glmm.plan import centering_matrix, explained_share
from bayeshier.bayes.names import FIXED_RV, noncentered_name


def test_explained_share_from_lme4_numbers(seed_case) -> None:
    reference, _ = seed_case
    sd = reference["theta"]["g.(Intercept)"]
    condvar = np.array(list(reference["condVar"]["g"].values()))
    assert explained_share(condvar, sd) == pytest.approx(np.mean(1 - condvar / sd**2))
    assert explained_share(condvar, 0.0) == 0.0


def test_seed_binary_is_centered_at_glmer(seed_model, seed_case) -> None:
    reference, _ = seed_case
    plan = seed_model.plan
    sd = reference["theta"]["g.(Intercept)"]
    condvar = np.array(list(reference["condVar"]["g"].values()))
    assert plan.parameterization == {"g": "centered"}
    assert plan.explained["g"] == pytest.approx(np.mean(1 - condvar / sd**2), abs=1e-3)
    modes = np.array(list(reference["ranef"]["g"]["(Intercept)"].values()))
    assert plan.hierarchy == {}  # not nested: b ~ Normal(0, sd_g), starting at the modes
    np.testing.assert_allclose(plan.start["g"], modes, atol=1e-3)
    np.testing.assert_allclose(plan.effect_scale["g"], np.sqrt(condvar), atol=1e-3)
    assert float(plan.start[FIXED_RV][0]) == pytest.approx(
        reference["fixef"]["(Intercept)"], abs=1e-3
    )
    assert float(plan.start["sd_g"]) == pytest.approx(sd, abs=1e-3)


def test_nested_broods_start_at_their_whole_linear_predictor(grouse_case) -> None:
    reference, data = grouse_case
    plan = GlmmModel(reference["formula"], data, "poisson").plan
    assert plan.parameterization == {"BROOD": "centered", "LOCATION": "mixed"}
    assert set(plan.hierarchy) == {"BROOD"} and "BROOD" not in plan.start
    # glmer's fitted rate of a brood's rows is exp(X beta + b_brood + b_location)
    first_row = data.reset_index().groupby("BROOD", observed=True)["index"].first()
    fitted = np.log(np.asarray(reference["fitted_response"]))[first_row.to_numpy()]
    np.testing.assert_allclose(plan.start[centered_name("BROOD")], fitted, atol=1e-3)


def test_forced_noncentered_starts_at_scaled_modes(seed_case) -> None:
    reference, data = seed_case
    model = GlmmModel(reference["formula"], data, parameterization="noncentered")
    plan = model.plan
    assert plan.parameterization == {"g": "noncentered"}
    sd = reference["theta"]["g.(Intercept)"]
    modes = np.array(list(reference["ranef"]["g"]["(Intercept)"].values()))
    np.testing.assert_allclose(plan.start[noncentered_name("g")], modes / sd, atol=1e-3)


def test_centering_moves_the_intercept_to_the_means(cbpp_model, cbpp_case) -> None:
    _, data = cbpp_case
    M = centering_matrix(cbpp_model.spec)
    shares = data["period"].value_counts(normalize=True).sort_index().to_numpy()
    np.testing.assert_allclose(M[0], np.r_[1.0, shares[1:]])
    np.testing.assert_allclose(M[1:, 1:], np.eye(3))


def test_levels_the_data_determine_are_centered_in_a_mixed_factor(glmer_case) -> None:
    reference, data = glmer_case("contraception_bernoulli")
    model = GlmmModel(reference["formula"], data, reference["family"])
    plan = model.plan
    (name,) = reference["condVar"]
    assert plan.parameterization == {name: "mixed"}
    # glmer's own numbers: the share of each level's prior variance its data explain
    sd = reference["theta"][f"{name}.(Intercept)"]
    levels = list(model.spec.factor(name).levels)
    shares = 1 - np.array([reference["condVar"][name][level] for level in levels]) / sd**2
    clear = np.abs(shares - 0.5) > 0.01
    centered = np.isin(np.arange(len(levels)), plan.centered_levels[name])
    np.testing.assert_array_equal(centered[clear], shares[clear] >= 0.5)
    assert 0 < centered.sum() < len(levels)
    graph = model.build()
    effects = graph.replace_rvs_by_values([graph[name]])[0]
    values = graph.compile_fn(effects, inputs=graph.value_vars, on_unused_input="ignore")(
        graph.initial_point()
    )
    modes = np.array([reference["ranef"][name]["(Intercept)"][level] for level in levels])
    np.testing.assert_allclose(values, modes, atol=1e-3)  # the levels back in their order
