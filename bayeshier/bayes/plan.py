"""How each grouping factor is sampled, chosen from the REML fit: the :class:`SamplingPlan`.

From the REML fit, the share of a group effect's prior variance that the data
explain is ``lambda_f = mean_j(s^2 d_j / (1 + s^2 d_j))`` (see
:func:`explained_share`). With ``lambda_f >= 0.5`` the data dominate and the
factor is centered (``b ~ Normal(0, sd_f)``, sampled in the standardized
coordinates ``(b - BLUP) / sqrt(condVar)``); otherwise (and for singular fits)
it is non-centered (``b = sd_f * z``). A factor with random slopes is decided
the same way from its k x k covariance and the levels' conditional
covariances (:func:`explained_share_matrix`).

The plan also records which factors are collapsed (integrated out of the
sampled likelihood, :func:`bayeshier.bayes.collapse.collapsed_factors`), which
centered factor is sampled as group means (hierarchical centering,
:mod:`bayeshier.bayes.group_means`) and the starting point
(:mod:`bayeshier.bayes.start`). The reasons for these choices are in
``docs/design/bayes_sampling.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import numpy as np

from bayeshier._choices import LIKELIHOODS, Likelihood, Parameterization
from bayeshier.bayes.collapse import collapsed_factors
from bayeshier.bayes.fixed_scale import InternalDesign, fixed_start
from bayeshier.bayes.group_means import (
    absorbed_parents,
    absorbing_factor,
    absorbing_map,
    intercept_sd,
)
from bayeshier.bayes.names import FIXED_RV, means_name
from bayeshier.bayes.start import factor_start
from bayeshier.errors import ModelError, close_matches_hint
from bayeshier.reml import RemlFit
from bayeshier.spec.model_spec import GroupingFactor, ModelSpec

__all__ = [
    "CENTERED_THRESHOLD",
    "SamplingPlan",
    "explained_share",
    "explained_share_matrix",
    "parse_likelihood",
    "parse_parameterization",
    "sampling_plan",
]

#: Accepted spellings of a parameterization (lower case, no underscores).
_CHOICES: dict[str, Parameterization] = {
    "auto": "auto",
    "centered": "centered",
    "noncentered": "noncentered",
    "non-centered": "noncentered",
}
#: Center a factor when the data explain at least this share of its prior variance.
CENTERED_THRESHOLD = 0.5


@dataclass(frozen=True, eq=False)
class SamplingPlan:
    """Parameterization and starting point chosen from the REML fit.

    Attributes
    ----------
    parameterization : dict
        Factor name -> ``"centered"`` or ``"noncentered"`` (how the factor is
        sampled when it is not collapsed).
    absorbs : str or None
        The centered factor whose group means are sampled directly (they
        absorb the intercept: hierarchical centering), if any.
    absorb_map : numpy.ndarray or None
        For ``absorbs``, the k x p matrix ``A`` whose ``A nu`` is the center of
        its group means (the intercept at the means of the predictors that are
        not random slopes of ``absorbs``, and the fixed slopes of its random
        slopes; see :func:`bayeshier.bayes.group_means.absorbing_map`).
    parents : dict
        Factor name -> level of that factor for each level of ``absorbs``,
        for the factors ``absorbs`` is nested in (their effects are absorbed
        too; random intercepts only).
    collapsed_factor : str or None
        The factor whose effects :meth:`Model.sample` integrates out of the
        likelihood (and then draws exactly from their conditional posterior).
    collapsed_parent : str or None
        The factor ``collapsed_factor`` is nested in whose effects are
        collapsed with it (``batch`` for ``cask:batch``), if any (see
        :func:`bayeshier.bayes.collapse.collapsed_parent`).
    explained : dict
        Factor name -> share of prior variance explained by the data (lambda_f).
    fixed_loc, fixed_chol : numpy.ndarray
        REML estimate of the centered-design coefficients and the Cholesky
        factor of their GLS covariance.
    effect_loc, effect_scale : dict
        Factor name -> BLUPs and ``sqrt(condVar)`` (used by centered factors);
        with random slopes levels x k BLUPs and the levels x k x k Cholesky
        factors of their conditional covariances.
    start : dict
        Variable name -> starting value (constrained scale).

    """

    parameterization: dict[str, str]
    absorbs: str | None
    absorb_map: np.ndarray | None
    parents: dict[str, np.ndarray]
    collapsed_factor: str | None
    collapsed_parent: str | None
    explained: dict[str, float]
    fixed_loc: np.ndarray
    fixed_chol: np.ndarray
    effect_loc: dict[str, np.ndarray]
    effect_scale: dict[str, np.ndarray]
    start: dict[str, np.ndarray]

    @property
    def collapsed(self) -> tuple[str, ...]:
        """The collapsed factors (``collapsed_factor`` first, then ``collapsed_parent``)."""
        return tuple(name for name in (self.collapsed_factor, self.collapsed_parent) if name)


def parse_parameterization(
    choice: str | Mapping[str, str], spec: ModelSpec
) -> dict[str, Parameterization]:
    """Normalize the user's ``parameterization=`` to factor name -> choice.

    Parameters
    ----------
    choice : str or dict
        One choice for all factors, or factor name -> choice (factors left
        out use ``"auto"``); spellings such as ``"non-centered"`` are accepted.
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


