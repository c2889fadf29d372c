"""The Laplace approximation of a GLMM's deviance and its exact gradient in (theta, beta).

At the conditional modes ``u~`` of :mod:`bayeshier.reml.glmm.pirls`,

    f(theta, beta) = D(eta~) + |u~|^2 + log|A|,   A = Lambda'Z'W Z Lambda + I,

with ``D = -2 log p(y | eta)`` (normalizing constants included) and ``W``
the working weights at the modes: lme4's ``glmResp::Laplace``, the ``-2 log
L`` that ``logLik`` reports for ``nAGQ = 1``.

The gradient follows from the envelope theorem plus one implicit derivative.
``h(u) = D + |u|^2`` is stationary in ``u`` at the mode, so only ``log|A|``
sees how the mode moves. Write ``c_i = z~_i' A^-1 z~_i`` (``z~_i`` the row's
spherical design ``Lambda'z_i``), ``r = (dw/deta) c`` (so that ``d log|A| /
d eta = r``), ``H = d2h/du2 = 2 (Lambda'Z' D''/2 Z Lambda + I)`` (``= 2 A``
for a canonical link) and ``v = H^-1 Lambda'Z'r``. With ``s = D' + r - D''
(Z Lambda v)``:

    df/dbeta    = X's
    df/dtheta_m = s'(Z Lambda_m u~) - D'(Z Lambda_m v) + 2 tr((I - A^-1) Lambda^-1 Lambda_m)

where ``Lambda_m = dLambda/dtheta_m``. The trace needs only the diagonal
blocks of ``A^-1`` (:func:`~bayeshier.reml.factor.conditional_blocks`) and
``T_f^-1``; where ``T_f`` is singular the entry is NaN (the caller takes a
one-sided difference), except for a scalar term at 0, where the deviance is
even in theta and the derivative is 0.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from bayeshier.reml.covariance import ThetaLayout
from bayeshier.reml.crossprod import CrossProducts
from bayeshier.reml.factor import (
    BlockedFactor,
    apply_blocks,
    conditional_blocks,
    factorize,
    scale_rest_rows,
)
from bayeshier.reml.glmm.pirls import Mode, Problem

__all__ = ["laplace_deviance", "laplace_gradient", "row_leverages", "solve_spherical"]

#: Most doubles held at once by the per-row leverage computation of crossed factors.
_CHUNK_DOUBLES = 4_000_000


def laplace_deviance(problem: Problem, mode: Mode) -> float:
    """``D(eta~) + |u~|^2 + log|A|`` at the modes: ``-2 log L`` of the Laplace approximation."""
    return mode.kernel + problem.constant + mode.penalty + mode.factor.log_det_z()


def laplace_gradient(
    problem: Problem, mode: Mode, relative: list[np.ndarray], layout: ThetaLayout
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of :func:`laplace_deviance` in theta (lme4's layout) and in beta."""
    design, family = problem.design, problem.family
    d1 = -2.0 * mode.terms.score
    d2, weight_slope = family.second_terms(mode.eta, problem.y, problem.n, mode.terms)
    r = weight_slope * row_leverages(problem, mode, relative)
    g_u = _spherical_sums(problem, r, relative)
    if family.canonical:
        v = solve_spherical(mode.cp, mode.factor, g_u)
        v = [0.5 * part for part in v]
    else:
        curvature = design.products(0.5 * d2)
        v = solve_spherical(curvature, factorize(curvature, relative), g_u)
        v = [0.5 * part for part in v]
    s = d1 + r - d2 * design.linear(v, relative)
    grad_beta = problem.X.T @ s
    blocks = conditional_blocks(mode.cp, mode.factor)
    per_factor = []
    for index, (T, u, w, inverse) in enumerate(zip(relative, mode.modes, v, blocks, strict=True)):
        k = T.shape[0]
        modes, solved = u.reshape(-1, k), w.reshape(-1, k)
        sums_s = design.level_sums(index, s)
        sums_d = design.level_sums(index, d1)
        direct = sums_s.T @ modes - sums_d.T @ solved
        per_factor.append(direct + 2.0 * _trace_term(T, inverse))
    return layout.gather(per_factor), grad_beta


