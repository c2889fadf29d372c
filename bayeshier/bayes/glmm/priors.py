"""Default priors of a GLMM's Bayesian twin, on the link scale, each with its reason.

There is no residual sd to scale by: a GLMM's parameters live on the scale of
the link (log-odds, probits, log-rates), where a unit means the same thing
whatever the data. With ``s`` the link's scale (1 for logit, cloglog and log;
1/1.6 for probit, whose unit is about 1.6 logits), in the spirit of
rstanarm's defaults for GLMs:

* ``Intercept`` (at the predictors' means): ``Normal(link(p), 2.5 s)``, with
  ``p`` the overall proportion of successes (clipped to [0.01, 0.99]) or the
  overall rate per unit of exposure;
* other fixed effect ``j``: ``Normal(0, 2.5 s / sd(x_j))``, so that a change
  of one sd of ``x_j`` moves the linear predictor by at most a few units;
* ``sd_<factor>``: ``Exponential(1 / s)``, mean ``s``: groups differing by a
  factor of about ``e`` in their odds (or rates) are typical, differences of
  ``e^3`` rare.

Any of them can be replaced per term by a string (``"normal(0, 1)"``,
``"halfnormal(1)"``) or a PyMC ``.dist()``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bayeshier.bayes.glmm.aggregate import Cells
from bayeshier.bayes.prior_parse import (
    Prior,
    PriorInput,
    exponential_prior,
    normal_prior,
    parse_prior,
)
from bayeshier.bayes.priors import AUTOSCALE, intercept_index, sd_term
from bayeshier.errors import ModelError, close_matches_hint
from bayeshier.reml.glmm import Family
from bayeshier.spec.model_spec import ModelSpec

__all__ = ["LINK_SCALE", "glmm_priors", "intercept_location"]

#: Size of one unit of each link, in the link's own units (probit: about 1.6 logits per unit).
LINK_SCALE = {"logit": 1.0, "cloglog": 1.0, "log": 1.0, "probit": 1 / 1.6}
_CLIP = (0.01, 0.99)


def intercept_location(cells: Cells, family: Family) -> tuple[float, str]:
    """The overall proportion or rate on the link scale, and how it is described."""
    total = float(cells.successes.sum())
    if family.name == "poisson":
        exposure = float(np.sum(cells.trials * np.exp(cells.offset)))
        rate = max(total, 0.5) / exposure
        return float(np.log(rate)), "log of the overall rate"
    p = float(np.clip(total / float(cells.trials.sum()), *_CLIP))
    return float(family.linkfun(np.array([p]))[0]), f"{family.link} of the overall proportion"


def _column_scales(X: np.ndarray, centered: bool) -> np.ndarray:
    """Sd of each column (its root mean square when constant or not centered)."""
    sds = X.std(axis=0) if centered else np.zeros(X.shape[1])
    rms = np.sqrt(np.mean(X**2, axis=0))
    scales = np.where(sds > 0, sds, rms)
    return np.where(scales > 0, scales, 1.0)


def default_glmm_priors(
    spec: ModelSpec, X: np.ndarray, cells: Cells, family: Family
) -> dict[str, Prior]:
    """The default prior of every term (see the module docstring)."""
    s = LINK_SCALE[family.link]
    unit = "" if s == 1.0 else f" x {s:g} (a probit unit is about 1.6 logits)"
    intercept = intercept_index(spec)
    scales = _column_scales(X, centered=intercept is not None)
    priors: dict[str, Prior] = {}
    for j, name in enumerate(spec.fixed_names):
        if j == intercept:
            location, what = intercept_location(cells, family)
            why = (
                f"link scale: Normal({what}, {AUTOSCALE}{unit}), intercept at the predictors' means"
            )
            priors[name] = normal_prior(name, location, AUTOSCALE * s, why)
            continue
        why = f"link scale: Normal(0, {AUTOSCALE}{unit} / sd({name}))"
        priors[name] = normal_prior(name, 0.0, AUTOSCALE * s / float(scales[j]), why)
    for factor in spec.factors:
        term = sd_term(factor.name)
        why = (
            f"link scale: Exponential(mean {s:g}), group-level sd; a group {s:g} above another "
            f"has about e times its {'rate' if family.name == 'poisson' else 'odds'}"
        )
        priors[term] = exponential_prior(term, 1.0 / s, why)
    return priors


def glmm_priors(
    spec: ModelSpec,
    X: np.ndarray,
    cells: Cells,
    family: Family,
    overrides: Mapping[str, PriorInput] | None,
) -> dict[str, Prior]:
    """Defaults with the user's ``overrides`` applied and checked.

    Raises
    ------
    ModelError
        A key that is not a term of the model (with close matches), or a bad prior.

    """
    priors = default_glmm_priors(spec, X, cells, family)
    if overrides is None:
        return priors
    if not isinstance(overrides, Mapping):
        raise ModelError(
            "priors must be a dict mapping term names to priors, e.g. "
            "{'Intercept': 'normal(0, 2)', 'sd_herd': 'halfnormal(1)'}."
        )
    for term, prior in overrides.items():
        if term not in priors:
            raise ModelError(
                f"There is no term {term!r} to set a prior for."
                f"{close_matches_hint(str(term), priors)} "
                f"The model's terms are: {', '.join(priors)} (a GLMM has no 'sigma')."
            )
        support = "real" if term in spec.fixed_names else "positive"
        priors[term] = parse_prior(term, prior, support=support)
    return priors