def _parse_choice(choice: object, factor: str) -> Parameterization:
    """One choice, normalized to ``"auto"``, ``"centered"`` or ``"noncentered"``."""
    key = choice.lower().replace("_", "") if isinstance(choice, str) else None
    if key not in _CHOICES:
        raise ModelError(
            f"Unknown parameterization {choice!r} for factor {factor!r}: use 'auto', "
            "'centered' or 'noncentered'."
        )
    return _CHOICES[key]


def parse_likelihood(choice: object) -> Likelihood:
    """Normalize the user's ``likelihood=`` to ``"auto"``, ``"full"`` or ``"collapsed"``.

    Raises
    ------
    ModelError
        Anything else (the message names the argument and the allowed values).

    """
    key = choice.strip().lower() if isinstance(choice, str) else None
    if key not in LIKELIHOODS:
        allowed = ", ".join(repr(c) for c in LIKELIHOODS)
        raise ModelError(f"likelihood must be one of {allowed}; got {choice!r}.")
    return cast(Likelihood, key)


def sampling_plan(
    spec: ModelSpec,
    design: InternalDesign,
    fit: RemlFit,
    choices: Mapping[str, str],
    likelihood: str = "auto",
) -> SamplingPlan:
    """Choose each factor's parameterization and the starting point from a REML fit.

    ``likelihood`` (``"auto"``, ``"full"`` or ``"collapsed"``) decides which
    factors are collapsed (see :func:`bayeshier.bayes.collapse.collapsed_factors`).
    """
    covariances = {f.name: fit.covariances[f.name].to_numpy(dtype=float) for f in spec.factors}
    explained, parameterization, loc, scale, start = {}, {}, {}, {}, {}
    for factor, columns in zip(spec.factors, design.moments.random, strict=True):
        name = factor.name
        begin = factor_start(factor, fit, covariances[name], columns)
        explained[name] = _explained(factor, fit, covariances[name])
        parameterization[name] = _decide(choices[name], explained[name])
        loc[name], scale[name] = begin.loc, begin.scale
        start.update(begin.values[parameterization[name]])
    start["sigma"] = np.asarray(float(fit.sigma))
    fixed_loc, fixed_chol = fixed_start(fit, design)
    if spec.n_fixed:
        start[FIXED_RV] = fixed_loc
    collapsed, parent = collapsed_factors(spec, choices, likelihood)
    excluded = {name for name in (collapsed, parent) if name is not None}
    intercept_sds = {f.name: intercept_sd(f, covariances[f.name]) for f in spec.factors}
    absorbs = absorbing_factor(spec, parameterization, intercept_sds, exclude=excluded)
    absorb_map = absorbing_map(spec, design, spec.factor(absorbs)) if absorbs else None
    parents = absorbed_parents(spec, absorbs, excluded)
    if absorbs is not None:
        mean = start.pop(absorbs) + absorb_map @ fixed_loc
        for nesting, codes in parents.items():
            mean = mean + loc[nesting][codes]
        start[means_name(absorbs)] = mean
    return SamplingPlan(
        parameterization,
        absorbs,
        absorb_map,
        parents,
        collapsed,
        parent,
        explained,
        fixed_loc,
        fixed_chol,
        loc,
        scale,
        start,
    )


