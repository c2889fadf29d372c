"""The weighted cross products of Z equal the dense ones."""

from __future__ import annotations

import numpy as np

from bayeshier.reml.glmm import make_family
from bayeshier.reml.glmm.design import RandomDesign
from bayeshier.reml.glmm.response import glmm_data


def test_crossed_products_match_dense_z(glmer):
    reference = glmer.read_json("grouseticks_poisson")
    prepared = glmm_data(
        reference["formula"], glmer.case_data("grouseticks_poisson"), make_family("poisson")
    )
    spec = prepared.spec
    design = RandomDesign(spec.factors, spec.nobs)
    blocks = []
    for index, levels in enumerate(design.levels):
        dense = np.zeros((spec.nobs, levels))
        dense[np.arange(spec.nobs), design.codes[index]] = 1.0
        blocks.append(dense)
    rng = np.random.default_rng(0)
    weights, work = rng.uniform(0.5, 2.0, spec.nobs), rng.normal(size=spec.nobs)
    cp = design.products(weights, weights * work)
    Z1, Z2 = blocks
    np.testing.assert_allclose(cp.first_gram[:, 0, 0], np.diag(Z1.T @ (weights[:, None] * Z1)))
    np.testing.assert_allclose(cp.first_by_rest.toarray(), Z2.T @ (weights[:, None] * Z1))
    np.testing.assert_allclose(cp.rest[:-1, :-1], Z2.T @ (weights[:, None] * Z2))
    np.testing.assert_allclose(cp.first_sums[:, 0], Z1.T @ (weights * work))
    np.testing.assert_allclose(cp.rest[:-1, -1], Z2.T @ (weights * work))
    effects = [rng.normal(size=(levels, 1)) for levels in design.levels]
    total = sum(design.apply_effects(i, e) for i, e in enumerate(effects))
    np.testing.assert_allclose(total, Z1 @ effects[0][:, 0] + Z2 @ effects[1][:, 0])