def _trace_term(T: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """``[(n I - sum_j C_j) T^-1]'`` (entry ``[r, c]`` is ``tr((I - A^-1) Lambda^-1 E_rc)``)."""
    levels, k, _ = inverse.shape
    psi = levels * np.eye(k) - inverse.sum(axis=0)
    if k == 1 and T[0, 0] == 0.0:
        return np.zeros((1, 1))
    if np.any(np.diag(T) == 0.0):
        return np.full((k, k), np.nan)
    return sla.solve_triangular(T, psi.T, lower=True, trans="T", check_finite=False)


def _spherical_sums(problem: Problem, values: np.ndarray, relative: list[np.ndarray]) -> list:
    """``Lambda'Z' values`` per factor (level-major)."""
    design = problem.design
    return [(design.level_sums(index, values) @ T).ravel() for index, T in enumerate(relative)]


def solve_spherical(
    cp: CrossProducts, factor: BlockedFactor, rhs: list[np.ndarray]
) -> list[np.ndarray]:
    """Solve ``A v = rhs`` (spherical coordinates, one piece per factor) with the blocked factor.

    ``A = [[A11, A12], [A21, A22]]`` with ``A11`` block diagonal: the rest
    solves with the Schur complement ``S = L L'``, then the first block.
    ``cp`` must be the cross products the factor was computed from.
    """
    q = cp.q_rest
    T1 = factor.relative[0]
    k1 = T1.shape[0]
    inverse = factor.first_inverse
    first = apply_blocks(inverse, rhs[0])
    if q == 0:
        return [first]
    rest_rhs = np.concatenate(rhs[1:])
    mapped = (first.reshape(-1, k1) @ T1.T).ravel()
    rest_rhs = rest_rhs - scale_rest_rows(cp, factor.relative, cp.first_by_rest @ mapped)
    L = factor.rest[:q, :q]
    rest = sla.cho_solve((L, True), rest_rhs, check_finite=False)
    back = cp.first_by_rest.T @ scale_rest_rows(cp, factor.relative, rest, transpose=False)
    first = apply_blocks(inverse, rhs[0] - (back.reshape(-1, k1) @ T1).ravel())
    return [first, *np.split(rest, np.cumsum(cp.rest_sizes)[:-1])]


def row_leverages(problem: Problem, mode: Mode, relative: list[np.ndarray]) -> np.ndarray:
    """``c_i = z~_i' A^-1 z~_i`` of every row (``z~_i = Lambda'z_i``, its spherical design).

    For the first factor alone this is ``a_i' A_j^-1 a_i`` with ``a_i = T_1'z_i``.
    With more factors, ``A^-1``'s other blocks add ``|L^-1 g_i|^2`` with
    ``g_i = A21 A11^-1 a_i - b_i`` (``b_i`` the row's rest design), computed
    for chunks of rows at a time.
    """
    design, cp, factor = problem.design, mode.cp, mode.factor
    T1 = relative[0]
    a = design.design(0) @ T1  # rows x k1: T1'z_i as rows
    codes = design.codes[0]
    solved = np.einsum("irs,is->ir", factor.first_inverse[codes], a)
    leverage = np.einsum("ir,ir->i", a, solved)
    q = cp.q_rest
    if q == 0:
        return leverage
    L = factor.rest[:q, :q]
    across = scale_rest_rows(cp, relative, cp.first_by_rest.toarray())
    across = sla.solve_triangular(L, across, lower=True, check_finite=False)
    own = sla.solve_triangular(L, scale_rest_rows(cp, relative, np.eye(q)), lower=True)
    positions, values = design._rest_columns
    mapped = solved @ T1.T  # T1 A_j^-1 a_i
    k1 = T1.shape[0]
    step = max(1, _CHUNK_DOUBLES // max(q, 1))
    for start in range(0, design.nobs, step):
        rows = slice(start, start + step)
        columns = codes[rows][:, None] * k1 + np.arange(k1)[None, :]
        g = np.einsum("qik,ik->qi", across[:, columns], mapped[rows])
        g -= np.einsum("qic,ic->qi", own[:, positions[rows]], values[rows])
        leverage[rows] += np.einsum("qi,qi->i", g, g)
    return leverage
