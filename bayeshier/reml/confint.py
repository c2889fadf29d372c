"""Confidence intervals for the parameters of a mixed model, LMM or GLMM (lme4's ``confint``).

Three methods, as lme4's ``confint.merMod``:

- ``"wald"``: ``estimate +- z se`` for the fixed effects (normal quantiles,
  the standard errors of the fit, REML or ML); NaN for the variance
  parameters, as lme4 (their sampling distribution is far from normal).
- ``"profile"``: likelihood-profile intervals (:mod:`bayeshier.reml.profile`):
  every parameter ``x`` for which ``2 (l(x_hat) - l_max(x)) <= chi^2_1(level)``,
  the likelihood ``l`` maximized over the other parameters. Always on the
  ML likelihood (a REML fit is refitted by ML, as lme4 does), so the
  variance intervals surround the ML estimates; a GLMM's is its Laplace or
  quadrature likelihood (:mod:`bayeshier.reml.glmm.profile_criterion`).
  Relies on the ``chi^2_1`` approximation of the likelihood-ratio statistic.
- ``"boot"``: parametric bootstrap percentile intervals
  (:mod:`bayeshier.reml.bootstrap`): quantiles of the estimates refitted
  (by the fit's own criterion) to responses simulated from the fitted
  model (a GLMM's by :mod:`bayeshier.reml.glmm.bootstrap`). Monte Carlo
  error shrinks with ``nsim``.

Rows are lme4's ``oldNames = FALSE`` names: the random effects' standard
deviations and correlations (``sd_(Intercept)|Subject``,
``cor_Days.(Intercept)|Subject``), ``sigma`` (not for a GLMM), then the fixed effects under
bayeshier's names (``Intercept``, ``Days``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from bayeshier.errors import ModelError
from bayeshier.reml.profile_criterion import select_parameters
from bayeshier.reml.sdcor import parameter_names, variance_names

__all__ = ["METHODS", "confint", "parameter_names", "percent_labels"]

#: The interval methods, lower case (``"Wald"`` is accepted as lme4 spells it).
METHODS = ("wald", "profile", "boot")


def confint(
    fit,
    parm: str | Sequence[str] | None = None,
    level: float = 0.95,
    method: str = "profile",
    *,
    nsim: int = 500,
    random_seed: int | np.random.Generator | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Confidence intervals for the parameters of ``fit`` (see :meth:`RemlFit.confint`).

    Returns
    -------
    pandas.DataFrame
        Columns ``lower`` and ``upper``, one row per parameter in lme4's
        order; ``attrs`` holds ``level``, ``method`` and lme4's column labels
        (``"2.5 %"``, ``"97.5 %"``) under ``labels``.

    """
    method = _check_method(method)
    _check_level(level)
    names = parameter_names(fit)
    which = select_parameters(names, len(names) - len(fit.fixef), parm)
    selected = [names[i] for i in which]
    if method == "wald":
        table = _wald(fit, level).loc[selected]
    elif method == "profile":
        table = fit.profile(selected).confint(level)
    else:
        from bayeshier.reml.bootstrap import percentile_intervals

        # each fit simulates and refits itself (reml.bootstrap, reml.glmm.bootstrap)
        replicates = fit.bootstrap(nsim, random_seed=random_seed, progress=progress)
        table = percentile_intervals(replicates, level).loc[selected]
    table = table.loc[selected, ["lower", "upper"]]
    table.attrs = {"level": level, "method": method, "labels": percent_labels(level)}
    return table


def percent_labels(level: float) -> tuple[str, str]:
    """lme4's column labels of a ``level`` interval, e.g. ``("2.5 %", "97.5 %")``."""
    tails = ((1 - level) / 2, (1 + level) / 2)
    return tuple(f"{100 * t:.3g} %" for t in tails)


def _wald(fit, level: float) -> pd.DataFrame:
    """Normal-theory intervals of the fixed effects; NaN for the variance parameters."""
    z = stats.norm.ppf((1 + level) / 2)
    variance = variance_names(fit)
    fixed = pd.DataFrame(
        {"lower": fit.fixef - z * fit.se, "upper": fit.fixef + z * fit.se},
        index=fit.fixef.index,
    )
    missing = pd.DataFrame(np.nan, index=variance, columns=["lower", "upper"])
    return pd.concat([missing, fixed])


def _check_method(method: str) -> str:
    normalized = str(method).lower()
    if normalized not in METHODS:
        raise ModelError(
            f"confint method must be one of 'wald', 'profile', 'boot', got {method!r}."
        )
    return normalized


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ModelError(f"level must be between 0 and 1 (e.g. 0.95), got {level!r}.")
