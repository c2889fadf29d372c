"""Point estimates at the optimum: GLS fixed effects, BLUPs, conditional variances.

All quantities come from the blocked factor of :mod:`bayeshier.reml.factor`
(Bates et al. 2015, section 3.5):

- ``beta`` solves ``R_X beta = r_Xy`` (mapped back from the orthonormal basis),
  ``Var(beta) = sigma^2 R_X^-1 R_X^-T``;
- the spherical modes ``u`` solve ``L_theta' u = r_Zy - R_ZX beta`` and the BLUPs
  (conditional modes) are ``b = Lambda u``;
- the conditional covariances are the per-level ``k x k`` diagonal blocks of
  ``sigma^2 Lambda (L_theta L_theta')^-1 Lambda'`` (lme4's ``condVar``, which
  holds ``beta`` at its estimate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from bayeshier.reml.crossprod import CrossProducts
from bayeshier.reml.factor import (
    BlockedFactor,
    apply_blocks,
    conditional_blocks,
    scale_rest_rows,
    split_rest,
)

__all__ = ["Estimates", "estimates", "first_block_solve", "spherical_modes"]


@dataclass(frozen=True, eq=False)
class Estimates:
    """Estimates at one theta, on the user's scale.

    Attributes
    ----------
    beta : numpy.ndarray
        Fixed effects.
    vcov : numpy.ndarray
        Their covariance matrix.
    sigma : float
        Residual standard deviation (REML: ``r^2/(n-p)``, ML: ``r^2/n``).
    blups : list of numpy.ndarray
        Conditional modes, one array (levels x k) per factor (spec order).
    condcovs : list of numpy.ndarray
        Conditional covariance matrices, one array (levels x k x k) per factor.

    """

    beta: np.ndarray
    vcov: np.ndarray
    sigma: float
    blups: list[np.ndarray]
    condcovs: list[np.ndarray]


def estimates(cp: CrossProducts, factor: BlockedFactor, reml: bool) -> Estimates:
    """Compute every point estimate from the factor at the optimum."""
    dof = cp.nobs - cp.n_fixed if reml else cp.nobs
    sigma2 = factor.pwrss() / dof
    modes, beta_work = spherical_modes(cp, factor)
    r_inv = sla.solve_triangular(cp.R, np.eye(cp.n_fixed), check_finite=False)
    beta = r_inv @ (beta_work + cp.ols)
    vcov = sigma2 * _fixed_covariance_factor(factor, r_inv)
    blups = [u.reshape(-1, T.shape[0]) @ T.T for T, u in zip(factor.relative, modes, strict=True)]
    condcovs = [
        sigma2 * (T @ blocks @ T.T)
        for T, blocks in zip(factor.relative, conditional_blocks(cp, factor), strict=True)
    ]
    return Estimates(beta, vcov, float(np.sqrt(sigma2)), blups, condcovs)


def spherical_modes(
    cp: CrossProducts, factor: BlockedFactor
) -> tuple[list[np.ndarray], np.ndarray]:
    """Spherical modes ``u`` per factor (level-major, ``b = Lambda u``) and beta (Q basis)."""
    L = factor.rest
    q, p = cp.q_rest, cp.n_fixed
    solution = sla.solve_triangular(
        L[:-1, :-1], L[-1, :-1], lower=True, trans="T", check_finite=False
    )
    beta_work, u_rest = solution[q : q + p], solution[:q]
    first_rhs = cp.first_sums[:, -1] - cp.first_sums[:, :-1] @ beta_work
    u_first = first_block_solve(cp, factor, first_rhs, u_rest)
    return [u_first, *split_rest(u_rest, cp.rest_sizes)], beta_work


def first_block_solve(
    cp: CrossProducts, factor: BlockedFactor, first_rhs: np.ndarray, rest_values: np.ndarray
) -> np.ndarray:
    """Back-substitute through the first (block-diagonal) block of ``L_theta'``.

    Returns ``A_j^-1 T_1' (first_rhs - K' Lambda_r rest_values)_j`` for every
    level ``j``, where ``first_rhs`` holds level-major per-level sums of the
    first factor (a vector or one column per right-hand side) and
    ``rest_values`` the solution of the rest.
    """
    rhs = first_rhs
    if cp.q_rest:
        rhs = rhs - cp.first_by_rest.T @ scale_rest_rows(
            cp, factor.relative, rest_values, transpose=False
        )
    return apply_blocks(factor.first_gain(), rhs)


def _fixed_covariance_factor(factor: BlockedFactor, r_inv: np.ndarray) -> np.ndarray:
    """``R^-1 (L_XX L_XX')^-1 R^-T`` (to be multiplied by sigma^2)."""
    q, p = factor.q_rest, factor.n_fixed
    l_xx = factor.rest[q : q + p, q : q + p]
    l_inv = sla.solve_triangular(l_xx, np.eye(p), lower=True, check_finite=False)
    half = r_inv @ l_inv.T
    return half @ half.T
