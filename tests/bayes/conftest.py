"""Models and helpers shared by the tests of ``bayeshier.bayes`` (built once per run)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr

from bayeshier import datasets
from bayeshier.bayes.model import Model

SLEEP = "Reaction ~ Days + (1|Subject)"
MPG = "hwy ~ displ + year + (1|class)"
SLOPES = "Reaction ~ Days + (Days|Subject)"


@pytest.fixture(scope="session")
def sleep() -> pd.DataFrame:
    return datasets.load("sleepstudy")


@pytest.fixture(scope="session")
def sleep_model(sleep) -> Model:
    return Model(SLEEP, sleep)


@pytest.fixture(scope="session")
def mpg_model() -> Model:
    return Model(MPG, datasets.load("mpg"))


@pytest.fixture(scope="session")
def slopes(sleep) -> Model:
    return Model(SLOPES, sleep)


@pytest.fixture(scope="session")
def weighted_sleep(sleep) -> pd.DataFrame:
    """sleepstudy with random prior weights ``w`` (0.2 to 3) and an offset column ``off``."""
    rng = np.random.default_rng(12)
    return sleep.assign(w=rng.uniform(0.2, 3.0, len(sleep)), off=rng.normal(0.0, 20.0, len(sleep)))


# ------------------------------------------------------------------ helpers
def _random_point(model: pm.Model, rng: np.random.Generator) -> dict[str, np.ndarray]:
    point = model.initial_point()
    return {name: value + rng.normal(0, 0.5, size=np.shape(value)) for name, value in point.items()}


def _evaluate(model: pm.Model, name: str, point: dict) -> np.ndarray:
    [expr] = model.replace_rvs_by_values([model[name]])
    return pm.compile(model.value_vars, expr, on_unused_input="ignore")(**point)


@pytest.fixture(scope="session")
def random_point() -> Callable[[pm.Model, np.random.Generator], dict[str, np.ndarray]]:
    """``random_point(model, rng)``: the initial point moved by N(0, 0.5) noise."""
    return _random_point


@pytest.fixture(scope="session")
def evaluate() -> Callable[[pm.Model, str, dict], np.ndarray]:
    """``evaluate(model, name, point)``: a variable's value at a point of the sampler's space."""
    return _evaluate


def _crossed_data(seed: int = 0) -> pd.DataFrame:
    """``h`` (30 levels, the largest) crossed with ``g`` (8 levels, random slopes)."""
    rng = np.random.default_rng(seed)
    n = 240
    g, h = rng.integers(0, 8, n), rng.integers(0, 30, n)
    x = rng.normal(size=n)
    c = rng.choice(["a", "b", "c"], n)
    b = rng.normal(0, [1.0, 0.5], (8, 2))
    y = 1.0 + 0.5 * x + b[g, 0] + b[g, 1] * x + rng.normal(0, 0.7, 30)[h] + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "c": c, "g": [f"g{k}" for k in g], "h": h.astype(str)})


@pytest.fixture(scope="session")
def crossed_data() -> Callable[..., pd.DataFrame]:
    """``crossed_data(seed=0)``: data for ``y ~ x + (1|h) + (x|g)``, h crossed with g."""
    return _crossed_data


def _fake_posterior(m: Model, chains: int = 2, draws: int = 500) -> xr.DataTree:
    """Random intercepts: beta = REML, effects = BLUPs, sd_f = 10, sigma = 2."""
    shape = (chains, draws)
    sample = ("chain", "draw")
    coords = {
        "chain": np.arange(chains),
        "draw": np.arange(draws),
        "fixed": list(m.spec.fixed_names),
    }
    fixef = m.reml.fixef.to_numpy()
    data = {
        "beta": ((*sample, "fixed"), np.broadcast_to(fixef, (*shape, len(fixef)))),
        "sigma": (sample, np.full(shape, 2.0)),
    }
    for factor in m.spec.factors:
        blup = m.reml.ranef[factor.name]["Intercept"].to_numpy()
        dim = f"{factor.name}_level"
        data[factor.name] = ((*sample, dim), np.broadcast_to(blup, (*shape, len(blup))))
        data[f"sd_{factor.name}"] = (sample, np.full(shape, 10.0))
        coords[dim] = list(factor.levels)
    posterior = xr.Dataset(data, coords=coords)
    return xr.DataTree.from_dict({"posterior": posterior})


def _fake_slopes_posterior(m: Model, draws: int = 4000) -> xr.Dataset:
    """With slopes: beta = REML, effects = BLUPs, sd_Subject = (10, 2), corr = 0.5, sigma = 2."""
    shape = (2, draws)
    terms = list(m.spec.factors[0].terms)
    k = len(terms)
    blups = m.reml.ranef["Subject"].to_numpy()
    corr = np.full((k, k), 0.5) + 0.5 * np.eye(k)
    sd = np.array([10.0, 2.0])[:k]
    coords = {
        "chain": np.arange(shape[0]),
        "draw": np.arange(shape[1]),
        "fixed": list(m.spec.fixed_names),
        "Subject_level": list(m.spec.factors[0].levels),
        "Subject_term": terms,
        "Subject_term_bis": terms,
    }
    data = {
        "beta": (("chain", "draw", "fixed"), np.broadcast_to(m.reml.fixef.to_numpy(), (*shape, 2))),
        "Subject": (
            ("chain", "draw", "Subject_level", "Subject_term"),
            np.broadcast_to(blups, (*shape, *blups.shape)),
        ),
        "sd_Subject": (("chain", "draw", "Subject_term"), np.broadcast_to(sd, (*shape, k))),
        "corr_Subject": (
            ("chain", "draw", "Subject_term", "Subject_term_bis"),
            np.broadcast_to(corr, (*shape, k, k)),
        ),
        "sigma": (("chain", "draw"), np.full(shape, 2.0)),
    }
    return xr.Dataset(data, coords=coords)


@pytest.fixture(scope="session")
def fake_posterior() -> Callable[..., xr.DataTree]:
    """``fake_posterior(model, chains=2, draws=500)``: known draws of a random-intercept model."""
    return _fake_posterior


@pytest.fixture(scope="session")
def fake_slopes_posterior() -> Callable[..., xr.Dataset]:
    """``fake_slopes_posterior(model, draws=4000)``: known draws of a ``(Days|Subject)`` model."""
    return _fake_slopes_posterior


def indicators(codes: np.ndarray, n_levels: int) -> np.ndarray:
    """The rows x levels 0/1 matrix of ``codes``."""
    Z = np.zeros((len(codes), n_levels))
    Z[np.arange(len(codes)), codes] = 1.0
    return Z


@pytest.fixture(scope="session")
def indicator_matrix() -> Callable[[np.ndarray, int], np.ndarray]:
    """``indicator_matrix(codes, n_levels)``: the rows x levels 0/1 matrix."""
    return indicators
