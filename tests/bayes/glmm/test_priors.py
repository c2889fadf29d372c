"""Link-scale default priors, printed with their reasons, and the user's overrides."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from bayeshier.bayes.glmm import GlmmModel
from bayeshier.bayes.glmm.priors import LINK_SCALE
from bayeshier.errors import ModelError


def test_defaults_are_on_the_link_scale(seed_model, seed_case) -> None:
    _, data = seed_case
    table = seed_model.priors.set_index("term")
    assert list(table.index) == ["Intercept", "sd_g"]
    p = data["y"].mean()
    assert (
        table.loc["Intercept", "parameters"]
        == f"mu={float(f'{special.logit(p):.4g}'):g}, sigma=2.5"
    )
    assert table.loc["sd_g", "distribution"] == "Exponential"
    assert table.loc["sd_g", "parameters"] == "lam=1"
    assert all("link scale" in why for why in table["why"])


def test_slopes_are_scaled_by_the_predictor(grouse_case) -> None:
    reference, data = grouse_case
    model = GlmmModel(reference["formula"], data, "poisson")
    table = model.priors.set_index("term")
    scale = 2.5 / data["sHEIGHT"].std(ddof=0)
    assert table.loc["sHEIGHT", "parameters"] == f"mu=0, sigma={float(f'{scale:.4g}'):g}"
    rate = np.log(data["TICKS"].mean())
    assert table.loc["Intercept", "parameters"].startswith(f"mu={float(f'{rate:.4g}'):g}")
    assert {"sd_BROOD", "sd_LOCATION"} <= set(table.index)


def test_probit_priors_are_narrower(seed_case) -> None:
    reference, data = seed_case
    model = GlmmModel(reference["formula"], data, "binomial", link="probit")
    table = model.priors.set_index("term")
    assert table.loc["sd_g", "parameters"] == "lam=1.6"
    assert LINK_SCALE["probit"] == pytest.approx(1 / 1.6)


def test_override_and_unknown_term(seed_case) -> None:
    reference, data = seed_case
    model = GlmmModel(reference["formula"], data, priors={"sd_g": "halfnormal(1)"})
    assert model.priors.set_index("term").loc["sd_g", "distribution"] == "HalfNormal"
    with pytest.raises(ModelError, match="sigma"):
        GlmmModel(reference["formula"], data, priors={"sigma": "exponential(1)"})
    with pytest.raises(ModelError, match="sd_g"):
        GlmmModel(reference["formula"], data, priors={"sd_gg": "exponential(1)"})
