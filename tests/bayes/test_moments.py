"""Column moments summed chunk by chunk equal those of all rows at once."""

from __future__ import annotations

import numpy as np

from bayeshier import datasets
from bayeshier.bayes.moments import Moments, data_moments
from bayeshier.spec.model_spec import build_spec


def test_chunks_add_up_to_numpy_mean_sd_and_root_mean_square():
    rng = np.random.default_rng(1)
    values = np.column_stack([rng.normal(1e6, 2.0, 1000), rng.normal(0.0, 1.0, 1000)])
    shift = values[:10].mean(axis=0)
    whole = Moments.of(values, shift)
    chunked = Moments.of(values[:300], shift) + Moments.of(values[300:], shift)
    for moments in (whole, chunked):
        np.testing.assert_allclose(moments.mean, values.mean(axis=0), rtol=1e-14)
        np.testing.assert_allclose(moments.sd, values.std(axis=0, ddof=1), rtol=1e-10)
        rms = np.sqrt((values**2).mean(axis=0))
        np.testing.assert_allclose(moments.root_mean_square, rms, rtol=1e-12)


def test_scales_fall_back_to_the_root_mean_square_then_one():
    constant = np.column_stack([np.full(5, 3.0), np.zeros(5), [1.0, 2, 3, 4, 5]])
    moments = Moments.of(constant, np.zeros(3))
    np.testing.assert_allclose(
        moments.scales(centered=True), [3.0, 1.0, np.std([1, 2, 3, 4, 5], ddof=1)]
    )
    np.testing.assert_allclose(moments.scales(centered=False)[2], np.sqrt(11.0))


def test_data_moments_of_a_model_with_random_slopes():
    sleep = datasets.load("sleepstudy")
    spec = build_spec("Reaction ~ Days + (Days|Subject)", sleep)
    moments = data_moments(spec)
    np.testing.assert_allclose(moments.y.sd, [np.std(sleep["Reaction"], ddof=1)], rtol=1e-12)
    np.testing.assert_allclose(moments.X.mean, [1.0, 4.5])
    (slopes,) = moments.random
    np.testing.assert_allclose(slopes.sd, [0.0, np.std(sleep["Days"], ddof=1)], atol=1e-12)


def test_a_random_intercept_alone_has_no_column_moments():
    spec = build_spec("Reaction ~ Days + (1|Subject)", datasets.load("sleepstudy"))
    assert data_moments(spec).random == (None,)
