"""The internal scale of the fixed effects and the map back to the user's scale.

Non-intercept columns of ``X`` are centred, and the sampler works in the
coordinates ``z`` of an affine map ``nu = nu_hat + L z``, where ``nu`` are
the coefficients of the centred design (the intercept at the predictors'
means, then the slopes), ``nu_hat`` is the REML estimate and ``L L'`` its GLS
covariance. The posterior of ``z`` is close to standard normal and
uncorrelated whatever the scale or collinearity of the predictors; ``beta =
to_user @ nu`` is linear, so priors stated on ``beta`` hold exactly (the
Jacobian is constant).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytensor.tensor as pt
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from pymc.logprob.transforms import Transform
from pytensor.tensor.variable import TensorVariable

from bayeshier.priors import intercept_index
from bayeshier.spec import GroupingFactor, ModelSpec, thin_r

__all__ = [
    "Affine",
    "BatchedAffine",
    "InternalDesign",
    "fixed_start",
    "gls_covariance",
    "internal_design",
]


class Affine(Transform):
    """``value = loc + scale @ z`` (``scale`` a lower-triangular matrix or a vector).

    The sampler sees ``z``; the log-Jacobian is the constant ``log|det scale|``,
    spread over the elements.
    """

    name = "affine"

    def __init__(self, loc: np.ndarray, scale: np.ndarray):
        self.loc = np.asarray(loc, dtype=float)
        self.scale = np.asarray(scale, dtype=float)
        self.matrix = self.scale.ndim == 2
        diag = np.diag(self.scale) if self.matrix else self.scale
        self.log_diag = np.log(np.abs(diag))

    def forward(self, value: TensorVariable, *inputs: Any) -> TensorVariable:
        """Constrained value -> sampler coordinates."""
        centred = value - self.loc
        if self.matrix:
            inverse = np.linalg.inv(self.scale)
            return pt.dot(centred, inverse.T)
        return centred / self.scale

    def backward(self, value: TensorVariable, *inputs: Any) -> TensorVariable:
        """Sampler coordinates -> constrained value."""
        if self.matrix:
            return self.loc + pt.dot(value, self.scale.T)
        return self.loc + value * self.scale

    def log_jac_det(self, value: TensorVariable, *inputs: Any) -> TensorVariable:
        """Constant log-Jacobian, one term per element."""
        return pt.zeros_like(value) + self.log_diag


class BatchedAffine(Transform):
    """``value[j] = loc[j] + scale[j] @ z[j]`` per level ``j`` (vector-valued group effects).

    ``loc`` is levels x k and ``scale`` levels x k x k lower-triangular
    (the Cholesky factors of the effects' conditional covariances). The
    log-Jacobian is the constant ``sum_j log|det scale[j]|``, one number for
    the whole variable (PyMC then sums the variable's log density to match,
    whether it is elementwise or one block).
    """

    name = "batched_affine"

    def __init__(self, loc: np.ndarray, scale: np.ndarray):
        self.loc = np.asarray(loc, dtype=float)
        self.scale = np.asarray(scale, dtype=float)
        self.inverse = np.linalg.inv(self.scale)
        diagonals = np.diagonal(self.scale, axis1=-2, axis2=-1)
        self.log_det = float(np.log(np.abs(diagonals)).sum())

    def forward(self, value: TensorVariable, *inputs: Any) -> TensorVariable:
        """Constrained value -> sampler coordinates."""
        centred = value - self.loc
        return pt.sum(self.inverse * centred[..., None, :], axis=-1)

    def backward(self, value: TensorVariable, *inputs: Any) -> TensorVariable:
        """Sampler coordinates -> constrained value."""
        return self.loc + pt.sum(self.scale * value[..., None, :], axis=-1)

    def log_jac_det(self, value: TensorVariable, *inputs: Any) -> TensorVariable:
        """The constant log-Jacobian of the whole variable (a scalar)."""
        return pt.as_tensor(self.log_det)


@dataclass(frozen=True, eq=False)
class InternalDesign:
    """The fixed-effects design on the scale the sampler uses.

    Attributes
    ----------
    Xc : numpy.ndarray
        ``X`` with its non-intercept columns centred (when there is an intercept).
    to_user : numpy.ndarray
        ``beta = to_user @ nu`` maps centred-design coefficients to the user's.
    Q, R : numpy.ndarray
        Thin QR of ``Xc``.
    Qty : numpy.ndarray
        ``Q'y``.
    resid : numpy.ndarray
        OLS residual ``y - Q Q'y``.

    """

    Xc: np.ndarray
    to_user: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    Qty: np.ndarray
    resid: np.ndarray


def internal_design(spec: ModelSpec) -> InternalDesign:
    """Centre the non-intercept columns of ``X`` and take the QR of the result.

    With an intercept at position ``i`` and column means ``m``, the centred
    design is ``Xc = X - 1 m'`` off column ``i``; its coefficients ``nu`` equal
    ``beta`` except ``nu_i = beta_i + m' beta`` (the intercept at the means), so
    ``beta = to_user @ nu`` with ``to_user`` the identity plus ``-m`` in row ``i``.
    """
    X = spec.X
    p = X.shape[1]
    to_user = np.eye(p)
    Xc = X.copy()
    i = intercept_index(spec)
    if i is not None:
        means = X.mean(axis=0)
        means[i] = 0.0
        Xc = X - means
        to_user[i] -= means
        to_user[i, i] = 1.0
    if p == 0:
        empty = np.zeros((spec.nobs, 0))
        return InternalDesign(Xc, to_user, empty, np.zeros((0, 0)), np.zeros(0), spec.y.copy())
    R = thin_r(Xc)
    Q = sla.solve_triangular(R, Xc.T, trans="T", check_finite=False).T
    Qty = Q.T @ spec.y
    return InternalDesign(Xc, to_user, Q, R, Qty, spec.y - Q @ Qty)


def fixed_start(
    spec: ModelSpec, design: InternalDesign, fit: Any, covariances: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """REML coefficients of the centred design and the Cholesky factor of their GLS covariance.

    ``covariances`` holds every factor's REML covariance (see :func:`gls_covariance`).
    """
    beta = fit.fixef.reindex(list(spec.fixed_names)).to_numpy(dtype=float)
    nu = np.linalg.solve(design.to_user, beta) if spec.n_fixed else beta
    cov = gls_covariance(spec, design.Xc, float(fit.sigma), covariances)
    return nu, np.linalg.cholesky(cov) if spec.n_fixed else np.zeros((0, 0))


def gls_covariance(
    spec: ModelSpec, X: np.ndarray, sigma: float, covariances: Mapping[str, Any]
) -> np.ndarray:
    """``Var(beta_hat) = sigma^2 (X'X - X'Z Lam (Lam'Z'Z Lam + I)^-1 Lam'Z'X)^-1`` at REML.

    ``covariances`` maps each factor to the covariance of its effects: a
    k x k matrix, or for a random intercept its sd (a number). ``Lam`` holds
    per level a square root of ``covariance / sigma^2``, so that a zero sd
    or a correlation of +-1 (singular fit) is harmless.
    """
    p = X.shape[1]
    if p == 0:
        return np.zeros((0, 0))
    blocks = [
        _scaled_random_design(factor, _relative_root(covariances[factor.name], sigma))
        for factor in spec.factors
    ]
    ZL = sp.hstack(blocks).tocsc()
    M = (ZL.T @ ZL + sp.identity(ZL.shape[1])).tocsc()
    ZX = np.asarray(ZL.T @ X)
    solved = spla.splu(M).solve(ZX)
    precision = X.T @ X - ZX.T @ solved
    cov = sigma**2 * np.linalg.inv(precision)
    return 0.5 * (cov + cov.T)


def _relative_root(covariance: Any, sigma: float) -> np.ndarray:
    """A square root ``T`` with ``T T' = covariance / sigma^2`` (an sd becomes a 1 x 1 matrix)."""
    cov = np.asarray(covariance, dtype=float)
    cov = cov.reshape(1, 1) ** 2 if cov.ndim == 0 else cov
    values, vectors = np.linalg.eigh(cov / sigma**2)
    return vectors * np.sqrt(np.clip(values, 0.0, None))


def _scaled_random_design(factor: GroupingFactor, root: np.ndarray) -> sp.csr_matrix:
    """The sparse ``Z_f Lam_f`` (rows x levels*k): row ``i`` holds ``z_i' T`` at its level."""
    n, k = factor.codes.shape[0], root.shape[0]
    values = factor.columns() @ root
    rows = np.repeat(np.arange(n), k)
    cols = (factor.codes[:, None] * k + np.arange(k)).ravel()
    return sp.csr_matrix((values.ravel(), (rows, cols)), shape=(n, factor.n_levels * k))
