"""How each grouping factor is sampled, and where the chains start, from the REML fit.

From the REML fit, the share of a group effect's prior variance that the data
explain is ``lambda_f = mean_j(s^2 d_j / (1 + s^2 d_j))`` (see
:func:`explained_share`). With ``lambda_f >= 0.5`` the data dominate and the
factor is centred (``b ~ Normal(0, sd_f)``, sampled in the standardised
coordinates ``(b - BLUP) / sqrt(condVar)``); otherwise (and for singular fits)
it is non-centred (``b = sd_f * z``). With ``"auto"`` the first (largest)
factor is integrated out of the sampled likelihood, together with the factor
it is nested in, if any (``cask:batch`` and ``batch``; see
:mod:`bayeshier.marginal`); ``Model(likelihood=)`` switches this off
(``"full"``) or insists on it (``"collapsed"``, see :func:`integrated_factors`).
Of the remaining centred factors, the one whose mean carries most of the
intercept's uncertainty is sampled as group means (hierarchical centring, see
:func:`absorbing_factor`). The result is a frozen :class:`SamplingPlan`, which
also holds the starting point (REML estimates and BLUPs).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bayeshier.errors import ModelError, close_matches_hint
from bayeshier.internal_scale import InternalDesign, fixed_start
from bayeshier.naming import FIXED_RV, means_name, noncentred_name
from bayeshier.priors import intercept_index, sd_term
from bayeshier.spec import ModelSpec

__all__ = [
    "CENTRED_THRESHOLD",
    "LIKELIHOOD_CHOICES",
    "SamplingPlan",
    "absorbing_factor",
    "explained_share",
    "integrated_factors",
    "integrated_parent",
    "nesting_parents",
    "parse_likelihood",
    "parse_parameterization",
    "sampling_plan",
]

_CHOICES = {
    "auto": "auto",
    "centered": "centered",
    "centred": "centered",
    "noncentered": "noncentered",
    "non-centered": "noncentered",
    "noncentred": "noncentered",
    "non-centred": "noncentered",
}
#: What ``Model(likelihood=)`` accepts.
LIKELIHOOD_CHOICES = ("auto", "full", "collapsed")
#: Centre a factor when the data explain at least this share of its prior variance.
CENTRED_THRESHOLD = 0.5


@dataclass(frozen=True, eq=False)
class SamplingPlan:
    """Parameterisation and starting point chosen from the REML fit.

    Attributes
    ----------
    parameterization : dict
        Factor name -> ``"centered"`` or ``"noncentered"``.
    absorbs : str or None
        The centred factor whose group means are sampled directly (they
        absorb the intercept: hierarchical centring), if any.
    parents : dict
        Factor name -> level of that factor for each level of ``absorbs``,
        for the factors ``absorbs`` is nested in (their effects are absorbed too).
    marginalized : str or None
        The factor whose effects :meth:`Model.sample` integrates out of the
        likelihood (and then draws exactly from their conditional posterior).
    marginal_parent : str or None
        The factor ``marginalized`` is nested in whose effects are integrated
        out with it (``batch`` for ``cask:batch``), if any (see
        :func:`integrated_parent`).
    explained : dict
        Factor name -> share of prior variance explained by the data (lambda_f).
    fixed_loc, fixed_chol : numpy.ndarray
        REML estimate of the centred-design coefficients and the Cholesky
        factor of their GLS covariance.
    effect_loc, effect_scale : dict
        Factor name -> BLUPs and ``sqrt(condVar)`` (used by centred factors).
    start : dict
        Variable name -> starting value (constrained scale).

    """

    parameterization: dict[str, str]
    absorbs: str | None
    parents: dict[str, np.ndarray]
    marginalized: str | None
    marginal_parent: str | None
    explained: dict[str, float]
    fixed_loc: np.ndarray
    fixed_chol: np.ndarray
    effect_loc: dict[str, np.ndarray]
    effect_scale: dict[str, np.ndarray]
    start: dict[str, np.ndarray]

    @property
    def integrated(self) -> tuple[str, ...]:
        """The factors integrated out of the sampled likelihood (``marginalized`` first)."""
        return tuple(name for name in (self.marginalized, self.marginal_parent) if name)


def parse_parameterization(choice: str | Mapping[str, str], spec: ModelSpec) -> dict[str, str]:
    """Normalise the user's ``parameterization=`` to factor name -> choice.

    Parameters
    ----------
    choice : str or dict
        One choice for all factors, or factor name -> choice (factors left
        out use ``"auto"``); spellings such as ``"non-centred"`` are accepted.
    spec : ModelSpec
        The model's specification (its factor names).

    Returns
    -------
    dict
        Factor name -> ``"auto"``, ``"centered"`` or ``"noncentered"``.

    Raises
    ------
    ModelError
        An unknown choice or factor name, or neither a string nor a dict.

    """
    names = [f.name for f in spec.factors]
    if isinstance(choice, str):
        return {name: _parse_choice(choice, name) for name in names}
    if not isinstance(choice, Mapping):
        raise ModelError(
            "parameterization must be 'auto', 'centered', 'noncentered' or a dict mapping "
            f"factor names to these; got {type(choice).__name__}."
        )
    for key in choice:
        if key not in names:
            raise ModelError(
                f"parameterization names a grouping factor {key!r} the model does not have."
                f"{close_matches_hint(str(key), names)} Factors: {', '.join(names)}."
            )
    return {name: _parse_choice(choice.get(name, "auto"), name) for name in names}


def _parse_choice(choice: Any, factor: str) -> str:
    """One choice, normalised to ``"auto"``, ``"centered"`` or ``"noncentered"``."""
    key = str(choice).lower().replace("_", "") if isinstance(choice, str) else None
    if key not in _CHOICES:
        raise ModelError(
            f"Unknown parameterization {choice!r} for factor {factor!r}: use 'auto', "
            "'centered' or 'noncentered'."
        )
    return _CHOICES[key]


def parse_likelihood(choice: Any) -> str:
    """Normalise the user's ``likelihood=`` to ``"auto"``, ``"full"`` or ``"collapsed"``.

    Raises
    ------
    ModelError
        Anything else (the message names the argument and the allowed values).

    """
    key = choice.strip().lower() if isinstance(choice, str) else None
    if key not in LIKELIHOOD_CHOICES:
        allowed = ", ".join(repr(c) for c in LIKELIHOOD_CHOICES)
        raise ModelError(f"likelihood must be one of {allowed}; got {choice!r}.")
    return key


def integrated_factors(
    spec: ModelSpec, choices: dict[str, str], likelihood: str = "auto"
) -> tuple[str | None, str | None]:
    """The factor integrated out of the sampled likelihood and its nesting parent, if any.

    ``likelihood="full"`` integrates nothing out. ``"auto"`` integrates the
    first (largest) factor out when its parameterisation is ``"auto"``,
    together with the ``"auto"`` factor it is nested in (see
    :func:`integrated_parent`); other factors (crossed, or a parent forced
    centred or non-centred) are sampled. ``"collapsed"`` does the same but
    requires the largest factor to be integrated out.

    Raises
    ------
    ModelError
        ``"collapsed"`` for a model without grouping factors, or whose largest
        factor's parameterisation is forced.

    """
    if likelihood == "full":
        return None, None
    if not spec.factors:
        if likelihood == "collapsed":
            raise ModelError(
                "likelihood='collapsed' integrates group effects out, but the model has no "
                "grouping factor: use likelihood='auto' or 'full'."
            )
        return None, None
    first = spec.factors[0].name
    if choices[first] != "auto":
        if likelihood == "collapsed":
            raise ModelError(
                f"likelihood='collapsed' integrates the effects of the largest grouping factor "
                f"{first!r} out, but parameterization forces {first!r} to be {choices[first]!r} "
                f"(sampled). Drop one of the two: parameterization 'auto' for {first!r}, or "
                "likelihood='full' (or 'auto')."
            )
        return None, None
    return first, integrated_parent(spec, first, choices)


def sampling_plan(
    spec: ModelSpec,
    design: InternalDesign,
    fit: Any,
    choices: dict[str, str],
    likelihood: str = "auto",
) -> SamplingPlan:
    """Choose each factor's parameterisation and the starting point from a REML fit.

    ``likelihood`` (``"auto"``, ``"full"`` or ``"collapsed"``) decides which
    factors are integrated out (see :func:`integrated_factors`).
    """
    sigma = float(fit.sigma)
    sds = {
        f.name: float(t) * sigma for f, t in zip(spec.factors, np.asarray(fit.theta), strict=True)
    }
    explained, parameterization, loc, scale, start = {}, {}, {}, {}, {}
    for factor in spec.factors:
        name = factor.name
        blup = fit.ranef[name]["Intercept"].reindex(factor.levels).to_numpy(dtype=float)
        condvar = fit.condvar[name]["Intercept"].reindex(factor.levels).to_numpy(dtype=float)
        explained[name] = explained_share(sds[name], condvar)
        parameterization[name] = _decide(choices[name], explained[name])
        sd_start = max(sds[name], 0.1 * sigma, 1e-8)
        start[sd_term(name)] = np.asarray(sd_start)
        loc[name] = blup
        scale[name] = np.sqrt(np.maximum(condvar, (1e-3 * sd_start) ** 2))
        if parameterization[name] == "centered":
            start[name] = blup
        else:
            start[noncentred_name(name)] = blup / sd_start
    start["sigma"] = np.asarray(sigma)
    fixed_loc, fixed_chol = fixed_start(spec, design, fit, sds)
    if spec.n_fixed:
        start[FIXED_RV] = fixed_loc
    marginalized, parent = integrated_factors(spec, choices, likelihood)
    integrated = {name for name in (marginalized, parent) if name is not None}
    absorbs = absorbing_factor(spec, parameterization, sds, exclude=integrated)
    parents = nesting_parents(spec, absorbs) if absorbs is not None else {}
    for name in integrated:
        parents.pop(name, None)
    if absorbs is not None:
        mean = start.pop(absorbs) + fixed_loc[intercept_index(spec)]
        for nesting, codes in parents.items():
            mean = mean + loc[nesting][codes]
        start[means_name(absorbs)] = mean
    return SamplingPlan(
        parameterization,
        absorbs,
        parents,
        marginalized,
        parent,
        explained,
        fixed_loc,
        fixed_chol,
        loc,
        scale,
        start,
    )


def integrated_parent(spec: ModelSpec, name: str, choices: dict[str, str]) -> str | None:
    """The factor integrated out together with ``name``: the one ``name`` is nested in.

    Of the factors with ``"auto"`` that ``name`` is nested in, the one with the
    most levels (its immediate parent: ``batch`` for ``cask:batch``), or None.
    Integrating the pair out jointly leaves NUTS only the fixed effects and the
    scales (see :func:`bayeshier.marginal.marginal_loglik`).
    """
    parents = [p for p in nesting_parents(spec, name) if choices[p] == "auto"]
    if not parents:
        return None
    return max(parents, key=lambda p: spec.factor(p).n_levels)


def nesting_parents(spec: ModelSpec, name: str) -> dict[str, np.ndarray]:
    """Factors that ``name`` is nested in, with the parent level of each of its levels.

    ``cask:batch`` is nested in ``batch``: every cask level lies in one batch.
    """
    child = spec.factor(name)
    parents = {}
    for other in spec.factors:
        if other.name == name:
            continue
        pairs = np.unique(np.column_stack([child.codes, other.codes]), axis=0)
        if len(pairs) == child.n_levels:
            codes = np.empty(child.n_levels, dtype=np.intp)
            codes[pairs[:, 0]] = pairs[:, 1]
            parents[other.name] = codes
    return parents


def absorbing_factor(
    spec: ModelSpec,
    parameterization: dict[str, str],
    sds: dict[str, float],
    exclude: Collection[str] = (),
) -> str | None:
    """The centred factor whose mean carries most of the intercept's uncertainty.

    Sampling its group means ``a_j = intercept + b_j`` instead of ``b_j``
    removes the posterior correlation between the intercept and the effects.
    Factors in ``exclude`` (the integrated-out ones) are not candidates.
    """
    if intercept_index(spec) is None:
        return None
    centred = [
        f for f in spec.factors if parameterization[f.name] == "centered" and f.name not in exclude
    ]
    if not centred:
        return None
    return max(centred, key=lambda f: sds[f.name] ** 2 / f.n_levels).name


def explained_share(sd: float, condvar: np.ndarray) -> float:
    """Share of the group effects' prior variance the data explain, at a low plausible sd.

    From lme4's conditional variances, the data's precision about level ``j``
    is ``d_j = 1 / condVar_j - 1 / sd^2`` (``n_j / sigma^2`` for a single
    factor). The sd of ``G`` group effects is known to a relative standard
    error of about ``1 / sqrt(2 (G - 1))``, so the share is evaluated two
    standard errors below the estimate, ``s = sd (1 - 2 / sqrt(2 (G - 1)))``:
    ``mean_j(s^2 d_j / (1 + s^2 d_j))``. A few groups, or a singular fit,
    therefore lean towards the non-centred form, which has no funnel near 0.
    """
    condvar = np.asarray(condvar, dtype=float)
    if sd <= 0 or condvar.size < 2 or not np.all(np.isfinite(condvar) & (condvar > 0)):
        return 0.0
    precision = np.maximum(1.0 / condvar - 1.0 / sd**2, 0.0)
    low = sd * max(0.0, 1.0 - 2.0 / np.sqrt(2.0 * (condvar.size - 1)))
    info = low**2 * precision
    return float(np.mean(info / (1.0 + info)))


def _decide(choice: str, explained: float) -> str:
    """The forced choice, else centred when the data explain enough of the prior variance."""
    if choice != "auto":
        return choice
    return "centered" if explained >= CENTRED_THRESHOLD else "noncentered"
