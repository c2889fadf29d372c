"""The internal scale of the fixed effects: centered design, whitening map, affine transforms."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest

from bayeshier.bayes.fixed_scale import Affine, BatchedAffine, fixed_start, internal_design


def test_internal_design_reproduces_the_linear_predictor(mpg_model):
    spec = mpg_model.spec
    design = internal_design(spec)
    nu = np.array([23.0, -3.0, 0.1])
    np.testing.assert_allclose(design.Xc @ nu, spec.X @ (design.to_user @ nu), rtol=1e-10)
    assert np.linalg.cond(design.Xc) < 1e-3 * np.linalg.cond(spec.X)


def test_internal_design_holds_the_qr_of_the_centered_design(mpg_model):
    design = mpg_model.design
    gram = design.Xc.T @ design.Xc
    np.testing.assert_allclose(design.R.T @ design.R, gram, rtol=1e-10, atol=1e-10 * gram.max())
    assert np.all(np.diag(design.R) > 0)
    ols = np.linalg.lstsq(design.Xc, mpg_model.spec.y, rcond=None)[0]
    np.testing.assert_allclose(design.ols, ols, rtol=1e-9)


def test_fixed_start_maps_back_to_the_reml_estimates(sleep_model):
    fit, design = sleep_model.reml, sleep_model.design
    nu, chol = fixed_start(fit, design)
    np.testing.assert_allclose(design.to_user @ nu, fit.fixef.to_numpy(), rtol=1e-12)
    cov = design.to_user @ chol @ chol.T @ design.to_user.T
    np.testing.assert_allclose(cov, fit.vcov.to_numpy(), rtol=1e-10)


def test_prior_scale_is_on_users_beta(mpg_model):
    """The prior on displ is the one in the table, although the sampler works on z."""
    model = mpg_model.build()
    prior = pm.sample_prior_predictive(draws=4000, model=model, random_seed=3)["prior"]
    table = mpg_model.priors.set_index("term")
    sd = float(table.loc["displ", "parameters"].split("sigma=")[1])
    assert float(prior["beta"].sel(fixed="displ").std()) == pytest.approx(sd, rel=0.05)


@pytest.mark.parametrize(
    "scale", [np.array([2.0, 0.5]), np.array([[2.0, 0.0], [0.3, 0.5]])], ids=["vector", "matrix"]
)
def test_affine_round_trip_and_constant_jacobian(scale):
    transform = Affine(np.array([1.0, -1.0]), scale)
    z = np.array([0.7, -1.2])
    value = transform.backward(pt.as_tensor(z)).eval()
    expected = transform.loc + (scale @ z if scale.ndim == 2 else scale * z)
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    np.testing.assert_allclose(transform.forward(pt.as_tensor(value)).eval(), z, rtol=1e-12)
    log_det = transform.log_jac_det(pt.as_tensor(z)).eval().sum()
    diagonal = np.diag(scale) if scale.ndim == 2 else scale
    assert log_det == pytest.approx(np.log(diagonal).sum())


def test_batched_affine_maps_each_level_by_its_own_factor():
    loc = np.array([[1.0, 2.0], [0.0, -1.0]])
    scale = np.array([[[2.0, 0.0], [1.0, 1.0]], [[0.5, 0.0], [0.0, 3.0]]])
    transform = BatchedAffine(loc, scale)
    z = np.array([[1.0, -1.0], [2.0, 0.5]])
    value = transform.backward(pt.as_tensor(z)).eval()
    expected = loc + np.einsum("jkl,jl->jk", scale, z)
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    np.testing.assert_allclose(transform.forward(pt.as_tensor(value)).eval(), z, rtol=1e-12)
    assert float(transform.log_jac_det(pt.as_tensor(z)).eval()) == pytest.approx(
        np.log([2.0, 1.0, 0.5, 3.0]).sum()
    )
