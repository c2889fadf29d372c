"""The three tables of :func:`bayeshier.compare`: fixed effects, groups, standard deviations.

Each builder takes a REML fit and, optionally, its posterior (an
``xarray.Dataset``, already checked to belong to the fit by
:mod:`bayeshier.present.matching`) and a
:class:`~bayeshier.present.intervals.CredibleInterval`; see
:mod:`bayeshier.present.comparison` for what each column means. A table
with posterior columns records its interval in ``attrs`` (``ci_prob``,
``ci_kind``), so that a plot given the bare table can name it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bayeshier.present.baselines import no_pooling_coefficients, ols_fit
from bayeshier.present.intervals import CredibleInterval, resolve_interval
from bayeshier.present.posterior_summary import (
    POSTERIOR_COLUMNS,
    level_draws,
    posterior_summary,
    posterior_variable,
    scalar_summary,
    select_draws,
)
from bayeshier.present.shrinkage import factor_sd, weights
from bayeshier.reml import RemlFit
from bayeshier.spec.model_spec import GroupingFactor

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "FIXED_COLUMNS",
    "GROUP_COLUMNS",
    "VARIANCE_COLUMNS",
    "fixed_table",
    "group_table",
    "kept_shares",
    "variance_table",
]

FIXED_COLUMNS = ["term", "ols", "ols_se", "reml", "reml_se", *POSTERIOR_COLUMNS]
GROUP_COLUMNS = [
    "group",
    "level",
    "term",
    "n",
    "no_pooling",
    "blup",
    "cond_sd",
    "kept",
    "pooling",
    *POSTERIOR_COLUMNS,
]
VARIANCE_COLUMNS = [
    "component",
    "term",
    "reml_sd",
    "post_mean",
    "post_median",
    "ci_low",
    "ci_high",
]


# ============================================================ the tables
def fixed_table(
    fit: RemlFit, posterior: xr.Dataset | None = None, interval: CredibleInterval | None = None
) -> pd.DataFrame:
    """The ``fixed`` table of :func:`compare` (``interval``: default ArviZ's rcParams)."""
    coef, se, _ = ols_fit(fit.spec)  # lm's weighted least squares of y - offset
    table = pd.DataFrame(
        {
            "term": list(fit.fixef.index),
            "ols": coef,
            "ols_se": se,
            "reml": fit.fixef.to_numpy(),
            "reml_se": fit.se.to_numpy(),
        }
    )
    if posterior is None:
        return table
    beta = posterior_variable(posterior, "beta")
    terms = list(fit.fixef.index)
    draws = beta.sel(fixed=terms) if "fixed" in beta.dims else beta
    interval = interval or resolve_interval()
    summary = posterior_summary(draws, interval)
    return _with_interval(pd.concat([table, summary.reset_index(drop=True)], axis=1), interval)


def _with_interval(table: pd.DataFrame, interval: CredibleInterval) -> pd.DataFrame:
    """``table`` with the interval of its ``ci_low``/``ci_high`` in ``attrs``."""
    table.attrs.update(ci_prob=interval.prob, ci_kind=interval.kind)
    return table


def group_table(
    fit: RemlFit, posterior: xr.Dataset | None = None, interval: CredibleInterval | None = None
) -> pd.DataFrame:
    """The ``groups`` table of :func:`compare`: one block per grouping factor."""
    if posterior is not None:
        interval = interval or resolve_interval()
    blocks = [_group_block(fit, f, posterior, interval) for f in fit.spec.factors]
    table = pd.concat(blocks, ignore_index=True)
    return table if interval is None or posterior is None else _with_interval(table, interval)


def _group_block(
    fit: RemlFit,
    factor: GroupingFactor,
    posterior: xr.Dataset | None,
    interval: CredibleInterval | None,
) -> pd.DataFrame:
    counts = factor.counts()
    own = no_pooling_coefficients(fit.spec, factor.name)
    kept = kept_shares(fit, factor)
    blocks = []
    for column, term in enumerate(factor.terms):
        table = pd.DataFrame(
            {
                "group": factor.name,
                "level": list(factor.levels),
                "term": term,
                "n": counts,
                "no_pooling": own[term].to_numpy(),
                "blup": fit.fixef.get(term, 0.0) + fit.ranef[factor.name][term].to_numpy(),
                "cond_sd": np.sqrt(fit.condvar[factor.name][term].to_numpy()),
                "kept": kept[:, column],
                "pooling": 1.0 - kept[:, column],
            }
        )
        if posterior is not None and interval is not None:
            draws = level_draws(posterior, factor, term in fit.fixef.index, term)
            summary = posterior_summary(draws, interval)
            table = pd.concat([table, summary.reset_index(drop=True)], axis=1)
        blocks.append(table)
    return pd.concat(blocks, ignore_index=True)


def kept_shares(fit: RemlFit, factor: GroupingFactor) -> np.ndarray:
    """``lambda_j`` per level and term (levels x k): the ``kept`` column.

    The share of its own deviation a level's BLUP keeps. For a random
    intercept ``sd^2 / (sd^2 + sigma^2 / n_j)``. With random
    slopes the weight is a matrix; each term gets ``1 - condVar_j / sd^2``,
    the share of the term's prior variance the level's data remove, which
    is ``lambda_j`` again for a random intercept alone.
    """
    if factor.intercept_only:
        return weights(factor_sd(fit, factor.name), fit.sigma, factor.counts())[:, None]
    prior = np.diag(fit.covariances[factor.name].to_numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        share = 1.0 - fit.condvar[factor.name].to_numpy() / prior
    return np.where(prior > 0, share, 0.0)


def variance_table(
    fit: RemlFit, posterior: xr.Dataset | None = None, interval: CredibleInterval | None = None
) -> pd.DataFrame:
    """The ``variances`` table of :func:`compare`: sds and correlations, then ``Residual``."""
    rows = [row for factor in fit.spec.factors for row in _factor_variance_rows(fit, factor)]
    rows.append({"component": "Residual", "term": "", "reml_sd": fit.sigma, "draws": "sigma"})
    table = pd.DataFrame(rows)
    selections = table.pop("draws")
    if posterior is None:
        return table
    interval = interval or resolve_interval()
    summaries = [
        scalar_summary(select_draws(posterior, selection), interval) for selection in selections
    ]
    return _with_interval(pd.concat([table, pd.DataFrame(summaries)], axis=1), interval)


def _factor_variance_rows(fit: RemlFit, factor: GroupingFactor) -> list[dict]:
    """The sd of every term of ``factor`` and the correlation of every correlated pair.

    ``draws`` says where the posterior keeps each number: a variable name,
    or a name and the coordinates to select.
    """
    name = factor.name
    covariance = fit.covariances[name].to_numpy()
    sds = np.sqrt(np.diag(covariance))
    if factor.intercept_only:
        return [{"component": name, "term": "Intercept", "reml_sd": sds[0], "draws": f"sd_{name}"}]
    term_dim = f"{name}_term"
    rows = [
        {"component": name, "term": t, "reml_sd": sds[i], "draws": (f"sd_{name}", {term_dim: t})}
        for i, t in enumerate(factor.terms)
    ]
    start = 0
    for size in factor.blocks:
        for j in range(start, start + size):
            for i in range(j + 1, start + size):
                a, b = factor.terms[j], factor.terms[i]
                scale = sds[i] * sds[j]
                rows.append(
                    {
                        "component": name,
                        "term": f"corr({a}, {b})",
                        "reml_sd": covariance[i, j] / scale if scale > 0 else np.nan,
                        "draws": (f"corr_{name}", {term_dim: a, f"{term_dim}_bis": b}),
                    }
                )
        start += size
    return rows
