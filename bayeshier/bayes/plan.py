"""How each grouping factor is sampled, and where the chains start, from the REML fit.

From the REML fit, the share of a group effect's prior variance that the data
explain is ``lambda_f = mean_j(s^2 d_j / (1 + s^2 d_j))`` (see
:func:`explained_share`). With ``lambda_f >= 0.5`` the data dominate and the
factor is centered (``b ~ Normal(0, sd_f)``, sampled in the standardized
coordinates ``(b - BLUP) / sqrt(condVar)``); otherwise (and for singular fits)
it is non-centered (``b = sd_f * z``). A factor with random slopes is decided
the same way from its k x k covariance and the levels' conditional
covariances (:func:`explained_share_matrix`); centered, its effects are
``b_j ~ MvNormal(0, Sigma_f)`` sampled in the coordinates ``C_j^-1 (b_j -
BLUP_j)`` (``C_j C_j'`` the conditional covariance of level ``j``),
non-centered ``b_j = L_f z_j`` with ``L_f L_f' = Sigma_f``. With ``"auto"`` the first (largest)
factor is integrated out of the sampled likelihood, together with the factor
it is nested in, if any (``cask:batch`` and ``batch``; see
:mod:`bayeshier.bayes.collapse`); ``Model(likelihood=)`` switches this off
(``"full"``) or insists on it (``"collapsed"``, see :func:`integrated_factors`);
only random intercepts are integrated out, so a largest factor with random
slopes is always sampled.
Of the remaining centered factors, the one whose mean carries most of the
intercept's uncertainty is sampled as group means (hierarchical centering, see
:func:`absorbing_factor`). The result is a frozen :class:`SamplingPlan`, which
also holds the starting point (REML estimates and BLUPs).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bayeshier.bayes.fixed_scale import InternalDesign, fixed_start
from bayeshier.bayes.names import (
    FIXED_RV,
    corr_chol_name,
    means_name,
    noncentered_name,
    sd_component_name,
)
from bayeshier.bayes.priors import intercept_index, random_column_scales, sd_term
from bayeshier.errors import ModelError, close_matches_hint
from bayeshier.spec.model_spec import GroupingFactor, ModelSpec

__all__ = [
    "CENTERED_THRESHOLD",
    "LIKELIHOOD_CHOICES",
    "MIN_START_EIGENVALUE",
    "SamplingPlan",
    "absorbing_factor",
    "absorbing_map",
    "explained_share",
    "explained_share_matrix",
    "integrated_factors",
    "integrated_parent",
    "nesting_parents",
    "parse_likelihood",
    "parse_parameterization",
    "sampling_plan",
    "start_correlation",
]

_CHOICES = {
    "auto": "auto",
    "centered": "centered",
    "centered": "centered",
    "noncentered": "noncentered",
    "non-centered": "noncentered",
    "noncentered": "noncentered",
    "non-centered": "noncentered",
}
#: What ``Model(likelihood=)`` accepts.
LIKELIHOOD_CHOICES = ("auto", "full", "collapsed")
#: Center a factor when the data explain at least this share of its prior variance.
CENTERED_THRESHOLD = 0.5
#: A starting correlation matrix is shrunk towards the identity until its smallest
#: eigenvalue is at least this (a singular REML fit has a correlation of +-1).
MIN_START_EIGENVALUE = 0.05


@dataclass(frozen=True, eq=False)
class SamplingPlan:
    """Parameterization and starting point chosen from the REML fit.

    Attributes
    ----------
    parameterization : dict
        Factor name -> ``"centered"`` or ``"noncentered"``.
    absorbs : str or None
        The centered factor whose group means are sampled directly (they
        absorb the intercept: hierarchical centering), if any.
    absorb_map : numpy.ndarray or None
        For ``absorbs``, the k x p matrix ``A`` whose ``A nu`` is the center of
        its group means (the intercept at the means of the predictors that are
        not random slopes of ``absorbs``, and the fixed slopes of its random
        slopes; see :func:`absorbing_map`).
    parents : dict
        Factor name -> level of that factor for each level of ``absorbs``,
        for the factors ``absorbs`` is nested in (their effects are absorbed
        too; random intercepts only).
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


