"""The aggregated density equals the pointwise one up to a constant, for every link."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bayeshier.bayes.glmm import GlmmModel
from bayeshier.errors import ModelError


def _logp_pair(model: GlmmModel, shift: float) -> tuple[float, float]:
    """Log densities (aggregated, pointwise) at the start point moved by ``shift``."""
    values = []
    for density in ("aggregated", "pointwise"):
        pm_model = model.build(density)
        point = {k: v + shift for k, v in pm_model.initial_point().items()}
        values.append(float(pm_model.compile_logp()(point)))
    return values[0], values[1]


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
def test_aggregated_equals_pointwise_up_to_a_constant(seed_case, link) -> None:
    reference, data = seed_case
    model = GlmmModel(reference["formula"], data, link=link)
    first, second = _logp_pair(model, 0.0), _logp_pair(model, 0.3)
    assert first[0] - first[1] == pytest.approx(second[0] - second[1], abs=1e-8)


def test_pointwise_density_at_glmer_fitted_values(seed_model, seed_case) -> None:
    reference, data = seed_case
    model = seed_model.build("pointwise")
    observed = model.observed_RVs[0]
    start = model.initial_point()
    function = model.compile_fn(
        model.logp(vars=[observed]), inputs=model.value_vars, on_unused_input="ignore"
    )
    loglik = float(function(start))
    p = np.asarray(reference["fitted_response"])
    assert loglik == pytest.approx(stats.bernoulli.logpmf(data["y"], p).sum(), abs=1e-3)


def test_unknown_density(seed_model) -> None:
    with pytest.raises(ModelError, match="density"):
        seed_model.build("sufficient")
