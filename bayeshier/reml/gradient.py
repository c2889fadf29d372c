"""Analytic gradient of the profiled criterion with respect to theta.

For random intercepts ``Lambda = diag(theta_f)`` over the levels of factor
``f``. With ``A = Lambda'Z'Z Lambda + I``, the spherical modes ``u`` and the
penalised residual sum of squares ``r^2``:

- ``d log|A| / d theta_f = (2 / theta_f) (q_f - tr_f(A^-1))``, where
  ``tr_f`` sums the diagonal of ``A^-1`` over the levels of ``f``;
- ``d r^2 / d theta_f = -(2 / theta_f) |u_f|^2`` (the envelope theorem on the
  penalised least-squares problem, using ``theta_f Z_f' e = u_f``);
- ``d log|R_X|^2 / d theta_f = -(2 / theta_f) |U_f R_X^-T|_F^2`` with
  ``U = A^-1 Lambda'Z'X`` (REML only; ``U_f`` its rows of factor ``f``).

So ML:   ``dd/dtheta_f = (2/theta_f) [q_f - tr_f - n |u_f|^2 / r^2]``
   REML: ``(2/theta_f) [q_f - tr_f - |U_f R_X^-T|^2 - (n - p) |u_f|^2 / r^2]``.

The traces come from :func:`bayeshier.reml.factor.inverse_diagonal`, which
the conditional variances use too. The formulas divide
by ``theta_f``: at theta_f = 0 the derivative is 0 by symmetry, and the
optimiser uses a one-sided difference there instead.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from bayeshier.reml.crossprod import CrossProducts
from bayeshier.reml.estimates import first_block_solve, spherical_modes
from bayeshier.reml.factor import BlockedFactor, inverse_diagonal, split_rest

__all__ = ["criterion_gradient"]


def criterion_gradient(cp: CrossProducts, factor: BlockedFactor, reml: bool) -> np.ndarray:
    """Gradient of the REML criterion (or ML deviance) with respect to theta.

    Valid where every theta is positive; entries for theta_f = 0 are NaN.
    """
    theta = factor.theta
    dof = cp.nobs - cp.n_fixed if reml else cp.nobs
    modes, _ = spherical_modes(cp, factor)
    squared_modes = np.array([u @ u for u in modes])
    levels = np.array([cp.counts.size, *cp.rest_sizes], dtype=float)
    traces = np.array([np.sum(diagonal) for diagonal in inverse_diagonal(cp, factor)])
    inner = levels - traces - dof * squared_modes / factor.pwrss()
    if reml:
        inner -= _fixed_effect_terms(cp, factor)
    with np.errstate(divide="ignore", invalid="ignore"):
        gradient = 2.0 * inner / theta
    gradient[theta == 0.0] = np.nan
    return gradient


def _fixed_effect_terms(cp: CrossProducts, factor: BlockedFactor) -> np.ndarray:
    """``|U_f R_X^-T|_F^2`` per factor, with ``U = A^-1 Lambda'Z'Q``."""
    q, p = cp.q_rest, cp.n_fixed
    if p == 0:
        return np.zeros(1 + len(cp.rest_sizes))
    L = factor.rest
    l_xx = L[q : q + p, q : q + p]
    l_xz = L[q : q + p, :q]
    u_rest = sla.solve_triangular(L[:q, :q], l_xz.T, lower=True, trans="T", check_finite=False)
    u_first = first_block_solve(cp, factor, cp.first_sums[:, :p], u_rest)
    parts = [u_first, *split_rest(u_rest, cp.rest_sizes)]
    whitened = [
        sla.solve_triangular(l_xx, part.T, lower=True, check_finite=False) for part in parts
    ]
    return np.array([float(np.sum(w**2)) for w in whitened])