def _parse_choice(choice: Any, factor: str) -> str:
    """One choice, normalized to ``"auto"``, ``"centered"`` or ``"noncentered"``."""
    key = str(choice).lower().replace("_", "") if isinstance(choice, str) else None
    if key not in _CHOICES:
        raise ModelError(
            f"Unknown parameterization {choice!r} for factor {factor!r}: use 'auto', "
            "'centered' or 'noncentered'."
        )
    return _CHOICES[key]


def parse_likelihood(choice: Any) -> str:
    """Normalize the user's ``likelihood=`` to ``"auto"``, ``"full"`` or ``"collapsed"``.

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
    first (largest) factor out when its parameterization is ``"auto"``,
    together with the ``"auto"`` factor it is nested in (see
    :func:`integrated_parent`); other factors (crossed, or a parent forced
    centered or non-centered) are sampled. ``"collapsed"`` does the same but
    requires the largest factor to be integrated out.

    Only random intercepts are integrated out: with random slopes on the
    largest factor nothing is (``"auto"`` samples it).

    Raises
    ------
    ModelError
        ``"collapsed"`` for a model without grouping factors, whose largest
        factor's parameterization is forced, or whose largest factor has
        random slopes.

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
    if not spec.factors[0].intercept_only:
        if likelihood == "collapsed":
            raise ModelError(
                f"likelihood='collapsed' integrates the effects of the largest grouping factor "
                f"{first!r} out, which bayeshier does for a random intercept alone, but "
                f"{first!r} has random slopes ({', '.join(spec.factors[0].terms)}): use "
                "likelihood='full' or 'auto' (both sample its effects)."
            )
        return None, None
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
    """Choose each factor's parameterization and the starting point from a REML fit.

    ``likelihood`` (``"auto"``, ``"full"`` or ``"collapsed"``) decides which
    factors are integrated out (see :func:`integrated_factors`).
    """
    sigma = float(fit.sigma)
    covariances = {f.name: fit.covariances[f.name].to_numpy(dtype=float) for f in spec.factors}
    explained, parameterization, loc, scale, start = {}, {}, {}, {}, {}
    for factor, columns in zip(spec.factors, design.moments.random, strict=True):
        name = factor.name
        if factor.intercept_only:
            factor_start = _intercept_start(factor, fit, covariances[name])
        else:
            scales = random_column_scales(columns)
            factor_start = _slope_start(factor, fit, covariances[name], scales)
        explained[name], loc[name], scale[name], starts = factor_start
        parameterization[name] = _decide(choices[name], explained[name])
        start.update(starts[parameterization[name]])
    start["sigma"] = np.asarray(sigma)
    fixed_loc, fixed_chol = fixed_start(fit, design)
    if spec.n_fixed:
        start[FIXED_RV] = fixed_loc
    marginalized, parent = integrated_factors(spec, choices, likelihood)
    integrated = {name for name in (marginalized, parent) if name is not None}
    intercept_sds = {f.name: _intercept_sd(f, covariances[f.name]) for f in spec.factors}
    absorbs = absorbing_factor(spec, parameterization, intercept_sds, exclude=integrated)
    absorb_map = absorbing_map(spec, design, spec.factor(absorbs)) if absorbs else None
    parents = _absorbed_parents(spec, absorbs, integrated)
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
        marginalized,
        parent,
        explained,
        fixed_loc,
        fixed_chol,
        loc,
        scale,
        start,
    )


#: One factor's explained share, BLUPs, their scale, and its start per parameterization.
_FactorStart = tuple[float, np.ndarray, np.ndarray, dict[str, dict[str, np.ndarray]]]


def _intercept_start(factor: GroupingFactor, fit: Any, covariance: np.ndarray) -> _FactorStart:
    """A random intercept: shrinkage share, BLUPs, ``sqrt(condVar)`` and the starting values."""
    name = factor.name
    sigma = float(fit.sigma)
    sd = float(np.sqrt(covariance[0, 0]))
    blup = fit.ranef[name]["Intercept"].reindex(factor.levels).to_numpy(dtype=float)
    condvar = fit.condvar[name]["Intercept"].reindex(factor.levels).to_numpy(dtype=float)
    sd_start = max(sd, 0.1 * sigma, 1e-8)
    scale = np.sqrt(np.maximum(condvar, (1e-3 * sd_start) ** 2))
    common = {sd_term(name): np.asarray(sd_start)}
    starts = {
        "centered": {**common, name: blup},
        "noncentered": {**common, noncentered_name(name): blup / sd_start},
    }
    return explained_share(sd, condvar), blup, scale, starts


def _slope_start(
    factor: GroupingFactor, fit: Any, covariance: np.ndarray, scales: np.ndarray
) -> _FactorStart:
    """A factor with random slopes: the same from its covariance and conditional covariances.

    The sds start at REML, at least ``0.1 sigma / s_x`` (``s_x`` the column's
    scale in ``scales``, see :func:`bayeshier.bayes.priors.random_column_scales`); the
    correlations at REML, shrunk towards 0 when nearly singular
    (:data:`MIN_START_EIGENVALUE`).
    """
    name = factor.name
    sigma = float(fit.sigma)
    terms = list(factor.terms)
    blup = fit.ranef[name][terms].reindex(factor.levels).to_numpy(dtype=float)
    condcov = np.asarray(fit.condcov[name], dtype=float)
    sds = np.sqrt(np.diag(covariance))
    sd_start = np.maximum(sds, np.maximum(0.1 * sigma / scales, 1e-8))
    correlation = start_correlation(covariance, factor.blocks)
    chol = sd_start[:, None] * np.linalg.cholesky(correlation)
    floor = (1e-3 * sd_start) ** 2 * np.eye(len(terms))
    scale = np.linalg.cholesky(condcov + floor)
    common = {sd_component_name(name, r): np.asarray(v) for r, v in enumerate(sd_start)}
    offset = 0
    for block, size in enumerate(factor.blocks):
        if size > 1:
            piece = correlation[offset : offset + size, offset : offset + size]
            common[corr_chol_name(name, block)] = np.linalg.cholesky(piece)
        offset += size
    starts = {
        "centered": {**common, name: blup},
        "noncentered": {**common, noncentered_name(name): np.linalg.solve(chol, blup.T).T},
    }
    return explained_share_matrix(covariance, condcov), blup, scale, starts


def start_correlation(covariance: np.ndarray, blocks: tuple[int, ...]) -> np.ndarray:
    """The REML correlation matrix (zero across blocks), shrunk towards I if nearly singular.

    A zero sd gives zero correlations in its row and column; the matrix is
    shrunk towards the identity until its smallest eigenvalue is at least
    :data:`MIN_START_EIGENVALUE`, so that its Cholesky factor is a valid start.
    """
    sds = np.sqrt(np.diag(covariance))
    outer = np.outer(sds, sds)
    correlation = np.divide(covariance, outer, out=np.zeros_like(covariance), where=outer > 0)
    mask = np.zeros_like(correlation, dtype=bool)
    offset = 0
    for size in blocks:
        mask[offset : offset + size, offset : offset + size] = True
        offset += size
    correlation = np.where(mask, np.clip(correlation, -1.0, 1.0), 0.0)
    np.fill_diagonal(correlation, 1.0)
    smallest = float(np.linalg.eigvalsh(correlation).min())
    if smallest < MIN_START_EIGENVALUE:
        weight = (1.0 - MIN_START_EIGENVALUE) / (1.0 - smallest)
        correlation = weight * correlation + (1.0 - weight) * np.eye(len(sds))
    return correlation


def _intercept_sd(factor: GroupingFactor, covariance: np.ndarray) -> float:
    """REML sd of the factor's random intercept (0 if it has none)."""
    if "Intercept" not in factor.terms:
        return 0.0
    r = factor.terms.index("Intercept")
    return float(np.sqrt(covariance[r, r]))