def _explained(factor: GroupingFactor, fit: RemlFit, covariance: np.ndarray) -> float:
    """``lambda_f`` of one factor, from its REML covariance and conditional (co)variances."""
    if factor.intercept_only:
        condvar = fit.condvar[factor.name]["Intercept"].reindex(factor.levels)
        return explained_share(float(np.sqrt(covariance[0, 0])), condvar.to_numpy(dtype=float))
    return explained_share_matrix(covariance, np.asarray(fit.condcov[factor.name], dtype=float))


def explained_share(sd: float, condvar: np.ndarray) -> float:
    """Share of the group effects' prior variance the data explain, at a low plausible sd.

    From lme4's conditional variances, the data's precision about level ``j``
    is ``d_j = 1 / condVar_j - 1 / sd^2`` (``n_j / sigma^2`` for a single
    factor). The sd of ``G`` group effects is known to a relative standard
    error of about ``1 / sqrt(2 (G - 1))``, so the share is evaluated two
    standard errors below the estimate, ``s = sd (1 - 2 / sqrt(2 (G - 1)))``:
    ``mean_j(s^2 d_j / (1 + s^2 d_j))``. A few groups, or a singular fit,
    therefore lean towards the non-centered form, which has no funnel near 0.
    """
    condvar = np.asarray(condvar, dtype=float)
    if sd <= 0 or condvar.size < 2 or not np.all(np.isfinite(condvar) & (condvar > 0)):
        return 0.0
    precision = np.maximum(1.0 / condvar - 1.0 / sd**2, 0.0)
    low = sd * max(0.0, 1.0 - 2.0 / np.sqrt(2.0 * (condvar.size - 1)))
    info = low**2 * precision
    return float(np.mean(info / (1.0 + info)))


def explained_share_matrix(covariance: np.ndarray, condcov: np.ndarray) -> float:
    """:func:`explained_share` for vector-valued group effects (random slopes).

    In the coordinates where the prior covariance ``Sigma = L L'`` is the
    identity, level ``j``'s posterior covariance is ``M_j = L^-1 C_j L^-T``
    (``C_j`` lme4's conditional covariance) and the data's precision is
    ``M_j^-1 - I``; with its eigenvalues ``d`` and the same low plausible
    scale as :func:`explained_share` (factor ``f = 1 - 2 / sqrt(2 (G - 1))``
    on the sds), the share is the mean over levels and directions of
    ``f^2 d / (1 + f^2 d)``. For one column it equals :func:`explained_share`;
    a singular covariance gives 0.
    """
    covariance = np.asarray(covariance, dtype=float)
    condcov = np.asarray(condcov, dtype=float)
    sds = np.sqrt(np.diag(covariance))
    if condcov.shape[0] < 2 or np.any(sds <= 0):
        return 0.0
    correlation = covariance / np.outer(sds, sds)
    if np.linalg.eigvalsh(correlation).min() < 1e-8:
        return 0.0
    L = np.linalg.cholesky(covariance)
    relative = np.linalg.solve(L, np.linalg.solve(L, condcov).transpose(0, 2, 1))
    if not np.all(np.isfinite(relative)) or np.linalg.eigvalsh(relative).min() <= 0:
        return 0.0
    data = np.clip(np.linalg.eigvalsh(np.linalg.inv(relative)) - 1.0, 0.0, None)
    low = max(0.0, 1.0 - 2.0 / np.sqrt(2.0 * (condcov.shape[0] - 1))) ** 2
    info = low * data
    return float(np.mean(info / (1.0 + info)))


def _decide(choice: str, explained: float) -> str:
    """The forced choice, else centered when the data explain enough of the prior variance."""
    if choice != "auto":
        return choice
    return "centered" if explained >= CENTERED_THRESHOLD else "noncentered"
