"""Analytic gradient of the profiled criterion with respect to theta.

``Lambda = blockdiag(I (x) T_f)`` is linear in theta. Write ``A = Lambda'Z'Z
Lambda + I``, ``u`` the spherical modes, ``r^2`` the penalized residual sum
of squares, ``C_j`` the level-``j`` diagonal block of ``A^-1`` and
``W = A^-1 Lambda'Z'Q R_X^-1`` (``Q`` the orthonormal fixed-effects basis),
``u_j`` and ``W_j`` their rows of level ``j``. When ``T_f`` is invertible,
``Lambda^-1 dLambda/dtheta`` is block diagonal and three identities give
every derivative from per-level quantities:

- ``d log|A| = 2 tr((I - A^-1) Lambda^-1 dLambda)``, because
  ``A^-1 Lambda'Z'Z Lambda = I - A^-1``;
- ``d r^2 = -2 u' Lambda^-1 dLambda u`` (the envelope theorem on the
  penalized least-squares problem, using ``Lambda'Z'e = u``);
- ``d log|R_X|^2 = -2 tr(W' Lambda^-1 dLambda W)``.

So for the entry ``(r, s)`` of ``T_f`` the derivative is ``2 (T_f^-T
Psi_f)[r, s]`` with

    Psi_f = n_f I - sum_j C_j - (dof / r^2) sum_j u_j u_j' - sum_j W_j W_j'

(the last sum for REML only, ``dof = n - p`` for REML and ``n`` for ML). For
a random intercept this is ``(2 / theta_f)(q_f - tr_f(A^-1) - dof |u_f|^2 / r^2
- |W_f|^2)``. The formula needs ``T_f^-1``: where a diagonal entry of
``T_f`` is 0 the factor's entries are NaN and the optimizer uses a one-sided
difference instead.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from bayeshier.reml.covariance import ThetaLayout
from bayeshier.reml.crossprod import CrossProducts
from bayeshier.reml.estimates import first_block_solve, spherical_modes
from bayeshier.reml.factor import BlockedFactor, conditional_blocks, split_rest

__all__ = ["criterion_gradient"]


def criterion_gradient(
    cp: CrossProducts, factor: BlockedFactor, reml: bool, layout: ThetaLayout
) -> np.ndarray:
    """Gradient of the REML criterion (or ML deviance) with respect to theta.

    Entries of a factor whose ``T_f`` has a zero on its diagonal are NaN.
    """
    dof = cp.nobs - cp.n_fixed if reml else cp.nobs
    modes, _ = spherical_modes(cp, factor)
    scale = dof / factor.pwrss()
    blocks = conditional_blocks(cp, factor)
    fixed = _fixed_effect_rows(cp, factor) if reml else None
    per_factor = []
    for index, (T, u, inverse) in enumerate(zip(factor.relative, modes, blocks, strict=True)):
        k = T.shape[0]
        levels = inverse.shape[0]
        u = u.reshape(levels, k)
        psi = levels * np.eye(k) - inverse.sum(axis=0) - scale * (u.T @ u)
        if fixed is not None:
            w = fixed[index].reshape(levels, k, -1)
            psi -= np.einsum("jrm,jsm->rs", w, w)
        per_factor.append(_times_inverse_transpose(T, psi))
    return 2.0 * layout.gather(per_factor)


def _times_inverse_transpose(T: np.ndarray, psi: np.ndarray) -> np.ndarray:
    """``T^-T psi``, or NaN where ``T`` is singular."""
    if np.any(np.diag(T) == 0.0):
        return np.full_like(psi, np.nan)
    return sla.solve_triangular(T, psi, lower=True, trans="T", check_finite=False)


def _fixed_effect_rows(cp: CrossProducts, factor: BlockedFactor) -> list[np.ndarray]:
    """Rows of ``W = A^-1 Lambda'Z'Q R_X^-1`` per factor (level-major x p)."""
    q, p = cp.q_rest, cp.n_fixed
    n_factors = len(factor.relative)
    if p == 0:
        return [np.zeros((size, 0)) for size in (cp.first_sums.shape[0], *cp.rest_sizes)][
            :n_factors
        ]
    L = factor.rest
    l_xx = L[q : q + p, q : q + p]
    l_xz = L[q : q + p, :q]
    u_rest = sla.solve_triangular(L[:q, :q], l_xz.T, lower=True, trans="T", check_finite=False)
    u_first = first_block_solve(cp, factor, cp.first_sums[:, :p], u_rest)
    parts = [u_first, *split_rest(u_rest, cp.rest_sizes)]
    return [sla.solve_triangular(l_xx, part.T, lower=True, check_finite=False).T for part in parts]
