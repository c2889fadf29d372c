"""Point estimates at the optimum: GLS fixed effects, BLUPs, conditional variances.

All quantities come from the blocked factor of :mod:`bayeshier.reml.factor`
(Bates et al. 2015, section 3.5):

- ``beta`` solves ``R_X beta = r_Xy`` (mapped back from the orthonormal basis),
  ``Var(beta) = sigma^2 R_X^-1 R_X^-T``;
- the spherical modes ``u`` solve ``L_theta' u = r_Zy - R_ZX beta`` and the BLUPs
  (conditional modes) are ``b = Lambda u``;
- the conditional variances are the diagonal of
  ``sigma^2 Lambda (L_theta L_theta')^-1 Lambda'`` (lme4's ``condVar``, which
  holds ``beta`` at its estimate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from bayeshier.reml.crossprod import CrossProducts
from bayeshier.reml.factor import BlockedFactor

__all__ = ["Estimates", "estimates"]


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
        Conditional modes, one array per factor (spec order).
    condvars : list of numpy.ndarray
        Conditional variances, same layout.

    """

    beta: np.ndarray
    vcov: np.ndarray
    sigma: float
    blups: list[np.ndarray]
    condvars: list[np.ndarray]


def estimates(cp: CrossProducts, factor: BlockedFactor, reml: bool) -> Estimates:
    """Compute every point estimate from the factor at the optimum."""
    dof = cp.nobs - cp.n_fixed if reml else cp.nobs
    sigma2 = factor.pwrss() / dof
    rest_solution = _rest_solution(factor)
    q, p = cp.q_rest, cp.n_fixed
    beta_work = rest_solution[q : q + p]
    u_rest = rest_solution[:q]
    u_first = _first_modes(cp, factor, beta_work, u_rest)
    r_inv = sla.solve_triangular(cp.R, np.eye(p), check_finite=False)
    beta = r_inv @ (beta_work + cp.ols)
    vcov = sigma2 * _fixed_covariance_factor(factor, r_inv)
    theta_levels = _split_rest(factor.rest_scale[:q], cp.rest_sizes)
    blups = [factor.theta[0] * u_first] + [
        scale * u for scale, u in zip(theta_levels, _split_rest(u_rest, cp.rest_sizes), strict=True)
    ]
    condvars = [sigma2 * v for v in _conditional_variances(cp, factor)]
    return Estimates(beta, vcov, float(np.sqrt(sigma2)), blups, condvars)


def _rest_solution(factor: BlockedFactor) -> np.ndarray:
    """Solve ``L_M[:-1, :-1]' x = L_M[-1, :-1]'`` for ``x = [u_rest; beta]``."""
    L = factor.rest
    return sla.solve_triangular(L[:-1, :-1], L[-1, :-1], lower=True, trans="T", check_finite=False)


def _first_modes(
    cp: CrossProducts, factor: BlockedFactor, beta_work: np.ndarray, u_rest: np.ndarray
) -> np.ndarray:
    """Spherical modes of the first factor.

    ``u_1 = theta_1 / d * (Z1'y - Z1'X beta - K' Lambda_r u_r)``.
    """
    sums = cp.first_sums
    residual_sums = sums[:, -1] - sums[:, :-1] @ beta_work
    if cp.q_rest:
        scaled_rest = factor.rest_scale[: cp.q_rest] * u_rest
        residual_sums = residual_sums - cp.first_by_rest.T @ scaled_rest
    return factor.theta[0] / factor.first_diag * residual_sums


def _fixed_covariance_factor(factor: BlockedFactor, r_inv: np.ndarray) -> np.ndarray:
    """``R^-1 (L_XX L_XX')^-1 R^-T`` (to be multiplied by sigma^2)."""
    q, p = factor.q_rest, factor.n_fixed
    l_xx = factor.rest[q : q + p, q : q + p]
    l_inv = sla.solve_triangular(l_xx, np.eye(p), lower=True, check_finite=False)
    half = r_inv @ l_inv.T
    return half @ half.T


def _conditional_variances(cp: CrossProducts, factor: BlockedFactor) -> list[np.ndarray]:
    """Diagonal of ``Lambda (L_theta L_theta')^-1 Lambda'`` per factor (times sigma^2 later)."""
    q = cp.q_rest
    theta_first = factor.theta[0]
    first = 1.0 / factor.first_diag
    if q == 0:
        return [theta_first**2 * first]
    l_inv = sla.solve_triangular(factor.rest[:q, :q], np.eye(q), lower=True, check_finite=False)
    rest = np.sum(l_inv**2, axis=0)
    scale_rest = factor.rest_scale[:q]
    coupling = (scale_rest[:, None] * cp.first_by_rest.toarray()) * (
        theta_first / factor.first_diag
    )
    first = first + np.sum((l_inv @ coupling) ** 2, axis=0)
    rest_parts = _split_rest(scale_rest**2 * rest, cp.rest_sizes)
    return [theta_first**2 * first, *rest_parts]


def _split_rest(values: np.ndarray, sizes: tuple[int, ...]) -> list[np.ndarray]:
    return np.split(values, np.cumsum(sizes)[:-1]) if sizes else []
