"""From posterior draws to the DataTree: internal variables dropped, attrs, linear predictor."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from bayeshier.bayes.posterior import (
    linear_predictor,
    numeric_statistics,
    observed_data,
    public_variables,
    reml_record,
    sampling_attrs,
)
from bayeshier.errors import ModelError


def test_public_variables_drop_internal_ones():
    data = xr.Dataset(
        {
            "beta": (("chain", "draw"), np.zeros((1, 2))),
            "_fixed": (("chain", "draw", "_fixed_dim"), np.zeros((1, 2, 3))),
        }
    )
    public = public_variables(data)
    assert list(public.data_vars) == ["beta"]
    assert "_fixed_dim" not in public.variables


def test_numeric_statistics_drop_text():
    stats = xr.Dataset(
        {
            "diverging": (("chain", "draw"), np.zeros((1, 2), dtype=bool)),
            "divergence_message": (("chain", "draw"), np.array([["", "x"]], dtype=object)),
        }
    )
    assert list(numeric_statistics(stats).data_vars) == ["diverging"]


def test_observed_data_is_the_response(sleep_model):
    data = observed_data(sleep_model.spec, "Reaction")
    np.testing.assert_array_equal(data["Reaction"], sleep_model.spec.y)
    assert data["Reaction"].dims == ("obs",)


def test_sampling_attrs_record_the_choices_and_the_fit(sleep_model):
    attrs = sampling_attrs(
        sleep_model.spec, "nutpie", {"Subject": "collapsed"}, sleep_model.reml, "collapsed"
    )
    assert attrs["formula"] == "Reaction ~ Days + (1|Subject)"
    assert json.loads(attrs["parameterization"]) == {"Subject": "collapsed"}
    assert attrs["likelihood"] == "collapsed" and attrs["inference_library"] == "nutpie"
    record = json.loads(attrs["reml"])
    assert record["sigma"] == pytest.approx(sleep_model.reml.sigma)
    assert record["sd"]["sd_Subject"] == pytest.approx(37.12383, abs=1e-4)


def test_reml_record_has_sds_correlations_and_blups_per_term(slopes):
    record = json.loads(json.dumps(reml_record(slopes.reml, slopes.spec)))
    assert record["sd"]["sd_Subject[Days]"] == pytest.approx(5.922133, abs=1e-5)
    assert record["corr"]["corr_Subject[Intercept, Days]"] == pytest.approx(0.065551, abs=1e-6)
    assert record["ranef"]["Subject"]["Days"]["308"] == pytest.approx(
        slopes.reml.ranef["Subject"].loc["308", "Days"]
    )


def test_linear_predictor_skips_unseen_levels(sleep_model, fake_posterior):
    posterior = fake_posterior(sleep_model, draws=3)["posterior"].to_dataset()
    X = np.array([[1.0, 2.0], [1.0, 2.0]])
    codes = [np.array([0, -1])]
    mu = linear_predictor(sleep_model.spec, posterior, X, codes, [np.ones((2, 1))])
    fixef = sleep_model.reml.fixef.to_numpy()
    blup = sleep_model.reml.ranef["Subject"]["Intercept"].iloc[0]
    assert mu.shape == (2, 3, 2)
    np.testing.assert_allclose(mu[..., 0], X[0] @ fixef + blup)
    np.testing.assert_allclose(mu[..., 1], X[1] @ fixef)


def test_linear_predictor_of_new_rows_needs_their_slope_columns(slopes, fake_slopes_posterior):
    posterior = fake_slopes_posterior(slopes, draws=3)
    X = np.ones((2, 2))
    with pytest.raises(ModelError, match="designs="):
        slopes.linear_predictor(posterior, X, [np.array([0, 1])])
