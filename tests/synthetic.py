"""Synthetic posteriors shaped like ``Model.sample()``'s, for tests that need no sampler."""

from __future__ import annotations

import numpy as np
import xarray as xr

from bayeshier.reml import RemlFit

CHAINS, DRAWS = 2, 400


def synthetic_posterior(fit: RemlFit, seed: int = 0) -> xr.DataTree:
    """A DataTree shaped like Model.sample()'s, with draws centered on the REML fit."""
    rng = np.random.default_rng(seed)
    shape = (CHAINS, DRAWS)
    posterior = {
        "beta": xr.DataArray(
            fit.fixef.to_numpy() + fit.se.to_numpy() * rng.standard_normal((*shape, len(fit.se))),
            dims=("chain", "draw", "fixed"),
            coords={"fixed": list(fit.fixef.index)},
        ),
        "sigma": xr.DataArray(fit.sigma * np.exp(0.05 * rng.standard_normal(shape)),
                              dims=("chain", "draw")),
    }  # fmt: skip
    for k, factor in enumerate(fit.spec.factors):
        modes = fit.ranef[factor.name]["Intercept"].to_numpy()
        sds = np.sqrt(fit.condvar[factor.name]["Intercept"].to_numpy())
        dim = f"{factor.name}_level"
        posterior[factor.name] = xr.DataArray(
            modes + sds * rng.standard_normal((*shape, len(modes))),
            dims=("chain", "draw", dim),
            coords={dim: list(factor.levels)},
        )
        sd = max(fit.theta[k] * fit.sigma, 0.1)
        posterior[f"sd_{factor.name}"] = xr.DataArray(
            sd * np.exp(0.3 * rng.standard_normal(shape)), dims=("chain", "draw")
        )
    response = fit.spec.response
    obs = {"obs": np.arange(fit.nobs)}
    replicated = fit.fitted + fit.sigma * rng.standard_normal((*shape, fit.nobs))
    return xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset(posterior),
            "sample_stats": xr.Dataset(
                {
                    "energy": (("chain", "draw"), rng.standard_normal(shape)),
                    "diverging": (("chain", "draw"), np.zeros(shape, dtype=bool)),
                }
            ),
            "observed_data": xr.Dataset({response: xr.DataArray(fit.spec.y, dims="obs",
                                                                coords=obs)}),
            "posterior_predictive": xr.Dataset(
                {response: xr.DataArray(replicated, dims=("chain", "draw", "obs"), coords=obs)}
            ),
        }
    )  # fmt: skip


def slope_posterior(seed: int = 0) -> xr.DataTree:
    """Random draws shaped like a (Days|Subject) posterior: corr_Subject's diagonal is 1."""
    rng = np.random.default_rng(seed)
    chains, draws, terms = 2, 100, ["Intercept", "Days"]
    rho = rng.uniform(-0.5, 0.5, (chains, draws))
    corr = np.ones((chains, draws, 2, 2))
    corr[..., 0, 1] = corr[..., 1, 0] = rho
    dims = ("chain", "draw")
    posterior = xr.Dataset(
        {
            "beta": ((*dims, "fixed"), rng.normal(size=(chains, draws, 2))),
            "sd_Subject": ((*dims, "Subject_term"), rng.gamma(5.0, size=(chains, draws, 2))),
            "corr_Subject": ((*dims, "Subject_term", "Subject_term_bis"), corr),
            "sigma": (dims, rng.gamma(5.0, size=(chains, draws))),
        },
        coords={"fixed": terms, "Subject_term": terms, "Subject_term_bis": terms},
    )
    return xr.DataTree.from_dict({"posterior": posterior})
