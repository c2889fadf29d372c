"""The variance parameters on lme4's standard-deviation / correlation scale.

lme4's ``confint``, ``profile`` and ``bootMer`` report the covariance
parameters not as theta but as standard deviations and correlations, with
its ``oldNames = FALSE`` names: ``sd_(Intercept)|Subject``,
``cor_Days.(Intercept)|Subject``, ``sd_Days|Subject`` (in theta's order: the
lower triangle of each covariance block column by column, a diagonal entry
read as a standard deviation, an off-diagonal one as a correlation), and
``sigma`` last. These helpers convert between that vector and theta.
"""

from __future__ import annotations

import numpy as np

from bayeshier.reml.covariance import ThetaLayout, lme4_term
from bayeshier.spec.model_spec import GroupingFactor

__all__ = [
    "parameter_names",
    "scale_free_sdcor",
    "sdcor_names",
    "sdcor_to_theta",
    "theta_to_sdcor",
    "variance_names",
]

#: Relative size below which a pivot of :func:`_safe_cholesky` counts as zero.
_PIVOT_TOLERANCE = 1e-12


def sdcor_names(factors: tuple[GroupingFactor, ...], layout: ThetaLayout) -> list[str]:
    """lme4's names of the variance parameters (theta order), ``"sigma"`` last."""
    names = []
    for f, r, c in zip(layout.factor_of, layout.rows, layout.cols, strict=True):
        factor = factors[f]
        row, col = lme4_term(factor.terms[r]), lme4_term(factor.terms[c])
        names.append(f"sd_{row}|{factor.name}" if r == c else f"cor_{row}.{col}|{factor.name}")
    return [*names, "sigma"]


def theta_to_sdcor(layout: ThetaLayout, theta: np.ndarray, sigma: float) -> np.ndarray:
    """Standard deviations and correlations of the random effects (theta order), then sigma.

    The covariance of factor ``f``'s effects is ``sigma^2 T_f T_f'``; a
    correlation with a zero standard deviation is reported as 0.
    """
    per_factor = []
    for T in layout.relative_factors(np.asarray(theta, dtype=float)):
        covariance = sigma**2 * (T @ T.T)
        sd = np.sqrt(np.diag(covariance))
        scale = np.outer(sd, sd)
        with np.errstate(divide="ignore", invalid="ignore"):
            matrix = np.where(scale > 0, covariance / scale, 0.0)
        np.fill_diagonal(matrix, sd)
        per_factor.append(matrix)
    return np.append(layout.gather(per_factor), sigma)


def scale_free_sdcor(layout: ThetaLayout, theta: np.ndarray) -> np.ndarray:
    """Standard deviations and correlations of a model without a residual scale (a GLMM).

    ``T_f T_f'`` is the covariance of the effects itself; there is no sigma.
    """
    return theta_to_sdcor(layout, theta, 1.0)[:-1]


def sdcor_to_theta(layout: ThetaLayout, sdcor: np.ndarray, sigma: float) -> np.ndarray:
    """Theta of the standard deviations and correlations ``sdcor`` (theta order, no sigma).

    The covariance matrix they make, divided by ``sigma^2``, is factored by
    a Cholesky decomposition that accepts a singular matrix (a zero standard
    deviation, a correlation of +-1), as lme4's ``Sv_to_Cv``.
    """
    sdcor = np.asarray(sdcor, dtype=float)
    diagonal = layout.diagonal
    sds = [np.zeros(k) for k in layout.sizes]
    on_diagonal = zip(
        sdcor[diagonal], layout.factor_of[diagonal], layout.rows[diagonal], strict=True
    )
    for value, f, r in on_diagonal:
        sds[f][r] = value
    covariances = [np.diag(sd**2) for sd in sds]
    for value, f, r, c in zip(
        sdcor[~diagonal],
        layout.factor_of[~diagonal],
        layout.rows[~diagonal],
        layout.cols[~diagonal],
        strict=True,
    ):
        covariances[f][r, c] = covariances[f][c, r] = value * sds[f][r] * sds[f][c]
    relative = [_safe_cholesky(covariance / sigma**2) for covariance in covariances]
    return layout.gather(relative)


def _safe_cholesky(matrix: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a positive semi-definite matrix (zero pivots give zero columns)."""
    k = matrix.shape[0]
    factor = np.zeros((k, k))
    scale = max(float(np.max(np.abs(np.diag(matrix)), initial=0.0)), 1e-300)
    for j in range(k):
        pivot = matrix[j, j] - factor[j, :j] @ factor[j, :j]
        if pivot <= _PIVOT_TOLERANCE * scale:
            continue
        factor[j, j] = np.sqrt(pivot)
        below = matrix[j + 1 :, j] - factor[j + 1 :, :j] @ factor[j, :j]
        factor[j + 1 :, j] = below / factor[j, j]
    return factor


def parameter_names(fit) -> list[str]:
    """lme4's names of every parameter of a fit: sds and correlations, sigma, fixed effects."""
    return [*variance_names(fit), *fit.fixef.index]


def variance_names(fit) -> list[str]:
    """The sds and correlations, and ``sigma`` for a linear mixed model (a GLMM has none)."""
    names = sdcor_names(fit.spec.factors, fit.layout)
    is_glmm = getattr(fit, "family", None) is not None
    return names[:-1] if is_glmm else names