def _absorbed_parents(
    spec: ModelSpec, absorbs: str | None, integrated: Collection[str]
) -> dict[str, np.ndarray]:
    """The random-intercept factors a random-intercept ``absorbs`` is nested in (not integrated)."""
    if absorbs is None or not spec.factor(absorbs).intercept_only:
        return {}
    return {
        name: codes
        for name, codes in nesting_parents(spec, absorbs).items()
        if name not in integrated and spec.factor(name).intercept_only
    }


def absorbing_map(spec: ModelSpec, design: InternalDesign, factor: GroupingFactor) -> np.ndarray:
    """The k x p matrix ``A`` with ``A nu`` the center of ``factor``'s group means.

    ``nu`` are the coefficients of the centered design. A random slope whose
    column is also a fixed-effect column (same name and values) absorbs that
    fixed slope; the random intercept absorbs the intercept at the means of
    the other predictors, ``nu_0 - sum_c m_c nu_c`` over the absorbed slopes
    ``c`` (``m_c`` their means), so that each row's prediction is ``z_i' a_j``
    plus the centered predictors that are not absorbed. For a random
    intercept alone this is ``nu_0``.

    Without rows (a Dask DataFrame) a same-named column counts as the same
    column: formulaic builds both from the same expression and encoding.
    """
    intercept = intercept_index(spec)
    A = np.zeros((factor.n_columns, spec.n_fixed))
    absorbed = []
    for r, term in enumerate(factor.terms):
        if term == "Intercept" or term not in spec.fixed_names:
            continue
        c = spec.fixed_names.index(term)
        if not spec.holds_rows or np.allclose(
            spec.X[:, c], factor.columns()[:, r], rtol=1e-12, atol=0.0
        ):
            A[r, c] = 1.0
            absorbed.append(c)
    if intercept is not None and "Intercept" in factor.terms:
        row = factor.terms.index("Intercept")
        A[row, intercept] = 1.0
        for c in absorbed:
            A[row, c] = design.to_user[intercept, c]
    return A


