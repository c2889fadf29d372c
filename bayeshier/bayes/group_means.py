"""Hierarchical centering: the factor sampled as group means that absorb the intercept.

Of the centered factors, the one whose mean carries most of the intercept's
uncertainty (largest ``sd_f^2 / G_f``, see :func:`absorbing_factor`) is
sampled as group means ``a_j = alpha + b_j`` (``alpha`` the intercept at the
predictors' means), which removes the posterior correlation between the
intercept and its effects. When that factor is nested in others, its means
absorb their effects too (:func:`absorbed_parents`); with random slopes they
also absorb the fixed slopes of the same columns (:func:`absorbing_map`).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from bayeshier.bayes.fixed_scale import InternalDesign
from bayeshier.bayes.nesting import nesting_parents
from bayeshier.bayes.priors import intercept_index
from bayeshier.spec.model_spec import GroupingFactor, ModelSpec

__all__ = ["absorbed_parents", "absorbing_factor", "absorbing_map", "intercept_sd"]


def absorbing_factor(
    spec: ModelSpec,
    parameterization: dict[str, str],
    sds: dict[str, float],
    exclude: Collection[str] = (),
) -> str | None:
    """The centered factor whose mean carries most of the intercept's uncertainty.

    Sampling its group means ``a_j = intercept + b_j`` instead of ``b_j``
    removes the posterior correlation between the intercept and the effects.
    Factors in ``exclude`` (the collapsed ones) and factors without a
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


def intercept_sd(factor: GroupingFactor, covariance: np.ndarray) -> float:
    """REML sd of the factor's random intercept (0 if it has none)."""
    if "Intercept" not in factor.terms:
        return 0.0
    r = factor.terms.index("Intercept")
    return float(np.sqrt(covariance[r, r]))


def absorbed_parents(
    spec: ModelSpec, absorbs: str | None, collapsed: Collection[str]
) -> dict[str, np.ndarray]:
    """The random-intercept factors a random-intercept ``absorbs`` is nested in (not collapsed).

    Factor name -> the level of that factor for each level of ``absorbs``.
    """
    if absorbs is None or not spec.factor(absorbs).intercept_only:
        return {}
    return {
        name: codes
        for name, codes in nesting_parents(spec, absorbs).items()
        if name not in collapsed and spec.factor(name).intercept_only
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
    column: the spec builds both from the same expression and encoding.
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