def integrated_parent(spec: ModelSpec, name: str, choices: dict[str, str]) -> str | None:
    """The factor integrated out together with ``name``: the one ``name`` is nested in.

    Of the random-intercept factors with ``"auto"`` that ``name`` is nested
    in, the one with the most levels (its immediate parent: ``batch`` for ``cask:batch``), or None.
    Integrating the pair out jointly leaves NUTS only the fixed effects and the
    scales (see :func:`bayeshier.bayes.collapse.marginal_loglik`).
    """
    parents = [
        p
        for p in nesting_parents(spec, name)
        if choices[p] == "auto" and spec.factor(p).intercept_only
    ]
    if not parents:
        return None
    return max(parents, key=lambda p: spec.factor(p).n_levels)


def nesting_parents(spec: ModelSpec, name: str) -> dict[str, np.ndarray]:
    """Factors that ``name`` is nested in, with the parent level of each of its levels.

    ``cask:batch`` is nested in ``batch``: every cask level lies in one batch.
    """
    child = spec.factor(name)
    cells = spec.level_combinations
    position = {factor.name: k for k, factor in enumerate(spec.factors)}
    parents = {}
    for other in spec.factors:
        if other.name == name:
            continue
        pairs = np.unique(cells[:, [position[name], position[other.name]]], axis=0)
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
    """The centered factor whose mean carries most of the intercept's uncertainty.

    Sampling its group means ``a_j = intercept + b_j`` instead of ``b_j``
    removes the posterior correlation between the intercept and the effects.
    Factors in ``exclude`` (the integrated-out ones) and factors without a
    random intercept are not candidates; ``sds`` holds the intercepts' sds.
    """
    if intercept_index(spec) is None:
        return None
    centered = [
        f
        for f in spec.factors
        if parameterization[f.name] == "centered"
        and f.name not in exclude
        and "Intercept" in f.terms
    ]
    if not centered:
        return None
    return max(centered, key=lambda f: sds[f.name] ** 2 / f.n_levels).name


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
